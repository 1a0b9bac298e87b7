"""Cold start of the registry actions: fresh venv install, then gate, register, promote.

modelrail's path (the install script the actions run: uv, `modelrail[mlflow]` on
mlflow-skinny) against installing the full `mlflow` package, each with the uv cache warm
(a runner that restored it) and cold (a fresh runner: everything downloaded from PyPI).
Both venvs are made from the machine's own Python, as the actions' setup-python step
(`update-environment: false`) hands it to the install, never the job's `python`.

    python bench/cold_start.py            # prints a table, writes bench/results/cold_start.json
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support
from modelrail.local.act import toolcache_python
from modelrail.local.mlflow_server import mlflow_server

from tests.support.paths import REPO_ROOT

POLICY = """\
model: {model}
gate:
  metrics:
    roc_auc: {{threshold: 0.7, min_relative_change: -0.01, greater_is_better: true}}
"""


def seed_champion(url: str, model: str) -> None:
    client = MlflowClient(url)
    run = client.create_run(client.create_experiment(f"bench-{model}"))
    client.log_metric(run.info.run_id, "roc_auc", 0.76)
    client.create_registered_model(model)
    version = client.create_model_version(model, f"runs:/{run.info.run_id}/model",
                                          run_id=run.info.run_id)
    client.set_registered_model_alias(model, "champion", version.version)


def du_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def install_modelrail(runner_temp: Path, env: dict[str, str], cwd: Path) -> float:
    script = REPO_ROOT / "scripts" / "install-modelrail.sh"
    return timed(["bash", str(script), "mlflow"], env, cwd)


def install_full_mlflow(runner_temp: Path, env: dict[str, str], cwd: Path) -> float:
    venv = runner_temp / "modelrail-venv"
    started = time.monotonic()
    subprocess.run([str(toolcache_python()), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--require-hashes",
                    "--no-deps", "-r", str(REPO_ROOT / "requirements" / "uv.txt")],
                   env=env, check=True)
    subprocess.run([str(venv / "bin/python"), "-m", "uv", "pip", "install", "-q", "--python",
                    str(venv / "bin/python"), "mlflow==3.17.2", str(REPO_ROOT)],
                   env=env, cwd=cwd, check=True)
    return time.monotonic() - started


def measure(name: str, installer: str, cache: str, url: str, model: str) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="modelrail-bench-"))
    try:
        (work / "modelrail.yaml").write_text(POLICY.format(model=model))
        (work / "metrics.json").write_text('{"roc_auc": 0.77}')
        (work / "model").mkdir()
        (work / "model" / "model.pkl").write_bytes(os.urandom(64_000))
        env = {**os.environ, "RUNNER_TEMP": str(work), "MLFLOW_TRACKING_URI": url,
               "GITHUB_SHA": uuid.uuid4().hex + "0" * 8,
               "MODELRAIL_PYTHON": str(toolcache_python())}
        env.pop("GITHUB_PATH", None)
        env.pop("GITHUB_OUTPUT", None)
        if cache == "cold":
            env["UV_CACHE_DIR"] = str(work / "uv-cache")
            env["PIP_NO_CACHE_DIR"] = "1"
        install = (install_modelrail if installer == "skinny" else install_full_mlflow)(
            work, env, work)
        (venv,) = work.glob("modelrail-venv*")  # the install script names it with mktemp
        cli = str(venv / "bin/modelrail")
        gate = timed([cli, "gate", "--candidate", "metrics.json", "--champion-model",
                      "--json", "gate.json"], env, work)
        register = timed([cli, "register", "--model-dir", "model", "--gate-report", "gate.json",
                          "--json", "registered.json"], env, work)
        version = json.loads((work / "registered.json").read_text())["version"]
        promote = timed([cli, "promote", "--to", "dev", "--version", str(version)], env, work)
        return {"variant": name, "cache": cache, "install_s": round(install, 2),
                "gate_s": round(gate, 2), "register_s": round(register, 2),
                "promote_s": round(promote, 2),
                "cold_start_s": round(install + gate, 2), "venv_mb": round(du_mb(venv), 1)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    model = f"bench-{uuid.uuid4().hex[:6]}"
    rows = []
    with mlflow_server(Path(tempfile.mkdtemp(prefix="bench-mlflow-"))) as server:
        seed_champion(server.url, model)
        for cache in ("warm", "cold"):
            for name, installer in (("modelrail[mlflow] (mlflow-skinny)", "skinny"),
                                    ("modelrail + full mlflow", "full")):
                rows.append(measure(name, installer, cache, server.url, model))
    columns = [("variant", 34), ("cache", 5), ("install_s", 9), ("gate_s", 6),
               ("cold_start_s", 12), ("register_s", 10), ("promote_s", 9), ("venv_mb", 7)]
    header = " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for r in rows:
        print(" ".join(f"{r[name]!s:>{width}}" for name, width in columns))
    out = REPO_ROOT / "bench" / "results" / "cold_start.json"
    out.write_text(json.dumps({"benchmark": "registry actions cold start", "rows": rows},
                              indent=2) + "\n")
    print(f"\nwritten {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
