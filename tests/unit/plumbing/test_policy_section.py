"""The policy file's `Section` reader: an unknown key is reported with every key this
section allows and the nearest of them; a missing key names a misspelt sibling."""

from pathlib import Path

import pytest
from modelrail.errors import UsageError
from modelrail.plumbing.policy_section import Section

SOURCE = Path("modelrail.yaml")


def error_of(section: Section, read: str) -> str:
    with pytest.raises(UsageError) as caught:
        getattr(section, read)("greater_is_better")
    return str(caught.value)


def test_a_key_asked_about_with_has_is_allowed() -> None:
    section = Section({"model": "m", "registy": {}}, "", SOURCE)
    section.required_string("model")
    assert not section.has("registry")
    assert not section.has("gate")

    with pytest.raises(UsageError) as caught:
        section.finish()

    assert str(caught.value) == ("modelrail.yaml: unknown key 'registy': did you mean "
                                 "registry? (allowed here: gate, model, registry)")


def test_an_unknown_key_far_from_every_allowed_one_gets_no_guess() -> None:
    section = Section({"name": "r", "colour": "red"}, "rollout", SOURCE)
    section.string("name")

    with pytest.raises(UsageError) as caught:
        section.finish()

    assert str(caught.value) == "modelrail.yaml: unknown key 'rollout.colour' (allowed here: name)"


@pytest.mark.parametrize("read", ["required_boolean", "required_string", "section"])
def test_a_missing_key_names_the_misspelt_one(read: str) -> None:
    section = Section({"greater_is_beter": True, "threshold": 1}, "gate.metrics.auc", SOURCE)

    message = error_of(section, read)

    assert message.startswith("modelrail.yaml: gate.metrics.auc.greater_is_better: ")
    assert message.endswith("; found 'greater_is_beter': did you mean greater_is_better?")


def test_a_missing_key_without_a_near_miss_reads_as_before() -> None:
    section = Section({"threshold": 1}, "gate.metrics.auc", SOURCE)

    assert error_of(section, "required_boolean") == (
        "modelrail.yaml: gate.metrics.auc.greater_is_better: is required (true or false)")


def test_a_known_key_is_never_offered_as_the_misspelling() -> None:
    section = Section({"greater_is_better_x": 1}, "gate.metrics.auc", SOURCE)
    section.raw("greater_is_better_x")

    assert "found" not in error_of(section, "required_boolean")
