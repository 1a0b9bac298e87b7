"""The real serving image: debootstrap base, `dvc repro`, buildah build, push, inspect, run.

Run with `pytest tests/image` (root; tools from scripts/install-system-packages.sh). A cold session
takes a few minutes: debootstrap (cached under /var/tmp/modelrail-base afterwards), pip
downloads in the build, vfs layer copies. Every number measured is printed at the end.
"""

import hashlib
import importlib
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.labs.image import (
    DOCKERFILE_BASE,
    LOCAL_BASE,
    Buildah,
    BuildResult,
    build_image,
    compressed_size,
    copy_model_repo,
    dvc_data_hash,
    dvc_repro,
    healthcheck_command,
    host_ca_volumes,
    run,
    run_in_image,
    serve_image,
    skopeo_inspect,
)
from tests.support.paths import REPO_ROOT
from tests.support.services.registry import Registry, registry_tags

IMAGE = "localhost/ctr-ranker"
MODEL_VERSION = "7"
MLFLOW_RUN_ID = "0123456789abcdef0123456789abcdef"  # what build-image.yml passes from MLflow
ROW = {"position": 1, "category": 4, "popularity": 0.42, "price": 19.9, "activity_level": 2,
       "age_bucket": 3, "device": 0, "region": 5, "hour_of_day": 21}
MB = 1_000_000


def _git(*args: str) -> str:
    """Read-only git queries on this checkout (commit and its time), with fallbacks."""
    try:
        return run(["git", "-C", str(REPO_ROOT), *args], timeout=30).strip()
    except Exception:  # not a git checkout (e.g. an exported tree)
        return ""


@pytest.fixture(scope="session")
def git_sha() -> str:
    return _git("rev-parse", "HEAD") or "0" * 40


@pytest.fixture(scope="session")
def source_epoch() -> int:
    """SOURCE_DATE_EPOCH: the commit time, so the build is repeatable (--timestamp)."""
    return int(_git("log", "-1", "--format=%ct") or 1_700_000_000)


def _dvc() -> Path | None:
    """The project venv's dvc: its `python` runs the pipeline's stages."""
    beside = Path(sys.executable).parent / "dvc"
    return beside if beside.is_file() else None


@pytest.fixture(scope="session")
def model_context(tmp_path_factory: pytest.TempPathFactory,
                  image_metrics: dict[str, Any]) -> Path:
    """A copy of example-model after `dvc repro`: the build context, models/model.pkl in it."""
    repo = copy_model_repo(tmp_path_factory.mktemp("context") / "example-model")
    dvc = _dvc()
    if dvc is None:
        pytest.fail(f"dvc not found beside {sys.executable} (make install puts it there)")
    started = time.monotonic()
    dvc_repro(repo, dvc)
    image_metrics["dvc_repro_seconds"] = time.monotonic() - started
    assert (repo / "models" / "model.pkl").is_file()
    return repo


@pytest.fixture(scope="session")
def build_args(model_context: Path, git_sha: str, source_epoch: int) -> dict[str, str]:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(source_epoch))
    return {
        "MODEL_NAME": "ctr-ranker",
        "MODEL_VERSION": MODEL_VERSION,
        "GIT_SHA": git_sha,
        "MLFLOW_RUN_ID": MLFLOW_RUN_ID,
        "DVC_DATA_HASH": dvc_data_hash(model_context),
        "CREATED": created,
        "SOURCE": "https://github.com/modelrail/modelrail",
    }


@pytest.fixture(scope="session")
def build_flags(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return host_ca_volumes(tmp_path_factory.mktemp("build-config"))


@pytest.fixture(scope="session")
def built(buildah: Buildah, base_image: str, model_context: Path, build_args: dict[str, str],
          build_flags: list[str], source_epoch: int,
          image_metrics: dict[str, Any]) -> BuildResult:
    """The cold build: a fresh store holding only the base image, no cached layers."""
    result = build_image(buildah, model_context, f"{IMAGE}:{MODEL_VERSION}", build_args,
                         timestamp=source_epoch, extra=build_flags)
    image_metrics["build_cold_seconds"] = result.seconds
    image_metrics["image_uncompressed_bytes"] = buildah.image_size(result.image)
    return result


@pytest.fixture(scope="session")
def image_config(buildah: Buildah, built: BuildResult) -> dict[str, Any]:
    return buildah.inspect_image(built.image)


def test_base_image_has_python_with_venv(buildah: Buildah, base_image: str) -> None:
    out = run_in_image(buildah, LOCAL_BASE, [
        "python3", "-c",
        "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])",
    ])
    assert out.strip() == "3.11"
    # Tagged under the Dockerfile's default FROM too, so the Dockerfile builds unchanged.
    same = buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", DOCKERFILE_BASE)
    assert base_image.startswith(same.strip()) or same.strip().startswith(base_image)


def test_image_config(image_config: dict[str, Any], build_args: dict[str, str]) -> None:
    config = image_config["Docker"]["config"]
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Cmd"] == ["uvicorn", "--factory", "ctr_serving.app:create_app"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["MODEL_PATH"] == "/opt/model"
    assert env["MODEL_VERSION"] == MODEL_VERSION
    assert env["MODEL_NAME"] == "ctr-ranker"
    assert env["PATH"].startswith("/opt/venv/bin:")


def test_image_labels(image_config: dict[str, Any], build_args: dict[str, str]) -> None:
    labels = image_config["Docker"]["config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == "ctr-ranker"
    assert labels["org.opencontainers.image.version"] == MODEL_VERSION
    assert labels["org.opencontainers.image.revision"] == build_args["GIT_SHA"]
    assert labels["org.opencontainers.image.created"] == build_args["CREATED"]
    assert labels["org.opencontainers.image.source"] == build_args["SOURCE"]
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert "ctr-ranker" in labels["org.opencontainers.image.description"]
    assert labels["io.modelrail.model.name"] == "ctr-ranker"
    assert labels["io.modelrail.model.version"] == MODEL_VERSION
    assert labels["io.modelrail.model.mlflow-run-id"] == MLFLOW_RUN_ID
    assert labels["io.modelrail.model.dvc-data-hash"] == build_args["DVC_DATA_HASH"]
    assert labels["io.modelrail.model.git-sha"] == build_args["GIT_SHA"]


def test_runtime_stage_holds_no_build_tools(buildah: Buildah, built: BuildResult) -> None:
    out = run_in_image(buildah, built.image, ["python", "-c", (
        "import importlib.util as u, os, json; print(json.dumps({"
        "'pip': u.find_spec('pip') is not None, "
        "'lock': os.path.exists('/tmp/serving-requirements.txt'), "
        "'uid': os.getuid(), "
        "'training_stack': [m for m in ('sklearn', 'scipy', 'pandas', 'joblib') "
        "if u.find_spec(m) is not None], "
        "'model': sorted(os.listdir('/opt/model'))}))"
    )])
    # The model is served from the exported scorer with numpy alone: no pickle, no sklearn.
    assert json.loads(out) == {"pip": False, "lock": False, "uid": 10001, "training_stack": [],
                               "model": ["scorer.json"]}


def test_scorer_in_image_is_the_trained_model(buildah: Buildah, built: BuildResult,
                                              model_context: Path) -> None:
    """Lineage: the baked-in scorer names the exact model.pkl that `dvc repro` wrote."""
    scorer = json.loads(run_in_image(buildah, built.image, ["cat", "/opt/model/scorer.json"]))
    pickled = (model_context / "models" / "model.pkl").read_bytes()
    source = scorer["model"]["source"]
    assert source["sha256"] == hashlib.sha256(pickled).hexdigest()
    assert source["max_abs_diff"] <= 1e-9
    assert source["verified_rows"] >= 2000


def test_image_size(built: BuildResult, image_metrics: dict[str, Any]) -> None:
    size = image_metrics["image_uncompressed_bytes"]
    # The target for the example model (the scikit-learn runtime made it 400 MB).
    assert size < 300 * MB, f"image is {size / MB:.0f} MB"


def test_unchanged_rebuild_is_fully_cached(buildah: Buildah, built: BuildResult,
                                           model_context: Path, build_args: dict[str, str],
                                           build_flags: list[str], source_epoch: int,
                                           image_metrics: dict[str, Any]) -> None:
    again = build_image(buildah, model_context, f"{IMAGE}:{MODEL_VERSION}", build_args,
                        timestamp=source_epoch, extra=build_flags)
    image_metrics["build_unchanged_seconds"] = again.seconds
    assert again.image_id == built.image_id
    assert "pip install" not in _executed_run_steps(again.output)


def test_app_change_rebuild_reuses_the_dependency_layer(
        buildah: Buildah, built: BuildResult, model_context: Path, build_args: dict[str, str],
        build_flags: list[str], source_epoch: int, image_metrics: dict[str, Any],
        tmp_path: Path) -> None:
    context = tmp_path / "context"
    shutil.copytree(model_context, context, ignore=shutil.ignore_patterns(".git", ".dvc"))
    app_init = context / "serving" / "ctr_serving" / "__init__.py"
    app_init.write_text(app_init.read_text() + "# app-only change\n")
    rebuilt = build_image(buildah, context, f"{IMAGE}:{MODEL_VERSION}-app-change", build_args,
                          timestamp=source_epoch, extra=build_flags)
    image_metrics["build_app_change_seconds"] = rebuilt.seconds
    assert rebuilt.image_id != built.image_id
    assert _step_used_cache(rebuilt.output, "pip install"), rebuilt.output[-3000:]
    assert _step_used_cache(rebuilt.output, "COPY --from=builder /opt/venv")
    assert not _step_used_cache(rebuilt.output, "COPY serving/ctr_serving")


def _steps(output: str) -> list[tuple[str, bool]]:
    """(instruction, served from cache) for each STEP line of `buildah build` output."""
    steps: list[tuple[str, bool]] = []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "STEP " in line and ": " in line:
            following = lines[index + 1] if index + 1 < len(lines) else ""
            steps.append((line.split(": ", 1)[1], following.startswith("--> Using cache")))
    return steps


def _step_used_cache(output: str, needle: str) -> bool:
    matches = [cached for instruction, cached in _steps(output) if needle in instruction]
    assert matches, f"no step containing {needle!r}"
    return all(matches)


def _executed_run_steps(output: str) -> str:
    return "\n".join(i for i, cached in _steps(output) if not cached and i.startswith("RUN"))


@pytest.fixture(scope="session")
def pushed(buildah: Buildah, built: BuildResult, registry: Registry, git_sha: str,
           tmp_path_factory: pytest.TempPathFactory,
           image_metrics: dict[str, Any]) -> dict[str, str]:
    """Pushed like build-image.yml tags it: by model version and by git sha."""
    digests: dict[str, str] = {}
    work = tmp_path_factory.mktemp("push")
    for tag in (MODEL_VERSION, f"sha-{git_sha[:12]}"):
        digest_file = work / f"{tag}.digest"
        started = time.monotonic()
        buildah("push", "--tls-verify=false", "--digestfile", str(digest_file), built.image,
                f"docker://{registry.host}/ctr-ranker:{tag}", timeout=600)
        image_metrics[f"push_{'version' if tag == MODEL_VERSION else 'sha'}_seconds"] = (
            time.monotonic() - started)
        digests[tag] = digest_file.read_text().strip()
    return digests


def test_push_and_inspect_with_skopeo(registry: Registry, pushed: dict[str, str],
                                      build_args: dict[str, str], git_sha: str,
                                      image_metrics: dict[str, Any]) -> None:
    reference = f"docker://{registry.host}/ctr-ranker:{MODEL_VERSION}"
    inspected = skopeo_inspect(reference)
    assert inspected["Digest"] == pushed[MODEL_VERSION]
    # Same content under both tags: one manifest, one digest.
    assert pushed[MODEL_VERSION] == pushed[f"sha-{git_sha[:12]}"]
    assert set(inspected["RepoTags"]) == {MODEL_VERSION, f"sha-{git_sha[:12]}"}
    assert registry_tags(registry, "ctr-ranker") == sorted(inspected["RepoTags"])
    labels = inspected["Labels"]
    assert labels["io.modelrail.model.version"] == MODEL_VERSION
    assert labels["io.modelrail.model.git-sha"] == git_sha
    assert labels["io.modelrail.model.dvc-data-hash"] == build_args["DVC_DATA_HASH"]
    assert labels["org.opencontainers.image.revision"] == git_sha
    assert inspected["Os"] == "linux"

    manifest = skopeo_inspect(reference, raw=True)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    # --raw: the config blob as pushed (skopeo's OCI conversion drops the HEALTHCHECK).
    config = skopeo_inspect(reference, config=True, raw=True)
    assert "/healthz" in " ".join(config["config"]["Healthcheck"]["Test"])
    image_metrics["image_digest"] = inspected["Digest"]
    image_metrics["image_layers"] = len(manifest["layers"])
    image_metrics["image_compressed_bytes"] = compressed_size(manifest)
    assert compressed_size(manifest) < 100 * MB  # 74 MB measured (138 MB with scikit-learn)


@pytest.fixture(scope="session")
def serving(buildah: Buildah, built: BuildResult, tmp_path_factory: pytest.TempPathFactory,
            image_metrics: dict[str, Any]) -> Iterator[tuple[str, Path, Any]]:
    started = time.monotonic()
    with serve_image(buildah, built.image, tmp_path_factory.mktemp("serve"), env={}) as running:
        image_metrics["container_ready_seconds"] = time.monotonic() - started
        port = running.url.rsplit(":", 1)[1]
        yield running.url, running.stdout, port


def test_server_in_image_answers(serving: tuple[str, Path, Any], model_context: Path) -> None:
    url, stdout, _ = serving
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["version"] == MODEL_VERSION

    response = requests.post(f"{url}/predict", json={"rows": [ROW], "user_id": "u-1"},
                             timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "ctr-ranker"
    assert body["version"] == MODEL_VERSION
    # The same artifact scored on the host (same pinned scikit-learn) gives the same number.
    joblib, pandas = importlib.import_module("joblib"), importlib.import_module("pandas")
    model = joblib.load(model_context / "models" / "model.pkl")
    expected = model.predict_proba(pandas.DataFrame([ROW])[list(model.feature_names_in_)])[0, 1]
    assert body["predictions"] == pytest.approx([expected], rel=1e-9)

    bad = requests.post(f"{url}/predict", json={"rows": [{**ROW, "price": "x"}]}, timeout=10)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "rows", 0, "price"]

    # The prediction log goes to stdout (the container log), one JSON line per row.
    deadline = time.monotonic() + 10
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not records:
        records = [json.loads(line) for line in stdout.read_text().splitlines()
                   if line.startswith("{") and body["request_id"] in line]
        time.sleep(0.2)
    assert len(records) == 1
    assert records[0]["user_id"] == "u-1"
    assert records[0]["prediction"] == body["predictions"][0]


def _samples(text: str, name: str) -> list[tuple[str, float]]:
    """(label text, value) of every sample ``name{...} value`` in a text exposition."""
    found = []
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1:].rsplit("} ", 1)
            found.append((labels, float(value)))
    return found


def test_metrics_in_image(serving: tuple[str, Path, Any]) -> None:
    url, _, _ = serving
    requests.post(f"{url}/predict", json={"rows": [ROW, ROW]}, timeout=10)
    response = requests.get(f"{url}/metrics", timeout=5)
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    version = f'version="{MODEL_VERSION}"'
    info = [v for labels, v in _samples(text, "modelrail_model_info") if version in labels]
    assert info == [1.0]
    ok = [v for labels, v in _samples(text, "modelrail_requests_total")
          if version in labels and 'code="200"' in labels]
    assert ok
    assert ok[0] >= 1.0
    assert _samples(text, "modelrail_request_duration_seconds_bucket")
    scores = _samples(text, "modelrail_prediction_score_count")
    assert scores
    assert scores[0][1] >= 2.0


def test_healthcheck_command_passes(buildah: Buildah, built: BuildResult,
                                    image_config: dict[str, Any],
                                    serving: tuple[str, Path, Any]) -> None:
    _, _, port = serving
    command = healthcheck_command(image_config)
    run_in_image(buildah, built.image, command, env={"UVICORN_PORT": str(port)})
    with pytest.raises(Exception, match="exited"):
        run_in_image(buildah, built.image, command, env={"UVICORN_PORT": "9"})



def _normalized_config(buildah: Buildah, image: str) -> dict[str, Any]:
    """The image config blob minus what buildah 1.28 stamps per build, not per content.

    Its docker-format config records the working container's id and hostname and, with
    --layers, the id of each step's parent image ("parent", history comments "FROM <id>").
    """
    config: dict[str, Any] = json.loads(buildah.inspect_image(image)["Config"])
    config.pop("container", None)
    config.pop("parent", None)
    for section in ("config", "container_config"):
        config.get(section, {}).pop("Hostname", None)
    for entry in config.get("history", []):
        if str(entry.get("comment", "")).startswith("FROM "):
            entry.pop("comment")
    return config


def test_no_cache_rebuild_is_reproducible(
        buildah: Buildah, built: BuildResult, model_context: Path, build_args: dict[str, str],
        build_flags: list[str], source_epoch: int, image_metrics: dict[str, Any]) -> None:
    """Same sources + same SOURCE_DATE_EPOCH, no cache at all: the same layers, byte for byte.

    Holds because the lock pins every wheel by hash, .pyc files are hash-based, no step
    stamps the date (no useradd) and --timestamp fixes file times and history dates. The
    image id still differs: see _normalized_config for the per-build fields buildah adds.
    """
    fresh = build_image(buildah, model_context, f"{IMAGE}:{MODEL_VERSION}-no-cache",
                        build_args, timestamp=source_epoch, extra=[*build_flags, "--no-cache"])
    image_metrics["build_no_cache_seconds"] = fresh.seconds
    first = buildah.inspect_image(built.image)["Docker"]["rootfs"]["diff_ids"]
    second = buildah.inspect_image(fresh.image)["Docker"]["rootfs"]["diff_ids"]
    assert second == first
    assert _normalized_config(buildah, fresh.image) == _normalized_config(buildah, built.image)
