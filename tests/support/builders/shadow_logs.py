"""Shadow-mode prediction logs for `modelrail shadow analyze`, written from two arrays of
scores, and the command run on them (`--json`, its result read back)."""

import json
from pathlib import Path
from typing import Any

import numpy as np
from modelrail.cli.main import main

POLICY = """model: ctr-ranker
shadow:
  decision_threshold: 0.5
  min_pairs: 100
  min_agreement: 0.9
  min_correlation: 0.8
  max_ks: 0.1
  max_error_rate: 0.05
  max_latency_p99: 0.3
  window: 30m
"""


def write_shadow_log(directory: Path, production: np.ndarray, shadow: np.ndarray) -> Path:
    """Production lines, shadow lines (own request ids, shadow_of = production's), one
    unpaired production line and an unrelated shadow line that must not pair; POLICY
    as `directory`/modelrail.yaml."""
    path = directory / "predictions.jsonl"
    with path.open("w") as log:
        for index, (p, s) in enumerate(zip(production, shadow, strict=True)):
            request, row = f"req-{index // 2}", index % 2
            log.write(json.dumps({"request_id": request, "row": row, "prediction": p}) + "\n")
            log.write(json.dumps({"request_id": f"shadow-{index}", "row": row,
                                  "prediction": s, "shadow": True,
                                  "shadow_of": request}) + "\n")
        log.write(json.dumps({"request_id": "alone", "row": 0, "prediction": 0.9}) + "\n")
        log.write(json.dumps({"request_id": "x", "row": 0, "prediction": 0.1, "shadow": True,
                              "shadow_of": "missing"}) + "\n")
    (directory / "modelrail.yaml").write_text(POLICY, encoding="utf-8")
    return path


def shadow_analyze(directory: Path, path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """`modelrail shadow analyze` with `directory`/modelrail.yaml: the exit code and the
    --json result ({} when none was written)."""
    out = directory / "out.json"
    code = main(["shadow", "analyze", "--config", str(directory / "modelrail.yaml"),
                 "--predictions", str(path), "--json", str(out), *extra])
    return code, json.loads(out.read_text()) if out.exists() else {}
