"""The strict YAML/JSON loader and the bounded file reader every data file goes through
(issue 15, case 4): no repeated keys, bounded aliases, nesting and size."""

import time
from pathlib import Path

import pytest
from modelrail.errors import UsageError
from modelrail.plumbing.strict_data import (
    MAX_ALIASES,
    MAX_DEPTH,
    finite_float,
    load_json_strict,
    load_yaml_strict,
    shown,
)
from modelrail.plumbing.textfile import read_json, read_text, read_yaml


def alias_bomb(levels: int, fan_out: int) -> str:
    """A "billion laughs" document: fan_out**levels values from a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['1'] * fan_out)}]"]
    for level in range(1, levels):
        refs = ", ".join(f"k{i}: *a{level - 1}" for i in range(fan_out))
        lines.append(f"a{level}: &a{level} {{{refs}}}")
    return "\n".join(lines) + "\n"


def yaml_error(text: str) -> str:
    with pytest.raises(UsageError) as caught:
        load_yaml_strict(text, Path("data.yaml"))
    message = str(caught.value)
    assert message.startswith("data.yaml: not valid YAML: ")
    return message


def json_error(text: str) -> str:
    with pytest.raises(UsageError) as caught:
        load_json_strict(text, Path("data.json"))
    message = str(caught.value)
    assert message.startswith("data.json: not valid JSON: ")
    return message


def test_an_alias_bomb_is_refused_at_once() -> None:
    started = time.monotonic()

    message = yaml_error(alias_bomb(levels=9, fan_out=9))  # 9**9: 387 million values

    assert "more than 1,000,000 values once its aliases are expanded" in message
    assert time.monotonic() - started < 2


def test_aliases_are_limited_in_number() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"

    assert f"more than {MAX_ALIASES} aliases" in yaml_error(text)


def test_a_few_aliases_and_merge_keys_still_work() -> None:
    text = "base: &base {greater_is_better: true}\nauc:\n  <<: *base\n  threshold: 0.8\n" \
           "loss:\n  <<: *base\n  greater_is_better: false\n"

    assert load_yaml_strict(text, "p.yaml") == {
        "base": {"greater_is_better": True},
        "auc": {"greater_is_better": True, "threshold": 0.8},
        "loss": {"greater_is_better": False}}


def test_a_recursive_alias_is_refused() -> None:
    assert "an alias refers to a node that contains it" in yaml_error("a: &a {b: *a}\n")


@pytest.mark.parametrize("text", ["[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
                                  "[" * 100_000 + "]" * 100_000])
def test_yaml_nesting_is_bounded(text: str) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels" in yaml_error(text)


def test_yaml_nesting_up_to_the_bound_is_fine() -> None:
    assert load_yaml_strict("[" * MAX_DEPTH + "]" * MAX_DEPTH, "d.yaml") is not None


@pytest.mark.parametrize("text", ["[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
                                  '{"a":' * 100_000 + "1" + "}" * 100_000])
def test_json_nesting_is_bounded(text: str) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels" in json_error(text)


def test_a_repeated_key_is_refused_in_yaml_and_json() -> None:
    assert "key 'auc' appears twice" in yaml_error("auc: 0.1\nauc: 0.9\n")
    assert "key 'auc' appears twice" in json_error('{"auc": 0.1, "auc": 0.9}')
    assert "key 'x' appears twice" in json_error('{"a": {"x": 1, "x": 1}}')


@pytest.mark.parametrize("text", ["? [a]\n: 1\n", "? {a: 1}\n: 1\n", "{[1]: 2}\n"])
def test_a_list_or_mapping_as_a_key_is_refused(text: str) -> None:
    assert "a key must be text or a number" in yaml_error(text)


def test_an_integer_over_the_digit_limit_is_a_usage_error() -> None:
    assert "digit" in yaml_error("x: " + "1" * 5000 + "\n")
    assert "digit" in json_error('{"x": ' + "1" * 5000 + "}")


def test_an_impossible_date_is_a_usage_error() -> None:
    assert "day is out of range" in yaml_error("when: 2001-02-30\n")


def test_finite_float_and_shown() -> None:
    assert finite_float(10**400) is None
    assert finite_float(float("nan")) is None
    assert finite_float(3) == 3.0
    assert shown(10**5000) == "an integer of over 4000 digits"
    assert shown("x" * 100).endswith("... (102 characters)")


def test_a_file_over_its_limit_says_how_big_it_is_and_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text('{"pad": "' + "x" * 12_300_000 + '"}', encoding="utf-8")

    with pytest.raises(UsageError) as caught:
        read_json(path, "metrics file")

    assert str(caught.value) == \
        f"{path}: 12.3 MB is larger than the 10 MB limit for a metrics file"


def test_a_device_without_a_size_is_cut_at_the_limit() -> None:
    with pytest.raises(UsageError) as caught:
        read_text(Path("/dev/zero"), "metrics file", limit=1000)

    assert str(caught.value) == \
        "/dev/zero: larger than the 0.001 MB limit for a metrics file"


def test_read_yaml_names_the_label(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")

    with pytest.raises(UsageError, match=r"^--params .*params\.yaml: not valid YAML: key"):
        read_yaml(path, "params file", f"--params {path}")


def test_a_base_60_integer_past_4000_digits_is_refused() -> None:
    """YAML 1.1 `1:30:00` builds ints arithmetically, past Python's digit limit."""
    assert load_yaml_strict("t: 1:30:00\n", "p.yaml") == {"t": 5400}
    assert "an integer of over 4000 digits" in yaml_error("t: " + ":".join(["59"] * 3000))
