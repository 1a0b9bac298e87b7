"""The version stamp of every `--json` document, and the check of it where one is read back.

A document starts with `"kind"` (which command wrote it: `gate`, `log-check`, ...) and
`"schema_version"` (the major version of that kind's shape, `schemas/<kind>.schema.json`).
Only a breaking change raises the version (docs/compatibility.md); a new field does not.
A document without a version was written by a modelrail from before the stamp: it is read
as version 1, the shape it then had (docs/json-outputs.md#versions).
"""

from collections.abc import Mapping

from modelrail.errors import UsageError

SCHEMA_VERSION = 1
"""The version this modelrail writes."""
UNDERSTOOD_VERSIONS = (1,)
"""The versions this modelrail reads."""


def versioned(kind: str, payload: Mapping[str, object]) -> dict[str, object]:
    """`payload` as a document: the kind and the schema version first, then its fields."""
    return {"kind": kind, "schema_version": SCHEMA_VERSION, **payload}


def check_version(document: Mapping[str, object], kind: str, label: str) -> None:
    """A UsageError naming `label` and the field when `document` is not a `kind` document
    of a version this modelrail understands (absent fields: an older modelrail wrote it)."""
    version = document.get("schema_version", 1)
    if type(version) is not int or version not in UNDERSTOOD_VERSIONS:
        understood = ", ".join(str(v) for v in UNDERSTOOD_VERSIONS)
        raise UsageError(f"{label}: schema_version {version!r} is not understood: this "
                         f"modelrail reads {kind} documents of schema_version {understood} "
                         "(a newer modelrail wrote it? use the same version for both jobs)")
    written = document.get("kind", kind)
    if written != kind:
        raise UsageError(f"{label}: kind {written!r}: expected a {kind!r} document")
