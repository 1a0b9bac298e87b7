"""A/B policy and `ab analyze --stats` documents written by hand: two variants, a
proportion primary metric and a mean guardrail."""

import json
from pathlib import Path
from typing import Any

POLICY = """\
model: ranker
experiment:
  key: ranker-v2
  primary: ctr
  guardrails:
    session_duration: {margin: 0.02}
  metrics:
    ctr: {type: proportion}
"""


def duration(n: int, mu: float, sd: float) -> dict[str, float]:
    return {"n": n, "sum": n * mu, "sum_squares": (n - 1) * sd**2 + n * mu**2}


def stats(treatment_clicks: int = 1150, treatment_units: int = 10_000,
          treatment_duration: float = 300.3) -> dict[str, Any]:
    return {
        "variants": ["control", "treatment"],
        "units": {"control": 10_000, "treatment": treatment_units},
        "metrics": {
            "ctr": {"type": "proportion", "control": {"n": 10_000, "sum": 1000},
                    "treatment": {"n": 10_000, "sum": treatment_clicks}},
            "session_duration": {"type": "mean", "control": duration(10_000, 300, 60),
                                 "treatment": duration(10_000, treatment_duration, 60)},
        },
    }


def write_stats(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)
