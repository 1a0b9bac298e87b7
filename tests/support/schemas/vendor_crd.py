"""Vendor one kind and version of a published CustomResourceDefinition: its
`openAPIV3Schema`, whole and unchanged, as JSON, with a `$comment` naming where it came
from. The tests read these files (tests/support/schemas/crd.py); nothing is fetched at
test time. To update one, check out the project's release tag and run, from the
repository root:

    python -m tests.support.schemas.vendor_crd CRD.yaml KIND VERSION OUT.json \\
        --source "github.com/OWNER/REPO PATH at TAG (commit SHA)"
"""

import argparse
import json
from pathlib import Path
from typing import Any

import yaml


def crd_schema(crd_text: str, kind: str, version: str) -> dict[str, Any]:
    """The openAPIV3Schema of `kind` at `version` among the CRDs of a multi-document file."""
    for crd in yaml.load_all(crd_text, Loader=yaml.CSafeLoader):
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition" \
                or crd["spec"]["names"]["kind"] != kind:
            continue
        for served in crd["spec"]["versions"]:
            if served["name"] == version:
                schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
                return schema
    raise LookupError(f"no CustomResourceDefinition of {kind} {version} in the file")


def vendored(schema: dict[str, Any], source: str) -> str:
    """The file's text: one line of compact JSON (the schemas are deeply nested; indented
    they would be 2.5 times the size), the `$comment` first."""
    return json.dumps({"$comment": source, **schema}, separators=(",", ":")) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crd", type=Path)
    parser.add_argument("kind")
    parser.add_argument("version")
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", required=True, help="repository, path, tag and commit")
    arguments = parser.parse_args()
    schema = crd_schema(arguments.crd.read_text(encoding="utf-8"), arguments.kind,
                        arguments.version)
    arguments.out.write_text(vendored(schema, arguments.source), encoding="utf-8")


if __name__ == "__main__":
    main()
