"""`log-check`: the release's log command, run against a throwaway MLflow file store, and
checked the way `modelrail register --run-id` reads its result."""

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from modelrail.errors import UsageError
from modelrail.registry.logging_proof import (
    ALLOW_FILE_STORE,
    LoggingProof,
    logging_proof_markdown,
    prove_logging,
    read_run_id,
    throwaway_env,
)

from tests.support.markdown_check import HOSTILE, assert_inert

# What a log command does, as a script: log a run with `model/` artifacts (or none), write
# the run JSON, and record the environment it saw.
LOGGER = """
import json, os, sys
import mlflow
json.dump(dict(os.environ), open(sys.argv[1], "w"))
with mlflow.start_run() as run:
    if sys.argv[2] == "model":
        mlflow.log_text("flavors: {}", "model/MLmodel")
run_id = run.info.run_id if sys.argv[3] == "real" else sys.argv[3]
open(os.environ["MODELRAIL_RUN_JSON"], "w").write(json.dumps({"run_id": run_id}))
"""


@pytest.fixture
def logger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in ALLOW_FILE_STORE.items():
        monkeypatch.setenv(key, value)  # as the CLI sets it: this process reads the store
    script = tmp_path / "log_model.py"
    script.write_text(LOGGER, encoding="utf-8")
    return script


def command(logger: Path, model: str = "model", run_id: str = "real") -> str:
    seen = logger.parent / "seen-env.json"
    return shlex.join([sys.executable, str(logger), str(seen), model, run_id])


def prove(tmp_path: Path, shell: str, env: dict[str, str] | None = None) -> LoggingProof:
    return prove_logging(shell, tmp_path, tmp_path / "scratch", env or dict(os.environ))


def test_a_logged_model_passes_and_names_what_register_would_register(
    tmp_path: Path, logger: Path,
) -> None:
    proof = prove(tmp_path, command(logger))

    assert proof.passed, proof
    assert proof.stage == "logged"
    assert proof.run_id
    assert proof.model_uri == f"runs:/{proof.run_id}/model"


def test_the_command_sees_only_the_throwaway_store_and_no_credentials(
    tmp_path: Path, logger: Path,
) -> None:
    job = {**os.environ, "MLFLOW_TRACKING_URI": "https://mlflow.example",
           "MLFLOW_TRACKING_TOKEN": "s3cret", "MLFLOW_TRACKING_PASSWORD": "pw",
           "mlflow_tracking_username": "bot", "MLFLOW_S3_ENDPOINT_URL": "https://s3.example"}

    assert prove(tmp_path, command(logger), job).passed
    seen = json.loads((tmp_path / "seen-env.json").read_text(encoding="utf-8"))
    mlflow_vars = {key: value for key, value in seen.items() if key.upper().startswith("MLFLOW_")}
    assert mlflow_vars == {"MLFLOW_TRACKING_URI": (tmp_path / "scratch" / "mlruns").as_uri(),
                           "MLFLOW_ALLOW_FILE_STORE": "true"}
    assert seen["MODELRAIL_RUN_JSON"] == str(tmp_path / "scratch" / "run.json")


def test_a_failing_command_fails_with_its_exit_code_and_the_end_of_its_output(
    tmp_path: Path, logger: Path,
) -> None:
    shell = "for i in $(seq 1 50); do echo line $i; done; echo 'skops refused the tree' >&2; exit 3"

    proof = prove(tmp_path, shell)

    assert not proof.passed
    assert proof.stage == "log-command"
    assert proof.message == "the log command exited 3"
    lines = proof.tail.splitlines()
    assert lines[-1] == "skops refused the tree"
    assert lines[0] == "line 22"  # the last 30 lines
    assert len(lines) == 30


@pytest.mark.parametrize(("shell", "message"), [
    ("true", "the log command wrote no run JSON"),
    ("echo '{\"model_uri\": \"runs:/x/model\"}' > \"$MODELRAIL_RUN_JSON\"", 'no "run_id" string'),
    ("echo '{\"run_id\": 12}' > \"$MODELRAIL_RUN_JSON\"", 'no "run_id" string'),
    ("echo 'not json' > \"$MODELRAIL_RUN_JSON\"", "$MODELRAIL_RUN_JSON"),
])
def test_a_run_json_the_release_cannot_read_fails(
    tmp_path: Path, logger: Path, shell: str, message: str,
) -> None:
    proof = prove(tmp_path, shell)

    assert (proof.passed, proof.stage) == (False, "run-json")
    assert message in proof.message


def test_a_run_without_a_model_fails_as_register_would(tmp_path: Path, logger: Path) -> None:
    proof = prove(tmp_path, command(logger, model="none"))

    assert (proof.passed, proof.stage) == (False, "model")
    assert f"run {proof.run_id} has no model at 'model'" in proof.message


def test_a_run_id_that_is_not_in_the_store_fails(tmp_path: Path, logger: Path) -> None:
    proof = prove(tmp_path, command(logger, run_id="0123456789abcdef0123456789abcdef"))

    assert (proof.passed, proof.stage) == (False, "model")
    assert ("run_id in $MODELRAIL_RUN_JSON 0123456789abcdef0123456789abcdef: no such run"
            in proof.message)
    assert "--run-id" not in proof.message


def test_read_run_id_names_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"run_id": "abc"}', encoding="utf-8")

    assert read_run_id(path) == "abc"
    with pytest.raises(UsageError, match=r"\$MODELRAIL_RUN_JSON: the log command wrote no"):
        read_run_id(tmp_path / "none.json")


def test_throwaway_env_drops_every_mlflow_variable() -> None:
    env = throwaway_env({"PATH": "/bin", "MLFLOW_TRACKING_TOKEN": "t", "Mlflow_Registry_Uri": "r"},
                        "file:///tmp/s", Path("/tmp/run.json"))

    assert env == {"PATH": "/bin", "MLFLOW_ALLOW_FILE_STORE": "true",
                   "MLFLOW_TRACKING_URI": "file:///tmp/s", "MODELRAIL_RUN_JSON": "/tmp/run.json"}


def test_the_json_round_trips_and_anything_else_is_refused() -> None:
    proof = LoggingProof(False, "log-command", "the log command exited 1", "boom\n")

    assert LoggingProof.from_json(proof.to_json(), "x") == proof
    for broken in ({**proof.to_json(), "passed": True}, {**proof.to_json(), "stage": "other"},
                   {**proof.to_json(), "tail": 3}, {"passed": "false"}):
        with pytest.raises(UsageError, match="x: not a modelrail log-check result"):
            LoggingProof.from_json(broken, "x")


def test_the_failure_says_the_release_would_fail_at_logging_and_shows_the_tail() -> None:
    text = logging_proof_markdown(
        LoggingProof(False, "log-command", "the log command exited 1", "Traceback\nValueError\n"))

    assert text.startswith("### ❌ The release would fail at logging the model\n")
    assert "step **Log the model to MLflow**" in text
    assert ("Run here on this PR's code against a throwaway MLflow store, it failed: the log "
            "command exited 1.") in text
    assert "```\nTraceback\nValueError\n```" in text


def test_a_pass_names_the_run_and_the_model() -> None:
    text = logging_proof_markdown(LoggingProof(True, "logged", "ok", run_id="r1",
                                               model_uri="models:/m-1"))

    assert text == ("✅ **Model logging works:** the release's log command logged run "
                    "<code>r1</code> with the model <code>models:/m-1</code> to a throwaway "
                    "MLflow store.\n")


@pytest.mark.parametrize("stage", ["log-command", "run-json", "model", "missing"])
def test_hostile_messages_and_output_stay_inert(stage: str) -> None:
    def text(data: str) -> str:
        return logging_proof_markdown(LoggingProof(False, stage, data, data))

    assert_inert(text("plain words"), text(HOSTILE))
