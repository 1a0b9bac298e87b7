"""Production traffic for monitoring tests: the example model served for real, the
traffic simulator sending users through the router, and the model's reference sample.

    lab = MonitorLab(root)                     # trains the model, writes reference.csv
    logs = lab.simulate("run-1", shift={"price": 2.5})
    logs.predictions, logs.events              # ctr_serving's log, the simulator's events
    bad = lab.candidate("balanced", class_weight="balanced")
    logs = lab.simulate("shadow-1", shadow=bad)   # + the shadow's lines in logs.predictions

What runs (127.0.0.1, free ports, stopped after each simulation so the log is flushed):
`python -m ctr_serving` (MODEL_VERSION 2) with `PREDICTION_LOG` set to a file,
`python -m ctr_router` in front of it (both arms on the same server: only the router's
stamping matters here) and `python -m simulator`. With a `shadow` model directory, a
second `ctr_serving` (its own log) serves it and the router mirrors every answered request
to it (`SHADOW=candidate=<url>`); the lab waits until the router has sent or dropped every
copy, and appends the shadow's log to `logs.predictions` once both servers have stopped,
so that file holds production lines and shadow lines, what `modelrail shadow analyze`
reads. `logs.shadow_calls` counts the copies by outcome (`ok`, `error`, `timeout`,
`dropped`).

The models are trained by the example model's own code on one small data set; a
candidate differs from the lab's model in one parameter. The reference sample is the
simulator's population for `SEED` (the rows the model will see) scored by the model, the
columns `log_mlflow.py` logs: the features and `prediction`. A model directory holds
`model.pkl` and, exported as the image does, `scorer.json`. The simulator's population
(users, item catalogue) is always `SEED`'s; `simulate(seed=...)` draws other traffic
(sessions, shown items, clicks) from it, which does not drift from the reference, and
`shift` multiplies a feature, which does.
"""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.labs.example_apps import EXAMPLE_PYTHONPATH, example_app

# 800 users (~1,360 sessions): with 400, hour_of_day (one draw per session, 24 values) has
# a sampling PSI >= 0.1 (minor) against the reference for 21% of other traffic seeds.
SEED, USERS = 11, 800
# Another traffic seed over SEED's population: of traffic seeds 0-299 the one whose
# hour_of_day PSI against the reference is highest (0.073, minor at 0.1), still no drift.
OTHER_TRAFFIC_SEED = 29
PRODUCTION_VERSION = "2"
DRAIN_TIMEOUT_S = 60.0
# argv: out-dir C class_weight ("" = none) [seed users: also write reference.csv]
_TRAIN = """
import importlib.util
import subprocess
import sys
from pathlib import Path
import joblib
import pandas as pd
from ctr_model.common import ALL_FEATURES
from ctr_model.prepare import PrepareConfig, generate
from ctr_model.train import train
from simulator.population import plan_sessions

out, c, class_weight = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3] or None
train_rows, _ = generate(PrepareConfig(seed=3, n_users=300, n_items=200,
                                       n_impressions=8000, test_fraction=0.2))
model = train(train_rows, {"C": c, "max_iter": 300, "features": list(ALL_FEATURES),
                           "class_weight": class_weight})
joblib.dump(model, out / "model.pkl")
if len(sys.argv) > 4:
    seed, users = int(sys.argv[4]), int(sys.argv[5])
    rows = pd.DataFrame([row for s in plan_sessions(seed, users) for row in s.rows])
    reference = rows[list(model.feature_names_in_)].copy()
    reference["prediction"] = model.predict_proba(reference)[:, 1]
    reference.to_csv(out / "reference.csv", index=False)
if importlib.util.find_spec("ctr_serving.export"):  # the image's artifact, where it exists
    subprocess.run([sys.executable, "-m", "ctr_serving.export", str(out / "model.pkl"),
                    "--output", str(out / "scorer.json")], check=True)
"""


@dataclass(frozen=True)
class Logs:
    predictions: Path
    events: Path
    shadow_calls: Mapping[str, int] = field(default_factory=dict)  # outcome -> copies


def _run(args: list[str], log: Path, timeout: float = 300) -> None:
    env = {**os.environ, "PYTHONPATH": EXAMPLE_PYTHONPATH}
    with log.open("wb") as sink:
        done = subprocess.run([sys.executable, *args], env=env, stdout=sink,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args[:2])} failed:\n"
                           f"{log.read_text()[-3000:]}")


def _train(out: Path, *args: object) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    _run(["-c", _TRAIN, str(out), *map(str, args)], out / "train.log")
    return out


def _serving(model_dir: Path, version: str, log: Path) -> contextlib.AbstractContextManager[str]:
    """The real model server for `model_dir`, logging its predictions to `log`."""
    env = {"MODEL_PATH": str(model_dir), "MODEL_NAME": "ctr-ranker", "MODEL_VERSION": version,
           "PREDICTION_LOG": str(log)}
    return example_app("ctr_serving", env, log.with_suffix(".log"))


def _shadow_counts(router_url: str) -> tuple[int, dict[str, int]]:
    """The router's answered requests (200) and its shadow copies by outcome."""
    text = requests.get(f"{router_url}/metrics", timeout=5).text
    answered, calls = 0, dict[str, int]()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "modelrail_router_requests_total":
                answered += int(sample.value) if sample.labels["code"] == "200" else 0
            elif sample.name == "modelrail_router_shadow_requests_total":
                outcome = sample.labels["outcome"]
                calls[outcome] = calls.get(outcome, 0) + int(sample.value)
            elif sample.name == "modelrail_router_shadow_dropped_total":
                calls["dropped"] = calls.get("dropped", 0) + int(sample.value)
    return answered, calls


def _drain(router_url: str) -> dict[str, int]:
    """Wait until every answered request's copy was sent or dropped (stopping the router
    cancels the copies still queued); the copies by outcome."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        answered, calls = _shadow_counts(router_url)
        if sum(calls.values()) >= answered or time.monotonic() > deadline:
            return calls
        time.sleep(0.2)


class MonitorLab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.model_dir = _train(root / "model", 1.0, "", SEED, USERS)

    @property
    def reference(self) -> Path:
        return self.model_dir / "reference.csv"

    def candidate(self, name: str, *, class_weight: str | None = None,
                  C: float = 1.0) -> Path:  # noqa: N803 - scikit-learn's name for it
        """Another model from the lab's training data, one parameter different (e.g.
        `class_weight="balanced"`: miscalibrated; `C=0.5`: agrees with production);
        its model directory."""
        return _train(self.root / "candidates" / name, C, class_weight or "")

    def simulate(self, name: str, shift: Mapping[str, float] | None = None, *,
                 shadow: Path | None = None, shadow_version: str = "3",
                 seed: int | None = None) -> Logs:
        """One simulation through fresh servers and router (traffic `seed`, default SEED,
        over SEED's population); the logs it left."""
        out = self.root / name
        out.mkdir(parents=True)
        logs = Logs(out / "predictions.jsonl", out / "events.jsonl")
        shadow_log = out / "shadow-predictions.jsonl"
        with contextlib.ExitStack() as running:  # stopped in reverse: the router first
            model_url = running.enter_context(
                _serving(self.model_dir, PRODUCTION_VERSION, logs.predictions))
            router = {"EXPERIMENT": "monitor",
                      "VARIANTS": f"control={model_url},treatment={model_url}"}
            if shadow is not None:
                shadow_url = running.enter_context(_serving(shadow, shadow_version, shadow_log))
                router["SHADOW"] = f"candidate={shadow_url}"
            router_url = running.enter_context(
                example_app("ctr_router", router, out / "router.log"))
            self._traffic(router_url, logs.events, shift, seed)
            calls = _drain(router_url) if shadow is not None else {}
        if shadow is not None:
            with logs.predictions.open("ab") as sink:
                sink.write(shadow_log.read_bytes())
        return Logs(logs.predictions, logs.events, calls)

    def _traffic(self, router_url: str, events: Path, shift: Mapping[str, float] | None,
                 seed: int | None) -> None:
        flags = [f"--shift={k}={v}" for k, v in (shift or {}).items()]
        _run(["-m", "simulator", "--router", router_url, "--users", str(USERS),
              "--seed", str(SEED if seed is None else seed), "--population-seed", str(SEED),
              "--events", str(events), "--effect", "0", *flags],
             events.parent / "simulator.log")
