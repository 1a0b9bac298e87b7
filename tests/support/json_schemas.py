"""The published JSON Schemas (`schemas/`), loaded once for the tests: one per `--json`
document kind (`schemas/<kind>.schema.json`) and `modelrail.schema.json` for the policy.

Cross-file references (`canary-run` uses `analyze`'s metric verdict) resolve by `$id`
through one registry of every file, as an editor resolves them by URL.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.support.paths import REPO_ROOT

SCHEMAS = REPO_ROOT / "schemas"
POLICY_SCHEMA = SCHEMAS / "modelrail.schema.json"
SUFFIX = ".schema.json"


def document_kinds() -> list[str]:
    """Every `--json` document kind a schema is published for."""
    return sorted(path.name.removesuffix(SUFFIX) for path in SCHEMAS.glob(f"*{SUFFIX}")
                  if path != POLICY_SCHEMA)


@cache
def _registry() -> Registry:
    resources = [Resource.from_contents(json.loads(path.read_text(encoding="utf-8")))
                 for path in sorted(SCHEMAS.glob(f"*{SUFFIX}"))]
    return Registry().with_resources((str(resource.id()), resource) for resource in resources)


@cache
def validator(path: Path) -> Draft202012Validator:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def document_validator(kind: str) -> Draft202012Validator:
    return validator(SCHEMAS / f"{kind}{SUFFIX}")


def problems(schema: Draft202012Validator, data: Any) -> list[str]:
    """Every way `data` breaks `schema`, as `$.json.path: message`, empty when valid."""
    return [f"{error.json_path}: {error.message}" for error in schema.iter_errors(data)]


def document_problems(document: dict[str, Any]) -> list[str]:
    """What is wrong with a `--json` document, judged by its own kind's schema."""
    kind = document.get("kind")
    if not isinstance(kind, str) or not (SCHEMAS / f"{kind}{SUFFIX}").is_file():
        return [f"$.kind: no schema published for kind {kind!r}"]
    return problems(document_validator(kind), document)
