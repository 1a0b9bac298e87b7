"""Peeking at an A/B test 20 times: the fixed-horizon t-test against the always-valid mode.

Thousands of simulated experiments, each looked at after every batch of units, analysed
with modelrail's own engine (relative lift, two-sided, alpha 0.05): A/A runs give the
false-positive rate of stopping at the first significant look, A/B runs with a fixed true
lift give the power and the units spent until the decision.

    python bench/ab_sequential.py   # prints a table, writes bench/results/ab_sequential.json

Data are simulated as per-look sufficient statistics (numpy, seeded): a conversion metric
(binomial counts) and a skewed revenue-like mean metric (log-normal units).
"""

import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support

import numpy as np
from modelrail.ab.stats import (
    MeanStats,
    MetricStats,
    ProportionStats,
    TestResult,
    arm,
    fixed_test,
    relative_effect,
    sequential_test,
)

from tests.support.paths import REPO_ROOT

SEED = 20260901
ALPHA = 0.05
LOOKS = 20
Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Scenario:
    name: str
    experiments: int
    units_per_look: int  # per arm
    lift: float  # true relative lift of the A/B runs
    simulate: Callable[[np.random.Generator, int, int, float], list[list[MetricStats]]]

    @property
    def planned_units(self) -> int:
        """N*: all units of both arms at the last look, where the sequence is tuned."""
        return 2 * LOOKS * self.units_per_look


def conversions(generator: np.random.Generator, experiments: int, units: int,
                lift: float) -> list[list[MetricStats]]:
    """Cumulative statistics per look of a 10% conversion rate times (1 + lift)."""
    batches = generator.binomial(units, 0.10 * (1 + lift), (experiments, LOOKS))
    totals = np.cumsum(batches, axis=1)
    return [[ProportionStats(n=units * (look + 1), sum=float(row[look]))
             for look in range(LOOKS)] for row in totals]


def revenue(generator: np.random.Generator, experiments: int, units: int,
            lift: float) -> list[list[MetricStats]]:
    """Cumulative statistics per look of log-normal(0, 1) spend times (1 + lift)."""
    values = generator.lognormal(0.0, 1.0, (experiments, LOOKS, units)) * (1 + lift)
    sums = np.cumsum(values.sum(axis=2), axis=1)
    squares = np.cumsum((values**2).sum(axis=2), axis=1)
    return [[MeanStats(n=units * (look + 1), sum=float(s[look]), sum_squares=float(q[look]))
             for look in range(LOOKS)] for s, q in zip(sums, squares, strict=True)]


SCENARIOS = (
    Scenario("conversion 10% (proportion)", 10_000, 500, 0.12, conversions),
    Scenario("log-normal spend (mean)", 2_000, 250, 0.07, revenue),
)


def p_values(controls: list[list[MetricStats]], treatments: list[list[MetricStats]],
             test: Callable[[Any], TestResult]) -> tuple[Array, Array]:
    """p-value and estimate for every experiment (rows) at every look (columns)."""
    shape = (len(controls), LOOKS)
    p, estimate = np.empty(shape), np.empty(shape)
    for row, (control, treatment) in enumerate(zip(controls, treatments, strict=True)):
        for look in range(LOOKS):
            result = test(relative_effect(arm(control[look]), arm(treatment[look])))
            p[row, look], estimate[row, look] = result.p_value, result.estimate
    return p, estimate


def first_rejection(p: Array, estimate: Array, first_look: int, positive: bool) -> Array:
    """Index of the first look from `first_look` on with p < alpha (and, with `positive`,
    a positive estimate), or -1 when there is none."""
    significant = p[:, first_look:] < ALPHA
    if positive:
        significant &= estimate[:, first_look:] > 0
    return np.where(significant.any(axis=1), significant.argmax(axis=1) + first_look, -1)


def rate(hits: np.ndarray[Any, np.dtype[np.bool_]]) -> dict[str, float]:
    share = float(np.mean(hits))
    return {"rate": share, "standard_error": math.sqrt(share * (1 - share) / len(hits))}


def evaluate(scenario: Scenario, generator: np.random.Generator) -> dict[str, Any]:
    tests: dict[str, Callable[[Any], TestResult]] = {
        "fixed": lambda e: fixed_test(e, ALPHA, "two-sided"),
        "sequential": lambda e: sequential_test(e, ALPHA, "two-sided", scenario.planned_units),
    }
    runs = {kind: (scenario.simulate(generator, scenario.experiments, scenario.units_per_look,
                                     0.0),
                   scenario.simulate(generator, scenario.experiments, scenario.units_per_look,
                                     lift))
            for kind, lift in (("aa", 0.0), ("ab", scenario.lift))}
    rows = []
    for method, test in tests.items():
        aa_p, aa_estimate = p_values(*runs["aa"], test)
        ab_p, ab_estimate = p_values(*runs["ab"], test)
        for label, first_look in (("every look", 0), ("last look only", LOOKS - 1)):
            false_positive = first_rejection(aa_p, aa_estimate, first_look, False) >= 0
            stop = first_rejection(ab_p, ab_estimate, first_look, positive=True)
            units = np.where(stop >= 0, stop + 1, LOOKS) * scenario.units_per_look * 2
            rows.append({"method": method, "looks": label,
                         "false_positive": rate(false_positive), "power": rate(stop >= 0),
                         "mean_units_to_decision": float(units.mean())})
    return {"scenario": scenario.name, "experiments": scenario.experiments, "looks": LOOKS,
            "units_per_look_per_arm": scenario.units_per_look, "true_lift": scenario.lift,
            "tuning_n_star": scenario.planned_units, "alpha": ALPHA, "rows": rows}


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['scenario']}: {result['experiments']} A/A and as many A/B runs, "
             f"{result['looks']} looks x {result['units_per_look_per_arm']} units per arm, "
             f"N* = {result['tuning_n_star']}, alpha {result['alpha']}",
             f"{'method':<12} {'decides at':<15} {'A/A false positives':>20} "
             f"{'power at +' + format(result['true_lift'], '.0%'):>16} {'mean units':>11}"]
    for row in result["rows"]:
        fp, power = row["false_positive"], row["power"]
        lines.append(f"{row['method']:<12} {row['looks']:<15} "
                     f"{fp['rate']:>13.1%} ±{fp['standard_error']:.1%} "
                     f"{power['rate']:>9.1%} ±{power['standard_error']:.1%} "
                     f"{row['mean_units_to_decision']:>11.0f}")
    return "\n".join(lines)


def main() -> None:
    started = time.monotonic()
    generator = np.random.default_rng(SEED)
    results = [evaluate(scenario, generator) for scenario in SCENARIOS]
    elapsed = time.monotonic() - started
    for result in results:
        print(table(result), end="\n\n")
    print(f"{elapsed:.0f} s on {platform.python_implementation()} {platform.python_version()}")
    out = REPO_ROOT / "bench" / "results" / "ab_sequential.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seed": SEED, "seconds": round(elapsed, 1),
                               "results": results}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
