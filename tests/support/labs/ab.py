"""A live A/B lab: the traffic simulator through the router to two real model servers,
leaving the prediction log and the business events an A/B analysis reads.

    from tests.support.labs.ab import run_ab_lab

    logs = run_ab_lab(tmp_path / "lab", tmp_path / "models", users=2000, seed=7, effect=0.05)
    logs.predictions, logs.events    # JSON lines, as `modelrail ab analyze` reads them
    logs.summary                     # the simulator's JSON summary (true CTR per variant)

What runs (all on 127.0.0.1, free ports, stopped on return, logs under `root`):

- one `python -m ctr_serving` per variant (the example model's serving app, as in its
  image), serving a `scorer.json` trained by the example model's own code and exported by
  the image's exporter (`labs.canary.train_artifacts`, its good model), each writing its
  prediction log to a file (`PREDICTION_LOG`); `MODEL_VERSION` 1 (control) and 2;
- `python -m ctr_router`: assigns each user with `modelrail.ab.assign` and stamps
  experiment and variant into the request the model server logs;
- `python -m simulator`: planned sessions (fixed by the seed), clicks with the true
  effect on the treatment, session ends; writes the events.

The servers are stopped before the logs are read, so every buffered line is flushed; the
two prediction logs are concatenated into one file, as a log shipper would.
"""

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.labs.canary import train_artifacts
from tests.support.labs.example_apps import EXAMPLE_PYTHONPATH, example_app

EXPERIMENT = "ranker-v2"
VARIANTS = ("control", "treatment")


@dataclass(frozen=True)
class AbLogs:
    predictions: Path
    events: Path
    summary: Mapping[str, Any]


def run_ab_lab(root: Path, artifacts: Path, *, users: int, seed: int, effect: float,
               rows: int = 10, concurrency: int = 8) -> AbLogs:
    """Simulate `users` through the router; `effect` is the treatment's true relative CTR
    lift (0: an A/A run). The models are trained into `artifacts` unless already there
    (several runs can share them)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (artifacts / "good" / "scorer.json").exists():
        train_artifacts(artifacts)
    logs = {variant: root / f"predictions-{variant}.jsonl" for variant in VARIANTS}
    events = root / "events.jsonl"
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(example_app("ctr_serving", {
            "MODEL_PATH": str(artifacts / "good" / "scorer.json"), "MODEL_NAME": "ctr-ranker",
            "MODEL_VERSION": str(index + 1), "PREDICTION_LOG": str(logs[variant])},
            root / f"serving-{variant}.log"))
            for index, variant in enumerate(VARIANTS)]
        router = stack.enter_context(example_app("ctr_router", {
            "EXPERIMENT": EXPERIMENT, "WEIGHTS": "0.5,0.5", "UPSTREAM_TIMEOUT_SECONDS": "10",
            "VARIANTS": ",".join(f"{v}={url}" for v, url in zip(VARIANTS, urls, strict=True))},
            root / "router.log"))
        done = subprocess.run(
            [sys.executable, "-m", "simulator", "--router", router, "--users", str(users),
             "--seed", str(seed), "--events", str(events), "--effect", str(effect),
             "--rows", str(rows), "--concurrency", str(concurrency)],
            env={**os.environ, "PYTHONPATH": EXAMPLE_PYTHONPATH},
            cwd=root, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"simulator failed ({done.returncode}):\n{done.stderr[-3000:]}"
                           f"\n{done.stdout[-2000:]}")
    predictions = root / "predictions.jsonl"
    with predictions.open("w", encoding="utf-8") as merged:
        for path in logs.values():
            merged.write(path.read_text(encoding="utf-8"))
    return AbLogs(predictions=predictions, events=events, summary=json.loads(done.stdout))
