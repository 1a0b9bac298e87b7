"""register / promote / rollback against a real MLflow server (and a fault proxy in front).

Most commands run in-process through `modelrail.cli.main.main` (an unexpected exception fails
the test just as a traceback would); exit codes and "no Traceback" of a fresh process are
checked with `python -m modelrail` where it matters: bad input, the concurrent race and
the failing server.
"""

import contextlib
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from modelrail.cli.main import main
from modelrail.local.mlflow_server import MlflowServer
from modelrail.registry.lineage import dvc_lock_lineage

from tests.support.services.fault_proxy import FaultProxy

pytestmark = pytest.mark.integration

ENVS = ("dev", "staging", "canary", "prod")
TOKEN = "s3cr3t-token-0123456789"  # a fake credential that must never be printed
FAST_RETRIES = {"MODELRAIL_RETRY_ATTEMPTS": "3", "MODELRAIL_RETRY_BASE_DELAY": "0.05",
                "MODELRAIL_HTTP_TIMEOUT": "5", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}

POLICY = """\
model: {model}
registry:
  tracking_uri: env:MLFLOW_TRACKING_URI
  layout: {layout}
  experiment: {model}-uploads
gate:
  metrics:
    roc_auc: {{threshold: 0.5, greater_is_better: true}}
"""


def new_sha() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex[:8]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- a run like example-model's log_mlflow.py makes ----------------------------------------

def tiny_model() -> Any:
    import numpy as np
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    rng = np.random.default_rng(0)
    features = rng.random((40, 2))
    return LogisticRegression().fit(features, (features[:, 0] > 0.5).astype(int))


def log_model_run(url: str, tags: dict[str, str] | None = None) -> str:
    """A run whose model is logged as `log_mlflow.py` does: log_model(name="model")."""
    import mlflow
    import mlflow.sklearn

    client = MlflowClient(url)
    experiment_id = client.create_experiment(unique("logged"))
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(url)
    try:
        with contextlib.redirect_stdout(sys.stderr), \
                mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_params({"train.C": "1.0"})
            mlflow.log_metrics({"roc_auc": 0.76, "log_loss": 0.25})
            mlflow.set_tags(tags or {})
            mlflow.sklearn.log_model(tiny_model(), name="model",
                                     serialization_format="skops",
                                     pip_requirements=["scikit-learn", "skops"])
    finally:
        mlflow.set_tracking_uri(previous)
    return str(run.info.run_id)


@pytest.fixture(scope="module")
def run_id(mlflow: MlflowServer) -> str:
    return log_model_run(mlflow.url)


# -- running the CLI ---------------------------------------------------------------------

@dataclass
class Result:
    code: int
    out: str
    err: str
    json: dict[str, Any]

    @property
    def text(self) -> str:
        return self.out + self.err


class Cli:
    """`modelrail` in-process, in its own directory with a policy file."""

    def __init__(self, root: Path, url: str, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.url = root, url
        self.monkeypatch, self.capsys = monkeypatch, capsys
        self.calls = 0

    def policy(self, model: str, layout: str = "aliases") -> "Cli":
        (self.root / "modelrail.yaml").write_text(POLICY.format(model=model, layout=layout),
                                                  encoding="utf-8")
        return self

    def env(self, **values: str) -> dict[str, str]:
        return {**os.environ, "MLFLOW_TRACKING_URI": self.url, **FAST_RETRIES, **values}

    def __call__(self, *args: str, **env: str) -> Result:
        self.calls += 1
        out_json = self.root / f"result-{self.calls}.json"
        self.capsys.readouterr()
        with self.monkeypatch.context() as patch:
            patch.chdir(self.root)
            for key, value in {"MLFLOW_TRACKING_URI": self.url, **env}.items():
                patch.setenv(key, value)
            code = main([*args, "--json", str(out_json)])
        captured = self.capsys.readouterr()
        payload = json.loads(out_json.read_text()) if out_json.exists() else {}
        return Result(code, captured.out, captured.err, payload)

    def run_process(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "modelrail", *args], cwd=self.root,
                              env=self.env(**env), capture_output=True, text=True,
                              timeout=120, check=False)

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "modelrail", *args], cwd=self.root,
                                env=self.env(**env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def register(self, run_id: str, *, gate: bool | None = True, sha: str | None = None,
                 env: dict[str, str] | None = None) -> Result:
        args = ["register", "--run-id", run_id]
        if gate is not None:
            report = self.root / f"gate-{gate}.json"
            report.write_text(json.dumps({"passed": gate, "metrics": []}), encoding="utf-8")
            args += ["--gate-report", str(report)]
        result = self(*args, GITHUB_SHA=sha or new_sha(), **(env or {}))
        assert result.code == 0, result.text
        return result


@pytest.fixture
def cli(tmp_path: Path, mlflow: MlflowServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Cli:
    for key in list(os.environ):
        if key.startswith(("GITHUB_", "MLFLOW_", "MODELRAIL_")):
            monkeypatch.delenv(key)
    for key, value in FAST_RETRIES.items():  # also undoes the client's setdefault()s
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("USER", "tester")
    return Cli(tmp_path, mlflow.url, monkeypatch, capsys)


@pytest.fixture
def client(mlflow: MlflowServer) -> MlflowClient:
    return MlflowClient(mlflow.url)


def holder(client: MlflowClient, model: str, alias: str) -> int | None:
    try:
        return int(client.get_model_version_by_alias(model, alias).version)
    except Exception as error:  # MLflow answers a missing alias with 400, a missing model 404
        if "not found" in str(error).lower() or "RESOURCE_DOES_NOT_EXIST" in str(error):
            return None
        raise


def tags(client: MlflowClient, model: str, version: int) -> dict[str, str]:
    return dict(client.get_model_version(model, str(version)).tags)


def assert_clean(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text
        assert TOKEN not in text


# -- register ----------------------------------------------------------------------------

def test_register_records_lineage_tags_and_outputs(
        cli: Cli, client: MlflowClient, run_id: str, repo_root: Path) -> None:
    model = unique("reg")
    cli.policy(model)
    example = repo_root / "example-model"
    event = cli.root / "event.json"
    event.write_text(json.dumps({"head_commit": {"message": "Tune C (#42)\n\nbody"}}))
    output = cli.root / "github_output"
    output.touch()
    sha = new_sha()
    github = {"GITHUB_SHA": sha, "GITHUB_REF": "refs/heads/main", "GITHUB_EVENT_NAME": "push",
              "GITHUB_EVENT_PATH": str(event), "GITHUB_SERVER_URL": "https://github.com",
              "GITHUB_REPOSITORY": "acme/ranker", "GITHUB_RUN_ID": "77",
              "GITHUB_RUN_ATTEMPT": "2", "GITHUB_OUTPUT": str(output)}
    gate = cli.root / "gate.json"
    gate.write_text(json.dumps({"model": model, "passed": True, "metrics": []}))
    args = ("register", "--run-id", run_id, "--gate-report", str(gate),
            "--metrics", str(example / "metrics.json"), "--params",
            str(example / "params.yaml"), "--dvc-lock", str(example / "dvc.lock"))

    first = cli(*args, **github)

    assert first.code == 0, first.text
    assert first.json["created"] is True
    version = first.json["version"]
    assert first.json["model_uri"] == f"models:/{model}/{version}"
    assert re.search(rf"^version<<(\S+)\n{version}\n\1$", output.read_text(), re.M)
    assert re.search(rf"^model-uri<<(\S+)\nmodels:/{model}/{version}\n\1$",
                     output.read_text(), re.M)
    assert re.search(r"^created<<(\S+)\ntrue\n\1$", output.read_text(), re.M)
    found = client.get_model_version(model, str(version))
    assert found.run_id == run_id
    # MLflow 3: log_model(name="model") made a LoggedModel; the version is built on it.
    assert str(found.source).startswith("models:/m-")
    recorded = dict(found.tags)
    assert recorded["git_sha"] == sha
    assert recorded["git_ref"] == "refs/heads/main"
    assert recorded["pr_number"] == "42"
    assert recorded["workflow_run_url"] == \
        "https://github.com/acme/ranker/actions/runs/77/attempts/2"
    assert recorded["dvc_data_hash"] == dvc_lock_lineage(example / "dvc.lock").digest
    assert recorded["dvc.out.models"] == "2f50919531354e26167e50ac0272575a.dir"
    assert recorded["param.train.C"] == "1.0"
    assert recorded["param.train.features"].startswith("position,category")
    assert recorded["metric.roc_auc"] == "0.760683"
    assert recorded["validation_status"] == "passed"
    assert str(found.description).startswith(
        f"git {sha[:12]} on refs/heads/main; PR #42; quality gate passed; roc_auc=0.7607")


def test_register_is_idempotent_per_git_sha(cli: Cli, client: MlflowClient,
                                            run_id: str) -> None:
    model = unique("idem")
    cli.policy(model)
    sha = new_sha()
    first = cli.register(run_id, sha=sha)
    version = first.json["version"]

    again = cli.register(run_id, sha=sha, gate=False)

    assert first.json["created"] is True
    assert again.json["created"] is False
    assert again.json["version"] == version
    assert "already registered" in again.out
    assert tags(client, model, version)["validation_status"] == "passed"  # untouched
    assert len(client.search_model_versions(f"name='{model}'")) == 1

    other = cli.register(run_id, sha=new_sha(), gate=False)
    assert other.json["created"] is True
    assert other.json["version"] == version + 1
    assert tags(client, model, version + 1)["validation_status"] == "failed"
    # no --metrics: the run's own metrics are recorded
    assert tags(client, model, version + 1)["metric.log_loss"] == "0.25"

    # the registered version loads as a model
    import mlflow.pyfunc
    import numpy as np

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(cli.url)
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{model}/{version}")
    finally:
        mlflow.set_tracking_uri(previous)
    assert loaded.predict(np.array([[0.9, 0.1], [0.1, 0.9]])).tolist() == [1, 0]


def test_register_refuses_another_or_a_missing_run_for_a_registered_commit(
        cli: Cli, client: MlflowClient, run_id: str, mlflow: MlflowServer) -> None:
    model = unique("other-run")
    cli.policy(model)
    sha = new_sha()
    version = cli.register(run_id, sha=sha).json["version"]
    other_run = log_model_run(mlflow.url)

    different = cli("register", "--run-id", other_run, GITHUB_SHA=sha)
    missing = cli("register", "--run-id", "deadbeef", GITHUB_SHA=sha)
    same = cli("register", "--run-id", run_id, GITHUB_SHA=sha)
    # a re-run of the release logs the same commit again: the registered version stands
    relogged = cli("register", "--run-id", log_model_run(mlflow.url, {"git_sha": sha}),
                   GITHUB_SHA=sha)

    registered = f"version {version} of {model} is registered for git {sha[:12]} from run {run_id}"
    assert different.code == 1, different.text
    assert f"{registered}, not run {other_run}" in different.err
    assert missing.code == 2, missing.text
    assert "--run-id deadbeef: no such run on the tracking server" in missing.err
    assert registered in missing.err
    assert same.code == 0, same.text
    assert same.json["created"] is False
    assert relogged.code == 0, relogged.text
    assert relogged.json["created"] is False
    assert relogged.json["version"] == version
    assert len(client.search_model_versions(f"name='{model}'")) == 1
    assert_clean(different.text, missing.text)


def test_register_a_model_directory(cli: Cli, client: MlflowClient) -> None:
    import mlflow.sklearn

    model = unique("dir")
    cli.policy(model)
    model_dir = cli.root / "saved"
    mlflow.sklearn.save_model(tiny_model(), str(model_dir), serialization_format="skops",
                              pip_requirements=["scikit-learn", "skops"])
    metrics = cli.root / "metrics.json"
    metrics.write_text('{"roc_auc": 0.81}')
    sha = new_sha()

    first = cli("register", "--model-dir", str(model_dir), "--metrics", str(metrics),
                GITHUB_SHA=sha)
    again = cli("register", "--model-dir", str(model_dir), GITHUB_SHA=sha)

    assert first.code == 0, first.text
    assert first.json["created"] is True
    source = first.json["source"]
    assert source == f"runs:/{first.json['run_id']}/model"
    run = client.get_run(first.json["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == f"{model}-uploads"
    assert run.data.metrics["roc_auc"] == pytest.approx(0.81)  # the gate reads these
    assert run.data.tags["git_sha"] == sha
    assert "model/MLmodel" in {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert again.code == 0, again.text
    assert again.json["created"] is False
    assert again.json["version"] == first.json["version"]


def test_register_bad_input_exits_2_without_traceback(cli: Cli, run_id: str) -> None:
    cli.policy(unique("bad"))
    (cli.root / "gate.json").write_text('{"verdict": "ok"}')
    no_run = cli.run_process("register", "--run-id", "0123456789abcdef0123456789abcdef",
                            GITHUB_SHA=new_sha())
    bad_gate = cli("register", "--run-id", run_id, "--gate-report", "gate.json",
                   GITHUB_SHA=new_sha())
    no_model = cli("register", "--run-id", run_id, "--artifact-path", "nothing-here",
                   GITHUB_SHA=new_sha())

    assert no_run.returncode == 2
    assert "--run-id 0123456789abcdef0123456789abcdef: no such run" in no_run.stderr
    assert_clean(no_run.stdout, no_run.stderr)
    assert bad_gate.code == 2
    assert "--gate-report gate.json" in bad_gate.err
    assert no_model.code == 2
    assert "no logged model named 'nothing-here'" in no_model.err


# -- promote and rollback ----------------------------------------------------------------

def test_aliases_layout_promotes_in_order_and_rolls_back(
        cli: Cli, client: MlflowClient, run_id: str) -> None:
    model = unique("alias")
    cli.policy(model)
    actor = {"GITHUB_ACTOR": "octocat", "GITHUB_SERVER_URL": "https://github.com",
             "GITHUB_REPOSITORY": "acme/ranker", "GITHUB_RUN_ID": "9"}
    one = cli.register(run_id, env={**actor, "GITHUB_RUN_ID": "1"}).json["version"]
    two = cli.register(run_id).json["version"]

    steps = [cli("promote", "--to", "dev", "--version", str(one), **actor)]
    steps += [cli("promote", "--from", a, "--to", b, "--reason", f"{b} looks good", **actor)
              for a, b in itertools.pairwise(ENVS)]

    assert [s.code for s in steps] == [0, 0, 0, 0], [s.text for s in steps]
    assert all(s.json["changed"] for s in steps)
    assert [holder(client, model, a) for a in ("dev", "staging", "canary", "champion")] == \
        [one] * 4
    assert steps[-1].json["model_uri"] == f"models:/{model}@champion"
    assert steps[-1].json["previous_version"] is None
    recorded = tags(client, model, one)
    assert recorded["previous_version.prod"] == "none"
    assert recorded["promoted_to"] == "prod"
    assert recorded["from_env"] == "canary"
    assert recorded["source_version"] == str(one)
    assert recorded["promoted_by"] == "octocat"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", recorded["promoted_at"])
    assert recorded["promoted_run_url"] == "https://github.com/acme/ranker/actions/runs/9"
    assert recorded["reason"] == "prod looks good"
    # the build's run stays recorded next to the promotion's
    assert recorded["workflow_run_url"] == "https://github.com/acme/ranker/actions/runs/1"

    for env in ENVS:
        args = ["--version", str(two)] if env == "dev" else ["--from", ENVS[ENVS.index(env) - 1]]
        assert cli("promote", "--to", env, *args).code == 0
    assert holder(client, model, "champion") == two
    assert tags(client, model, two)["previous_version.prod"] == str(one)
    assert tags(client, model, two)["promoted_by"] == "tester"  # $USER off GitHub

    back = cli("rollback", "--env", "prod", "--reason", "latency regression", **actor)

    assert back.code == 0, back.text
    assert back.json["changed"] is True
    assert back.json["version"] == one
    assert back.json["previous_version"] == two
    assert holder(client, model, "champion") == one
    assert holder(client, model, "canary") == two  # other envs untouched
    rolled = tags(client, model, two)
    assert rolled["rolled_back_env"] == "prod"
    assert rolled["rolled_back_to"] == str(one)
    assert rolled["rolled_back_by"] == "octocat"
    assert rolled["rolled_back_reason"] == "latency regression"

    # a re-run that names the version it meant to roll back converges
    rerun = cli("rollback", "--env", "prod", "--version", str(two))
    assert rerun.code == 0, rerun.text
    assert rerun.json["changed"] is False
    assert holder(client, model, "champion") == one

    nothing_left = cli("rollback", "--env", "prod")
    assert nothing_left.code == 1
    assert "no previous version recorded for prod" in nothing_left.err
    assert holder(client, model, "champion") == one


def test_models_layout_copies_between_env_models_and_rolls_back(
        cli: Cli, client: MlflowClient, run_id: str) -> None:
    model = unique("per-env")
    cli.policy(model, layout="models")
    one = cli.register(run_id).json["version"]
    two = cli.register(run_id).json["version"]
    assert cli.register(run_id).json["model_uri"].startswith(f"models:/dev.{model}/")

    first = [cli("promote", "--to", "dev", "--version", str(one))]
    first += [cli("promote", "--from", a, "--to", b) for a, b in itertools.pairwise(ENVS)]
    assert [r.code for r in first] == [0, 0, 0, 0], [r.text for r in first]
    assert [r.json["model_uri"] for r in first] == [
        f"models:/dev.{model}@dev", f"models:/staging.{model}@staging",
        f"models:/canary.{model}@canary", f"models:/prod.{model}@champion"]
    prod_copy = holder(client, f"prod.{model}", "champion")
    assert prod_copy is not None
    copied = tags(client, f"prod.{model}", prod_copy)
    assert copied["source_model_version"] == f"canary.{model}/1"
    assert copied["origin_version"] == str(one)
    assert copied["validation_status"] == "passed"  # lineage travels with the copy
    assert copied["git_sha"] == tags(client, f"dev.{model}", one)["git_sha"]
    assert copied["previous_version.prod"] == "none"
    assert "previous_version.canary" not in copied  # bookkeeping does not travel
    assert client.get_model_version(f"prod.{model}", str(prod_copy)).source == \
        f"models:/canary.{model}/1"

    # --version N names the registered version in every environment
    assert cli("promote", "--to", "dev", "--version", str(two)).code == 0
    to_staging = cli("promote", "--to", "staging", "--version", str(two))
    assert to_staging.code == 0, to_staging.text
    assert to_staging.json["previous_version"] == 1
    assert holder(client, f"staging.{model}", "staging") == 2

    # rollback, then promoting the same source again reuses its copy
    assert cli("rollback", "--env", "staging").json["version"] == 1
    again = cli("promote", "--from", "dev", "--to", "staging")
    assert again.code == 0, again.text
    assert again.json["version"] == 2
    assert len(client.search_model_versions(f"name='staging.{model}'")) == 2

    noop = cli("promote", "--to", "staging", "--version", str(two))
    assert noop.json["changed"] is False
    assert noop.json["previous_version"] == 1


def test_skipping_an_environment_needs_force_and_reason(
        cli: Cli, client: MlflowClient, run_id: str) -> None:
    model = unique("skip")
    cli.policy(model)
    version = cli.register(run_id).json["version"]
    assert cli("promote", "--to", "dev", "--version", str(version)).code == 0

    by_env = cli("promote", "--from", "dev", "--to", "canary")
    by_version = cli("promote", "--to", "canary", "--version", str(version))
    no_reason = cli("promote", "--to", "canary", "--version", str(version), "--force")

    assert by_env.code == 2
    assert "skips staging" in by_env.err
    assert "--force" in by_env.err
    assert "--reason" in by_env.err
    assert by_version.code == 2
    assert "does not hold staging" in by_version.err
    assert "--force and --reason" in by_version.err
    assert no_reason.code == 2
    assert "--force needs --reason" in no_reason.err
    assert holder(client, model, "canary") is None

    forced = cli("promote", "--to", "canary", "--version", str(version), "--force",
                 "--reason", "incident 123: hotfix")

    assert forced.code == 0, forced.text
    assert holder(client, model, "canary") == version
    recorded = tags(client, model, version)
    assert recorded["from_env"] == "dev"
    assert recorded["reason"] == "incident 123: hotfix"


def test_unvalidated_or_failed_versions_are_refused(
        cli: Cli, client: MlflowClient, run_id: str) -> None:
    model = unique("ungated")
    cli.policy(model)
    unvalidated = cli.register(run_id, gate=None).json["version"]
    failed = cli.register(run_id, gate=False).json["version"]

    first = cli.run_process("promote", "--to", "dev", "--version", str(unvalidated))
    second = cli("promote", "--to", "dev", "--version", str(failed), "--force",
                 "--reason", "try anyway")

    assert first.returncode == 1
    assert "validation_status=unvalidated" in first.stderr
    assert_clean(first.stdout, first.stderr)
    assert second.code == 1
    assert "validation_status=failed" in second.err
    assert holder(client, model, "dev") is None
    assert "promoted_at" not in tags(client, model, unvalidated)


def test_a_promotion_that_moves_nothing_says_what_holds_each_env_and_what_waits(
        cli: Cli, client: MlflowClient, run_id: str) -> None:
    model = unique("waits")
    cli.policy(model)
    one = cli.register(run_id).json["version"]
    two = cli.register(run_id).json["version"]
    assert cli("promote", "--to", "dev", "--version", str(one)).code == 0
    for env in ENVS[1:]:
        assert cli("promote", "--to", env).code == 0
    assert cli("promote", "--to", "dev", "--version", str(two)).code == 0
    assert cli("promote", "--to", "staging").code == 0

    stuck = cli("promote", "--to", "prod")  # canary still holds what prod holds

    assert stuck.code == 0, stuck.text
    assert stuck.json["changed"] is False
    assert (f"Held now: dev → release {two}, staging → release {two}, canary → release "
            f"{one}, prod → release {one}; release {two} waits in staging "
            "(next: promote it to canary).") in stuck.out
    assert holder(client, model, "champion") == one


def test_an_empty_previous_environment_is_named_without_a_flag_never_passed(
        cli: Cli, client: MlflowClient, run_id: str) -> None:
    model = unique("empty")
    cli.policy(model)
    one = cli.register(run_id).json["version"]
    assert cli("promote", "--to", "dev", "--version", str(one)).code == 0

    implicit = cli("promote", "--to", "canary")  # staging is empty
    explicit = cli("promote", "--to", "canary", "--from", "staging")

    assert implicit.code == 1, implicit.text
    assert "--from" not in implicit.err
    assert (f"the previous environment staging holds no version (models:/{model}@staging); "
            "nothing to promote to canary") in implicit.err
    assert (f"Held now: dev → release {one}, staging → none, canary → none, prod → none; "
            f"release {one} waits in dev (next: promote it to staging).") in implicit.err
    assert explicit.code == 1, explicit.text
    assert "--from staging: " in explicit.err
    assert holder(client, model, "canary") is None


def test_rerunning_a_promotion_writes_nothing(cli: Cli, client: MlflowClient,
                                              run_id: str) -> None:
    model = unique("noop")
    cli.policy(model)
    version = cli.register(run_id).json["version"]
    assert cli("promote", "--to", "dev", "--version", str(version)).code == 0
    before = client.get_model_version(model, str(version))

    again = cli("promote", "--to", "dev", "--version", str(version), "--reason", "again",
                GITHUB_ACTOR="someone-else")

    assert again.code == 0, again.text
    assert again.json["changed"] is False
    assert "already holds" in again.out
    after = client.get_model_version(model, str(version))
    assert dict(after.tags) == dict(before.tags)
    assert after.last_updated_timestamp == before.last_updated_timestamp


@pytest.mark.parametrize("layout", ["aliases", "models"])
def test_a_dry_run_checks_the_rules_and_writes_nothing(
        cli: Cli, client: MlflowClient, run_id: str, layout: str) -> None:
    model = unique(f"dry-{layout}")
    cli.policy(model, layout=layout)
    staging = model if layout == "aliases" else f"staging.{model}"
    one = cli.register(run_id).json["version"]
    failed = cli.register(run_id, gate=False).json["version"]
    assert cli("promote", "--to", "dev", "--version", str(one)).code == 0
    names = [model] if layout == "aliases" else [f"{env}.{model}" for env in ENVS[:2]]
    before = {m: [dict(v.tags) for v in client.search_model_versions(f"name='{m}'")]
              for m in names if m == model or m.startswith("dev.")}

    plan = cli("promote", "--to", "staging", "--dry-run")
    refused = cli("promote", "--to", "dev", "--version", str(failed), "--dry-run")
    skipping = cli("promote", "--to", "canary", "--dry-run", "--from", "dev")

    assert plan.code == 0, plan.text
    assert plan.json["dry_run"] is True
    assert plan.json["origin_version"] == one
    # aliases: the version itself; models: no copy in staging's model yet
    assert plan.json["version"] == (one if layout == "aliases" else None)
    assert "would promote release" in plan.out
    assert refused.code == 1
    assert "validation_status=failed" in refused.err
    assert skipping.code == 2
    assert holder(client, model if layout == "aliases" else staging, "staging") is None
    after = {m: [dict(v.tags) for v in client.search_model_versions(f"name='{m}'")]
             for m in before}
    assert after == before
    if layout == "models":
        assert not client.search_registered_models(f"name='{staging}'")

    # a release whose copy exists (promoted, then rolled back): the plan names the copy
    two = cli.register(run_id).json["version"]
    assert cli("promote", "--to", "staging").code == 0
    assert cli("promote", "--to", "dev", "--version", str(two)).code == 0
    moved = cli("promote", "--to", "staging")
    assert moved.json["origin_version"] == two
    assert cli("rollback", "--env", "staging").json["origin_version"] == one
    replan = cli("promote", "--to", "staging", "--dry-run")
    assert (replan.json["version"], replan.json["origin_version"]) == \
        (moved.json["version"], two)
    assert holder(client, staging, "staging") != moved.json["version"]


def test_unknown_environment_or_version_exit_2(cli: Cli, run_id: str) -> None:
    cli.policy(unique("unknown"))
    version = cli.register(run_id).json["version"]

    env = cli.run_process("promote", "--to", "qa", "--version", str(version))
    missing = cli("promote", "--to", "dev", "--version", "999")
    rollback = cli("rollback", "--env", "production")

    assert env.returncode == 2
    assert "--to: unknown environment 'qa'" in env.stderr
    assert "dev, staging, canary, prod" in env.stderr
    assert_clean(env.stdout, env.stderr)
    assert missing.code == 2
    assert "--version 999" in missing.err
    assert rollback.code == 2
    assert "--env: unknown environment 'production'" in rollback.err


@pytest.mark.parametrize("layout", ["aliases", "models"])
def test_concurrent_promotions_leave_the_registry_consistent(
        cli: Cli, client: MlflowClient, run_id: str, layout: str) -> None:
    model = unique(f"race-{layout}")
    cli.policy(model, layout=layout)
    base, left, right = (cli.register(run_id).json["version"] for _ in range(3))
    registered = f"dev.{model}" if layout == "models" else model
    target = f"staging.{model}" if layout == "models" else model
    for version in (base, left, right):  # every racer must be allowed to go to staging
        assert cli("promote", "--to", "dev", "--version", str(version)).code == 0
    assert cli("promote", "--to", "staging", "--version", str(right), "--force",
               "--reason", "setup").code == 0
    assert cli("promote", "--to", "staging", "--version", str(base), "--force",
               "--reason", "setup").code == 0
    before = holder(client, target, "staging")
    assert before is not None

    racers = {v: cli.popen("promote", "--to", "staging", "--version", str(v), "--force",
                           "--reason", f"race {v}") for v in (left, right)}
    results = {v: p.communicate(timeout=120) for v, p in racers.items()}
    codes = {v: p.returncode for v, p in racers.items()}

    for out, err in results.values():
        assert_clean(out, err)
    for version, code in codes.items():
        assert code in (0, 1), results[version]
        if code == 1:
            assert "promoted concurrently" in results[version][1]
    now = holder(client, target, "staging")
    assert now is not None
    held = client.get_model_version(target, str(now))
    origin = int(held.tags.get("origin_version", held.version))
    assert origin in (left, right)
    assert codes[origin] == 0  # the last writer always sees its own alias
    other = right if origin == left else left
    other_in_target = [int(v.version) for v in client.search_model_versions(
        f"name='{target}' and tags.source_model_version='{registered}/{other}'")] \
        if layout == "models" else [other]
    allowed_previous = {str(before), *map(str, other_in_target)}
    assert held.tags["previous_version.staging"] in allowed_previous
    # models layout: right's copy from the setup was reused, left's made once
    assert len(client.search_model_versions(f"name='{target}'")) == 3

    back = cli("rollback", "--env", "staging")
    assert back.code == 0, back.text
    assert str(holder(client, target, "staging")) == held.tags["previous_version.staging"]


# -- a failing server --------------------------------------------------------------------

@pytest.fixture
def proxy(mlflow: MlflowServer) -> Iterator[FaultProxy]:
    with FaultProxy(mlflow.url) as running:
        yield running


def test_a_failing_server_exits_3_after_bounded_retries(
        cli: Cli, run_id: str, proxy: FaultProxy) -> None:
    cli.policy(unique("down"))
    version = cli.register(run_id).json["version"]
    proxy.fail_next(10**6, 500)

    result = cli.run_process("promote", "--to", "dev", "--version", str(version),
                            MLFLOW_TRACKING_URI=proxy.url, MLFLOW_TRACKING_TOKEN=TOKEN)

    assert result.returncode == 3, result.stdout + result.stderr
    assert f"MLflow at {proxy.url} kept failing after 3 attempts" in result.stderr
    assert_clean(result.stdout, result.stderr)
    assert proxy.outcomes("status") == 3  # our retries only: MLflow's own are off
    assert proxy.headers.get("Authorization") == f"Bearer {TOKEN}"


def test_a_hanging_server_times_out_and_exits_3(
        cli: Cli, run_id: str, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.policy(unique("hang"))
    version = cli.register(run_id).json["version"]
    proxy.hang_next(10**6, 3.0)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    started = time.monotonic()

    result = cli("promote", "--to", "dev", "--version", str(version),
                 MLFLOW_TRACKING_URI=proxy.url, MODELRAIL_RETRY_ATTEMPTS="2")

    assert result.code == 3, result.text
    assert "kept failing after 2 attempts" in result.err
    assert time.monotonic() - started < 6
    assert proxy.outcomes("hang") == 2


def test_the_server_coming_back_mid_retry(cli: Cli, client: MlflowClient, run_id: str,
                                          proxy: FaultProxy) -> None:
    model = unique("back")
    cli.policy(model)
    version = cli.register(run_id).json["version"]
    proxy.fail_next(10**6, 503)
    threading.Timer(0.6, proxy.restore).start()

    result = cli("promote", "--to", "dev", "--version", str(version),
                 MLFLOW_TRACKING_URI=proxy.url, MODELRAIL_RETRY_ATTEMPTS="6",
                 MODELRAIL_RETRY_BASE_DELAY="0.2")

    assert result.code == 0, result.text
    assert proxy.outcomes("status") >= 2
    assert holder(client, model, "dev") == version


def test_a_lost_create_answer_is_not_a_duplicate(cli: Cli, client: MlflowClient, run_id: str,
                                                 proxy: FaultProxy) -> None:
    model = unique("lost")
    cli.policy(model)
    proxy.lose_next(1, path="/model-versions/create")

    result = cli.register(run_id, env={"MLFLOW_TRACKING_URI": proxy.url})

    assert proxy.outcomes("lose") == 1
    assert result.json["created"] is True
    assert len(client.search_model_versions(f"name='{model}'")) == 1
