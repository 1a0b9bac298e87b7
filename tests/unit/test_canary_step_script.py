"""actions/canary-step/canary.sh with a recording `modelrail` as `$MODELRAIL`: the flags each
mode sends, and the kubeconfig secret's handling (0600 file, decoded, removed, unprinted)."""

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.builders.fake_cli import FAKE_MODELRAIL, KUBECONFIG
from tests.support.paths import REPO_ROOT

ACTION = REPO_ROOT / "actions" / "canary-step"


def run_step(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str],
                                                  list[dict[str, Any]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "modelrail"
    fake.write_text(FAKE_MODELRAIL)
    fake.chmod(0o755)
    calls = tmp_path / "calls.jsonl"
    inputs = {"IMAGE": "", "MODEL_VERSION": "2", "BASELINE_VERSION": "", "ROLLOUT_NAME": "",
              "ROLLOUT_NAMESPACE": "", "KUBECONFIG_SECRET": "", "CONFIG": "modelrail.yaml",
              "REPORT_DIR": "", "ABORT": "false", "ROLLBACK_ENV": "", "REASON": ""}
    process_env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "MODELRAIL": str(fake),
                   "CALLS": str(calls),
                   "GITHUB_ACTION_PATH": str(ACTION), "RUNNER_TEMP": str(tmp_path),
                   "GITHUB_OUTPUT": str(tmp_path / "output"), **inputs, **env}
    done = subprocess.run(["bash", str(ACTION / "canary.sh")], env=process_env,
                          capture_output=True, text=True, timeout=60, check=False)
    recorded = [json.loads(line) for line in calls.read_text().splitlines()] \
        if calls.exists() else []
    return done, recorded


@pytest.mark.parametrize("secret", [KUBECONFIG, base64.b64encode(KUBECONFIG.encode()).decode()],
                         ids=["yaml", "base64"])
def test_the_kubeconfig_secret_goes_to_a_private_file_that_is_removed(
        tmp_path: Path, secret: str) -> None:
    done, calls = run_step(tmp_path, IMAGE="ghcr.io/acme/r@sha256:" + "a" * 64,
                           KUBECONFIG_SECRET=secret, ROLLOUT_NAME="ranker",
                           INPUT_PROMETHEUS_URL="http://prometheus:9090")

    assert done.returncode == 0, done.stderr
    (call,) = calls
    assert call["mode"] == "0o600"
    assert call["text"].strip() == KUBECONFIG.strip()
    assert Path(call["path"]).parent == tmp_path
    assert not Path(call["path"]).exists()
    assert "s3cr3t-token" not in done.stdout + done.stderr
    report_dir = tmp_path / "modelrail-canary-report"
    assert call["args"] == [
        "canary", "run", "--config", "modelrail.yaml", "--name", "ranker",
        "--kubeconfig", call["path"], "--image", "ghcr.io/acme/r@sha256:" + "a" * 64,
        "--version", "2", "--report-dir", str(report_dir), "--json",
        str(report_dir / "canary.json"), "--openmetrics", str(report_dir / "canary.om"),
        "--summary", "--prometheus-url", "http://prometheus:9090"]
    assert f"report-dir={report_dir}" in (tmp_path / "output").read_text()


def test_a_pushgateway_url_is_passed_on(tmp_path: Path) -> None:
    done, calls = run_step(tmp_path, IMAGE="ghcr.io/acme/r@sha256:" + "a" * 64,
                           PUSHGATEWAY_URL="http://pushgateway:9091")

    assert done.returncode == 0, done.stderr
    (call,) = calls
    assert call["args"][-2:] == ["--pushgateway", "http://pushgateway:9091"]


def test_abort_mode_aborts_and_rolls_back_only_that_version(tmp_path: Path) -> None:
    done, calls = run_step(tmp_path, ABORT="true", ROLLBACK_ENV="canary",
                           REASON="canary cancelled", FAIL_ROLLOUT="3")

    assert done.returncode == 3  # the abort failed; the rollback was still attempted
    assert [call["args"] for call in calls] == [
        ["rollout", "abort", "--config", "modelrail.yaml"],
        ["rollback", "--config", "modelrail.yaml", "--env", "canary", "--version", "2",
         "--reason", "canary cancelled"],
        ["rollout", "restore", "--config", "modelrail.yaml", "--env", "canary"]]


def test_abort_mode_restores_serving_only_after_a_rollback(tmp_path: Path) -> None:
    done, calls = run_step(tmp_path, ABORT="true", ROLLBACK_ENV="prod", FAIL_ROLLBACK="1")

    assert done.returncode == 1  # the registry refused: serving is not touched
    assert [call["args"][:2] for call in calls] == [["rollout", "abort"],
                                                    ["rollback", "--config"]]


def test_run_mode_needs_an_image(tmp_path: Path) -> None:
    done, calls = run_step(tmp_path)

    assert done.returncode == 2
    assert "input image is required" in done.stdout
    assert calls == []
