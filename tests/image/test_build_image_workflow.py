"""example-model's release workflow with its build-image job, run by act, built with buildah.

register → build-image.yml: `modelrail image-meta`, the build-push-action stand-in (a real
`buildah build` of the real Dockerfile), the smoke test on the loaded image, the push to a
real docker-registry on loopback, the attestation job (stand-in), and `modelrail
image-digest` writing the digest back on the MLflow model version. Then build-image.yml
again from a caller that turns signing on: on a push the sign job gets `image@digest` (a
`cosign` shim records its arguments) and QEMU gets the platforms; on a pull request nothing
is pushed, attested or signed. Its own buildah store (module scope: the later runs reuse
the first run's layers), so the cold build in test_image_build.py stays cold.
"""

import dataclasses
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from modelrail.local.act import ActRun
from modelrail.local.mlflow_server import MlflowServer

from tests.image.conftest import buildah_store
from tests.support.labs.image import (
    Buildah,
    base_rootfs,
    host_ca_volumes,
    import_base_image,
    skopeo_inspect,
)
from tests.support.services.registry import Registry, registry_tags
from tests.support.workflows.flows import ExampleWorkbench, commit_all, model_repo


def step_outputs(log: str, job: str, name: str) -> list[str]:
    """Every value act reported for step output `name` in `job`, in order."""
    pattern = re.compile(rf"\[([^\]]+)\]\s+⚙\s+::set-output:: {re.escape(name)}=(.*)$")
    return [match.group(2) for line in log.splitlines()
            if (match := pattern.match(line)) and match.group(1).strip().endswith(job)]


BUILD_JOB = "Build, smoke-test and push"
SIGN_JOB = "Sign (cosign, keyless)"
ATTEST_JOB = "Attest build provenance"
PLATFORMS = "linux/amd64,linux/arm64"
# A caller with signing on, as a model repository writes it (test-only file in the copy).
SIGNING_CALLER = """\
name: Image
on:
  push:
    branches: [main]
  pull_request:
    branches: [main]
permissions: {}
jobs:
  build-image:
    uses: modelrail/modelrail/.github/workflows/build-image.yml@v1
    permissions:
      contents: read
      packages: write
      id-token: write
      attestations: write
    with:
      model-version: ${{ vars.MODEL_VERSION }}
      image: ${{ vars.IMAGE_NAME }}
      registry: ${{ vars.IMAGE_REGISTRY }}
      platforms: ${{ vars.IMAGE_PLATFORMS || 'linux/amd64' }}
      sign: true
      mlflow-tracking-uri: ${{ vars.MLFLOW_TRACKING_URI }}
      dvc-remote: ${{ vars.DVC_REMOTE }}
    secrets:
      MLFLOW_TRACKING_TOKEN: ${{ secrets.MLFLOW_TRACKING_TOKEN }}
"""


@pytest.fixture(scope="module")
def workflow_store(image_tools: None) -> Iterator[Buildah]:
    with buildah_store() as store:
        import_base_image(store, base_rootfs().archive)
        yield store


@dataclasses.dataclass(frozen=True)
class Released:
    """The release run (register → build-image) and what it left behind."""

    bench: ExampleWorkbench
    repo: Path
    sha: str
    model: str
    image: str
    result: ActRun


@pytest.fixture(scope="module")
def released(workflow_store: Buildah, registry: Registry, mlflow: MlflowServer,
             action_repo: Path, python_env: Path, dvc_remote: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Released:
    tmp_path = tmp_path_factory.mktemp("release")
    repo, _ = model_repo(tmp_path / "ctr-model", dvc_remote)
    model = f"ctr-img-{uuid.uuid4().hex[:6]}"  # its own registered model in the shared server
    policy = repo / "modelrail.yaml"
    policy.write_text(re.sub(r"(?m)^model: .*$", f"model: {model}", policy.read_text()))
    (repo / ".github" / "workflows" / "image.yml").write_text(SIGNING_CALLER)
    sha = commit_all(repo, "serve the model")
    image = f"{registry.host}/acme/ctr-ranker"
    store = workflow_store
    bench = ExampleWorkbench(
        action_repo, python_env, mlflow.url,
        variables={"IMAGE_NAME": image, "IMAGE_REGISTRY": registry.host},
        env={"MODELRAIL_CONTAINER_ENGINE": "buildah",
             "MODELRAIL_BUILDAH_OPTS": f"--root {store.root} --runroot {store.runroot} "
                                       "--storage-driver vfs",
             "MODELRAIL_LOCAL_BUILD_VOLUMES": " ".join(host_ca_volumes(tmp_path))})
    return Released(bench, repo, sha, model, image, bench.release(repo))


def test_release_builds_smoke_tests_pushes_and_records_the_image(
        released: Released, registry: Registry, mlflow: MlflowServer) -> None:
    result, image, model, sha = released.result, released.image, released.model, released.sha
    assert result.returncode == 0, result.log[-8000:]
    assert result.job_result(BUILD_JOB) == "succeeded", result.log[-8000:]
    assert "smoke test passed" in result.log
    client = MlflowClient(mlflow.url)
    [registered] = client.search_model_versions(f"name = '{model}'")
    version = str(registered.version)
    # The steps behind the workflow outputs: `image` (image-meta) and `digest` (the push).
    digests = set(step_outputs(result.log, BUILD_JOB, "digest")) - {""}
    assert len(digests) == 1, digests
    [digest] = digests
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert image in step_outputs(result.log, BUILD_JOB, "image")
    # Provenance is attested in its own job, on the pushed digest; release.yml does not sign.
    assert result.job_result(ATTEST_JOB) == "succeeded", result.log[-8000:]
    assert result.job_result(SIGN_JOB) is None
    # One platform (linux/amd64): no emulators.
    assert "setup-qemu stand-in" not in result.log

    # The registry has both tags, one manifest, and the lineage labels.
    assert registry_tags(registry, "acme/ctr-ranker") == sorted(
        [f"v{version}", f"sha-{sha[:12]}"])
    inspected = skopeo_inspect(f"docker://{image}:v{version}")
    assert inspected["Digest"] == digest
    assert skopeo_inspect(f"docker://{image}:sha-{sha[:12]}")["Digest"] == digest
    labels = inspected["Labels"]
    tags = client.get_model_version(model, version).tags
    run_id = registered.run_id
    assert labels["io.modelrail.model.name"] == model
    assert labels["io.modelrail.model.version"] == version
    assert labels["io.modelrail.model.git-sha"] == sha
    assert labels["io.modelrail.model.mlflow-run-id"] == run_id
    assert labels["io.modelrail.model.dvc-data-hash"] == tags["dvc_data_hash"]
    assert labels["org.opencontainers.image.revision"] == sha
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/ctr-model"

    # The digest went back onto the model version.
    assert tags["image_digest"] == digest
    assert tags["image"] == f"{image}@{digest}"


def _run_signing_caller(released: Released, mlflow: MlflowServer, event_name: str,
                        cosign_log: Path, platforms: str) -> ActRun:
    """build-image.yml from the signing caller, for the released model version."""
    [registered] = MlflowClient(mlflow.url).search_model_versions(
        f"name = '{released.model}'")
    bench = dataclasses.replace(
        released.bench,
        variables={**released.bench.variables, "MODEL_VERSION": str(registered.version),
                   "IMAGE_PLATFORMS": platforms},
        env={**released.bench.env, "COSIGN_SHIM_LOG": str(cosign_log)})
    if event_name == "pull_request":
        event: dict[str, object] = {
            "action": "synchronize", "number": 7,
            "pull_request": {"number": 7, "base": {"sha": released.sha, "ref": "main"},
                             "head": {"sha": released.sha, "ref": "pr-7"}},
            "repository": {"full_name": "acme/ctr-model"}}
    else:
        event = {"ref": "refs/heads/main", "after": released.sha, "before": "0" * 40,
                 "repository": {"full_name": "acme/ctr-model"}}
    return bench.run(released.repo, event_name, ".github/workflows/image.yml", event,
                     f"image-{event_name}")


def test_the_sign_job_signs_the_pushed_digest(
        released: Released, registry: Registry, mlflow: MlflowServer, tmp_path: Path) -> None:
    cosign_log = tmp_path / "cosign.jsonl"
    result = _run_signing_caller(released, mlflow, "push", cosign_log, PLATFORMS)

    assert result.returncode == 0, result.log[-8000:]
    assert result.job_result(SIGN_JOB) == "succeeded", result.log[-8000:]
    [digest] = set(step_outputs(result.log, BUILD_JOB, "digest")) - {""}
    # Exactly one cosign call: keyless, non-interactive, by digest (never a tag).
    calls = [json.loads(line) for line in cosign_log.read_text().splitlines()]
    assert calls == [["sign", "--yes", f"{released.image}@{digest}"]]
    assert skopeo_inspect(f"docker://{released.image}@{digest}")["Digest"] == digest
    # More than one platform: QEMU is set up for exactly those.
    assert f"setup-qemu stand-in: platforms={PLATFORMS}" in result.log


def test_a_pull_request_is_never_pushed_attested_or_signed(
        released: Released, registry: Registry, mlflow: MlflowServer, tmp_path: Path) -> None:
    tags_before = registry_tags(registry, "acme/ctr-ranker")
    cosign_log = tmp_path / "cosign.jsonl"
    result = _run_signing_caller(released, mlflow, "pull_request", cosign_log, PLATFORMS)

    assert result.returncode == 0, result.log[-8000:]
    assert result.job_result(BUILD_JOB) == "succeeded", result.log[-8000:]
    assert "smoke test passed" in result.log  # built and tested, like any PR check
    assert set(step_outputs(result.log, BUILD_JOB, "digest")) <= {""}
    assert result.job_result(SIGN_JOB) is None
    assert result.job_result(ATTEST_JOB) is None
    assert not cosign_log.exists()
    assert registry_tags(registry, "acme/ctr-ranker") == tags_before
