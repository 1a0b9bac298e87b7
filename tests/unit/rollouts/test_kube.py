"""Credentials, the status-message parsing, and `wait --until` conditions (no network)."""

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from modelrail.errors import UsageError
from modelrail.rollouts import kube
from modelrail.rollouts.backend import Condition
from modelrail.rollouts.kube import connect, decode_kubeconfig_data
from modelrail.rollouts.status import RolloutState

from tests.support.builders.rollouts import rollout

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: ci
clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: u, user: {token: s3cret-token}}]
contexts: [{name: ci, context: {cluster: c, user: u, namespace: ml}}]
"""


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KUBECONFIG", "KUBECONFIG_DATA", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_kubeconfig_data_may_be_base64_wrapped_or_raw_yaml() -> None:
    encoded = base64.encodebytes(KUBECONFIG.encode()).decode()  # with line breaks
    assert "\n" in encoded.strip()
    assert decode_kubeconfig_data(encoded) == KUBECONFIG
    assert decode_kubeconfig_data(KUBECONFIG) == KUBECONFIG


def test_kubeconfig_data_is_loaded_from_a_private_file_that_is_then_removed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[tuple[str, int]] = []
    real_load = kube._load_file

    def spy(path: str, *args: Any) -> str | None:
        loaded.append((path, stat.S_IMODE(os.stat(path).st_mode)))
        return real_load(path, *args)

    monkeypatch.setattr(kube, "_load_file", spy)
    connection = connect(None, {"KUBECONFIG_DATA": base64.b64encode(KUBECONFIG.encode())
                                .decode()})
    assert (connection.namespace, connection.source) == ("ml", "KUBECONFIG_DATA")
    assert connection.api.server == "http://127.0.0.1:9"
    [(path, mode)] = loaded
    assert mode == 0o600
    assert not os.path.exists(path)


def test_the_flag_wins_over_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "kc.yaml"
    path.write_text(KUBECONFIG.replace("namespace: ml", "namespace: flag"), encoding="utf-8")
    connection = connect(str(path), {"KUBECONFIG_DATA": KUBECONFIG})
    assert connection.namespace == "flag"


def test_missing_and_broken_kubeconfigs_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--kubeconfig /nope: kubeconfig file /nope not found"):
        connect("/nope", {})
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Config\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not a usable kubeconfig"):
        connect(str(broken), {})


def test_no_credentials_at_all() -> None:
    with pytest.raises(UsageError, match="no Kubernetes credentials"):
        connect(None, {})


class TestConditions:
    def test_parse(self) -> None:
        assert Condition.parse("Healthy") == Condition("healthy")
        assert Condition.parse("phase=paused") == Condition("phase", "Paused")
        assert Condition.parse("weight=25") == Condition("weight", "25")
        with pytest.raises(UsageError, match="--until 'weight=lots'"):
            Condition.parse("weight=lots")

    def test_nothing_holds_before_the_generation_is_observed(self) -> None:
        stale = RolloutState.from_object(rollout(observed="1", phase="Healthy",
                                                 stableRS="new"))
        assert not Condition("healthy").holds(stale)
        fresh = RolloutState.from_object(rollout(phase="Healthy", stableRS="new"))
        assert Condition("healthy").holds(fresh)
        assert Condition("weight", "100").holds(fresh)
