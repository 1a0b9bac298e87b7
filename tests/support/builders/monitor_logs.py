"""Logs for `monitor` and `shadow analyze` on every engine (tests/integration/
test_engines.py, test_spark_connect.py): a prediction log with shadow lines, click events,
a reference sample, and a policy for both commands."""

import random
from pathlib import Path
from typing import Any

from tests.support.builders.ab_logs import at, write_csv
from tests.support.builders.shadow_logs import POLICY as SHADOW_POLICY

# The log has ties (a 10 s grid, scores and prices rounded),
# zeros, NULLs (prices, devices, request ids), values below, on and above the reference's
# grid, a category the reference lacks, shadow lines of two versions (left out of the
# drift, paired by shadow analyze), and clicks on both edges of the 2-minute window.
MONITOR_POLICY = """model: ctr-ranker
monitor:
  min_rows: 1
  features: [price, device, position]
  categorical: [device]
  performance:
    attribution_window: 2m
    calibration_error: {minor: 0.2, major: 0.5}
"""


def monitor_logs(seed: int, requests: int = 400, production: bool = True,
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Prediction log lines (production ones only when `production`) and events."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    lines: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for index in range(requests):
        request = None if rng.random() < 0.05 else f"r{index:04d}"
        instant = 10.0 * rng.randrange(0, 360)
        for row in range(rng.randint(1, 3)):
            score = rng.choice([0.0, 0.5, round(rng.random(), 2)])
            features = {"price": rng.choice([None, 0.0, -1.0, 99.0, 10.0,
                                             round(rng.uniform(0, 50), 1)]),
                        "device": rng.choice([None, "mobile", "desktop", "tv"]),
                        "position": rng.randint(1, 6)}
            common = {"timestamp": at(instant), "row": row, "model": "ctr-ranker",
                      "features": features}
            if production:
                lines.append({**common, "request_id": request, "version": "1",
                              "prediction": score})
            if rng.random() < 0.8:
                lines.append({**common, "request_id": f"s{index}-{row}", "shadow": True,
                              "shadow_of": request, "version": rng.choice(["2", "3"]),
                              "prediction": rng.choice([score, round(rng.random(), 2)])})
        for delay in rng.sample([0.0, 60.0, 120.0, 121.0, -10.0], rng.randint(0, 2)):
            events.append({"timestamp": at(instant + delay), "type": "click", "user_id": "u",
                           "request_id": rng.choice([request, request, None]), "value": None})
    events.append({"timestamp": at(3700), "type": "session_end", "user_id": "u",
                   "request_id": None, "value": 1.0})
    return lines, events


def monitor_reference(path: Path, seed: int) -> Path:
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    rows = [{"price": rng.choice(["", "0.0", "10.0", str(round(rng.uniform(0, 50), 1))]),
             "device": rng.choice(["", "mobile", "desktop", "tablet"]),
             "position": rng.randint(1, 5), "prediction": rng.choice([0.0, 0.5, 0.25])}
            for _ in range(300)]
    return write_csv(path, rows)



BOTH_POLICY = MONITOR_POLICY + SHADOW_POLICY.removeprefix("model: ctr-ranker\n")
"""The policy of both commands (shadow's min_pairs: 100)."""
