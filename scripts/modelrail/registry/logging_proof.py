"""The release's model logging, proven on the pull request (`modelrail log-check`).

On a merge, register-model.yml runs the caller's `log-command` (it logs the model to MLflow
and writes `{"run_id": ...}` to `$MODELRAIL_RUN_JSON`), then `modelrail register --run-id`
looks the run and its model up. pr-test.yml runs the same command on the PR's code against
a throwaway MLflow store and makes the same lookups (registration.get_run and
resolve_model_source), so a PR that breaks logging fails before it is merged.

The store is MLflow's file store in a fresh directory: what mlflow-skinny writes without a
server (its SQL stores need SQLAlchemy; MLflow 3 keeps the file store behind
MLFLOW_ALLOW_FILE_STORE). Every MLFLOW_* variable of the job is dropped from the command's
environment, so it never sees a real tracking server or its credentials. The command is
the PR's own code: the proof catches a PR that breaks logging by mistake; like every check
that runs the PR's code, it cannot stop a PR that fakes its result.
"""

import subprocess
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import UsageError
from modelrail.plumbing.redact import redact
from modelrail.plumbing.textfile import read_json
from modelrail.registry.client import Registry
from modelrail.registry.registration import ModelSource, get_run, resolve_model_source
from modelrail.render.markdown import ICON, code, code_block, inline

RUN_JSON_VARIABLE = "MODELRAIL_RUN_JSON"
ALLOW_FILE_STORE = {"MLFLOW_ALLOW_FILE_STORE": "true"}
"""What MLflow 3 needs in the environment to use its file store (the throwaway one)."""
TAIL_LINES = 30
TAIL_CHARS = 4000
STAGES = ("logged", "log-command", "run-json", "model", "missing")
"""Where the proof ended: passed, or the step of the release that would fail."""


@dataclass(frozen=True)
class LoggingProof:
    """The outcome, as the evaluate job hands it to the report job (JSON)."""

    passed: bool
    stage: str
    message: str
    tail: str = ""
    run_id: str | None = None
    model_uri: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"passed": self.passed, "stage": self.stage, "message": self.message,
                "tail": self.tail, "run_id": self.run_id, "model_uri": self.model_uri}

    @classmethod
    def from_json(cls, data: Mapping[str, object], label: str) -> "LoggingProof":
        """Read a proof back; a UsageError naming `label` for anything else."""
        passed, stage = data.get("passed"), data.get("stage")
        message, tail = data.get("message", ""), data.get("tail", "")
        run_id, model_uri = data.get("run_id"), data.get("model_uri")
        if not (isinstance(passed, bool) and isinstance(stage, str) and stage in STAGES
                and (stage == "logged") == passed
                and isinstance(message, str) and isinstance(tail, str)
                and (run_id is None or isinstance(run_id, str))
                and (model_uri is None or isinstance(model_uri, str))):
            raise UsageError(f"{label}: not a modelrail log-check result")
        return cls(passed, stage, message, tail, run_id, model_uri)

    @classmethod
    def missing(cls) -> "LoggingProof":
        return cls(False, "missing", "the logging check sent no result: the job that runs "
                                     "it stopped before it")


def throwaway_env(env: Mapping[str, str], tracking_uri: str, run_json: Path) -> dict[str, str]:
    """`env` without any MLFLOW_* variable (no real server, no credentials), pointed at
    the throwaway store, with `$MODELRAIL_RUN_JSON` set as register-model.yml sets it."""
    kept = {key: value for key, value in env.items() if not key.upper().startswith("MLFLOW_")}
    return {**kept, **ALLOW_FILE_STORE, "MLFLOW_TRACKING_URI": tracking_uri,
            RUN_JSON_VARIABLE: str(run_json)}


def run_log_command(command: str, env: Mapping[str, str], cwd: Path) -> tuple[int, str]:
    """Run `command` as register-model.yml does (`bash -euo pipefail -c`), echoing its
    output; returns its exit code and the last lines of that output."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with subprocess.Popen(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=dict(env),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace") as process:
        for line in process.stdout or ():
            sys.stdout.write(line)
            tail.append(line)
        sys.stdout.flush()
        returncode = process.wait()
    return returncode, redact("".join(tail)[-TAIL_CHARS:])


def read_run_id(path: Path) -> str:
    """The `run_id` in the run JSON the log command wrote (register-model.yml reads it)."""
    label = f"${RUN_JSON_VARIABLE}"
    hint = 'the log command must write {"run_id": "<MLflow run id>"} to it'
    if not path.is_file():
        raise UsageError(f"{label}: the log command wrote no run JSON ({hint})")
    data = read_json(path, "run JSON", label)
    run_id = data.get("run_id") if isinstance(data, dict) else None
    if not isinstance(run_id, str) or not run_id:
        raise UsageError(f"{label}: no \"run_id\" string in the run JSON ({hint})")
    return run_id


def check_logged_model(registry: Registry, run_id: str, artifact_path: str) -> ModelSource:
    """The model `modelrail register --run-id` would register from this run, or the
    UsageError it would fail with."""
    run = get_run(registry, run_id, source=f"run_id in ${RUN_JSON_VARIABLE}")
    return resolve_model_source(registry, run_id, str(run.info.experiment_id), artifact_path)


def prove_logging(command: str, cwd: Path, scratch: Path, env: Mapping[str, str],
                  artifact_path: str = "model") -> LoggingProof:
    """Run `command` against a new file store under `scratch` and check what it logged.

    modelrail's own process reads that store too: its environment must allow MLflow's
    file store (ALLOW_FILE_STORE), which the CLI sets.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    store = scratch / "mlruns"  # MLflow makes it, with the default experiment in it
    run_json = scratch / "run.json"
    exit_code, tail = run_log_command(
        command, throwaway_env(env, store.as_uri(), run_json), cwd)
    if exit_code != 0:
        return LoggingProof(False, "log-command", f"the log command exited {exit_code}", tail)
    try:
        run_id = read_run_id(run_json)
    except UsageError as error:
        return LoggingProof(False, "run-json", str(error), tail)
    try:
        source = check_logged_model(Registry(store.as_uri()), run_id, artifact_path)
    except UsageError as error:
        return LoggingProof(False, "model", str(error), tail, run_id=run_id)
    return LoggingProof(True, "logged", f"run {run_id} holds the model {source.uri}",
                        run_id=run_id, model_uri=source.uri)


_OUTCOME = {
    "log-command": "it failed: {message}.",
    "run-json": "it ran, but the release could not read its run: {message}.",
    "model": "it ran, but `modelrail register` would refuse its run: {message}.",
    "missing": "it could not be checked: {message}.",
}


def logging_proof_markdown(proof: LoggingProof) -> str:
    """The section of the PR report on the logging proof; every value escaped."""
    if proof.passed:
        model = code(proof.model_uri or "")
        return (f"{ICON['pass']} **Model logging works:** the release's log command logged "
                f"run {code(proof.run_id or '')} with the model {model} to a throwaway "
                "MLflow store.\n")
    outcome = _OUTCOME[proof.stage].format(message=inline(proof.message.rstrip(".")))
    lines = [f"### {ICON['fail']} The release would fail at logging the model", "",
             "On merge, `register-model.yml` runs the release's log command in its step "
             "**Log the model to MLflow**. Run here on this PR's code against a throwaway "
             f"MLflow store, {outcome}", ""]
    if proof.tail:
        lines += ["Last lines of its output:", "", code_block(proof.tail.rstrip("\n")), ""]
    return "\n".join(lines)
