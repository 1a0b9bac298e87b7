"""The serving image of a model version: its tags, labels and build args, and its digest.

One place for that logic, so the workflow, a laptop build and the tests agree; the
names and values are a contract: docs/mlflow.md ("The serving image's metadata").
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelrail.errors import UsageError
from modelrail.registry.client import Registry, VersionInfo
from modelrail.registry.lineage import (
    DVC_DATA_HASH,
    GIT_SHA,
    IMAGE_DIGEST,
    commit_time,
    resolve_git_sha,
)

IMAGE_TAG = "image"  # the model version tag holding `<image>@<digest>`
SHORT_SHA = 12

# distribution/reference grammar: [host[:port]/]path, lowercase path components.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")


@dataclass(frozen=True)
class ImageMeta:
    image: str
    version: VersionInfo
    git_sha: str
    created: str
    source: str

    @property
    def tags(self) -> list[str]:
        return [f"{self.image}:v{self.version.version}",
                f"{self.image}:sha-{self.git_sha[:SHORT_SHA]}"]

    @property
    def model(self) -> str:
        return self.version.name

    def build_args(self) -> dict[str, str]:
        """The Dockerfile's ARG names; the Dockerfile turns them into the same labels."""
        return {
            "MODEL_NAME": self.model,
            "MODEL_VERSION": str(self.version.version),
            "MLFLOW_RUN_ID": self.version.run_id or "",
            "DVC_DATA_HASH": self.version.tags.get(DVC_DATA_HASH, ""),
            "GIT_SHA": self.git_sha,
            "CREATED": self.created,
            "SOURCE": self.source,
        }

    def labels(self) -> dict[str, str]:
        """Labels with a value (an empty label says nothing and hides the Dockerfile's)."""
        args = self.build_args()
        labels = {
            "org.opencontainers.image.title": args["MODEL_NAME"],
            "org.opencontainers.image.version": args["MODEL_VERSION"],
            "org.opencontainers.image.revision": args["GIT_SHA"],
            "org.opencontainers.image.source": args["SOURCE"],
            "org.opencontainers.image.created": args["CREATED"],
            "io.modelrail.model.name": args["MODEL_NAME"],
            "io.modelrail.model.version": args["MODEL_VERSION"],
            "io.modelrail.model.mlflow-run-id": args["MLFLOW_RUN_ID"],
            "io.modelrail.model.dvc-data-hash": args["DVC_DATA_HASH"],
            "io.modelrail.model.git-sha": args["GIT_SHA"],
        }
        return {key: value for key, value in labels.items() if value}

    def to_json(self) -> dict[str, object]:
        return {"image": self.image, "model": self.model, "version": self.version.version,
                "git_sha": self.git_sha, "tags": self.tags, "labels": self.labels(),
                "build_args": self.build_args()}


def lines(values: Mapping[str, str]) -> str:
    """`key=value` per line: what docker/build-push-action's labels and build-args take."""
    return "\n".join(f"{key}={value}" for key, value in values.items())


def validate_image_name(name: str, where: str) -> str:
    """An image repository without tag or digest, e.g. `ghcr.io/acme/ranker`."""
    if not _NAME.fullmatch(name) or len(name) > 255:
        raise UsageError(f"{where}: {name!r} is not an image name (lowercase "
                         "[registry[:port]/]path, no tag or digest, e.g. ghcr.io/acme/ranker)")
    return name


def split_reference(ref: str, where: str) -> tuple[str, str | None, str | None]:
    """`name[:tag][@digest]` → (name, tag, digest), each part checked."""
    rest, _, digest = ref.partition("@")
    name, tag = rest, None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise UsageError(f"{where}: {tag!r} in {ref!r} is not a valid image tag")
    validate_image_name(name, where)
    if digest:
        validate_digest(digest, where)
    return name, tag, digest or None


def validate_digest(digest: str, where: str = "--digest") -> str:
    if not _DIGEST.fullmatch(digest):
        raise UsageError(f"{where}: {digest!r} is not an image digest "
                         "(sha256: and 64 lowercase hex digits)")
    return digest


def read_version(registry: Registry, name: str, version: int) -> VersionInfo:
    found = registry.get_version(name, version)
    if found is None:
        raise UsageError(f"--version {version}: {name} has no version {version} in the "
                         f"registry at {registry.tracking_uri}")
    return found


def image_meta(registry: Registry, model: str, version: int, image: str, *,
               env: Mapping[str, str], cwd: Path) -> ImageMeta:
    """Everything the build needs to know about `model` version `version`."""
    info = read_version(registry, model, version)
    git_sha = info.tags.get(GIT_SHA) or resolve_git_sha(env, cwd)
    return ImageMeta(image=image, version=info, git_sha=git_sha.lower(),
                     created=_commit_time(git_sha, env, cwd), source=_source_url(env))


def _commit_time(sha: str, env: Mapping[str, str], cwd: Path) -> str:
    """The commit's time (reproducible builds), else SOURCE_DATE_EPOCH's, else empty."""
    committed = commit_time(sha, cwd)
    if committed:
        return committed
    epoch = env.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        from datetime import UTC, datetime  # noqa: PLC0415 - only on this path

        return datetime.fromtimestamp(int(epoch), UTC).isoformat().replace("+00:00", "Z")
    return ""


def _source_url(env: Mapping[str, str]) -> str:
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY", "")
    return f"{server}/{repository}" if server and repository else ""


@dataclass(frozen=True)
class DigestRecord:
    version: VersionInfo
    image: str  # `<name>@<digest>`
    digest: str
    changed: bool
    previous: str | None

    def to_json(self) -> dict[str, object]:
        return {"model": self.version.name, "version": self.version.version,
                "image": self.image, "digest": self.digest, "changed": self.changed,
                "previous_digest": self.previous}


def record_digest(registry: Registry, model: str, version: int, ref: str,
                  digest: str) -> DigestRecord:
    """Tag the version with `image_digest` and `image`; writes only what differs."""
    validate_digest(digest)
    name, _tag, ref_digest = split_reference(ref, "--image")
    if ref_digest is not None and ref_digest != digest:
        raise UsageError(f"--image {ref} names digest {ref_digest}, but --digest is {digest}")
    info = read_version(registry, model, version)
    wanted = {IMAGE_DIGEST: digest, IMAGE_TAG: f"{name}@{digest}"}
    missing = {key: value for key, value in wanted.items() if info.tags.get(key) != value}
    registry.set_version_tags(model, version, missing)
    return DigestRecord(info, wanted[IMAGE_TAG], digest, changed=bool(missing),
                        previous=info.tags.get(IMAGE_DIGEST))
