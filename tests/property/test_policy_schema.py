"""Property: the published policy schema is never stricter than the parser. Any edit of
the example policy that `parse_config` accepts, `schemas/modelrail.schema.json` accepts
too, so an editor never marks a valid policy as wrong (the reverse edits, which the parser
refuses, are tabled in tests/unit/test_schemas.py).

Two corners are left out, as docs/policy.md says: a key with no value (null, which the
parser reads as absent) and a number written as text (YAML 1.1 reads `1e-3` as text,
which the parser converts and an editor's YAML 1.2 reads as a number)."""

from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from modelrail.config import parse_config

from tests.property.strategies import (
    FLOATS,
    ODD_TEXT,
    SCHEMA_KEYS,
    example_policy_text,
    examples,
    mutated,
    usage_error,
)
from tests.support.json_schemas import POLICY_SCHEMA, problems, validator

SOURCE = Path("modelrail.yaml")
EXAMPLE: Any = yaml.safe_load(example_policy_text())


def _not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


TEXT = st.sampled_from([t for t in ODD_TEXT if _not_a_number(t)]) \
    | st.text(max_size=12).filter(_not_a_number)
SCALARS = st.booleans() | st.integers(-3, 200) | st.integers(-(10**6), 10**6) | FLOATS | TEXT
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(SCHEMA_KEYS) | TEXT, children, max_size=4),
    max_leaves=6)


def leaves(node: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every scalar in `node`."""
    children = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else None
    if children is None:
        return [path]
    return [leaf for key, value in children for leaf in leaves(value, (*path, key))]


LEAVES = leaves(EXAMPLE)


def replaced(document: Any, path: tuple[Any, ...], value: object) -> Any:
    if not path:
        return value
    copy: Any = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = replaced(document[path[0]], path[1:], value)
    return copy


def check(document: object) -> None:
    if usage_error(lambda: parse_config(document, SOURCE)) is None:
        assert problems(validator(POLICY_SCHEMA), document) == []


@settings(max_examples=examples(400))
@given(st.lists(st.tuples(st.sampled_from(LEAVES), SCALARS), min_size=1, max_size=3))
def test_a_value_the_parser_accepts_the_schema_accepts(
        edits: list[tuple[tuple[Any, ...], object]]) -> None:
    document = EXAMPLE
    for path, value in edits:
        document = replaced(document, path, value)
    check(document)


@settings(max_examples=examples(200))
@given(st.data())
def test_an_edit_the_parser_accepts_the_schema_accepts(data: st.DataObject) -> None:
    check(mutated(data, EXAMPLE, VALUES, keys=st.sampled_from(SCHEMA_KEYS)))
