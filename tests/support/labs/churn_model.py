"""A second model repository, generated: a churn classifier unlike example-model.

Another model name (churn-classifier), a lower-is-better primary metric (log_loss), its
own three-stage DVC pipeline on a synthetic customer table, three registry environments
(dev, staging, prod: no canary), and its own workflows written from the README's snippets
with its own dispatch inputs; its release registers on its own runners (`runs-on`:
self-hosted, labelled ml). `modelrail local` is proven on it (tests/e2e/test_local.py).
"""

import subprocess
import textwrap
from pathlib import Path

from modelrail.local.act import git

MODEL = "churn-classifier"
REPOSITORY = "acme/churn"
# The committed model: log_loss 0.469, accuracy 0.765 (the gate: under 0.5, over 0.72).
GOOD_PARAMS = "train:\n  C: 1.0\n  features: [tenure, monthly_charges, support_calls, contract]\n"
# Without tenure and contract, the two strongest features: log_loss 0.615, accuracy 0.682.
DEGRADED_PARAMS = "train:\n  C: 1.0\n  features: [monthly_charges, support_calls]\n"

_FILES = {
    "params.yaml": "prepare:\n  seed: 7\n  rows: 4000\n" + GOOD_PARAMS,
    "requirements.txt": """\
        numpy==2.4.6
        scikit-learn==1.9.1
        joblib==1.6.0
        pyyaml==6.0.4
        skops==0.16.0
        mlflow-skinny==3.17.2
        dvc==3.67.1
        pytest==9.2.0
        """,
    "dvc.yaml": """\
        stages:
          prepare:
            cmd: PYTHONPATH=src python -m churn.prepare
            deps: [src/churn/prepare.py]
            params: [prepare]
            outs: [data]
          train:
            cmd: PYTHONPATH=src python -m churn.train
            deps: [data, src/churn/train.py]
            params: [train]
            outs: [models]
          evaluate:
            cmd: PYTHONPATH=src python -m churn.evaluate
            deps: [data, models, src/churn/evaluate.py]
            metrics:
              - metrics.json:
                  cache: false
        """,
    "modelrail.yaml": """\
        model: churn-classifier
        registry:
          tracking_uri: env:MLFLOW_TRACKING_URI
          environments: [dev, staging, prod]
        gate:
          metrics:
            log_loss: {threshold: 0.5, min_relative_change: -0.02, greater_is_better: false}
            accuracy: {threshold: 0.72, greater_is_better: true}
        """,
    "src/churn/__init__.py": "",
    "src/churn/prepare.py": '''\
        """A synthetic customer table: who churns depends on tenure, contract and calls."""
        from pathlib import Path

        import numpy as np
        import yaml

        params = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
        rng = np.random.default_rng(params["seed"])
        rows = params["rows"]
        tenure = rng.exponential(24, rows)
        charges = rng.normal(70, 20, rows)
        calls = rng.poisson(1.5, rows)
        contract = rng.integers(0, 3, rows)
        logit = 0.8 - 0.08 * tenure + 0.01 * (charges - 70) + 0.35 * calls - 0.9 * contract
        churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
        table = np.column_stack([tenure, charges, calls, contract, churned])
        Path("data").mkdir(exist_ok=True)
        np.save("data/train.npy", table[: rows * 3 // 4])
        np.save("data/test.npy", table[rows * 3 // 4 :])
        ''',
    "src/churn/features.py": '''\
        """The feature columns of the customer table, by name."""
        COLUMNS = {"tenure": 0, "monthly_charges": 1, "support_calls": 2, "contract": 3}


        def select(table, names):
            return table[:, [COLUMNS[name] for name in names]], table[:, 4]
        ''',
    "src/churn/train.py": '''\
        """Logistic regression on the features params.yaml names."""
        from pathlib import Path

        import joblib
        import numpy as np
        import yaml
        from sklearn.linear_model import LogisticRegression

        from churn.features import select

        params = yaml.safe_load(Path("params.yaml").read_text())["train"]
        x, y = select(np.load("data/train.npy"), params["features"])
        model = LogisticRegression(C=params["C"], max_iter=1000).fit(x, y)
        Path("models").mkdir(exist_ok=True)
        joblib.dump((params["features"], model), "models/model.joblib")
        ''',
    "src/churn/evaluate.py": '''\
        """log_loss (lower is better) and accuracy on the held-out quarter."""
        import json

        import joblib
        import numpy as np
        from sklearn.metrics import accuracy_score, log_loss

        from churn.features import select

        features, model = joblib.load("models/model.joblib")
        x, y = select(np.load("data/test.npy"), features)
        scores = model.predict_proba(x)[:, 1]
        metrics = {"log_loss": round(log_loss(y, scores), 4),
                   "accuracy": round(accuracy_score(y, scores > 0.5), 4)}
        with open("metrics.json", "w") as out:
            json.dump(metrics, out, indent=2)
        ''',
    "src/churn/log_model.py": '''\
        """Log the trained model to MLflow; write {"run_id": ...} to the file argv[1] names."""
        import json
        import subprocess
        import sys

        import joblib
        import mlflow
        import mlflow.sklearn

        features, model = joblib.load("models/model.joblib")
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        mlflow.set_experiment("churn-classifier")
        with mlflow.start_run(tags={"git_sha": sha}) as run:
            mlflow.log_metrics(json.load(open("metrics.json")))
            mlflow.log_param("features", ",".join(features))
            mlflow.sklearn.log_model(model, name="model")
        with open(sys.argv[1], "w") as out:
            json.dump({"run_id": run.info.run_id}, out)
        ''',
    "tests/test_features.py": '''\
        import numpy as np

        from churn.features import select


        def test_select_takes_the_named_columns_and_the_label():
            table = np.arange(10.0).reshape(2, 5)
            x, y = select(table, ["contract", "tenure"])
            assert x.tolist() == [[3.0, 0.0], [8.0, 5.0]]
            assert y.tolist() == [4.0, 9.0]
        ''',
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    ".gitignore": "/data\n/models\n",
    ".github/workflows/pull-request.yml": """\
        name: Churn PR check
        on:
          pull_request:
            branches: [main]
        permissions: {}
        jobs:
          check:
            uses: modelrail/modelrail/.github/workflows/pr-test.yml@v1
            permissions:
              contents: read
              pull-requests: write
            with:
              mlflow-tracking-uri: ${{ vars.MLFLOW_TRACKING_URI }}
              log-command: PYTHONPATH=src python -m churn.log_model "$MODELRAIL_RUN_JSON"
            secrets:
              MLFLOW_TRACKING_TOKEN: ${{ secrets.MLFLOW_TRACKING_TOKEN }}
        """,
    ".github/workflows/merge.yml": """\
        name: Churn release
        on:
          push:
            branches: [main]
        permissions: {}
        jobs:
          register:
            uses: modelrail/modelrail/.github/workflows/register-model.yml@v1
            permissions:
              contents: read
            with:
              mlflow-tracking-uri: ${{ vars.MLFLOW_TRACKING_URI }}
              log-command: PYTHONPATH=src python -m churn.log_model "$MODELRAIL_RUN_JSON"
              runs-on: '["self-hosted", "ml"]'
            secrets:
              MLFLOW_TRACKING_TOKEN: ${{ secrets.MLFLOW_TRACKING_TOKEN }}
          dev:
            needs: register
            if: needs.register.outputs.gate-passed == 'true'
            uses: modelrail/modelrail/.github/workflows/promote.yml@v1
            permissions:
              contents: read
            with:
              model: churn-classifier
              to: dev
              version: ${{ needs.register.outputs.version }}
              reason: merged to main
              mlflow-tracking-uri: ${{ vars.MLFLOW_TRACKING_URI }}
            secrets:
              MLFLOW_TRACKING_TOKEN: ${{ secrets.MLFLOW_TRACKING_TOKEN }}
        """,
    ".github/workflows/promote.yml": """\
        name: Churn promotion
        on:
          workflow_dispatch:
            inputs:
              environment:
                description: Where to
                type: choice
                options: [staging, prod]
                required: true
              reason:
                description: Why
                type: string
                required: true
              rollback:
                description: Roll the environment back
                type: boolean
                default: false
        permissions: {}
        jobs:
          promote:
            uses: modelrail/modelrail/.github/workflows/promote.yml@v1
            permissions:
              contents: read
            with:
              model: churn-classifier
              to: ${{ inputs.environment }}
              reason: ${{ inputs.reason }}
              rollback: ${{ inputs.rollback }}
              mlflow-tracking-uri: ${{ vars.MLFLOW_TRACKING_URI }}
            secrets:
              MLFLOW_TRACKING_TOKEN: ${{ secrets.MLFLOW_TRACKING_TOKEN }}
        """,
}


def policy_text() -> str:
    """The churn model's modelrail.yaml, as its repository holds it."""
    return textwrap.dedent(_FILES["modelrail.yaml"])


def churn_repo(destination: Path, python_env: Path) -> Path:
    """The churn repository, generated, its pipeline reproduced with `python_env` (so
    dvc.lock and metrics.json are committed, as a real repository has them) and committed
    on main."""
    for name, text in _FILES.items():
        path = destination / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    git(destination, "init", "-q", "-b", "main")
    bin_dir = python_env / "bin"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(destination.parent)}
    subprocess.run([str(bin_dir / "dvc"), "init", "-q"], cwd=destination, env=env, check=True)
    subprocess.run([str(bin_dir / "dvc"), "repro", "--quiet"], cwd=destination, env=env,
                   check=True)
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "churn classifier")
    return destination


def local_state(folder: Path, python_env: Path) -> Path:
    """A `modelrail local --state-dir` whose jobs' interpreter is `python_env` (which has
    the pins the churn model asks for, so the jobs' `pip install -r` installs nothing)."""
    folder.mkdir()
    (folder / "python").symlink_to(python_env)
    return folder


def commit_degraded_change(repo: Path, branch: str) -> None:
    """On a new `branch` from main, train without tenure and contract, committed."""
    git(repo, "checkout", "-q", "-b", branch, "main")
    params = repo / "params.yaml"
    params.write_text(params.read_text().split("train:")[0] + DEGRADED_PARAMS)
    git(repo, "commit", "-q", "-am", "train without tenure and contract")
