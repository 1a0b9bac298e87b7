"""The published JSON Schemas (`schemas/`) against the code: every `write_json` call site
has its document's schema, every policy file in the repository passes both the schema and
the parser, and the two agree on edits of the example policy (unknown key, wrong type, bad
enum, missing key; tests/property/test_policy_schema.py: what the parser accepts, the
schema accepts). The documents themselves are checked in every test that runs a command
with --json (tests/conftest.py)."""

import ast
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modelrail.cli import common
from modelrail.config import parse_config
from modelrail.errors import UsageError
from modelrail.plumbing.documents import SCHEMA_VERSION, check_version
from modelrail.plumbing.strict_data import load_yaml_strict

from tests.support.json_schemas import (
    POLICY_SCHEMA,
    SCHEMAS,
    SUFFIX,
    document_kinds,
    problems,
    validator,
)
from tests.support.labs.canary import lab_policy
from tests.support.labs.churn_model import policy_text as churn_policy
from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT
from tests.support.standins.rollouts import Mirror

SOURCE = Path("modelrail.yaml")
EVERY_KEY = REPO_ROOT / "tests" / "support" / "policies" / "every-key.yaml"
POLICIES = {
    "example-model": (EXAMPLE_MODEL / "modelrail.yaml").read_text(encoding="utf-8"),
    "churn-model": churn_policy(),
    "canary-lab": lab_policy(),
    "canary-lab-mirror": lab_policy(mirror=Mirror(route="mirror", percentage=35, scale=35)),
    "every-key": EVERY_KEY.read_text(encoding="utf-8"),
}
EXAMPLE: Any = load_yaml_strict(POLICIES["example-model"], SOURCE)


def parser_error(data: object) -> str | None:
    try:
        parse_config(data, SOURCE)
    except UsageError as error:
        return str(error)
    return None


def schema_problems(data: object) -> list[str]:
    return problems(validator(POLICY_SCHEMA), data)


# -- every --json document has a schema --------------------------------------------------

def write_json_kinds() -> Iterator[tuple[str, int, object]]:
    """(module, line, kind argument) of every `write_json(...)` call in the product."""
    for path in sorted((REPO_ROOT / "scripts" / "modelrail").rglob("*.py")):
        calls = [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Call)]
        for node in calls:
            called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if called == "write_json":
                kind = node.args[1] if len(node.args) > 1 else None
                yield (str(path.relative_to(REPO_ROOT)), node.lineno,
                       kind.value if isinstance(kind, ast.Constant) else None)


def test_every_write_json_call_names_a_kind_with_a_published_schema() -> None:
    calls = list(write_json_kinds())
    assert len(calls) >= 12
    missing = [f"{module}:{line} kind {kind!r}" for module, line, kind in calls
               if not isinstance(kind, str) or not (SCHEMAS / f"{kind}{SUFFIX}").is_file()]
    assert not missing, f"write_json without a schemas/<kind>{SUFFIX}: {missing}"
    kinds = {kind for _, _, kind in calls if isinstance(kind, str)}
    assert sorted(kinds) == document_kinds()  # no schema without a call site


@pytest.mark.parametrize("kind", document_kinds())
def test_each_document_schema_names_its_kind_and_version(kind: str) -> None:
    schema = validator(SCHEMAS / f"{kind}{SUFFIX}").schema
    assert schema["properties"]["kind"] == {"const": kind}
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert schema["$id"].endswith(f"/schemas/{kind}{SUFFIX}")


def test_a_document_that_breaks_its_schema_fails_the_test_that_writes_it() -> None:
    """The autouse fixture in tests/conftest.py is live: a gate report without its fields
    is caught where it is built."""
    with pytest.raises(AssertionError, match="gate document breaks its schema"):
        common.write_json(None, "gate", {"model": "m"})


# -- the version stamp and its readers ----------------------------------------------------

def test_a_document_starts_with_its_kind_and_version() -> None:
    document = common.write_json(None, "log-check", {
        "passed": True, "stage": "logged", "message": "ok", "tail": "", "run_id": "r",
        "model_uri": "runs:/r/model"})
    assert list(document)[:2] == ["kind", "schema_version"]
    assert (document["kind"], document["schema_version"]) == ("log-check", 1)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"schema_version": 2}, "schema_version 2 is not understood: this modelrail reads "
                                "gate documents of schema_version 1"),
        ({"schema_version": "1"}, "schema_version '1' is not understood"),
        ({"schema_version": True}, "schema_version True is not understood"),
        ({"kind": "log-check", "schema_version": 1}, "kind 'log-check': expected a 'gate'"),
    ],
)
def test_a_reader_refuses_an_unknown_version_or_kind(document: dict[str, object],
                                                     message: str) -> None:
    with pytest.raises(UsageError, match=f"^--gate g.json: {message}"):
        check_version(document, "gate", "--gate g.json")


def test_a_document_without_a_version_was_written_before_it_and_reads_as_version_1() -> None:
    check_version({"passed": True}, "gate", "--gate g.json")
    check_version({"kind": "gate", "schema_version": 1}, "gate", "--gate g.json")


# -- policy files: schema and parser agree -------------------------------------------------

@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_in_the_repository_passes_the_schema_and_the_parser(name: str) -> None:
    data = load_yaml_strict(POLICIES[name], SOURCE)
    assert parser_error(data) is None
    assert schema_problems(data) == []


def schema_keys(node: object) -> set[str]:
    """Every key name the policy schema declares, anywhere in it."""
    if isinstance(node, list):
        return set().union(*(schema_keys(item) for item in node))
    if not isinstance(node, dict):
        return set()
    own = set(node.get("properties", {})) if isinstance(node.get("properties"), dict) else set()
    return own.union(*(schema_keys(value) for value in node.values()))


def document_keys(node: object) -> set[str]:
    if isinstance(node, list):
        return set().union(*(document_keys(item) for item in node))
    if not isinstance(node, dict):
        return set()
    return set(node).union(*(document_keys(value) for value in node.values()))


def test_the_every_key_policy_uses_every_key_the_schema_allows() -> None:
    """So the schema names no key the parser would refuse (the parser accepts the file)."""
    schema = validator(POLICY_SCHEMA).schema
    unused = schema_keys(schema) - document_keys(load_yaml_strict(POLICIES["every-key"], SOURCE))
    assert not unused, f"keys the schema allows that tests/support/policies/every-key.yaml " \
                       f"does not use: {sorted(unused)}"


def test_the_example_policy_names_the_schema_for_editors() -> None:
    first = POLICIES["example-model"].splitlines()[0]
    assert first == "# yaml-language-server: $schema=" + validator(POLICY_SCHEMA).schema["$id"]


def places(node: object, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], object]]:
    """(path, value) of every node below the top of `node`."""
    children = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, value in children:
        yield (*path, key), value
        yield from places(value, (*path, key))


def edited(path: tuple[Any, ...], change: str, value: object = None) -> object:
    """The example policy with one edit at `path`: `set` a value, `add` a key, `delete`."""
    document = copy.deepcopy(EXAMPLE)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if change == "add":
        parent[path[-1]]["bogus_key"] = 1
    elif change == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


def wrong_type(value: object) -> object:
    """A value of another type than `value`'s, that no key of its type accepts."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return "seven"
    if isinstance(value, str):
        return 7
    return "text"


NODES = list(places(EXAMPLE))
MAPPINGS = [path for path, value in NODES if isinstance(value, dict)]
SCALARS = [(path, value) for path, value in NODES if not isinstance(value, dict | list)]
KEYS = [path for path, _ in NODES if not isinstance(path[-1], int)]


def name(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)


@pytest.mark.parametrize("path", [(), *MAPPINGS], ids=name)
def test_an_unknown_key_is_refused_by_both(path: tuple[Any, ...]) -> None:
    data = {**EXAMPLE, "bogus_key": 1} if not path else edited(path, "add")
    assert parser_error(data) is not None
    assert schema_problems(data)


@pytest.mark.parametrize(("path", "value"), NODES, ids=[name(path) for path, _ in NODES])
def test_a_value_of_the_wrong_type_is_refused_by_both(path: tuple[Any, ...],
                                                       value: object) -> None:
    data = edited(path, "set", wrong_type(value))
    assert parser_error(data) is not None
    assert schema_problems(data)


def test_a_value_outside_an_enum_is_refused_by_both() -> None:
    """Every text value the parser only takes from a list (`expected one of`)."""
    enums = []
    for path, value in SCALARS:
        data = edited(path, "set", "not-an-option")
        error = parser_error(data)
        if isinstance(value, str) and error is not None and "expected one of" in error:
            enums.append(name(path))
            assert schema_problems(data), name(path)
    assert len(enums) >= 15, enums


@pytest.mark.parametrize("path", KEYS, ids=name)
def test_a_missing_key_is_refused_by_both_or_by_neither(path: tuple[Any, ...]) -> None:
    data = edited(path, "delete")
    error = parser_error(data)
    assert (error is None) == (not schema_problems(data)), error


def test_numbers_out_of_range_are_refused_by_both() -> None:
    for path, value in (
        (("shadow", "max_ks"), 1.5), (("monitor", "alpha"), 0), (("rollout", "steps"), [0]),
        (("analysis", "metrics", "latency_p99", "quantile"), 1),
        (("experiment", "alpha"), 0.5), (("monitor", "min_rows"), 2.5),
        (("rollout", "namespace"), "ML"), (("analysis", "metrics", "error_rate", "query"), ""),
    ):
        data = edited(path, "set", value)
        assert parser_error(data) is not None, (path, value)
        assert schema_problems(data), (path, value)


def test_every_schema_file_is_valid_json_with_a_draft_2020_12_schema() -> None:
    for path in sorted(SCHEMAS.glob(f"*{SUFFIX}")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path
        validator(path)  # check_schema
