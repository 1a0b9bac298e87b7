"""image-meta / image-digest against a real MLflow server, on a version `register` made."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from modelrail.cli.main import main
from modelrail.local.mlflow_server import MlflowServer
from modelrail.registry.lineage import dvc_lock_lineage

from tests.support.builders.runner_files import parse_file_command

pytestmark = pytest.mark.integration

IMAGE = "localhost:5000/acme/ctr-ranker"
DIGEST = "sha256:" + "ab" * 32
FAST_RETRIES = {"MODELRAIL_RETRY_ATTEMPTS": "2", "MODELRAIL_RETRY_BASE_DELAY": "0.05",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "5", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}


class Workspace:
    def __init__(self, root: Path, mlflow: MlflowServer, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.mlflow = root, mlflow
        self.monkeypatch, self.capsys = monkeypatch, capsys
        self.model = f"img-{uuid.uuid4().hex[:8]}"
        self.sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        (root / "modelrail.yaml").write_text(
            f"model: {self.model}\nregistry: {{tracking_uri: env:MLFLOW_TRACKING_URI}}\n",
            encoding="utf-8")
        self.output = root / "github_output"
        self.calls = 0

    def run(self, *args: str) -> tuple[int, str, dict[str, Any], dict[str, str]]:
        """`modelrail ARGS --json` in-process: (exit code, stdout+stderr, json, outputs)."""
        self.calls += 1
        result = self.root / f"result-{self.calls}.json"
        self.output.write_text("", encoding="utf-8")
        self.capsys.readouterr()
        with self.monkeypatch.context() as patch:
            patch.chdir(self.root)
            code = main([*args, "--json", str(result)])
        captured = self.capsys.readouterr()
        payload = json.loads(result.read_text()) if result.exists() else {}
        outputs = parse_file_command(self.output.read_text(encoding="utf-8"))
        return code, captured.out + captured.err, payload, outputs

    def register(self, repo_root: Path) -> int:
        model_dir = self.root / "model"
        model_dir.mkdir()
        (model_dir / "model.pkl").write_bytes(b"not really a pickle")
        code, text, payload, _ = self.run(
            "register", "--model-dir", str(model_dir),
            "--dvc-lock", str(repo_root / "example-model" / "dvc.lock"))
        assert code == 0, text
        return int(payload["version"])


@pytest.fixture
def ws(tmp_path: Path, mlflow: MlflowServer, monkeypatch: pytest.MonkeyPatch,
       capsys: pytest.CaptureFixture[str]) -> Workspace:
    for key in list(os.environ):
        if key.startswith(("GITHUB_", "MLFLOW_", "MODELRAIL_", "SOURCE_DATE_EPOCH")):
            monkeypatch.delenv(key)
    for key, value in FAST_RETRIES.items():
        monkeypatch.setenv(key, value)
    workspace = Workspace(tmp_path, mlflow, monkeypatch, capsys)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.url)
    monkeypatch.setenv("GITHUB_SHA", workspace.sha)
    monkeypatch.setenv("GITHUB_OUTPUT", str(workspace.output))
    return workspace


def test_image_meta_reads_tags_labels_and_build_args_from_the_version(
        ws: Workspace, repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version = ws.register(repo_root)
    info = MlflowClient(ws.mlflow.url).get_model_version(ws.model, str(version))
    data_hash = dvc_lock_lineage(repo_root / "example-model" / "dvc.lock").digest
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/ranker")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("GITHUB_SHA", "0" * 40)  # the version's git_sha tag wins

    code, text, payload, outputs = ws.run("image-meta", "--version", str(version),
                                          "--image", IMAGE)

    assert code == 0, text
    tags = [f"{IMAGE}:v{version}", f"{IMAGE}:sha-{ws.sha[:12]}"]
    assert payload["tags"] == tags
    assert outputs["tags"].splitlines() == tags
    assert outputs["image"] == IMAGE
    assert outputs["git-sha"] == ws.sha
    build_args = dict(line.split("=", 1) for line in outputs["build-args"].splitlines())
    assert build_args == {
        "MODEL_NAME": ws.model, "MODEL_VERSION": str(version), "MLFLOW_RUN_ID": info.run_id,
        "DVC_DATA_HASH": data_hash, "GIT_SHA": ws.sha, "CREATED": "2023-11-14T22:13:20Z",
        "SOURCE": "https://github.com/acme/ranker"}
    labels = dict(line.split("=", 1) for line in outputs["labels"].splitlines())
    assert labels == payload["labels"]
    assert labels["io.modelrail.model.name"] == ws.model
    assert labels["io.modelrail.model.version"] == str(version)
    assert labels["io.modelrail.model.mlflow-run-id"] == info.run_id
    assert labels["io.modelrail.model.dvc-data-hash"] == data_hash
    assert labels["io.modelrail.model.git-sha"] == ws.sha
    assert labels["org.opencontainers.image.revision"] == ws.sha
    assert labels["org.opencontainers.image.version"] == str(version)
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/ranker"
    # Every build arg is an ARG of the real Dockerfile.
    dockerfile = (repo_root / "example-model" / "Dockerfile").read_text(encoding="utf-8")
    declared = dockerfile.split("\nARG MODEL_NAME=", 1)[1].split("\nENV ", 1)[0]
    for name in build_args:
        assert name == "MODEL_NAME" or f" {name}=" in declared, name


def test_image_meta_takes_the_name_from_the_policy_and_refuses_bad_input(
        ws: Workspace, repo_root: Path) -> None:
    version = ws.register(repo_root)
    code, text, _, _ = ws.run("image-meta", "--version", str(version))
    assert code == 2
    assert "image.name" in text
    policy = ws.root / "modelrail.yaml"
    policy.write_text(policy.read_text() + "image: {name: ghcr.io/acme/ranker}\n")
    code, text, payload, _ = ws.run("image-meta", "--version", str(version))
    assert code == 0, text
    assert payload["tags"][0] == f"ghcr.io/acme/ranker:v{version}"
    for bad in ("ghcr.io/Acme/Ranker", "ghcr.io/acme/ranker:v1", "a b"):
        code, text, _, _ = ws.run("image-meta", "--version", str(version), "--image", bad)
        assert code == 2
        assert "--image" in text
    code, text, _, _ = ws.run("image-meta", "--version", str(version + 50), "--image", IMAGE)
    assert code == 2
    assert f"no version {version + 50}" in text


def test_image_digest_records_the_digest_idempotently(
        ws: Workspace, repo_root: Path) -> None:
    version = ws.register(repo_root)
    client = MlflowClient(ws.mlflow.url)

    code, text, payload, outputs = ws.run(
        "image-digest", "--version", str(version), "--digest", DIGEST,
        "--image", f"{IMAGE}:v{version}")
    assert code == 0, text
    tags = client.get_model_version(ws.model, str(version)).tags
    assert tags["image_digest"] == DIGEST
    assert tags["image"] == f"{IMAGE}@{DIGEST}"
    assert outputs == {"image": f"{IMAGE}@{DIGEST}", "digest": DIGEST, "changed": "true"}
    assert payload["changed"] is True

    code, text, payload, outputs = ws.run(
        "image-digest", "--version", str(version), "--digest", DIGEST, "--image", IMAGE)
    assert code == 0, text
    assert outputs["changed"] == "false"
    assert "nothing changed" in text

    rebuilt = "sha256:" + "cd" * 32
    code, text, payload, _ = ws.run(
        "image-digest", "--version", str(version), "--digest", rebuilt, "--image", IMAGE)
    assert code == 0, text
    assert payload["previous_digest"] == DIGEST
    assert client.get_model_version(ws.model, str(version)).tags["image_digest"] == rebuilt


@pytest.mark.parametrize("digest", ["sha256:abc", "ab" * 32, "sha256:" + "AB" * 32, "md5:00"])
def test_image_digest_rejects_a_bad_digest_with_exit_2(ws: Workspace, digest: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "modelrail", "image-digest", "--version", "1",
         "--digest", digest, "--image", IMAGE], cwd=ws.root, capture_output=True, text=True,
        timeout=120, check=False, env={**os.environ, "GITHUB_OUTPUT": ""})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--digest" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_image_digest_refuses_a_reference_with_another_digest(
        ws: Workspace, repo_root: Path) -> None:
    version = ws.register(repo_root)
    other = "sha256:" + "ef" * 32
    code, text, _, _ = ws.run("image-digest", "--version", str(version), "--digest", DIGEST,
                              "--image", f"{IMAGE}@{other}")
    assert code == 2
    assert other in text
