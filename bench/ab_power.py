"""How much longer? The units the A/B outlook predicts, checked by simulation.

For each metric (a conversion proportion, clicks / impressions as a ratio), test
(fixed-horizon, always valid) and target lift: a pilot of 2,000 units per arm gives the
outlook's predicted units for 80 % power (`modelrail.ab.decision.primary_outlooks`), then
RUNS simulated experiments of exactly that size are analysed with modelrail's own engine
(relative lift, two-sided, alpha 0.05); the share that ships the primary is the achieved
power, with its 95 % binomial margin. tests/unit/ab/test_power.py runs a few of these
cells small and fast.

    python bench/ab_power.py   # prints a table, writes bench/results/ab_power.json
"""

import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support

import numpy as np
from modelrail.ab.config import ExperimentConfig, SequentialConfig
from modelrail.ab.decision import primary_outlooks
from modelrail.ab.engine import evaluate
from modelrail.ab.power import POWER
from modelrail.ab.stats import MetricStats, ProportionStats, RatioStats, SufficientStats

from tests.support.paths import REPO_ROOT

SEED = 20261205
RUNS = 2000
CHUNK = 200  # ratio runs are drawn unit by unit: a chunk at a time bounds the memory
BASE_RATE = 0.10
PILOT_UNITS = 100_000  # per arm: the formula is checked, not the noise of a small pilot
Sampler = Callable[[int, float, np.random.Generator, int], list[MetricStats]]


def proportions(units: int, rate: float, rng: np.random.Generator,
                runs: int) -> list[MetricStats]:
    return [ProportionStats(units, int(c)) for c in rng.binomial(units, rate, runs)]


def ratios(units: int, rate: float, rng: np.random.Generator, runs: int) -> list[MetricStats]:
    """Clicks / impressions per user: impressions 1 + Poisson(4), clicks binomial."""
    result: list[MetricStats] = []
    for start in range(0, runs, CHUNK):
        impressions = 1 + rng.poisson(4.0, (min(CHUNK, runs - start), units))
        clicks = rng.binomial(impressions, rate)
        sums = [a.sum(axis=1) for a in (clicks, clicks**2, impressions, impressions**2,
                                        clicks * impressions)]
        result += [RatioStats(units, *(float(s[i]) for s in sums))
                   for i in range(len(sums[0]))]
    return result


def stats(control: MetricStats, treatment: MetricStats) -> SufficientStats:
    return SufficientStats(source="bench", variants=("control", "treatment"),
                           units={"control": control.n, "treatment": treatment.n},
                           metrics={"m": {"control": control, "treatment": treatment}})


def cell(metric: str, sample: Sampler, experiment: ExperimentConfig, lift: float,
         rng: np.random.Generator) -> dict[str, object]:
    treated = BASE_RATE * (1 + lift)
    pilot = stats(sample(PILOT_UNITS, BASE_RATE, rng, 1)[0],
                  sample(PILOT_UNITS, treated, rng, 1)[0])
    outlook = primary_outlooks(experiment, tuple(evaluate(experiment, pilot)))["m"]
    if outlook.units_needed is None:
        raise SystemExit(f"{metric} +{lift:.0%}: the target is out of reach")
    per_arm = outlook.units_needed // 2
    runs = zip(sample(per_arm, BASE_RATE, rng, RUNS), sample(per_arm, treated, rng, RUNS),
               strict=True)
    power = float(np.mean([evaluate(experiment, stats(c, t))[0].outcome == "improved"
                           for c, t in runs]))
    return {"metric": metric, "sequential": experiment.sequential.enabled, "lift": lift,
            "units": outlook.units_needed, "power": power,
            "margin": 1.96 * (power * (1 - power) / RUNS) ** 0.5}


def main() -> None:
    rng = np.random.default_rng(SEED)
    fixed = ExperimentConfig(key="bench", primary=("m",))
    modes = [fixed, replace(fixed, sequential=SequentialConfig(enabled=True,
                                                                tuning=20_000))]
    started = time.perf_counter()
    results = [cell(metric, sample, replace(mode, target_effect=lift), lift, rng)
               for metric, sample, lifts in (("proportion", proportions, (0.05, 0.10)),
                                             ("ratio", ratios, (0.10, 0.20)))
               for mode in modes for lift in lifts]
    elapsed = time.perf_counter() - started
    print(f"stated power {POWER:.0%}, {RUNS} runs per cell")
    print(f"{'metric':<11}{'test':<12}{'lift':>6}{'units':>10}{'achieved':>10}")
    for r in results:
        test = "sequential" if r["sequential"] else "fixed"
        print(f"{r['metric']:<11}{test:<12}{r['lift']:>6.0%}{r['units']:>10,}"
              f"{r['power']:>9.1%} ± {r['margin']:.1%}")
    print(f"{elapsed:.0f} s on {platform.python_implementation()} {platform.python_version()}")
    out = REPO_ROOT / "bench" / "results" / "ab_power.json"
    out.write_text(json.dumps({"seed": SEED, "runs": RUNS, "power": POWER,
                               "seconds": round(elapsed, 1), "results": results},
                              indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
