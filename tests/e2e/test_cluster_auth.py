"""actions/cluster-auth under act, one run: a job per mode reaches the Rollouts stand-in
with `modelrail rollout status`, through the kubeconfig the mode's credential actions (their
stand-ins, scripts/modelrail/local/standins) wrote and exported as the real ones do; a job
with a missing input and one without an OIDC token request URL fail, naming why.

The jobs granted `id-token: write` get the token request variables of a stand-in for
GitHub's token service, which records the audience each credential action asked for.
The stand-in clouds know one cluster each (MODELRAIL_LOCAL_CLUSTERS/<name>.yaml), each with
a token of its own, so a job that ends up with another mode's kubeconfig is refused.
"""

import contextlib
import sys
from pathlib import Path

import pytest
import yaml
from modelrail.local.act import act_command, git, run_act

from tests.support.paths import REPO_ROOT
from tests.support.standins.oidc import OidcTokenStandIn
from tests.support.standins.rollouts import RolloutsStandIn

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/modelrail-deployer"
PROVIDER = "projects/123456789/locations/global/workloadIdentityPools/github/providers/acme"
GUID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
MODES: dict[str, dict[str, str]] = {
    "kubeconfig": {},
    "eks": {"cluster-name": "ranker-eks", "aws-role-to-assume": ROLE, "aws-region": "eu-west-1"},
    "gke": {"cluster-name": "ranker-gke", "gcp-workload-identity-provider": PROVIDER,
            "gcp-service-account": "deployer@acme-ml.iam.gserviceaccount.com",
            "gcp-project": "acme-ml", "gke-location": "europe-west1"},
    "aks": {"cluster-name": "ranker-aks", "azure-client-id": GUID, "azure-tenant-id": GUID,
            "azure-subscription-id": GUID, "aks-resource-group": "ml"},
}
# The audience each cloud's action asks GitHub's token for (their action.yml defaults).
AUDIENCES = {"eks": "sts.amazonaws.com", "gke": f"https://iam.googleapis.com/{PROVIDER}",
             "aks": "api://AzureADTokenExchange"}
ROLLOUT_PATH = "/apis/argoproj.io/v1alpha1/namespaces/ml/rollouts/ranker"
# job -> what its log must say.
FAILING = {"missing-input": "aws-region: required with cluster-auth: eks",
           "no-id-token": "did not inject $ACTIONS_ID_TOKEN_REQUEST_TOKEN"}
STATUS = '"$CLI_PYTHON" -m modelrail rollout status --name ranker --namespace ml'


def job(oidc: OidcTokenStandIn, job_id: str, mode: str, inputs: dict[str, str],
        permissions: dict[str, str]) -> dict[str, object]:
    """A job that authenticates with `mode` and reads the Rollout's status.

    act injects no OIDC token request variables, whatever `permissions:` say; GitHub
    injects them exactly into the jobs granted `id-token: write`, and so does this.
    """
    status: dict[str, object] = {"name": "status", "run": STATUS}
    if mode == "kubeconfig":
        status["env"] = {"KUBECONFIG_DATA": "${{ secrets.KUBECONFIG }}"}
    with_ = {"cluster-auth": mode, **inputs}
    if mode == "kubeconfig":
        with_["kubeconfig"] = "${{ secrets.KUBECONFIG }}"
    body: dict[str, object] = {
        "runs-on": "ubuntu-latest", "permissions": permissions,
        "steps": [{"uses": "modelrail/modelrail/actions/cluster-auth@v1", "with": with_},
                  status]}
    if permissions.get("id-token") == "write":
        body["env"] = {"ACTIONS_ID_TOKEN_REQUEST_URL": oidc.url,
                       "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc.request_token(job_id)}
    return body


def workflow(oidc: OidcTokenStandIn) -> str:
    jobs = {mode: job(oidc, mode, mode, inputs,
                      {"id-token": "write"} if mode != "kubeconfig" else {})
            for mode, inputs in MODES.items()}
    missing = {key: value for key, value in MODES["eks"].items() if key != "aws-region"}
    jobs["missing-input"] = job(oidc, "missing-input", "eks", missing, {"id-token": "write"})
    jobs["no-id-token"] = job(oidc, "no-id-token", "gke", MODES["gke"], {"contents": "read"})
    return yaml.safe_dump({"name": "cluster auth", "on": "push", "permissions": {},
                           "jobs": jobs}, sort_keys=False)


def test_each_mode_reaches_its_cluster_and_a_bad_job_fails_naming_why(
        tmp_path: Path, action_repo: Path) -> None:
    clusters = tmp_path / "clusters"
    clusters.mkdir()
    with contextlib.ExitStack() as stack:
        oidc = stack.enter_context(OidcTokenStandIn("repo:acme/ranker:ref:refs/heads/main"))
        repo = tmp_path / "repo"
        (repo / ".github" / "workflows").mkdir(parents=True)
        (repo / ".github" / "workflows" / "auth.yml").write_text(workflow(oidc))
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "auth")
        k8s = {mode: stack.enter_context(RolloutsStandIn(token=f"{mode}-token"))
               for mode in MODES}
        for mode, standin in k8s.items():
            standin.add_rollout("ranker", "ml", image="ranker:v1")
            if mode != "kubeconfig":
                standin.write_kubeconfig(clusters / f"{MODES[mode]['cluster-name']}.yaml")
        command = act_command(
            "push", ".github/workflows/auth.yml", action_repo, scanned=[repo],
            env={"MODELRAIL_LOCAL_CLUSTERS": str(clusters), "CLI_PYTHON": sys.executable,
                 "PYTHONPATH": str(REPO_ROOT / "scripts")},
            secrets={"KUBECONFIG": k8s["kubeconfig"].kubeconfig()})
        result = run_act(repo, command, timeout=300)
        (tmp_path / "act.log").write_text(result.log)
        reads = {mode: [(r.method, r.path, r.status) for r in standin.requests]
                 for mode, standin in k8s.items()}

    assert {name: result.job_result(name) for name in [*MODES, *FAILING]} == {
        **dict.fromkeys(MODES, "succeeded"), **dict.fromkeys(FAILING, "failed")}, \
        f"the whole log: {tmp_path / 'act.log'}"
    assert sorted(oidc.asked) == sorted(AUDIENCES.items())
    for message in FAILING.values():
        assert message in result.log
    for mode, requests in reads.items():
        assert requests, mode
        assert all(status == 200 for _, _, status in requests), (mode, requests)
        assert ("GET", ROLLOUT_PATH, 200) in requests, mode
