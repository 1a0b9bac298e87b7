"""Property: whatever tree a YAML file decodes to, `parse_config` returns a Config or
raises a UsageError naming the file (exit 2) — never another exception."""

from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from modelrail.config import parse_config
from modelrail.plumbing.strict_data import load_yaml_strict

from tests.property.strategies import (
    SCALARS,
    SCHEMA_KEYS,
    example_policy_text,
    examples,
    mutated,
    trees,
    usage_error,
)

SOURCE = Path("modelrail.yaml")
EXAMPLE: Any = yaml.safe_load(example_policy_text())
SECTIONS = ("registry", "gate", "experiment", "rollout", "analysis", "image", "monitor",
            "shadow")


def check_parse(data: object) -> None:
    message = usage_error(lambda: parse_config(data, SOURCE))
    assert message is None or message.startswith(f"{SOURCE}: "), message


def test_the_example_policy_parses() -> None:
    assert parse_config(EXAMPLE, SOURCE).model == "ctr-ranker"


@settings(max_examples=examples(150))
@given(st.one_of(trees(), st.fixed_dictionaries(
    {"model": st.sampled_from(["m", "ctr-ranker"]) | SCALARS},
    optional={name: trees() for name in SECTIONS})))
def test_any_tree(data: object) -> None:
    check_parse(data)


@settings(max_examples=examples(800))
@given(st.data())
def test_any_edit_of_the_example_policy(data: st.DataObject) -> None:
    check_parse(mutated(data, EXAMPLE, st.one_of(SCALARS, trees(max_leaves=6))))


@settings(max_examples=examples(100))
@given(st.data())
def test_any_edit_survives_a_yaml_round_trip(data: st.DataObject) -> None:
    """The same edits written out as YAML text and read back by the strict loader."""
    document = mutated(data, EXAMPLE, st.one_of(SCALARS, trees(max_leaves=6)),
                       keys=st.sampled_from(SCHEMA_KEYS))
    try:
        text = yaml.safe_dump(document)
    except yaml.YAMLError:
        return
    message = usage_error(lambda: check_parse(load_yaml_strict(text, SOURCE)))
    assert message is None or message.startswith(f"{SOURCE}: "), message
