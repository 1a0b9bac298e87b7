"""STATS.json: parsed strictly; every malformed input names its JSON path, exit 2."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from modelrail.ab.stats import MeanStats, ProportionStats, RatioStats
from modelrail.ab.stats_file import load_stats, parse_stats
from modelrail.errors import ExitCode, UsageError

RATIO = {"n": 5000, "numerator_sum": 512.0, "numerator_sum_squares": 900.0,
         "denominator_sum": 5100.0, "denominator_sum_squares": 9000.0,
         "numerator_denominator_sum_products": 1500.0}
VALID: dict[str, Any] = {
    "variants": ["control", "treatment"],
    "units": {"control": 5000, "treatment": 5050},
    "metrics": {
        "ctr": {"type": "ratio", "control": RATIO, "treatment": {**RATIO, "n": 5050}},
        "session_duration": {
            "type": "mean",
            "control": {"n": 5000, "sum": 1.5e6, "sum_squares": 6.0e8},
            "treatment": {"n": 5050, "sum": 1.52e6, "sum_squares": 6.1e8,
                          "covariate_sum": 1.4e6, "covariate_sum_squares": 5.0e8,
                          "covariate_sum_products": 5.2e8}},
        "converted": {"type": "proportion", "control": {"n": 5000, "sum": 400},
                      "treatment": {"n": 5050, "sum": 430}},
    },
}


def test_a_valid_file_gives_typed_statistics(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(VALID), encoding="utf-8")
    stats = load_stats(path)
    assert stats.source == str(path)
    assert stats.variants == ("control", "treatment")
    assert stats.units == {"control": 5000, "treatment": 5050}
    assert stats.metrics["ctr"]["treatment"] == RatioStats(5050, 512.0, 900.0, 5100.0,
                                                               9000.0, 1500.0)
    assert stats.metrics["converted"]["control"] == ProportionStats(n=5000, sum=400)
    duration = stats.metrics["session_duration"]
    assert duration["control"] == MeanStats(n=5000, sum=1.5e6, sum_squares=6.0e8)
    assert duration["treatment"].covariate_sum_products == 5.2e8  # type: ignore[union-attr]


def broken(path: str, value: object) -> dict[str, Any]:
    """VALID with the value at dotted `path` replaced (the key deleted for DELETE)."""
    document = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return document


DELETE = object()


@pytest.mark.parametrize(("path", "value", "where", "message"), [
    ("metrics.ctr.treatment.numerator_sum", DELETE,
     "metrics.ctr.treatment.numerator_sum", "is required"),
    ("metrics.ctr.treatment.numerator_sum", "512",
     "metrics.ctr.treatment.numerator_sum", "expected a finite number, got str '512'"),
    ("metrics.ctr.control.denominator_sum", True,
     "metrics.ctr.control.denominator_sum", "a boolean"),
    ("metrics.ctr.control.n", -3, "metrics.ctr.control.n", "whole number from 0 to 2^53"),
    ("metrics.ctr.control.n", 12.5, "metrics.ctr.control.n", "whole number from 0 to 2^53"),
    ("metrics.ctr.control.n", 0, "metrics.ctr.control.n", "no units"),
    ("metrics.converted.treatment.n", 1, "metrics.converted.treatment.n", "at least 2"),
    ("units.treatment", 0, "units.treatment", "no units"),
    ("units.treatment", DELETE, "units.treatment", "is required"),
    ("units.extra", 10, "units.extra", "unknown key"),
    ("variants", ["control"], "variants", "at least two"),
    ("variants", ["control", "control"], "variants", "distinct"),
    ("variants", DELETE, "variants", "is required"),
    ("metrics.ctr.type", "median", "metrics.ctr.type", "expected one of mean, proportion"),
    ("metrics.ctr.variant_b", RATIO, "metrics.ctr.variant_b", "unknown key"),
    ("metrics.ctr.treatment", DELETE, "metrics.ctr.treatment", "is required"),
    ("metrics.ctr.treatment.clicks", 3, "metrics.ctr.treatment.clicks", "unknown key"),
    ("metrics.converted.control.sum", 5001, "metrics.converted.control.sum",
     "within [0, n = 5000]"),
    ("metrics.session_duration.control.sum_squares", 1.0,
     "metrics.session_duration.control.sum_squares", "below sum^2 / n"),
    ("metrics.session_duration.treatment.covariate_sum_products", DELETE,
     "metrics.session_duration.treatment.covariate_sum_products", "CUPED covariate needs"),
    ("metrics.session_duration.control.sum", float("inf"),
     "metrics.session_duration.control.sum", "finite"),
    ("metrics", [], "metrics", "expected an object, got a list"),
    ("extra", 1, "extra", "unknown key"),
])
def test_malformed_statistics_name_the_json_path(path: str, value: object, where: str,
                                                 message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_stats(broken(path, value), "stats.json")
    assert str(caught.value).startswith(f"stats.json: {where}: ")
    assert message in str(caught.value)
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(("metric", "values"), [
    ("converted", [{"n": 100, "sum": 0}, {"n": 120, "sum": 0}]),
    ("session_duration", [{"n": 100, "sum": 300.0, "sum_squares": 900.0},
                          {"n": 120, "sum": 360.0, "sum_squares": 1080.0}]),
])
def test_zero_variance_in_every_variant_is_refused(metric: str, values: list[object]) -> None:
    document = broken(f"metrics.{metric}.control", values[0])
    document["metrics"][metric]["treatment"] = values[1]
    with pytest.raises(UsageError, match=rf"stats.json: metrics\.{metric}: .*zero variance"):
        parse_stats(document, "stats.json")


def test_zero_variance_in_one_variant_is_fine() -> None:
    stats = parse_stats(broken("metrics.converted.control.sum", 0), "stats.json")
    assert stats.metrics["converted"]["control"] == ProportionStats(n=5000, sum=0)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not valid JSON"), ("[1, 2]", "top level: expected an object")])
def test_unreadable_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "stats.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as caught:
        load_stats(path)
    assert str(caught.value).startswith(str(path))


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        load_stats(tmp_path / "nope.json")


# -- issue 15, cases 4 and 10: the strict loader, huge numbers ----------------------------

def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    text = json.dumps(VALID)
    path.write_text(text.replace('"units": {', '"units": {"control": 1, ', 1), encoding="utf-8")

    with pytest.raises(UsageError, match=r"not valid JSON: key 'control' appears twice"):
        load_stats(path)


def test_an_integer_too_large_for_a_float_names_its_path() -> None:
    with pytest.raises(UsageError) as caught:
        parse_stats(broken("metrics.ctr.treatment.numerator_sum", 10**400), "stats.json")

    assert str(caught.value).startswith("stats.json: metrics.ctr.treatment.numerator_sum: "
                                        "expected a finite number, got int 1000")


def test_a_statistics_file_over_10_mb_says_so(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({**VALID, "pad": "x" * 11_000_000}), encoding="utf-8")

    with pytest.raises(UsageError, match=r"11\.\d MB is larger than the 10 MB limit for a "
                                         "statistics file"):
        load_stats(path)


@pytest.mark.parametrize(("path", "value", "message"), [
    ("units.control", 2.0**60, "expected a whole number from 0 to 2^53, got 1.15292e+18"),
    ("units.control", 2.7e154, "2.7e+154 is beyond ±1e+100"),
    ("metrics.ctr.control.numerator_sum", 1e200, "1e+200 is beyond ±1e+100"),
])
def test_counts_and_sums_too_large_to_compute_with_are_refused(path: str, value: float,
                                                               message: str) -> None:
    """Found by tests/property: `ab analyze` raised OverflowError in the SRM check."""
    with pytest.raises(UsageError) as caught:
        parse_stats(broken(path, value), "stats.json")

    assert str(caught.value) == f"stats.json: {path}: {message}"


def test_a_key_that_is_not_text_is_refused() -> None:
    """parse_stats also takes producers' dicts, whose keys need not be text."""
    document = broken("units", {"control": 5000, "treatment": 5050, 1: 2})

    with pytest.raises(UsageError, match=r"^stats.json: units: every key must be text$"):
        parse_stats(document, "stats.json")
