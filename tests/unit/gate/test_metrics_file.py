"""Metrics files (DVC style): nested JSON/YAML flattened to dotted numeric names."""

import math
import time
from pathlib import Path

import pytest
from modelrail.cli.main import main
from modelrail.errors import ExitCode, UsageError
from modelrail.gate.metrics_file import flatten_metrics, load_metrics

NESTED_JSON = """\
{
  "roc_auc": 0.91,
  "epochs": 12,
  "eval": {"loss": 0.25, "per_class": {"cat": {"f1": 0.8}, "dog": {"f1": 0.7}}},
  "converged": true,
  "note": "trained on v3",
  "history": [0.1, 0.2],
  "empty": null,
  "drift": NaN
}
"""

NESTED_YAML = """\
roc_auc: 0.91
epochs: 12
eval:
  loss: 0.25
  per_class:
    cat: {f1: 0.8}
    dog: {f1: 0.7}
converged: true
note: trained on v3
history: [0.1, 0.2]
empty:
drift: .nan
"""

EXPECTED = {
    "roc_auc": 0.91,
    "epochs": 12.0,
    "eval.loss": 0.25,
    "eval.per_class.cat.f1": 0.8,
    "eval.per_class.dog.f1": 0.7,
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "text"), [("metrics.json", NESTED_JSON),
                                            ("metrics.yaml", NESTED_YAML),
                                            ("metrics.yml", NESTED_YAML)])
def test_nested_file_is_flattened_to_dotted_names(tmp_path: Path, name: str, text: str) -> None:
    metrics = load_metrics(write(tmp_path, name, text))

    drift = metrics.pop("drift")
    assert math.isnan(drift)  # kept, so the gate can fail it loudly
    assert metrics == EXPECTED
    assert all(type(v) is float for v in metrics.values())


def test_booleans_strings_lists_and_nulls_are_ignored() -> None:
    assert flatten_metrics({"ok": True, "off": False, "s": "0.5", "l": [1, 2], "n": None}) == {}


def test_flatten_prefix_and_non_string_keys() -> None:
    assert flatten_metrics({"a": {1: 2, "b": {"c": 3.5}}}, "run") == {"run.a.1": 2.0,
                                                                      "run.a.b.c": 3.5}


def test_infinity_is_kept() -> None:
    assert flatten_metrics({"x": math.inf}) == {"x": math.inf}



def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"

    with pytest.raises(UsageError) as caught:
        load_metrics(path)

    assert caught.value.exit_code == ExitCode.USAGE
    assert str(caught.value) == f"{path}: metrics file not found"


def test_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read metrics file"):
        load_metrics(tmp_path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("m.json", '{"auc": 0.9,', "not valid JSON"),
        ("m.json", "{'auc': 0.9}", "not valid JSON"),
        ("m.yaml", "auc: [0.9\n", "not valid YAML"),
        ("m.json", "[0.9, 0.8]", "expected a mapping of metric names to numbers"),
        ("m.yaml", "0.9\n", "expected a mapping"),
        ("m.yaml", "", "expected a mapping"),
    ],
)
def test_invalid_file_is_a_usage_error_naming_the_path(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)

    with pytest.raises(UsageError) as caught:
        load_metrics(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_non_utf8_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_bytes("précision: 0.9\n".encode("latin-1"))

    with pytest.raises(UsageError, match=r"metrics\.yaml"):
        load_metrics(path)


# -- issue 15, case 4: hostile metrics files end in exit 2 at once ---------------------

def alias_bomb(levels: int = 9, fan_out: int = 9) -> str:
    """513 bytes that expand to fan_out**levels values (case 4 took 8.8 s, then > 120 s)."""
    lines = [f"a0: &a0 [{', '.join(['1'] * fan_out)}]"]
    lines += [f"a{i}: &a{i} {{{', '.join(f'k{j}: *a{i - 1}' for j in range(fan_out))}}}"
              for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_gate_refuses_an_alias_bomb_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "modelrail.yaml", "model: m\ngate:\n  metrics:\n"
                                      "    a0: {threshold: 0, greater_is_better: true}\n")
    write(tmp_path, "metrics.yaml", alias_bomb(levels=7, fan_out=8))  # 2 million values
    started = time.monotonic()

    code = main(["gate", "--candidate", "metrics.yaml", "--no-summary"])

    assert code == 2
    assert time.monotonic() - started < 5
    assert "metrics.yaml: not valid YAML: more than 1,000,000 values once its aliases " \
           "are expanded" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "text"), [("m.json", '{"auc": 0.5, "auc": 0.9}'),
                                            ("m.yaml", "auc: 0.5\nauc: 0.9\n")])
def test_a_metric_written_twice_is_refused(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)

    with pytest.raises(UsageError, match=r"key 'auc' appears twice"):
        load_metrics(path)


def test_a_dotted_key_and_nested_keys_naming_one_metric_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", '{"eval.loss": 0.1, "eval": {"loss": 0.9}}')

    with pytest.raises(UsageError) as caught:
        load_metrics(path)

    assert str(caught.value) == f"{path}: metric 'eval.loss' is written twice (as a " \
                                "dotted key and as nested keys)"


def test_an_integer_too_large_for_a_float_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", '{"auc": ' + "9" * 400 + "}")

    with pytest.raises(UsageError, match=r"metric 'auc': the number is too large"):
        load_metrics(path)


def test_a_metrics_file_over_10_mb_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "metrics.json", '{"auc": 0.9, "pad": "' + "x" * 12_300_000 + '"}')

    with pytest.raises(UsageError) as caught:
        load_metrics(path)

    assert str(caught.value) == \
        f"{path}: 12.3 MB is larger than the 10 MB limit for a metrics file"
