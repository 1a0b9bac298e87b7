"""Image names, references, digests and the labels/build args of a model version."""

from pathlib import Path

import pytest
from modelrail.config import parse_config
from modelrail.errors import UsageError
from modelrail.registry.client import VersionInfo
from modelrail.registry.image_meta import (
    ImageMeta,
    lines,
    split_reference,
    validate_digest,
    validate_image_name,
)

DIGEST = "sha256:" + "0a" * 32


@pytest.mark.parametrize("name", ["ghcr.io/acme/ctr-ranker", "127.0.0.1:5000/a/b",
                                  "localhost/ranker", "ranker", "reg.io/a__b/c.d-e"])
def test_valid_image_names(name: str) -> None:
    assert validate_image_name(name, "--image") == name


@pytest.mark.parametrize("name", ["ghcr.io/Acme/ranker", "ghcr.io/acme/ranker:v1", "a b",
                                  "", "ghcr.io/acme/", "-x/ranker", f"r@{DIGEST}"])
def test_invalid_image_names_name_the_flag(name: str) -> None:
    with pytest.raises(UsageError, match="--image"):
        validate_image_name(name, "--image")


def test_split_reference() -> None:
    assert split_reference("127.0.0.1:5000/a/b:v3", "--image") == ("127.0.0.1:5000/a/b", "v3",
                                                                    None)
    assert split_reference(f"ghcr.io/a/b@{DIGEST}", "--image") == ("ghcr.io/a/b", None, DIGEST)
    assert split_reference("127.0.0.1:5000/a/b", "--image") == ("127.0.0.1:5000/a/b", None,
                                                                 None)
    with pytest.raises(UsageError, match="tag"):
        split_reference("ghcr.io/a/b:-bad", "--image")


@pytest.mark.parametrize("digest", ["sha256:abc", "0a" * 32, "sha256:" + "0A" * 32,
                                    "sha1:" + "0a" * 20, f"{DIGEST} "])
def test_bad_digests(digest: str) -> None:
    with pytest.raises(UsageError, match="--digest"):
        validate_digest(digest)


def test_labels_and_build_args_follow_the_version() -> None:
    version = VersionInfo(name="ranker", version=7, run_id="r1",
                          tags={"dvc_data_hash": "d" * 64})
    meta = ImageMeta(image="ghcr.io/acme/ranker", version=version, git_sha="ab" * 20,
                     created="", source="")
    assert meta.tags == ["ghcr.io/acme/ranker:v7", f"ghcr.io/acme/ranker:sha-{'ab' * 6}"]
    assert meta.build_args()["MLFLOW_RUN_ID"] == "r1"
    labels = meta.labels()
    assert "org.opencontainers.image.created" not in labels  # empty: the Dockerfile's stays
    assert labels["io.modelrail.model.dvc-data-hash"] == "d" * 64
    assert lines({"a": "1", "b": "x=y"}) == "a=1\nb=x=y"


def test_policy_image_section_is_strict(tmp_path: Path) -> None:
    source = tmp_path / "modelrail.yaml"
    config = parse_config({"model": "m", "image": {"name": "ghcr.io/acme/m"}}, source)
    assert config.image is not None
    assert config.image.name == "ghcr.io/acme/m"
    with pytest.raises(UsageError, match=r"image\.tag"):
        parse_config({"model": "m", "image": {"name": "x", "tag": "y"}}, source)
    with pytest.raises(UsageError, match=r"image\.name"):
        parse_config({"model": "m", "image": {}}, source)
