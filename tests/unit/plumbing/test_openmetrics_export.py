"""OpenMetrics text and the push around it: escaping, series order, the push body without
timestamps, and `--pushgateway` failing closed without hiding the verdict."""

import argparse
from pathlib import Path

import pytest
from modelrail.cli.common import check_export_flags, export_gauges
from modelrail.errors import ExitCode, UsageError
from modelrail.local.processes import free_port
from modelrail.plumbing.openmetrics import Gauge, render
from modelrail.plumbing.pushgateway import group_url


def gauge() -> Gauge:
    family = Gauge("g", 'help with "quotes" and \\ and\nnewline')
    family.add({"a": "2"}, 2.0, 20)
    family.add({"a": 'x"\\\ny'}, float("nan"), 5)
    family.add({"a": "2"}, float("inf"), 10)
    return family


def test_label_values_and_help_are_escaped_and_a_series_is_oldest_first() -> None:
    assert render([gauge(), Gauge("empty", "no samples")]) == (
        "# TYPE g gauge\n"
        '# HELP g help with \\"quotes\\" and \\\\ and\\nnewline\n'
        'g{a="2"} +Inf 10\n'
        'g{a="2"} 2.0 20\n'
        'g{a="x\\"\\\\\\ny"} NaN 5\n'
        "# EOF\n")


def test_a_push_body_has_no_timestamps_and_one_value_per_series() -> None:
    assert render([gauge()], timestamps=False).splitlines()[2:4] == \
        ['g{a="2"} 2.0', 'g{a="x\\"\\\\\\ny"} NaN']


@pytest.mark.parametrize("name", ["bad-name", "__reserved"])
def test_a_bad_label_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a label name"):
        Gauge("g", "h").add({name: "v"}, 1.0, None)


def test_the_group_url_carries_odd_values_in_base64() -> None:
    assert group_url("http://gw:9091/", "modelrail-canary", {"rollout": "r", "namespace": ""}) \
        == "http://gw:9091/metrics/job/modelrail-canary/rollout/r/namespace@base64/="
    assert group_url("http://gw", "j", {"rollout": "a/b"}).endswith("/rollout@base64/YS9i")


def args(tmp_path: Path, pushgateway: str | None, job: str = "modelrail-canary"
         ) -> argparse.Namespace:
    return argparse.Namespace(openmetrics=str(tmp_path / "out.om"), pushgateway=pushgateway,
                              pushgateway_job=job)


@pytest.mark.parametrize(("url", "job", "field"), [
    ("gw:9091", "modelrail-canary", "--pushgateway"), ("http://gw", "", "--pushgateway-job")])
def test_a_bad_pushgateway_flag_is_a_usage_error_naming_it(
        tmp_path: Path, url: str, job: str, field: str) -> None:
    with pytest.raises(UsageError, match=field):
        check_export_flags(args(tmp_path, url, job))


@pytest.mark.parametrize(("verdict", "expected"), [
    (ExitCode.OK, ExitCode.SERVICE), (ExitCode.REJECTED, ExitCode.REJECTED),
    (ExitCode.INCONCLUSIVE, ExitCode.INCONCLUSIVE)])
def test_an_unreachable_gateway_exits_3_only_where_the_verdict_would_exit_0(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        verdict: ExitCode, expected: ExitCode) -> None:
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0")
    down = f"http://127.0.0.1:{free_port()}"

    code = export_gauges(args(tmp_path, down), [gauge()], {"rollout": "r"}, verdict)

    assert code == expected
    assert (tmp_path / "out.om").read_text().endswith("# EOF\n")  # written first
    said = capsys.readouterr().err
    assert f"Pushgateway at {down} kept failing after 2 attempts" in said
