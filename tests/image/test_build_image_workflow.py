"""example-model's release workflow with its build-image job, run by act, built with buildah.

register → build-image.yml: `modelrail image-meta`, the build-push-action stand-in (a real
`buildah build` of the real Dockerfile), the smoke test on the loaded image, the push to a
real docker-registry on loopback, the attestation stand-in, and `modelrail image-digest`
writing the digest back on the MLflow model version. Its own buildah store, so the cold
build in test_image_build.py stays cold.
"""

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.image.conftest import buildah_store
from tests.support.act import commit_all
from tests.support.flows import Workbench, model_repo
from tests.support.image import (
    Buildah,
    Registry,
    base_rootfs,
    host_ca_volumes,
    import_base_image,
    registry_tags,
    skopeo_inspect,
)
from tests.support.services import MlflowServer


def step_outputs(log: str, job: str, name: str) -> list[str]:
    """Every value act reported for step output `name` in `job`, in order."""
    pattern = re.compile(rf"\[([^\]]+)\]\s+⚙\s+::set-output:: {re.escape(name)}=(.*)$")
    return [match.group(2) for line in log.splitlines()
            if (match := pattern.match(line)) and match.group(1).strip().endswith(job)]


@pytest.fixture(scope="module")
def workflow_store(image_tools: None) -> Iterator[Buildah]:
    with buildah_store() as store:
        import_base_image(store, base_rootfs().archive)
        yield store


def test_release_builds_smoke_tests_pushes_and_records_the_image(
        workflow_store: Buildah, registry: Registry, mlflow: MlflowServer,
        action_repo: Path, python_env: Path, dvc_remote: Path, tmp_path: Path) -> None:
    repo, _ = model_repo(tmp_path / "ctr-model", dvc_remote)
    model = f"ctr-img-{uuid.uuid4().hex[:6]}"  # its own registered model in the shared server
    policy = repo / "modelrail.yaml"
    policy.write_text(re.sub(r"(?m)^model: .*$", f"model: {model}", policy.read_text()))
    sha = commit_all(repo, "serve the model")
    image = f"{registry.host}/acme/ctr-ranker"
    store = workflow_store
    bench = Workbench(
        action_repo, python_env, mlflow.url,
        variables={"IMAGE_NAME": image, "IMAGE_REGISTRY": registry.host},
        env={"MODELRAIL_CONTAINER_ENGINE": "buildah",
             "MODELRAIL_BUILDAH_OPTS": f"--root {store.root} --runroot {store.runroot} "
                                       "--storage-driver vfs",
             "E2E_BUILD_VOLUMES": " ".join(host_ca_volumes(tmp_path))})

    result = bench.release(repo)

    assert result.returncode == 0, result.log[-8000:]
    assert result.job_result("Build, smoke-test and push") == "succeeded", result.log[-8000:]
    assert "smoke test passed" in result.log
    client = MlflowClient(mlflow.url)
    [registered] = client.search_model_versions(f"name = '{model}'")
    version = str(registered.version)
    # The steps behind the workflow outputs: `image` (image-meta) and `digest` (the push).
    digests = set(step_outputs(result.log, "Build, smoke-test and push", "digest")) - {""}
    assert len(digests) == 1, digests
    [digest] = digests
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert image in step_outputs(result.log, "Build, smoke-test and push", "image")

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
