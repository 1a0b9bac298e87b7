"""No secret reaches any output, whatever a server echoes back (issue 15, items 2 and 3).

Each client modelrail has is run through the CLI against a loopback server that quotes
every request header (and the URL, the decoded basic-auth pair, the header percent-
encoded) in its 400/401/403/404/422/500/503 answers, with bearer and with basic
credentials. Then every output is searched for each secret in every encoding: stdout,
stderr, the --json file, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT and the --report-dir files.
`::add-mask::` lines are the runner's own channel (never shown in the log) and are
checked to name the basic-auth pair.
"""

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import yaml
from modelrail.cli.main import main

from tests.support.labs.canary import lab_policy
from tests.support.services.echo import EchoServer
from tests.support.standins.rollouts import RolloutsStandIn

pytestmark = pytest.mark.integration

STATUSES = (400, 401, 403, 404, 422, 500, 503)
CREDENTIAL_VARIABLES = (
    "PROMETHEUS_URL", "PROMETHEUS_TOKEN", "PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD",
    "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD", "GITHUB_API_URL", "GITHUB_TOKEN", "GH_TOKEN", "KUBECONFIG",
    "KUBECONFIG_DATA")


@dataclass(frozen=True)
class Credentials:
    kind: str                  # "bearer" or "basic"
    secret: str                # the token, or the password
    user: str = ""

    @property
    def pair(self) -> str:
        return f"{self.user}:{self.secret}"

    def forbidden(self) -> dict[str, str]:
        """Each secret in each encoding a leak could take, named for the failure."""
        values = {"secret": self.secret}
        if self.kind == "basic":
            values["user:password"] = self.pair
        forms: dict[str, str] = {}
        for label, value in values.items():
            b64 = base64.b64encode(value.encode()).decode()
            forms.update({
                f"{label} raw": value,
                f"{label} base64": b64.rstrip("="),
                f"{label} urlsafe base64": b64.rstrip("=").replace("+", "-").replace("/", "_"),
                f"{label} percent-encoded": quote(value, safe=""),
                f"{label} form-encoded": quote_plus(value),
            })
        return forms


def _credentials(kind: str) -> Credentials:
    tag = uuid.uuid4().hex[:10]
    if kind == "bearer":
        return Credentials("bearer", f"tok-{tag}_SeCrEt.value")
    # '/', '+', '=', '&' and '@' change between raw, base64 flavours and percent-encoding
    return Credentials("basic", f"pw/{tag}+a=b&c@d", user=f"bob-{tag[:4]}")


@dataclass
class Run:
    """One CLI run's files (under `work`) and the environment it runs in."""

    work: Path
    server: EchoServer
    credentials: Credentials
    monkeypatch: pytest.MonkeyPatch
    standin: RolloutsStandIn | None = None

    @property
    def json_path(self) -> Path:
        return self.work / "out.json"

    @property
    def report_dir(self) -> Path:
        return self.work / "report"

    def policy(self, text: str) -> str:
        path = self.work / "modelrail.yaml"
        path.write_text(text, encoding="utf-8")
        return str(path)


# -- the clients, each through its CLI command ----------------------------------------------


def _prometheus_env(run: Run) -> None:
    if run.credentials.kind == "bearer":
        run.monkeypatch.setenv("PROMETHEUS_TOKEN", run.credentials.secret)
    else:
        run.monkeypatch.setenv("PROMETHEUS_USERNAME", run.credentials.user)
        run.monkeypatch.setenv("PROMETHEUS_PASSWORD", run.credentials.secret)


def prometheus_analyze(run: Run) -> list[str]:
    _prometheus_env(run)
    return ["analyze", "--config", run.policy(lab_policy(steps=(10, 100))),
            "--canary", "2", "--baseline", "1", "--time", "1700000000",
            "--prometheus-url", run.server.address, "--json", str(run.json_path)]


def prometheus_canary_run(run: Run) -> list[str]:
    """`canary run`: Prometheus answers the preflight, then echoes; the Rollout (a
    stand-in with its own token) is aborted and the report dir written."""
    _prometheus_env(run)
    run.server.ok = lambda _method, path: "vector%281%29" in path
    run.server.ok_body = {"status": "success", "data": {
        "resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]}}
    standin = run.standin = RolloutsStandIn().start()
    standin.add_rollout("ctr-ranker", image="ghcr.io/acme/ctr-ranker:v1", weights=(10, 100))
    kubeconfig = standin.write_kubeconfig(run.work / "kubeconfig")
    return ["canary", "run", "--config",
            run.policy(lab_policy(steps=(10, 100), step_seconds=0.2)),
            "--image", "ghcr.io/acme/ctr-ranker:v2", "--version", "2",
            "--baseline-version", "1", "--kubeconfig", str(kubeconfig),
            "--prometheus-url", run.server.address, "--json", str(run.json_path),
            "--report-dir", str(run.report_dir)]


def _mlflow_env(run: Run) -> None:
    run.monkeypatch.setenv("MLFLOW_TRACKING_URI", run.server.address)
    if run.credentials.kind == "bearer":
        run.monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", run.credentials.secret)
    else:
        run.monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", run.credentials.user)
        run.monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", run.credentials.secret)


_GATE_POLICY = """\
model: ranker
registry: {tracking_uri: env:MLFLOW_TRACKING_URI}
gate:
  metrics:
    roc_auc: {threshold: 0.70, greater_is_better: true}
"""


def mlflow_gate(run: Run) -> list[str]:
    _mlflow_env(run)
    (run.work / "metrics.json").write_text('{"roc_auc": 0.8}', encoding="utf-8")
    return ["gate", "--config", run.policy(_GATE_POLICY),
            "--candidate", str(run.work / "metrics.json"),
            "--champion-model", "ranker@champion", "--json", str(run.json_path)]


def mlflow_register(run: Run) -> list[str]:
    _mlflow_env(run)
    run.monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    return ["register", "--config", run.policy(_GATE_POLICY),
            "--run-id", "0123456789abcdef", "--json", str(run.json_path)]


def github_pr_report(run: Run) -> list[str]:
    """bearer: GITHUB_TOKEN; basic: userinfo in GITHUB_API_URL (requests sends it)."""
    if run.credentials.kind == "bearer":
        run.monkeypatch.setenv("GITHUB_TOKEN", run.credentials.secret)
        run.monkeypatch.setenv("GITHUB_API_URL", run.server.address)
    else:
        run.monkeypatch.setenv("GITHUB_TOKEN", "ghs_" + uuid.uuid4().hex)
        host = run.server.address.removeprefix("http://")
        user, password = (quote(v, safe="") for v in (run.credentials.user,
                                                      run.credentials.secret))
        userinfo = f"{user}:{password}"
        run.monkeypatch.setenv("GITHUB_API_URL", f"http://{userinfo}@{host}")
    gate = run.work / "gate.json"
    gate.write_text(json.dumps({"model": "ranker", "passed": True, "metrics": []}),
                    encoding="utf-8")
    return ["pr-report", "--gate", str(gate), "--pr", "7", "--repo", "acme/ranker"]


def kubernetes_rollout_status(run: Run) -> list[str]:
    user: dict[str, str] = {"token": run.credentials.secret} if run.credentials.kind == \
        "bearer" else {"username": run.credentials.user, "password": run.credentials.secret}
    kubeconfig = run.work / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "echo",
        "clusters": [{"name": "echo", "cluster": {"server": run.server.address}}],
        "users": [{"name": "ci", "user": user}],
        "contexts": [{"name": "echo", "context": {"cluster": "echo", "user": "ci"}}]}),
        encoding="utf-8")
    return ["rollout", "status", "--name", "ctr-ranker", "--namespace", "default",
            "--kubeconfig", str(kubeconfig)]


CLIENTS: dict[str, Callable[[Run], list[str]]] = {
    "prometheus-analyze": prometheus_analyze,
    "prometheus-canary-run": prometheus_canary_run,
    "mlflow-gate": mlflow_gate,
    "mlflow-register": mlflow_register,
    "github-pr-report": github_pr_report,
    "kubernetes-rollout-status": kubernetes_rollout_status,
}


# -- the test --------------------------------------------------------------------------------


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runner's files, fast retries, no credential but the test's, nothing registered."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # annotations on stdout, ::add-mask::
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "github_summary"))
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0")
    monkeypatch.setenv("MODELRAIL_HTTP_TIMEOUT", "5")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config


def _outputs(run: Run, stdout: str, stderr: str) -> dict[str, str]:
    """Every place the run wrote to, by name (the add-mask lines set apart)."""
    shown = [line for line in stdout.splitlines() if not line.startswith("::add-mask::")]
    outputs = {"stdout": "\n".join(shown), "stderr": stderr}
    files = [run.json_path, run.work.parent / "github_summary",
             run.work.parent / "github_output"]
    if run.report_dir.is_dir():
        files += sorted(p for p in run.report_dir.rglob("*") if p.is_file())
    for path in files:
        if path.is_file():
            outputs[str(path.relative_to(run.work.parent))] = path.read_text(errors="replace")
    return outputs


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("kind", ["bearer", "basic"])
@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("client", list(CLIENTS))
def test_no_output_carries_a_secret_the_server_echoed(
        client: str, status: int, kind: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    credentials = _credentials(kind)
    work = tmp_path / "work"
    work.mkdir()
    with EchoServer(status) as server:
        run = Run(work, server, credentials, monkeypatch)
        argv = CLIENTS[client](run)
        try:
            code = main(argv)
        finally:
            if run.standin is not None:
                run.standin.stop()
    captured = capfd.readouterr()

    outputs = _outputs(run, captured.out, captured.err)
    assert 0 <= code <= 4, outputs  # a verdict or a clean error, never a traceback
    leaks = [f"{form} in {where}" for form, value in credentials.forbidden().items()
             for where, text in outputs.items() if value in text]
    assert not leaks, "\n".join(leaks) + "\n\n" + "\n\n".join(
        f"== {where} ==\n{text}" for where, text in outputs.items())
    if kind == "basic":
        pair = base64.b64encode(credentials.pair.encode()).decode()
        assert f"::add-mask::{pair}" in captured.out.splitlines()
