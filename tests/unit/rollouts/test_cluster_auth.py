"""The checks of actions/cluster-auth's inputs (modelrail.rollouts.cluster_auth)."""

import subprocess
import sys

import pytest
from modelrail.errors import UsageError
from modelrail.rollouts.cluster_auth import MODES, check, main

from tests.support.paths import REPO_ROOT

GOOD = {
    "cluster-name": "ml-prod",
    "aws-role-to-assume": "arn:aws:iam::123456789012:role/modelrail-deployer",
    "aws-region": "eu-west-1",
    "gcp-workload-identity-provider":
        "projects/123456789/locations/global/workloadIdentityPools/github/providers/acme",
    "gcp-service-account": "deployer@acme-ml.iam.gserviceaccount.com",
    "gcp-project": "acme-ml",
    "gke-location": "europe-west1-b",
    "azure-client-id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "azure-tenant-id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "azure-subscription-id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "aks-resource-group": "ml",
}


@pytest.mark.parametrize("mode", list(MODES))
def test_each_mode_passes_with_exactly_its_inputs(mode: str) -> None:
    values = {"cluster-auth": mode} | {name: GOOD[name] for name in MODES[mode]}
    assert check(values, kubeconfig_given=mode == "kubeconfig") == mode


def test_an_empty_mode_is_the_kubeconfig_secret() -> None:
    assert check({"cluster-auth": ""}, kubeconfig_given=True) == "kubeconfig"


@pytest.mark.parametrize(("mode", "hint"), [(" eks", "eks"), ("GKE", "gke")])
def test_a_mode_is_taken_as_written_not_trimmed_or_lowered(mode: str, hint: str) -> None:
    """The action's `if:` compares the raw mode: one it would not match fails here."""
    with pytest.raises(UsageError, match=f"did you mean {hint}"):
        check({"cluster-auth": mode} | {n: GOOD[n] for n in MODES[hint]}, kubeconfig_given=False)


def test_a_value_with_spaces_is_malformed() -> None:
    values = {"cluster-auth": "eks"} | {n: GOOD[n] for n in MODES["eks"]}
    with pytest.raises(UsageError, match=r"^aws-region: 'eu-west-1 ' is not"):
        check(values | {"aws-region": "eu-west-1 "}, kubeconfig_given=False)


@pytest.mark.parametrize(("mode", "stray", "owners"), [
    ("kubeconfig", "aws-region", "eks"),
    ("kubeconfig", "cluster-name", "eks or gke or aks"),
    ("gke", "azure-client-id", "aks"),
])
def test_an_input_of_another_mode_is_refused(mode: str, stray: str, owners: str) -> None:
    """Forgetting `cluster-auth: eks` must not quietly fall back to the KUBECONFIG secret."""
    values = {"cluster-auth": mode} | {n: GOOD[n] for n in MODES[mode]} | {stray: GOOD[stray]}
    with pytest.raises(UsageError, match=f"^{stray}: set, but cluster-auth is {mode}; "
                                         f"it is for {owners}$"):
        check(values, kubeconfig_given=False)


@pytest.mark.parametrize("mode", ["eks", "gke", "aks"])
def test_each_missing_input_of_a_mode_is_named(mode: str) -> None:
    for missing in MODES[mode]:
        values = {"cluster-auth": mode} | {n: GOOD[n] for n in MODES[mode] if n != missing}
        with pytest.raises(UsageError, match=f"^{missing}: required with cluster-auth: {mode}$"):
            check(values, kubeconfig_given=False)


def test_an_unknown_mode_names_the_nearest_and_all() -> None:
    with pytest.raises(UsageError, match=r"unknown mode 'ekss' \(did you mean eks\?\); "
                                         r"one of kubeconfig, eks, gke, aks"):
        check({"cluster-auth": "ekss"}, kubeconfig_given=False)


@pytest.mark.parametrize(("name", "bad"), [
    ("aws-role-to-assume", "arn:aws:iam::123:user/alice"),
    ("aws-region", "eu west 1"),
    ("gcp-workload-identity-provider", "projects/acme/providers/x"),
    ("azure-tenant-id", "acme.onmicrosoft.com"),
])
def test_a_malformed_input_is_named_with_its_form(name: str, bad: str) -> None:
    mode = next(mode for mode, names in MODES.items() if name in names)
    values = {"cluster-auth": mode} | {n: GOOD[n] for n in MODES[mode]} | {name: bad}
    with pytest.raises(UsageError, match=f"^{name}: '{bad}' is not "):
        check(values, kubeconfig_given=False)


def test_a_kubeconfig_secret_next_to_a_cloud_mode_is_refused() -> None:
    values = {"cluster-auth": "gke"} | {n: GOOD[n] for n in MODES["gke"]}
    with pytest.raises(UsageError, match="KUBECONFIG secret is set too"):
        check(values, kubeconfig_given=True)


def test_main_annotates_the_error_on_stdout_and_exits_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main({"INPUT_CLUSTER_AUTH": "eks", "INPUT_CLUSTER_NAME": "ml-prod"}) == 2
    assert capsys.readouterr().out == (
        "::error title=modelrail cluster-auth::aws-role-to-assume: required with "
        "cluster-auth: eks\n")


def test_it_runs_on_a_bare_interpreter_before_anything_is_installed() -> None:
    """The action runs it with the runner's python3, no site-packages."""
    result = subprocess.run(
        [sys.executable, "-S", "-m", "modelrail.rollouts.cluster_auth"], check=False,
        capture_output=True, text=True, cwd=REPO_ROOT / "scripts",
        env={"INPUT_CLUSTER_AUTH": "aks", "KUBECONFIG_GIVEN": "false"})
    assert (result.returncode, result.stderr) == (2, "")
    assert "azure-client-id: required with cluster-auth: aks" in result.stdout
