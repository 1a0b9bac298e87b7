"""Production traffic for monitoring tests: the example model served for real, the
traffic simulator sending users through the router, and the model's reference sample.

    lab = MonitorLab(root)                     # trains the model, writes reference.csv
    logs = lab.simulate("run-1", shift={"price": 2.5})
    logs.predictions, logs.events              # ctr_serving's log, the simulator's events

What runs (127.0.0.1, free ports, stopped after each simulation so the log is flushed):
`python -m ctr_serving` with `PREDICTION_LOG` set to a file, `python -m ctr_router` in
front of it (both arms on the same server: only the router's stamping matters here) and
`python -m simulator`. The model is trained by the example model's own code on a small
data set. The reference sample is the simulator's population for `SEED` (the rows the
model will see) scored by the model, the columns `log_mlflow.py` logs: the features and
`prediction`. The model directory holds `model.pkl` and, exported as the image does,
`scorer.json`. The simulator redraws its item catalogue per seed, so traffic with the same
seed and no shift is the reference's population exactly; a `shift` multiplies a feature.
"""

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.example_apps import EXAMPLE_PYTHONPATH, example_app

SEED, USERS = 11, 400
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

out, seed, users = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
train_rows, _ = generate(PrepareConfig(seed=3, n_users=300, n_items=200,
                                       n_impressions=8000, test_fraction=0.2))
model = train(train_rows, {"C": 1.0, "max_iter": 300, "features": list(ALL_FEATURES)})
joblib.dump(model, out / "model.pkl")
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


def _run(args: list[str], log: Path, timeout: float = 300) -> None:
    env = {**os.environ, "PYTHONPATH": EXAMPLE_PYTHONPATH}
    with log.open("wb") as sink:
        done = subprocess.run([sys.executable, *args], env=env, stdout=sink,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args[:2])} failed:\n"
                           f"{log.read_text()[-3000:]}")


class MonitorLab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.model_dir = root / "model"
        self.model_dir.mkdir(parents=True, exist_ok=True)
        _run(["-c", _TRAIN, str(self.model_dir), str(SEED), str(USERS)], root / "train.log")

    @property
    def reference(self) -> Path:
        return self.model_dir / "reference.csv"

    def simulate(self, name: str, shift: Mapping[str, float] | None = None) -> Logs:
        """One simulation through a fresh server and router; the logs it left."""
        out = self.root / name
        out.mkdir(parents=True)
        logs = Logs(out / "predictions.jsonl", out / "events.jsonl")
        serving = {"MODEL_PATH": str(self.model_dir), "MODEL_NAME": "ctr-ranker",
                   "MODEL_VERSION": "2", "PREDICTION_LOG": str(logs.predictions)}
        with example_app("ctr_serving", serving, out / "serving.log") as model_url:
            router = {"EXPERIMENT": "monitor",
                      "VARIANTS": f"control={model_url},treatment={model_url}"}
            with example_app("ctr_router", router, out / "router.log") as router_url:
                flags = [f"--shift={k}={v}" for k, v in (shift or {}).items()]
                _run(["-m", "simulator", "--router", router_url, "--users", str(USERS),
                      "--seed", str(SEED), "--events", str(logs.events), "--effect", "0",
                      *flags], out / "simulator.log")
        return logs
