"""Reading an A/B test at every planned look: fixed horizon, confidence sequence and
group-sequential designs, on the same simulated experiments.

The setting of the issue that asked for group-sequential designs: a conversion metric with
a 5% base rate, 20,000 users split 50/50 at the planned maximum, alpha 0.05 two-sided
(0.025 per side), equally spaced looks. Each mode reads every look and ships at the first
significant improvement:

- fixed, every look: Welch's test read at each look (peeking);
- fixed, last look: the same test read once, at the planned maximum;
- confidence sequence: GrowthBook's always-valid sequence, N* = the planned units (and
  a quarter and four times that);
- group-sequential: Lan-DeMets O'Brien-Fleming and Pocock spending over the looks.

Rows: A/A (any direction, and shipped = crossed upward), true lifts +5/+10/+20%, at 5,
20 and 60 looks, and an unplanned overrun (the 20-look plan run on to 30 looks, past the
planned maximum decided at the final bound). The effect estimates come from modelrail's
own `relative_effect`; the group-sequential decision compares z with `bounds()` at each
look, which is what the engine's repeated p-value below alpha means.

    python bench/ab_group_sequential.py   # prints a table, writes
                                          # bench/results/ab_group_sequential.json
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
from modelrail.ab.group_sequential import Design, bounds
from modelrail.ab.stats import (
    ProportionStats,
    StatsError,
    arm,
    fixed_test,
    relative_effect,
    sequential_test,
)

from tests.support.paths import REPO_ROOT

SEED = 20261206
ALPHA = 0.05
BASE_RATE = 0.05
PLANNED_UNITS = 20_000  # both arms, at the planned maximum
EXPERIMENTS = 4_000
LIFTS = (0.0, 0.05, 0.10, 0.20)
Array = np.ndarray[Any, np.dtype[np.float64]]
Flags = np.ndarray[Any, np.dtype[np.bool_]]


@dataclass(frozen=True)
class Schedule:
    name: str
    planned_looks: int
    looks: int  # > planned_looks: an overrun past the planned maximum

    @property
    def units_per_look(self) -> int:
        """Per arm."""
        return PLANNED_UNITS // 2 // self.planned_looks

    @property
    def fractions(self) -> list[float]:
        return [(look + 1) / self.planned_looks for look in range(self.looks)]


SCHEDULES = (Schedule("5 looks", 5, 5), Schedule("20 looks", 20, 20),
             Schedule("60 looks", 60, 60), Schedule("20 planned, run to 30", 20, 30))


def simulate(generator: np.random.Generator, schedule: Schedule,
             lift: float) -> tuple[Array, Array]:
    """Cumulative conversions per look, control and treatment (experiments x looks)."""
    shape = (EXPERIMENTS, schedule.looks)
    control = np.cumsum(generator.binomial(schedule.units_per_look, BASE_RATE, shape), axis=1)
    treatment = np.cumsum(generator.binomial(schedule.units_per_look,
                                             BASE_RATE * (1 + lift), shape), axis=1)
    return control.astype(float), treatment.astype(float)


def effects(schedule: Schedule, control: Array, treatment: Array) -> list[list[Any]]:
    """modelrail's relative effect at every look of every experiment; None where it is
    undefined (no conversion yet), which no mode can read as significant."""
    rows: list[list[Any]] = []
    for c_row, t_row in zip(control, treatment, strict=True):
        row: list[Any] = []
        for look in range(schedule.looks):
            n = schedule.units_per_look * (look + 1)
            try:
                row.append(relative_effect(arm(ProportionStats(n, c_row[look])),
                                           arm(ProportionStats(n, t_row[look]))))
            except StatsError:
                row.append(None)
        rows.append(row)
    return rows


def by_p_value(test: Callable[[Any], Any], last_planned_only: bool = False,
               ) -> Callable[[Schedule, list[list[Any]]], tuple[Flags, Flags]]:
    """A mode that reads a p-value (and the estimate's sign) at every look, or only at the
    last planned one."""
    def decide(schedule: Schedule, rows: list[list[Any]]) -> tuple[Flags, Flags]:
        looks = [schedule.planned_looks - 1] if last_planned_only else range(schedule.looks)
        significant = np.zeros((EXPERIMENTS, schedule.looks), dtype=bool)
        positive = np.zeros_like(significant)
        for i, row in enumerate(rows):
            for look in looks:
                if row[look] is None:
                    continue
                result = test(row[look])
                significant[i, look] = result.p_value < ALPHA
                positive[i, look] = result.estimate > 0
        return significant, positive
    return decide


def by_bound(spending: str) -> Callable[[Schedule, list[list[Any]]], tuple[Flags, Flags]]:
    def decide(schedule: Schedule, rows: list[list[Any]]) -> tuple[Flags, Flags]:
        design = Design(alpha=ALPHA / 2, spending=spending, two_sided=True)  # type: ignore[arg-type]
        limit = np.array(bounds(design, schedule.fractions))
        z = np.array([[0.0 if e is None else e.estimate / e.standard_error for e in row]
                      for row in rows])
        return np.abs(z) >= limit, z > 0
    return decide


MODES: dict[str, Callable[[Schedule, list[list[Any]]], tuple[Flags, Flags]]] = {
    "fixed, every look": by_p_value(lambda e: fixed_test(e, ALPHA, "two-sided")),
    "fixed, last planned look": by_p_value(lambda e: fixed_test(e, ALPHA, "two-sided"),
                                           last_planned_only=True),
    "confidence sequence N*=5,000": by_p_value(
        lambda e: sequential_test(e, ALPHA, "two-sided", PLANNED_UNITS / 4)),
    "confidence sequence N*=20,000": by_p_value(
        lambda e: sequential_test(e, ALPHA, "two-sided", PLANNED_UNITS)),
    "confidence sequence N*=80,000": by_p_value(
        lambda e: sequential_test(e, ALPHA, "two-sided", PLANNED_UNITS * 4)),
    "group-sequential O'Brien-Fleming": by_bound("obrien-fleming"),
    "group-sequential Pocock": by_bound("pocock"),
}


def outcome(significant: Flags, positive: Flags) -> dict[str, float]:
    """Shipped: the first significant look is an improvement; any: some look significant."""
    first = np.where(significant.any(axis=1), significant.argmax(axis=1), -1)
    shipped = (first >= 0) & positive[np.arange(EXPERIMENTS), np.maximum(first, 0)]
    return {"shipped": float(shipped.mean()), "any_direction": float((first >= 0).mean())}


def run() -> list[dict[str, Any]]:
    generator = np.random.default_rng(SEED)
    results = []
    for schedule in SCHEDULES:
        for lift in LIFTS:
            rows = effects(schedule, *simulate(generator, schedule, lift))
            for mode, decide in MODES.items():
                results.append({"schedule": schedule.name, "lift": lift, "mode": mode,
                                **outcome(*decide(schedule, rows))})
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = []
    for schedule in SCHEDULES:
        lines += [f"{schedule.name}: {EXPERIMENTS} experiments per row, {PLANNED_UNITS:,} "
                  f"planned units, base rate {BASE_RATE:.0%}, alpha {ALPHA} two-sided",
                  f"{'mode':<34} {'A/A any':>8} {'A/A ship':>9} "
                  + " ".join(f"{'+' + format(lift, '.0%'):>7}" for lift in LIFTS[1:])]
        for mode in MODES:
            cells = {r["lift"]: r for r in results
                     if r["schedule"] == schedule.name and r["mode"] == mode}
            lines.append(f"{mode:<34} {cells[0.0]['any_direction']:>8.1%} "
                         f"{cells[0.0]['shipped']:>9.1%} "
                         + " ".join(f"{cells[lift]['shipped']:>7.1%}" for lift in LIFTS[1:]))
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    started = time.monotonic()
    results = run()
    elapsed = time.monotonic() - started
    print(table(results))
    print(f"{elapsed:.0f} s on {platform.python_implementation()} {platform.python_version()};"
          f" standard error of a rate p: sqrt(p(1-p)/{EXPERIMENTS}) "
          f"(at 2.5%: {math.sqrt(0.025 * 0.975 / EXPERIMENTS):.1%})")
    out = REPO_ROOT / "bench" / "results" / "ab_group_sequential.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seed": SEED, "seconds": round(elapsed, 1),
                               "experiments": EXPERIMENTS, "results": results},
                              indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
