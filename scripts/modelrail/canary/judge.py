"""The canary judge: one verdict per metric, then one decision. Pure functions, no I/O.

Each kind of data gets the test that fits it (an absolute bound for thresholds,
`stats.conditional_rate_test` on counts for counters and histograms, Kayenta's
Mann-Whitney for gauges); each compare metric spends its share of the rollout-wide
false-rollback rate (`metric_alpha`). All of it: docs/statistics.md ("Canary judge").
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Literal

from modelrail.canary.config import (
    AnalysisConfig,
    CompareMetric,
    CounterMetric,
    GaugeMetric,
    HistogramMetric,
    Metric,
    ThresholdMetric,
)
from modelrail.canary.stats import (
    CountTest,
    RankTest,
    ShareTest,
    Stratum,
    Tail,
    conditional_rate_test,
    fisher_exact,
    mann_whitney,
    normal_quantile,
    spent_alpha,
    wilson_interval,
)

Outcome = Literal["pass", "fail", "inconclusive"]
Number = float | int | None
# Gauge samples this share or more exactly 0 (and none negative) are zero-heavy: the
# Hodges-Lehmann interval sits on 0 whatever the canary does, so they are judged in two
# parts (`_judge_zero_heavy`). Below it, Kayenta's classifier as is.
_ZERO_HEAVY_SHARE = 0.25
# A histogram's tail is compared beyond this many bucket boundaries at most, from the one
# nearest the baseline's quantile outward (`_boundary_pairs`).
_BOUNDARIES = 4


@dataclass(frozen=True)
class Verdict:
    """One metric's result, with everything needed to see why."""

    name: str
    test: str
    outcome: Outcome
    reason: str
    critical: bool = False
    canary: Mapping[str, Number] = field(default_factory=dict)
    baseline: Mapping[str, Number] = field(default_factory=dict)
    statistic: float | None = None
    p_value: float | None = None
    alpha: float | None = None
    effect: float | None = None
    details: Mapping[str, Number] = field(default_factory=dict)
    queries: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "test": self.test, "outcome": self.outcome,
            "passed": self.outcome == "pass", "critical": self.critical,
            "reason": self.reason, "queries": dict(self.queries),
            "canary": _finite_map(self.canary), "baseline": _finite_map(self.baseline),
            "statistic": _finite(self.statistic), "p_value": _finite(self.p_value),
            "alpha": _finite(self.alpha), "effect": _finite(self.effect),
            "details": _finite_map(self.details),
        }


@dataclass(frozen=True)
class Decision:
    """The look's outcome; `unjudged` names the metrics it was decided without (no data)."""

    outcome: Outcome
    reason: str
    score: float | None
    unjudged: tuple[str, ...] = ()


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts by upper bound `le` (ascending, +Inf last) of one window."""

    buckets: tuple[tuple[float, float], ...]

    @classmethod
    def from_counts(cls, counts: Mapping[float, float]) -> "Histogram":
        """Sorted, with counts made monotonic as Prometheus does (rate() extrapolation
        can leave a bucket a hair below the one before it)."""
        buckets, running = [], 0.0
        for le in sorted(counts):
            running = max(running, counts[le])
            buckets.append((le, running))
        return cls(tuple(buckets))

    @property
    def total(self) -> float:
        return self.buckets[-1][1] if self.buckets and math.isinf(self.buckets[-1][0]) \
            else 0.0

    def bounds(self) -> list[float]:
        return [le for le, _ in self.buckets if not math.isinf(le)]

    def count_at(self, le: float) -> float:
        """Observations known to be <= le: the count of the last bucket bound <= le."""
        return max((count for bound, count in self.buckets if bound <= le), default=0.0)

    def quantile(self, q: float) -> float:
        """histogram_quantile(q) with Prometheus's interpolation (NaN when empty)."""
        if len(self.buckets) < 2 or self.total <= 0:
            return math.nan
        rank = q * self.total
        index = next(i for i, (_, count) in enumerate(self.buckets) if count >= rank)
        if index == len(self.buckets) - 1:
            return self.buckets[-2][0]
        end, count = self.buckets[index]
        if index == 0 and end <= 0:
            return end
        start, below = (0.0, 0.0) if index == 0 else self.buckets[index - 1]
        in_bucket = count - below
        return start + (end - start) * ((rank - below) / in_bucket if in_bucket else 0.0)


def pooled(histograms: Sequence[Histogram]) -> Histogram:
    counts: dict[float, float] = {}
    for histogram in histograms:
        for le, count in histogram.buckets:
            counts[le] = counts.get(le, 0.0) + count
    return Histogram.from_counts(counts)


def metric_alpha(config: AnalysisConfig, look: int, looks: int) -> float:
    """The false-rollback probability one compare metric may spend at this look."""
    return spent_alpha(config.false_rollback_rate / max(1, config.compare_count()), look, looks)


def judge_threshold(metric: ThresholdMetric, values: Sequence[float]) -> Verdict:
    """Every value the query returned (NaN dropped) must lie within the bounds."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return no_data(metric, "threshold", "the query returned no value" if not values
                       else "every value the query returned was NaN")
    worst = max(kept, key=lambda v: _distance_outside(metric, v))
    inside = metric.within(worst)
    bound = _bound_text(metric)
    return Verdict(
        name=metric.name, test="threshold", critical=metric.critical,
        outcome="pass" if inside else "fail",
        reason=f"canary value {worst:.6g} is {'within' if inside else 'outside'} {bound}",
        canary={"value": worst, "series": len(kept)},
        details={"min": metric.minimum, "max": metric.maximum},
    )


def judge_counter(metric: CounterMetric, strata: Sequence[Stratum], alpha: float) -> Verdict:
    """Events out of totals per rollout step, canary against baseline."""
    used = [s for s in strata if s.canary_total > 0 and s.baseline_total > 0]
    canary_events, canary_total = sum(s.canary_events for s in used), \
        sum(s.canary_total for s in used)
    baseline_events, baseline_total = sum(s.baseline_events for s in used), \
        sum(s.baseline_total for s in used)
    test_name = "conditional binomial test of two rates, stratified by step"
    short = _too_few(metric, canary_total, baseline_total, "requests")
    if short:
        return no_data(metric, test_name, short)
    canary_rate, baseline_rate = canary_events / canary_total, baseline_events / baseline_total
    tests = [(tail, share, conditional_rate_test(
        used, metric.allowed_ratio if tail == "upper" else 1 / metric.allowed_ratio, tail))
        for tail, share in _tails(metric, alpha)]
    tail, share, test = min(tests, key=lambda t: t[2].p_value / t[1])
    failed = test.p_value < share
    comparison = (f"canary {canary_rate:.3%} ({canary_events}/{canary_total:.0f}) vs "
                  f"baseline {baseline_rate:.3%} ({baseline_events}/{baseline_total:.0f})")
    return _count_verdict(
        metric, test_name, test, share, failed=failed,
        reason=f"{comparison}: {_verdict_text(failed, tail, metric.allowed_ratio)}, "
               f"{_p_text(test, share)}",
        canary={"events": canary_events, "total": canary_total, "rate": canary_rate},
        baseline={"events": baseline_events, "total": baseline_total, "rate": baseline_rate},
        effect=canary_rate / baseline_rate if baseline_rate > 0 else None,
        details={"steps": len(used)},
    )


def judge_histogram(metric: HistogramMetric, canary: Sequence[Histogram],
                    baseline: Sequence[Histogram], alpha: float) -> Verdict:
    """Bucket counts per rollout step (canary[i] and baseline[i] cover the same window).

    The canary's requests beyond each of a few bucket boundaries around the baseline's
    quantile (`_boundary_pairs`) against the baseline's, each pair by the conditional
    test, the tail's alpha split evenly over the pairs that could reject at their share
    (`_able_to_reject`). The most significant pair decides.
    """
    pairs = [(c, b) for c, b in zip(canary, baseline, strict=True) if c.total > 0
             and b.total > 0]
    label = f"p{metric.quantile * 100:g}"
    test_name = f"conditional binomial tests of requests beyond the boundaries near the " \
        f"baseline {label}"
    canary_all, baseline_all = pooled([c for c, _ in pairs]), pooled([b for _, b in pairs])
    short = _too_few(metric, canary_all.total, baseline_all.total, "observations",
                     minimum=1)
    if short:
        return no_data(metric, test_name, short)
    baseline_q = baseline_all.quantile(metric.quantile)
    tests: list[tuple[Tail, float, _Boundary, CountTest, int]] = []
    notes = []
    for tail, share in _tails(metric, alpha):
        boundaries = _boundary_pairs(metric, tail, canary_all, baseline_all, pairs)
        if not boundaries:
            return no_data(metric, test_name, "no bucket boundary lies at "
                           f"{metric.allowed_ratio:g}x the baseline {label} "
                           f"({baseline_q:.6g}); the buckets are too coarse to judge")
        kept = _able_to_reject(boundaries, tail, share)
        tests += [(tail, share / len(kept), b, conditional_rate_test(b.strata, 1.0, tail),
                   len(kept)) for b in kept]
        notes.append(_resolution(metric, tail, boundaries, f"{label} ({baseline_q:.4g})"))
    tail, share, boundary, test, count = min(tests, key=lambda t: t[3].p_value / t[1])
    failed = test.p_value < share
    canary_above = canary_all.total - canary_all.count_at(boundary.canary)
    baseline_above = baseline_all.total - baseline_all.count_at(boundary.baseline)
    canary_q = canary_all.quantile(metric.quantile)
    low, high = _quantile_ratio_bounds(canary_all, baseline_all, metric.quantile, alpha)
    resolved = max(note[0] for note in notes)
    unresolved = "; ".join(note[1] for note in notes if note[1])
    ratio = _ratio(canary_q, baseline_q)
    return _count_verdict(
        metric, test_name, test, share, failed=failed,
        reason=f"{label} canary {canary_q:.4g} vs baseline {baseline_q:.4g}, ratio "
               f"{'n/a' if ratio is None else f'{ratio:.3g}'} (from the buckets: between "
               f"{low:.3g} and {high:.3g}); beyond {boundary.canary:g} / "
               f"{boundary.baseline:g}: canary "
               f"{canary_above / canary_all.total:.3%} vs baseline "
               f"{baseline_above / baseline_all.total:.3%} (the most significant of "
               f"{count} boundar{'y' if count == 1 else 'ies'}): "
               f"{_verdict_text(failed, tail, metric.allowed_ratio, label)}, "
               f"{_p_text(test, share)}" + (f"; {unresolved}" if unresolved else ""),
        canary={label: canary_q, "count": canary_all.total, "beyond": canary_above},
        baseline={label: baseline_q, "count": baseline_all.total, "beyond": baseline_above},
        effect=ratio,
        details={"canary_boundary": boundary.canary, "baseline_boundary": boundary.baseline,
                 "boundaries": count, "steps": len(pairs), "ratio_low": low,
                 "ratio_high": high, "resolved_ratio": resolved},
    )


def judge_gauge(metric: GaugeMetric, canary: Sequence[float], baseline: Sequence[float],
                alpha: float, *, kayenta_only: bool = False) -> Verdict:
    """Kayenta's Mann-Whitney classifier, at this look's alpha; zero-heavy samples in two
    parts (`_judge_zero_heavy`) unless `kayenta_only` (Kayenta's own behaviour, which
    bench/canary_judge.py compares against)."""
    canary = [v for v in canary if math.isfinite(v)]
    baseline = [v for v in baseline if math.isfinite(v)]
    test_name = "Mann-Whitney U, Hodges-Lehmann shift interval"
    short = _too_few(metric, len(canary), len(baseline), "samples", minimum=1)
    if short:
        return no_data(metric, test_name, short)
    canary_summary = {"mean": fmean(canary), "samples": len(canary)}
    baseline_summary = {"mean": fmean(baseline), "samples": len(baseline)}
    if len(set(canary) | set(baseline)) == 1:
        return Verdict(name=metric.name, test=test_name, outcome="pass",
                       critical=metric.critical, canary=canary_summary,
                       baseline=baseline_summary, effect=1.0, alpha=alpha,
                       reason="canary and baseline samples are all the same value")
    if not kayenta_only and _zero_heavy([*canary, *baseline]):
        return _judge_zero_heavy(metric, canary, baseline, alpha)
    ratio = _mean_ratio(canary, baseline, kayenta=True)
    shift = _classify_shift(metric, canary, baseline, alpha, ratio)
    rank = shift.rank
    if shift.outcome == "fail":
        reason = (f"canary is {shift.side} than baseline: {shift.text} "
                  f"(tolerance {metric.tolerance:g}, allowed ratio {metric.allowed_ratio:g})")
    else:
        reason = f"no change beyond tolerance: {shift.text}"
    return Verdict(
        name=metric.name, test=test_name, outcome=shift.outcome,
        critical=metric.critical, reason=reason, canary=canary_summary,
        baseline=baseline_summary, statistic=rank.u, p_value=shift.p_value, alpha=alpha,
        effect=ratio,
        details={"shift": rank.shift, "shift_lower": rank.lower, "shift_upper": rank.upper,
                 "tolerance": shift.margin},
    )


@dataclass(frozen=True)
class _Shift:
    """Kayenta's classification of one pair of samples at one alpha."""

    rank: RankTest
    outcome: Outcome
    side: Literal["higher", "lower", ""]
    p_value: float
    margin: float
    text: str


def _classify_shift(metric: GaugeMetric, canary: Sequence[float], baseline: Sequence[float],
                    alpha: float, ratio: float) -> _Shift:
    """The interval on the Hodges-Lehmann shift must clear +-tolerance x the shift in the
    bad direction, and the mean ratio `ratio` must exceed the allowed ratio."""
    per_side = alpha / 2 if metric.direction == "either" else alpha
    rank = mann_whitney(canary, baseline, per_side)
    margin = metric.tolerance * abs(rank.shift)
    high = metric.direction != "decrease" and rank.lower > margin and \
        ratio > metric.allowed_ratio
    low = metric.direction != "increase" and rank.upper < -margin and \
        ratio < 1 / metric.allowed_ratio
    return _Shift(
        rank=rank, outcome="fail" if high or low else "pass",
        side="higher" if high else "lower" if low else "", margin=margin,
        p_value=_directed(metric, rank.p_greater, rank.p_less),
        text=f"shift {rank.shift:.4g}, {1 - 2 * per_side:.2%} interval "
             f"[{rank.lower:.4g}, {rank.upper:.4g}], mean ratio {ratio:.3f}")


def _judge_zero_heavy(metric: GaugeMetric, canary: Sequence[float],
                      baseline: Sequence[float], alpha: float) -> Verdict:
    """Samples mostly exactly 0 (per-interval error rates, say) in two parts, each at
    alpha / 2 so that the pair keeps the budget (union bound): Fisher's exact test on
    the share of non-zero samples, and Kayenta's classifier on the non-zero values. The
    Hodges-Lehmann interval of the whole samples is [0, 0] there, whatever the canary
    does. Either part fails the metric, and only with the mean ratio beyond
    `allowed_ratio` in the bad direction, as in Kayenta."""
    ratio = _mean_ratio(canary, baseline, kayenta=False)
    part_alpha = alpha / 2
    canary_values, baseline_values = [v for v in canary if v], [v for v in baseline if v]
    share = fisher_exact(len(canary_values), len(canary), len(baseline_values),
                         len(baseline))
    share_p = _directed(metric, share.p_greater, share.p_less)
    share_alpha = part_alpha / 2 if metric.direction == "either" else part_alpha
    share_side = _share_side(metric, share, share_alpha, ratio)
    shift = _classify_shift(metric, canary_values, baseline_values, part_alpha, ratio) \
        if canary_values and baseline_values and \
        len(set(canary_values) | set(baseline_values)) > 1 else None
    side = share_side or (shift.side if shift else "")
    shares = (f"non-zero in {share.canary_share:.1%} of canary samples vs "
              f"{share.baseline_share:.1%} of baseline (Fisher p = {share_p:.3g}, alpha "
              f"{part_alpha:.3g})")
    values = f"non-zero values: {shift.text}" if shift else \
        "too few distinct non-zero values to compare"
    verdict = f"canary is {side} than baseline" if side else "no change beyond tolerance"
    details: dict[str, Number] = {
        "zero_share_canary": 1 - share.canary_share,
        "zero_share_baseline": 1 - share.baseline_share, "share_p_value": share_p}
    if shift:
        details |= {"shift": shift.rank.shift, "shift_lower": shift.rank.lower,
                    "shift_upper": shift.rank.upper, "tolerance": shift.margin,
                    "shift_p_value": shift.p_value}
    return Verdict(
        name=metric.name, test="zero-heavy: Fisher's exact test on the non-zero share, "
                               "Mann-Whitney U on the non-zero values",
        outcome="fail" if side else "pass", critical=metric.critical,
        reason=f"{verdict}: {shares}; {values}; mean ratio {ratio:.3f} (allowed ratio "
               f"{metric.allowed_ratio:g})",
        canary={"mean": fmean(canary), "samples": len(canary)},
        baseline={"mean": fmean(baseline), "samples": len(baseline)},
        statistic=shift.rank.u if shift else None,
        p_value=min(1.0, 2 * min(share_p, shift.p_value if shift else 1.0)), alpha=alpha,
        effect=ratio, details=details,
    )


def _share_side(metric: GaugeMetric, share: ShareTest, alpha: float,
                ratio: float) -> Literal["higher", "lower", ""]:
    if metric.direction != "decrease" and share.p_greater < alpha and \
            ratio > metric.allowed_ratio:
        return "higher"
    if metric.direction != "increase" and share.p_less < alpha and \
            ratio < 1 / metric.allowed_ratio:
        return "lower"
    return ""


def _zero_heavy(samples: Sequence[float]) -> bool:
    """At least `_ZERO_HEAVY_SHARE` of the samples exactly 0 and none below."""
    return min(samples) >= 0 and \
        sum(1 for v in samples if v == 0) >= _ZERO_HEAVY_SHARE * len(samples)


def _mean_ratio(canary: Sequence[float], baseline: Sequence[float], *, kayenta: bool) -> float:
    """mean(canary) / mean(baseline). A zero baseline mean gives 1 in Kayenta (`kayenta`);
    for zero-heavy samples, where a baseline with no non-zero sample is ordinary, it gives
    infinity when the canary's mean is above 0."""
    canary_mean, baseline_mean = fmean(canary), fmean(baseline)
    if baseline_mean != 0:
        return canary_mean / baseline_mean
    return 1.0 if kayenta or canary_mean == 0 else math.copysign(math.inf, canary_mean)


def _directed(metric: CompareMetric, p_greater: float, p_less: float) -> float:
    return {"increase": p_greater, "decrease": p_less,
            "either": min(p_greater, p_less)}[metric.direction]


def no_data(metric: Metric, test: str, why: str) -> Verdict:
    """The metric's no_data policy decides: fail, or inconclusive."""
    return Verdict(name=metric.name, test=test, critical=metric.critical,
                   outcome="fail" if metric.no_data == "fail" else "inconclusive",
                   reason=f"no data: {why} (no_data: {metric.no_data})")


def decide(verdicts: Sequence[Verdict], pass_score: float, *,
           require_all_judged: bool = False) -> Decision:
    """Kayenta's rules: a failed critical metric sinks the result; when half the metrics
    or more have no data there is nothing to score; otherwise the share that passed.
    A metric without data is never silently ignored: `unjudged` names it, a passing
    reason says so, and with `require_all_judged` it makes the look inconclusive."""
    failed = [v for v in verdicts if v.outcome == "fail"]
    unknown = [v for v in verdicts if v.outcome == "inconclusive"]
    unjudged = tuple(v.name for v in unknown)
    critical = [v.name for v in failed if v.critical]
    if critical:
        return Decision("fail", f"critical metric {', '.join(critical)} failed", 0.0, unjudged)
    if 2 * len(unknown) >= len(verdicts):
        return Decision("inconclusive", f"{len(unknown)} of {len(verdicts)} metrics have no "
                        "data: not enough to judge the canary", 0.0, unjudged)
    critical = [v.name for v in unknown if v.critical]
    if critical:
        return Decision("inconclusive", f"critical metric {', '.join(critical)} has no data",
                        None, unjudged)
    if unknown and require_all_judged:
        return Decision("inconclusive", f"metric {', '.join(unjudged)} could not be judged "
                        "(no data) and analysis.require_all_judged is true", None, unjudged)
    judged = len(verdicts) - len(unknown)
    score = 100.0 * (judged - len(failed)) / judged
    unseen = f" ({judged} of {len(verdicts)} metrics judged; NOT JUDGED, no data: " \
        f"{', '.join(unjudged)})" if unjudged else ""
    if score < pass_score:
        return Decision("fail", f"{len(failed)} of {judged} metrics failed "
                        f"({', '.join(v.name for v in failed)}): score {score:.0f} < "
                        f"{pass_score:g}{unseen}", score, unjudged)
    return Decision("pass", f"score {score:.0f} >= {pass_score:g}{unseen}", score, unjudged)


def _tails(metric: CompareMetric, alpha: float) -> list[tuple[Tail, float]]:
    if metric.direction == "either":
        return [("upper", alpha / 2), ("lower", alpha / 2)]
    return [("upper" if metric.direction == "increase" else "lower", alpha)]


@dataclass(frozen=True)
class _Boundary:
    """A canary boundary, the baseline boundary it is held against, and per step the
    requests beyond each: canary_events beyond `canary`, baseline_events beyond
    `baseline`."""

    canary: float
    baseline: float
    strata: tuple[Stratum, ...]


def _boundary_pairs(metric: HistogramMetric, tail: Tail, canary: Histogram,
                    baseline: Histogram, steps: Sequence[tuple[Histogram, Histogram]]
                    ) -> list[_Boundary]:
    """The boundary pairs compared, the one nearest the baseline's quantile first.

    Upper tail: the baseline boundary is the last one with at least 1 - q of the baseline
    beyond it and the next `_BOUNDARIES - 1` above; each canary boundary is the first at
    or above allowed_ratio times its baseline boundary, so a canary within the allowed
    ratio (its distribution from the quantile up no more than allowed_ratio x the
    baseline's) puts no larger share of its requests beyond it. Lower tail, mirrored: the
    first baseline boundary with at most 1 - q beyond and the ones below it; the last
    canary boundary at or below each / allowed_ratio.
    """
    # A ratio of boundaries at or below 0 means nothing (and moves the canary's the wrong
    # way): with an allowed ratio above 1 only positive boundaries are held against.
    bounds = [le for le in baseline.bounds() if le > 0 or metric.allowed_ratio == 1]
    if not bounds:
        return []
    level = metric.quantile * baseline.total
    tolerance = 1e-9
    pairs: dict[float, float] = {}  # canary boundary -> the tightest baseline boundary
    if tail == "upper":
        start = max((i for i, le in enumerate(bounds) if baseline.count_at(le) <= level),
                    default=0)
        for base in bounds[start:start + _BOUNDARIES]:
            above = [le for le in canary.bounds()
                     if le >= metric.allowed_ratio * base * (1 - tolerance)]
            if above:
                pairs[above[0]] = base
    else:
        end = min((i for i, le in enumerate(bounds) if baseline.count_at(le) >= level),
                  default=len(bounds) - 1)
        for base in reversed(bounds[max(0, end - _BOUNDARIES + 1):end + 1]):
            below = [le for le in canary.bounds()
                     if le <= base / metric.allowed_ratio * (1 + tolerance)]
            if below:
                pairs[below[-1]] = base
    return [_Boundary(cut, base, tuple(
        Stratum(round(c.total - c.count_at(cut)), c.total,
                round(b.total - b.count_at(base)), b.total) for c, b in steps))
        for cut, base in pairs.items()]


def _able_to_reject(boundaries: Sequence[_Boundary], tail: Tail,
                    alpha: float) -> list[_Boundary]:
    """The boundaries whose test could reject at alpha / (how many are kept).

    A boundary with few requests beyond it on either side cannot reach a small p-value
    even when every one of them is the canary's; splitting alpha with it would only cost
    power. Each conditional test is exact given the pooled requests beyond its
    boundaries, and this choice reads nothing else, so it keeps the budget. When none
    could, the first (nearest the quantile) is tested alone at alpha.
    """
    kept = list(boundaries)
    while True:
        able = [b for b in kept if _smallest_p_value(b.strata, tail) < alpha / len(kept)]
        if not able:
            return [boundaries[0]]
        if len(able) == len(kept):
            return able
        kept = able


def _smallest_p_value(strata: Sequence[Stratum], tail: Tail) -> float:
    """The conditional test's p-value when every event is the canary's ("upper") or the
    baseline's ("lower"): the most extreme outcome the pooled counts allow."""
    log_p = 0.0
    for s in strata:
        events = s.canary_events + s.baseline_events
        if s.canary_total > 0 and s.baseline_total > 0 and events:
            share = s.canary_total / (s.canary_total + s.baseline_total)
            chance = share if tail == "upper" else 1 - share
            log_p += events * math.log(chance) if chance > 0 else -math.inf
    return math.exp(log_p)


def _resolution(metric: HistogramMetric, tail: Tail, boundaries: Sequence[_Boundary],
                quantile: str) -> tuple[float, str]:
    """(the smallest ratio the nearest boundary pair can tell, a sentence naming the
    buckets to add when that is more than allowed_ratio, else "")."""
    nearest = boundaries[0]
    resolved = _spread(nearest.canary, nearest.baseline) if tail == "upper" \
        else _spread(nearest.baseline, nearest.canary)
    if resolved <= metric.allowed_ratio * (1 + 1e-6):
        return resolved, ""
    wanted = sorted({b.baseline * metric.allowed_ratio if tail == "upper"
                     else b.baseline / metric.allowed_ratio for b in boundaries[:3]})
    return resolved, (
        f"the buckets cannot resolve {metric.allowed_ratio:g}x at the baseline {quantile}: "
        f"the nearest boundaries compare the canary beyond {nearest.canary:g} with the "
        f"baseline beyond {nearest.baseline:g}, {resolved:.3g}x, so only a change "
        f"{'above' if tail == 'upper' else 'below'} about that can fail; add buckets at "
        f"{', '.join(f'{le:.4g}' for le in wanted)}")


def _spread(high: float, low: float) -> float:
    """high / low for positive boundaries; 1 for the same boundary, else infinity."""
    if high == low:
        return 1.0
    return high / low if low > 0 else math.inf


def _quantile_ratio_bounds(canary: Histogram, baseline: Histogram, q: float,
                           alpha: float) -> tuple[float, float]:
    """Bounds on canary q-quantile / baseline q-quantile that honour the buckets: each
    quantile is only known to lie between two boundaries (`_quantile_bounds`, each bound
    at confidence 1 - alpha/4, so the ratio's at 1 - alpha)."""
    z = normal_quantile(1 - alpha / 4)
    canary_low, canary_high = _quantile_bounds(canary, q, z)
    baseline_low, baseline_high = _quantile_bounds(baseline, q, z)
    low = canary_low / baseline_high if canary_low > 0 and 0 < baseline_high < math.inf \
        else 0.0
    high = canary_high / baseline_low if baseline_low > 0 else math.inf
    return low, high


def _quantile_bounds(histogram: Histogram, q: float, z: float) -> tuple[float, float]:
    """(the last boundary the q-quantile is known to lie above, the first it is known to
    lie at or below), from Wilson bounds on the share of requests at or below each;
    -/+ infinity where no boundary is known."""
    low, high = -math.inf, math.inf
    for le in histogram.bounds():
        below_low, below_high = wilson_interval(histogram.count_at(le), histogram.total, z)
        if below_high < q:
            low = le
        if below_low >= q:
            return low, le
    return low, high


def _ratio(canary: float, baseline: float) -> float | None:
    return canary / baseline if baseline > 0 else None


def _too_few(metric: CompareMetric, canary: float, baseline: float, what: str,
             minimum: int = 0) -> str | None:
    needed = max(metric.min_samples, minimum)
    if canary <= 0 or baseline <= 0:
        side = "canary" if canary <= 0 else "baseline"
        return f"the {side} has no {what} in the window"
    if canary < needed or baseline < needed:
        return (f"too few {what}: canary {canary:.0f}, baseline {baseline:.0f} "
                f"(min_samples {metric.min_samples})")
    return None


def _count_verdict(metric: CompareMetric, test_name: str, test: CountTest, alpha: float, *,
                   failed: bool, reason: str, canary: Mapping[str, Number],
                   baseline: Mapping[str, Number], effect: float | None,
                   details: Mapping[str, Number]) -> Verdict:
    return Verdict(
        name=metric.name, test=f"{test_name} ({test.method})", critical=metric.critical,
        outcome="fail" if failed else "pass", reason=reason, canary=canary,
        baseline=baseline, statistic=test.z, p_value=test.p_value, alpha=alpha,
        effect=effect,
        details={**details, "observed": test.observed, "expected": test.expected},
    )


def _verdict_text(failed: bool, tail: Tail, allowed: float, what: str = "rate") -> str:
    direction = "above" if tail == "upper" else "below"
    bound = allowed if tail == "upper" else 1 / allowed
    if failed:
        return f"canary {what} is {direction} {bound:.3g}x the baseline's"
    return f"no evidence that the canary {what} is {direction} {bound:.3g}x the baseline's"


def _p_text(test: CountTest, alpha: float) -> str:
    return f"p = {test.p_value:.3g} {'<' if test.p_value < alpha else '>='} alpha {alpha:.3g}"


def _distance_outside(metric: ThresholdMetric, value: float) -> float:
    """How far outside the bounds a value is (negative inside: the closer, the larger)."""
    distances = []
    if metric.minimum is not None:
        distances.append(metric.minimum - value)
    if metric.maximum is not None:
        distances.append(value - metric.maximum)
    return max(distances)


def _bound_text(metric: ThresholdMetric) -> str:
    if metric.minimum is not None and metric.maximum is not None:
        return f"[{metric.minimum:g}, {metric.maximum:g}]"
    if metric.maximum is not None:
        return f"<= {metric.maximum:g}"
    return f">= {metric.minimum:g}"


def _finite(value: Number) -> Number:
    return value if value is None or math.isfinite(value) else None


def _finite_map(values: Mapping[str, Number]) -> dict[str, Number]:
    return {key: _finite(value) for key, value in values.items()}
