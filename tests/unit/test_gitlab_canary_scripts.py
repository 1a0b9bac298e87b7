"""scripts/gitlab/canary.sh (the canary job's script) and canary-cleanup.sh (its
after_script) with a recording `modelrail` installed by a stand-in install-modelrail.sh:
the commands each sends in order, when the clean-up runs (failed, cancelled, timed out,
not after a promotion), and the kubeconfig variable's two forms."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.builders.fake_cli import FAKE_MODELRAIL, KUBECONFIG
from tests.support.paths import REPO_ROOT

IMAGE = "registry.example/ranker@sha256:" + "a" * 64
SCRIPTS = ("gitlab/canary.sh", "gitlab/canary-cleanup.sh", "gitlab/canary-inputs.sh",
           "canary-common.sh", "mlflow-inputs.sh", "prometheus-inputs.sh")
# Stands in for install-modelrail.sh: hands the recording CLI over as the real one does.
FAKE_INSTALL = ('#!/usr/bin/env bash\ntouch "$TMPDIR/installed"\n'
                'echo "$FAKE_CLI" > "$MODELRAIL_CLI_FILE"\n')
JOB_VARIABLES = {
    "MODELRAIL_IMAGE": IMAGE, "MODELRAIL_MODEL_VERSION": "7", "MODELRAIL_BASELINE_VERSION": "",
    "MODELRAIL_ROLLOUT_NAME": "ranker", "MODELRAIL_ROLLOUT_NAMESPACE": "ml",
    "MODELRAIL_ENVIRONMENT": "canary", "MODELRAIL_PROMOTE_AFTER": "prod",
    "MODELRAIL_ROLLBACK": "true", "MODELRAIL_REASON": "", "MODELRAIL_MODEL_DIR": "model",
    "MODELRAIL_CONFIG": "modelrail.yaml", "MODELRAIL_PROMETHEUS_URL": "http://prometheus:9090",
    "MODELRAIL_PUSHGATEWAY_URL": "", "MODELRAIL_TRACKING_URI": "http://mlflow:5000",
}


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """A modelrail checkout holding just the scripts the job runs, and the project dir."""
    source = tmp_path / "modelrail"
    for script in SCRIPTS:
        (source / "scripts" / script).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "scripts" / script, source / "scripts" / script)
    (source / "scripts" / "install-modelrail.sh").write_text(FAKE_INSTALL)
    fake = tmp_path / "bin" / "modelrail"
    fake.parent.mkdir()
    fake.write_text(FAKE_MODELRAIL)
    fake.chmod(0o755)
    (tmp_path / "project" / "model").mkdir(parents=True)
    return tmp_path


def run_job_script(job: Path, script: str, **env: str
                   ) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    calls = job / "calls.jsonl"
    calls.unlink(missing_ok=True)
    # the recording CLI runs on this interpreter (its shebang: the first python3 on PATH)
    process_env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                   "CALLS": str(calls), "TMPDIR": str(job),
                   "FAKE_CLI": str(job / "bin" / "modelrail"), "GITLAB_CI": "true",
                   **JOB_VARIABLES, **env}
    done = subprocess.run(["bash", str(job / "modelrail" / "scripts" / "gitlab" / script)],
                          cwd=job / "project", env=process_env, capture_output=True,
                          text=True, timeout=60, check=False)
    recorded = [json.loads(line) for line in calls.read_text().splitlines()] \
        if calls.exists() else []
    return done, recorded


def test_the_alias_moves_then_the_canary_runs_then_the_version_becomes_prod(job: Path) -> None:
    done, calls = run_job_script(job, "canary.sh")

    assert done.returncode == 0, done.stderr
    report = job / "project" / "modelrail-canary-report"
    rollout = ["--config", "modelrail.yaml", "--name", "ranker", "--namespace", "ml"]
    assert [call["args"] for call in calls] == [
        ["promote", "--config", "modelrail.yaml", "--to", "canary", "--version", "7",
         "--reason", f"canary of {IMAGE}"],
        ["canary", "run", *rollout, "--image", IMAGE, "--version", "7",
         "--report-dir", str(report), "--json", str(report / "canary.json"),
         "--openmetrics", str(report / "canary.om"), "--summary",
         "--prometheus-url", "http://prometheus:9090"],
        ["promote", "--config", "modelrail.yaml", "--to", "prod", "--version", "7",
         "--reason", f"canary of {IMAGE} passed every step"]]
    assert report.is_dir()
    assert re.findall(r"section_end:\d+:(\w+)", done.stdout) == [
        "modelrail_promote", "modelrail_canary", "modelrail_promote_after"]


def test_a_given_reason_is_recorded_with_both_moves(job: Path) -> None:
    done, calls = run_job_script(job, "canary.sh", MODELRAIL_REASON="weekly release")

    assert done.returncode == 0, done.stderr
    assert [call["args"][-1] for call in calls if call["args"][0] == "promote"] == [
        "weekly release", f"canary of {IMAGE} passed every step (weekly release)"]


def test_a_failed_canary_stops_before_prod_moves(job: Path) -> None:
    done, calls = run_job_script(job, "canary.sh", FAIL_CANARY="1")

    assert done.returncode == 1
    assert [call["args"][0] for call in calls] == ["promote", "canary"]
    assert done.stdout.count("section_end:") == 2  # the failed command's section closed


def test_missing_inputs_and_a_bad_rollback_are_usage_errors_before_anything_moves(
        job: Path) -> None:
    done, calls = run_job_script(job, "canary.sh", MODELRAIL_IMAGE="")
    assert (done.returncode, calls) == (2, [])
    assert "inputs image (REPO@sha256:...) and model-version are required" in done.stderr
    assert not (job / "installed").exists()  # said before a minute goes into the install

    done, calls = run_job_script(job, "canary.sh", MODELRAIL_ROLLBACK="yes")
    assert (done.returncode, calls) == (2, [])
    assert "input rollback must be true or false (got 'yes')" in done.stderr


@pytest.mark.parametrize("status", ["failed", "canceled", "timedout"])
def test_the_cleanup_aborts_and_rolls_the_alias_back_unless_the_job_succeeded(
        job: Path, status: str) -> None:
    (job / "project" / "modelrail-canary.env").write_text(
        "MODELRAIL_OUT_RESULT=aborted\nMODELRAIL_OUT_FAILED_STEP=25\n")

    done, calls = run_job_script(job, "canary-cleanup.sh", CI_JOB_STATUS=status)

    assert done.returncode == 0, done.stderr
    rollout = ["--config", "modelrail.yaml", "--name", "ranker", "--namespace", "ml"]
    assert [call["args"] for call in calls] == [
        ["rollout", "abort", *rollout],
        ["rollback", "--config", "modelrail.yaml", "--env", "canary", "--version", "7",
         "--reason", f"canary of {IMAGE} ended aborted at the 25% step"],
        ["rollout", "restore", *rollout, "--env", "canary"]]


def test_a_job_cancelled_before_any_verdict_says_so_in_the_reason(job: Path) -> None:
    done, calls = run_job_script(job, "canary-cleanup.sh", CI_JOB_STATUS="canceled")

    assert done.returncode == 0, done.stderr
    assert calls[1]["args"][-1] == f"canary of {IMAGE} ended canceled"


@pytest.mark.parametrize(("status", "dotenv"), [
    ("success", ""),
    ("failed", "MODELRAIL_OUT_RESULT=promoted\n"),  # prod's move failed after the canary
])
def test_the_cleanup_leaves_a_promoted_canary_alone(job: Path, status: str,
                                                     dotenv: str) -> None:
    (job / "project" / "modelrail-canary.env").write_text(dotenv)

    done, calls = run_job_script(job, "canary-cleanup.sh", CI_JOB_STATUS=status)

    assert (done.returncode, calls) == (0, [])
    assert "nothing to clean up" in done.stdout


def test_without_rollback_the_cleanup_only_aborts(job: Path) -> None:
    done, calls = run_job_script(job, "canary-cleanup.sh", CI_JOB_STATUS="failed",
                                 MODELRAIL_ROLLBACK="false")

    assert done.returncode == 0, done.stderr
    assert [call["args"][:2] for call in calls] == [["rollout", "abort"]]


def test_a_masked_base64_kubeconfig_goes_to_a_private_file_that_is_removed(job: Path) -> None:
    secret = base64.b64encode(KUBECONFIG.encode()).decode()

    done, calls = run_job_script(job, "canary.sh", KUBECONFIG=secret)

    assert done.returncode == 0, done.stderr
    run = calls[1]
    assert (run["mode"], run["text"].strip()) == ("0o600", KUBECONFIG.strip())
    assert not Path(run["path"]).exists()
    assert "s3cr3t-token" not in done.stdout + done.stderr
    assert secret not in done.stdout + done.stderr


def test_a_file_kubeconfig_is_read_where_gitlab_put_it(job: Path) -> None:
    kubeconfig = job / "KUBECONFIG.file"
    kubeconfig.write_text(KUBECONFIG)

    done, calls = run_job_script(job, "canary.sh", KUBECONFIG=str(kubeconfig))

    assert done.returncode == 0, done.stderr
    assert "--kubeconfig" not in calls[1]["args"]  # the client reads KUBECONFIG itself
