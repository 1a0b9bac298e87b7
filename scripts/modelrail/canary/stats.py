"""The statistics behind the canary judge, in the standard library only.

Pure functions over counts and samples, so that the judge runs in the lightest install of
modelrail (no scipy on the runner) and every number can be checked against scipy in the
unit tests.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from statistics import NormalDist, median
from typing import Literal

Tail = Literal["upper", "lower"]

_NORMAL = NormalDist()
# Up to this standard deviation of the canary's event count the null distribution is
# convolved exactly (milliseconds); beyond it the normal approximation with continuity
# and skewness corrections is accurate to well under 1% of the p-value.
_EXACT_MAX_SD = 40.0
# Binomial mass further than this many standard deviations (+ this many counts) from the
# mean is below 1e-15 and left out of the convolution, as are single values below 1e-14.
_WINDOW_SD = 8.0
_NEGLIGIBLE = 1e-14


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal, accurate far into the tail."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def normal_quantile(p: float) -> float:
    return _NORMAL.inv_cdf(p)


def spent_alpha(alpha: float, look: int, looks: int) -> float:
    """The part of `alpha` that look `look` of `looks` may spend (Lan-DeMets, Pocock type).

    alpha(t) = alpha * ln(1 + (e - 1) t) at information fraction t = look / looks: front-
    loaded (36% of alpha at the first of four looks, 17% at the last), because catching a
    bad canary while it serves 10% of traffic matters more than a late, marginal catch.
    Each look tests at its own increment, so by the union bound the chance that any look
    rejects a good canary is at most `alpha` whatever the correlation between looks.
    """

    def spent(t: float) -> float:
        return alpha * math.log1p((math.e - 1) * t)

    return spent(look / looks) - spent((look - 1) / looks)


@dataclass(frozen=True)
class Stratum:
    """One window's counts: events out of a total, for the canary and for the baseline."""

    canary_events: int
    canary_total: float
    baseline_events: int
    baseline_total: float


@dataclass(frozen=True)
class CountTest:
    """The conditional test of two rates: observed and expected canary events."""

    observed: int
    expected: float
    z: float
    p_value: float
    method: Literal["exact", "normal"]


def conditional_rate_test(strata: Sequence[Stratum], ratio: float, tail: Tail) -> CountTest:
    """Test canary rate vs `ratio` x baseline rate, conditioning on each window's events.

    Within a window, given n events between the two versions, the canary's share is
    Binomial(n, pi) with pi = ratio*Nc / (ratio*Nc + Nb) when the canary's rate is exactly
    `ratio` times the baseline's (Nc, Nb: the totals). This is the classic conditional test
    for two Poisson rates (Przyborowski & Wilenski, 1940), uniformly most powerful among
    unbiased tests and exact at small counts. For binomial data (errors out of requests)
    it is conservative: given n, the canary's count is hypergeometric, less spread than
    the binomial. Windows are strata: their binomials are summed, not their counts, so a
    change in traffic mix or error level between rollout steps (while the canary's share
    grows) is not mistaken for a canary effect. `tail` "upper" tests H0 rate_c <= ratio *
    rate_b; "lower" tests H0 rate_c >= ratio * rate_b.
    """
    used = [s for s in strata if s.canary_total > 0 and s.baseline_total > 0]
    terms = [(s.canary_events + s.baseline_events, _share(s, ratio)) for s in used]
    observed = sum(s.canary_events for s in used)
    expected = sum(n * pi for n, pi in terms)
    variance = sum(n * pi * (1 - pi) for n, pi in terms)
    z = (observed - expected) / math.sqrt(variance) if variance > 0 else 0.0
    if math.sqrt(variance) <= _EXACT_MAX_SD:
        p_value = _exact_tail(terms, observed, tail)
        return CountTest(observed, expected, z, min(1.0, p_value), "exact")
    skew = sum(n * pi * (1 - pi) * (1 - 2 * pi) for n, pi in terms) / variance ** 1.5
    sign = 1 if tail == "upper" else -1
    return CountTest(observed, expected, z, _edgeworth_sf(observed, expected, variance, skew,
                                                          sign), "normal")


def _share(stratum: Stratum, ratio: float) -> float:
    weighted = ratio * stratum.canary_total
    return weighted / (weighted + stratum.baseline_total)


def _edgeworth_sf(observed: int, mean: float, variance: float, skew: float,
                  sign: int) -> float:
    """P(X >= observed) (sign 1) or P(X <= observed) (sign -1), continuity corrected,
    with the first Edgeworth term for the skewness of the binomial sum."""
    z = sign * (observed - sign * 0.5 - mean) / math.sqrt(variance)
    density = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    tail = normal_sf(z) + sign * skew / 6 * (z * z - 1) * density
    return min(1.0, max(0.0, tail))


def _exact_tail(terms: Sequence[tuple[int, float]], observed: int, tail: Tail) -> float:
    """P(S >= observed) ("upper") or P(S <= observed) ("lower") for S a sum of binomials:
    the first ones convolved, the last one through its cumulative sums."""
    if not terms:
        return 1.0
    offset, pmf = _sum_of_binomials(terms[:-1])
    low, last = _binomial_window(*terms[-1])
    if tail == "upper":  # beyond[j] = P(last >= low + j)
        beyond = list(accumulate(reversed(last)))[::-1]
        outside = (1.0, 0.0)
    else:  # beyond[j] = P(last <= low + j)
        beyond = list(accumulate(last))
        outside = (0.0, 1.0)
    total = []
    for i, mass in enumerate(pmf):
        j = observed - offset - i - low
        total.append(mass * (outside[0] if j < 0 else outside[1] if j >= len(beyond)
                             else beyond[j]))
    return math.fsum(total)


def _sum_of_binomials(terms: Sequence[tuple[int, float]]) -> tuple[int, list[float]]:
    """The pmf of a sum of independent binomials, as (smallest value, probabilities)."""
    offset, pmf = 0, [1.0]
    for n, pi in terms:
        low, part = _binomial_window(n, pi)
        combined = [0.0] * (len(pmf) + len(part) - 1)
        for i, a in enumerate(pmf):
            if a == 0.0:
                continue
            for j, b in enumerate(part):
                combined[i + j] += a * b
        offset, pmf = offset + low, combined
    return offset, pmf


def _binomial_window(n: int, p: float) -> tuple[int, list[float]]:
    """Binomial(n, p) probabilities where its mass is, as (smallest value, probabilities)."""
    if n == 0 or p <= 0.0:
        return 0, [1.0]
    if p >= 1.0:
        return n, [1.0]
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    low = max(0, math.floor(mean - _WINDOW_SD * sd - _WINDOW_SD))
    high = min(n, math.ceil(mean + _WINDOW_SD * sd + _WINDOW_SD))
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    pmf = [math.exp(log_n - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p
                    + (n - k) * log_q) for k in range(low, high + 1)]
    kept = [k for k, mass in enumerate(pmf) if mass > _NEGLIGIBLE]
    return low + kept[0], pmf[kept[0]:kept[-1] + 1]


@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U for canary vs baseline, with the Hodges-Lehmann shift and its CI."""

    u: float
    z: float
    p_greater: float
    p_less: float
    shift: float
    lower: float
    upper: float


def mann_whitney(canary: Sequence[float], baseline: Sequence[float],
                 alpha_per_side: float) -> RankTest:
    """U test (normal approximation, tie and continuity corrected, as scipy's asymptotic
    method) and the Hodges-Lehmann estimate of the shift canary - baseline, with the
    confidence interval that inverts the same test at `alpha_per_side` on each side
    (Moses' order statistics of the pairwise differences)."""
    m, n = len(canary), len(baseline)
    ranks = _ranks([*canary, *baseline])
    u = sum(ranks[:m]) - m * (m + 1) / 2
    total = m + n
    ties = sum(t ** 3 - t for t in _tie_sizes([*canary, *baseline]))
    sd = math.sqrt(m * n / 12 * ((total + 1) - ties / (total * (total - 1))))
    mean = m * n / 2
    differences = sorted(c - b for c in canary for b in baseline)
    # The test rejects "no shift" for a shift d when more than `critical` differences lie
    # beyond d; the interval is where it does not.
    critical = mean + 0.5 + normal_quantile(1 - alpha_per_side) * sd
    count = math.floor(critical) + 1
    size = len(differences)
    return RankTest(
        u=u,
        z=(u - mean) / sd if sd > 0 else 0.0,
        p_greater=normal_sf((u - mean - 0.5) / sd) if sd > 0 else 1.0,
        p_less=normal_sf((m * n - u - mean - 0.5) / sd) if sd > 0 else 1.0,
        shift=median(differences),
        lower=differences[size - count] if count <= size else -math.inf,
        upper=differences[count - 1] if count <= size else math.inf,
    )


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _tie_sizes(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return [count for count in counts.values() if count > 1]


@dataclass(frozen=True)
class ShareTest:
    """Fisher's exact test of two shares: canary `hits` of `size` against the baseline's."""

    canary_share: float
    baseline_share: float
    p_greater: float
    p_less: float


def fisher_exact(canary_hits: int, canary_size: int, baseline_hits: int,
                 baseline_size: int) -> ShareTest:
    """One-sided p-values of Fisher's exact test on the 2 x 2 table (scipy's
    `fisher_exact` with `alternative` "greater" / "less"): given all hits, the canary's
    count is hypergeometric when both sides share one rate."""
    hits, size = canary_hits + baseline_hits, canary_size + baseline_size
    low, high = max(0, hits - baseline_size), min(hits, canary_size)
    log_total = _log_comb(size, canary_size)
    pmf = {k: math.exp(_log_comb(hits, k) + _log_comb(size - hits, canary_size - k)
                       - log_total) for k in range(low, high + 1)}
    return ShareTest(
        canary_share=canary_hits / canary_size, baseline_share=baseline_hits / baseline_size,
        p_greater=min(1.0, math.fsum(p for k, p in pmf.items() if k >= canary_hits)),
        p_less=min(1.0, math.fsum(p for k, p in pmf.items() if k <= canary_hits)),
    )


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def wilson_interval(hits: float, total: float, z: float) -> tuple[float, float]:
    """Wilson's score interval of the proportion hits / total, `z` standard errors wide
    on each side."""
    share = hits / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) \
        / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)
