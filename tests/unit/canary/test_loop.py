"""The canary step loop (modelrail.canary.loop) against the Rollouts stand-in, with a scripted
judge and a fake clock: what it patches, when it looks, and what it decides."""

import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from modelrail.canary.analyze import AnalysisResult
from modelrail.canary.config import (
    AnalysisConfig,
    CounterMetric,
    HistogramMetric,
    ThresholdMetric,
)
from modelrail.canary.judge import Outcome, Verdict, decide
from modelrail.canary.loop import CanaryPlan, CanaryResult, CanaryRun, PrometheusJudge
from modelrail.canary.report import canary_markdown, write_report
from modelrail.cli.main import main
from modelrail.errors import ServiceError
from modelrail.local.processes import free_port
from modelrail.plumbing.prometheus import PrometheusClient, Series
from modelrail.rollouts.driver import RolloutDriver
from modelrail.rollouts.kube import connect
from modelrail.rollouts.policy import MirrorConfig

from tests.support.builders.runner_files import parse_file_command
from tests.support.standins.rollouts import Mirror, RolloutsStandIn
from tests.unit.canary.fakes import FakeClock, ScriptedJudge, ScriptedPrometheus

WEIGHTS = (10, 25, 50)
STEP_SECONDS = 10.0
ABORT = {"status": {"abort": True}}
PROMOTE_FULL = {"status": {"promoteFull": True}}
CONFIG = AnalysisConfig(metrics=(
    CounterMetric(name="error_rate", query="errors{version='{{version}}'}",
                  total="requests{version='{{version}}'}", critical=True),
    ThresholdMetric(name="error_slo", query="rate{version='{{version}}'}", maximum=0.05),
))


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITLAB_CI",
                 "KUBECONFIG", "KUBECONFIG_DATA", "PROMETHEUS_URL", "PROMETHEUS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.01")


@pytest.fixture
def standin() -> Iterator[RolloutsStandIn]:
    with RolloutsStandIn() as server:
        server.add_rollout("ranker", "ml", image="ranker:v1", weights=WEIGHTS)
        yield server


def _driver(standin: RolloutsStandIn, tmp_path: Path) -> RolloutDriver:
    kubeconfig = str(standin.write_kubeconfig(tmp_path / "kubeconfig"))
    return RolloutDriver(connect(kubeconfig).api, "ranker", "ml", log=lambda _line: None)


def _run(standin: RolloutsStandIn, tmp_path: Path, judge: ScriptedJudge,
         clock: FakeClock | None = None, mirror: MirrorConfig | None = None) -> CanaryResult:
    driver = _driver(standin, tmp_path)
    clock = clock or FakeClock()
    plan = CanaryPlan(image="ranker:v2", version="2", baseline="1",
                      baseline_source="--baseline-version", weights=WEIGHTS,
                      step_seconds=STEP_SECONDS, looks=len(WEIGHTS) + (1 if mirror else 0),
                      extra_seconds=STEP_SECONDS, interval=2.0, mirror=mirror)
    return CanaryRun(driver, judge, plan, log=lambda _line: None, clock=clock,
                     sleep=clock.sleep).run()


def _status_patches(standin: RolloutsStandIn) -> list[object]:
    return [r.body for r in standin.writes() if r.method == "PATCH"]


def test_a_passing_canary_is_looked_at_once_per_step_then_promoted_in_full(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    judge = ScriptedJudge("pass")
    result = _run(standin, tmp_path, judge)
    assert (result.result, int(result.exit_code), result.weight) == ("promoted", 0, 100)
    assert judge.looks == [(1, 3), (2, 3), (3, 3)]  # look k of n: the budget spans them
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "pass"), (25, "pass"),
                                                             (50, "pass")]
    patches = _status_patches(standin)
    assert PROMOTE_FULL in patches
    assert ABORT not in patches
    assert standin.rollout("ranker", "ml")["status"]["phase"] == "Healthy"
    assert standin.traffic("ranker", "ml").stable_image == "ranker:v2"


def test_on_gitlab_each_step_is_a_log_section_closed_even_when_it_fails(
        standin: RolloutsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    _run(standin, tmp_path, ScriptedJudge("pass", "fail"))
    markers = re.findall(r"section_(start|end):\d+:(modelrail_canary_step_\d)",
                         capsys.readouterr().out)
    assert markers == [("start", "modelrail_canary_step_1"), ("end", "modelrail_canary_step_1"),
                       ("start", "modelrail_canary_step_2"), ("end", "modelrail_canary_step_2")]


def test_a_re_run_after_success_changes_nothing(standin: RolloutsStandIn,
                                                 tmp_path: Path) -> None:
    assert _run(standin, tmp_path, ScriptedJudge("pass")).result == "promoted"
    writes = len(standin.writes())
    judge = ScriptedJudge("fail")
    again = _run(standin, tmp_path, judge)
    assert (again.result, int(again.exit_code), again.weight) == ("promoted", 0, 100)
    assert "nothing to do" in again.message
    assert judge.looks == []
    assert len(standin.writes()) == writes


def test_a_failure_at_step_two_aborts_and_sends_the_traffic_back(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    result = _run(standin, tmp_path, ScriptedJudge("pass", "fail"))
    assert (result.result, int(result.exit_code)) == ("aborted", 1)
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "pass"), (25, "fail")]
    assert (result.failed_weight, result.weight) == (25, 0)
    patches = _status_patches(standin)
    assert patches[-1] == ABORT
    assert PROMOTE_FULL not in patches
    assert standin.weight("ranker", "ml") == 0
    report = result.to_json()
    assert report["failed_step"] == 25
    steps = report["steps"]
    assert isinstance(steps, list)
    assert steps[1]["metrics"][0]["outcome"] == "fail"


def test_an_inconclusive_step_waits_a_bounded_time_then_aborts_without_promoting(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    judge = ScriptedJudge("inconclusive")
    result = _run(standin, tmp_path, judge)
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 4, 0)
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "inconclusive")]
    assert len(judge.looks) > 1  # it looked again while holding the step
    assert set(judge.looks) == {(1, 3)}
    assert judge.held[0] >= STEP_SECONDS
    assert judge.held[-1] >= 2 * STEP_SECONDS  # bounded: one more step length
    patches = _status_patches(standin)
    assert PROMOTE_FULL not in patches
    assert {"status": {"pauseConditions": None}} not in patches  # never went past 10 %
    assert patches[-1] == ABORT


def test_an_abort_by_someone_else_ends_the_run_as_failed(standin: RolloutsStandIn,
                                                         tmp_path: Path) -> None:
    class AbortingClock(FakeClock):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if self.now > 1005:  # mid-way through the first step, a user aborts
                _driver(standin, tmp_path).abort()

    judge = ScriptedJudge("pass")
    result = _run(standin, tmp_path, judge, AbortingClock())
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 1, 0)
    assert "aborted outside this run" in result.message
    assert judge.looks == []
    assert PROMOTE_FULL not in _status_patches(standin)


def test_inconclusive_then_enough_data_goes_on(standin: RolloutsStandIn,
                                               tmp_path: Path) -> None:
    judge = ScriptedJudge("inconclusive", "pass")
    result = _run(standin, tmp_path, judge)
    assert result.result == "promoted"
    assert judge.looks == [(1, 3), (1, 3), (2, 3), (3, 3)]


def test_prometheus_going_down_mid_rollout_aborts_with_exit_3(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    judge = ScriptedJudge("pass", ServiceError("Prometheus at http://127.0.0.1:9: "
                                               "connection refused"))
    result = _run(standin, tmp_path, judge)
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 3, 0)
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "pass"), (25, "error")]
    assert "connection refused" in result.message
    assert _status_patches(standin)[-1] == ABORT
    assert PROMOTE_FULL not in _status_patches(standin)


def test_prometheus_down_before_the_start_leaves_the_rollout_untouched(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    result = _run(standin, tmp_path, ScriptedJudge("pass", down=True))
    assert (result.result, int(result.exit_code)) == ("aborted", 3)
    assert "not changed" in result.message
    assert standin.writes() == []
    assert standin.traffic("ranker", "ml").stable_image == "ranker:v1"


def test_the_kubernetes_api_failing_mid_rollout_is_exit_3(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    judge = ScriptedJudge("pass")
    original = judge.look

    def look_then_break(look: int, looks: int, held: float) -> AnalysisResult:
        standin.fail_next(10**6)  # the API server answers 500 from now on
        return original(look, looks, held)

    judge.look = look_then_break  # type: ignore[method-assign]
    result = _run(standin, tmp_path, judge)
    assert (result.result, int(result.exit_code)) == ("aborted", 3)
    assert "the abort failed too" in result.message
    assert result.weight is None


def test_summary_and_report_show_every_step_and_metric(standin: RolloutsStandIn,
                                                       tmp_path: Path) -> None:
    result = _run(standin, tmp_path, ScriptedJudge("pass", "fail"))
    markdown = canary_markdown(result, CONFIG)
    assert "| 25% | ❌ fail | ❌ 0.03 / 0.0011 | ✅ 0.01 | error\\_rate: fail rate |" in markdown
    assert "<code>error\\_rate</code> (&lt;= 1x baseline)" in markdown
    assert "<code>error\\_slo</code> (&lt;= 0.05)" in markdown
    assert markdown.count("```mermaid") == 2
    assert 'x-axis ["10%", "25%"]' in markdown
    assert "errors{version='2'}" in markdown
    write_report(tmp_path / "report", result, CONFIG)
    files = {p.name for p in (tmp_path / "report").iterdir()}
    assert files == {"canary-report.html", "queries.json", "error_rate.svg", "error_slo.svg"}
    html = (tmp_path / "report" / "canary-report.html").read_text()
    assert "<svg" in html
    assert "errors{version=&#x27;2&#x27;}" in html


def test_an_interrupt_aborts_the_rollout_then_goes_on(standin: RolloutsStandIn,
                                                      tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        _run(standin, tmp_path, ScriptedJudge("pass", KeyboardInterrupt()))
    assert _status_patches(standin)[-1] == ABORT
    assert standin.weight("ranker", "ml") == 0


# -- the mirror phase -------------------------------------------------------------------

MIRROR = MirrorConfig(route="mirror", percentage=35, scale=25)


@pytest.fixture
def mirrored() -> Iterator[RolloutsStandIn]:
    with RolloutsStandIn() as server:
        server.add_rollout("ranker", "ml", image="ranker:v1", weights=WEIGHTS,
                           mirror=Mirror(route="mirror", percentage=35, scale=25))
        yield server


class WatchingJudge(ScriptedJudge):
    """Also records the stand-in's traffic (weight, mirror) at every look."""

    def __init__(self, standin: RolloutsStandIn, *outcomes: Outcome) -> None:
        super().__init__(*outcomes)
        self.standin = standin
        self.traffic: list[tuple[int, int]] = []

    def look(self, look: int, looks: int, held: float) -> AnalysisResult:
        traffic = self.standin.traffic("ranker", "ml")
        self.traffic.append((traffic.canary_weight, traffic.mirror))
        return super().look(look, looks, held)


def test_the_mirror_phase_is_look_1_at_weight_0_then_the_weights_follow(
        mirrored: RolloutsStandIn, tmp_path: Path) -> None:
    judge = WatchingJudge(mirrored, "pass")
    result = _run(mirrored, tmp_path, judge, mirror=MIRROR)
    assert (result.result, int(result.exit_code), result.weight) == ("promoted", 0, 100)
    assert judge.looks == [(1, 4), (2, 4), (3, 4), (4, 4)]  # one more look: the mirror's
    assert judge.traffic == [(0, 35), (10, 0), (25, 0), (50, 0)]
    assert [(s.label, s.weight, s.mirror, s.verdict) for s in result.steps] == [
        ("mirror 35%", 0, 35, "pass"), ("10%", 10, None, "pass"), ("25%", 25, None, "pass"),
        ("50%", 50, None, "pass")]
    report = result.to_json()
    assert report["mirror"] == {"route": "mirror", "percentage": 35, "scale": 25}
    assert report["users_saw_canary"] is True
    markdown = canary_markdown(result, CONFIG)
    assert "| mirror 35% | ✅ pass |" in markdown
    assert 'x-axis ["mirror 35%", "10%", "25%", "50%"]' in markdown
    assert "steps mirror 35%, 10%, 25%, 50%" in markdown


def test_a_failed_mirror_phase_aborts_before_any_user_saw_the_canary(
        mirrored: RolloutsStandIn, tmp_path: Path) -> None:
    judge = WatchingJudge(mirrored, "fail")
    result = _run(mirrored, tmp_path, judge, mirror=MIRROR)
    assert (result.result, int(result.exit_code)) == ("aborted", 1)
    assert (result.failed_weight, result.weight) == (0, 0)
    assert judge.looks == [(1, 4)]
    assert judge.traffic == [(0, 35)]
    assert [(s.label, s.verdict) for s in result.steps] == [("mirror 35%", "fail")]
    assert "failed in the mirror phase (mirror 35%, weight 0)" in result.message
    assert "no user request was answered by the canary" in result.message
    patches = _status_patches(mirrored)
    assert patches[-1] == ABORT
    assert {"status": {"pauseConditions": None}} not in patches  # never promoted past it
    assert mirrored.traffic("ranker", "ml").mirror == 0  # the abort removed the mirror
    report = result.to_json()
    assert (report["failed_step"], report["users_saw_canary"]) == (0, False)
    steps = report["steps"]
    assert isinstance(steps, list)
    assert (steps[0]["weight"], steps[0]["mirror"]) == (0, 35)
    markdown = canary_markdown(result, CONFIG)
    assert "| mirror 35% | ❌ fail |" in markdown
    assert "**no user request was answered by the canary**" in markdown


def test_an_inconclusive_mirror_phase_is_exit_4_and_still_unseen(
        mirrored: RolloutsStandIn, tmp_path: Path) -> None:
    result = _run(mirrored, tmp_path, ScriptedJudge("inconclusive"), mirror=MIRROR)
    assert (result.result, int(result.exit_code), result.failed_weight) == ("aborted", 4, 0)
    assert "could not be judged in the mirror phase" in result.message
    assert result.to_json()["users_saw_canary"] is False


class RouteDroppingJudge(ScriptedJudge):
    """The canary loses its pods while the mirror look runs: the controller removes the
    managed routes (the stand-in's `remove_managed_routes`)."""

    def __init__(self, standin: RolloutsStandIn, *outcomes: Outcome) -> None:
        super().__init__(*outcomes)
        self.standin = standin

    def look(self, look: int, looks: int, held: float) -> AnalysisResult:
        self.standin.remove_managed_routes("ranker", "ml")
        return super().look(look, looks, held)


class RouteDroppingClock(FakeClock):
    """The routes go at the first tick once the mirror is on (the hold of the mirror pause)."""

    def __init__(self, standin: RolloutsStandIn) -> None:
        super().__init__()
        self.standin = standin

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.standin.traffic("ranker", "ml").mirror:
            self.standin.remove_managed_routes("ranker", "ml")


def _assert_vanished(result: CanaryResult, standin: RolloutsStandIn) -> None:
    assert (result.result, int(result.exit_code), result.failed_weight) == ("aborted", 4, 0)
    assert [(s.label, s.verdict) for s in result.steps] == [("mirror 35%", "error")]
    assert "the mirror route vanished during the mirror phase (VirtualService ml/ranker: " \
        "the mirror route 'mirror' vanished (routes now: primary))" in result.message
    assert "no verdict on data that never reached the canary" in result.message
    assert _status_patches(standin)[-1] == ABORT
    assert result.to_json()["users_saw_canary"] is False


def test_a_mirror_route_gone_during_the_look_gives_no_verdict(
        mirrored: RolloutsStandIn, tmp_path: Path) -> None:
    judge = RouteDroppingJudge(mirrored, "pass")
    result = _run(mirrored, tmp_path, judge, mirror=MIRROR)
    assert judge.looks == [(1, 4)]  # its "pass" is not taken
    _assert_vanished(result, mirrored)


def test_a_mirror_route_gone_during_the_hold_stops_before_any_look(
        mirrored: RolloutsStandIn, tmp_path: Path) -> None:
    judge = ScriptedJudge("pass")
    result = _run(mirrored, tmp_path, judge, clock=RouteDroppingClock(mirrored), mirror=MIRROR)
    assert judge.looks == []
    _assert_vanished(result, mirrored)


def test_a_mirror_policy_on_a_rollout_without_the_mirror_steps_changes_nothing(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    result = _run(standin, tmp_path, ScriptedJudge("pass"), mirror=MIRROR)
    assert (result.result, int(result.exit_code)) == ("aborted", 2)
    assert "setCanaryScale: {weight: 25}" in result.message
    assert "not changed" in result.message
    assert standin.writes() == []


# -- the CLI -----------------------------------------------------------------------------

POLICY = """\
model: ranker
rollout: {name: ranker, namespace: ml, steps: [10, 25, 50], step_seconds: 10}
analysis:
  metrics:
    error_slo: {kind: threshold, query: 'rate{version="{{version}}"}', max: 0.05}
"""


def _cli(tmp_path: Path, policy: str, *extra: str) -> int:
    (tmp_path / "modelrail.yaml").write_text(policy, encoding="utf-8")
    return main(["canary", "run", "--config", str(tmp_path / "modelrail.yaml"),
                 "--image", "ranker:v2", "--version", "2", "--json",
                 str(tmp_path / "out.json"), *extra])


def test_the_cli_needs_a_rollout_section(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    policy = POLICY.replace("rollout: {name: ranker, namespace: ml, steps: [10, 25, 50], "
                            "step_seconds: 10}\n", "")
    assert _cli(tmp_path, policy, "--prometheus-url", "http://127.0.0.1:9") == 2
    assert "needs a rollout: section" in capsys.readouterr().err


def test_the_cli_reads_the_baseline_off_the_stable_image_and_fails_closed(
        standin: RolloutsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    kubeconfig = str(standin.write_kubeconfig(tmp_path / "kubeconfig"))
    code = _cli(tmp_path, POLICY, "--kubeconfig", kubeconfig,
                "--prometheus-url", f"http://127.0.0.1:{free_port()}")  # nobody listens
    assert code == 3
    result = json.loads((tmp_path / "out.json").read_text())
    assert (result["result"], result["baseline"]) == ("aborted", "1")
    assert result["baseline_source"] == "the stable image ranker:v1"
    assert standin.writes() == []  # Prometheus down before the start: nothing changed
    outputs = parse_file_command((tmp_path / "outputs").read_text())
    assert outputs == {"result": "aborted", "failed-step": "", "weight": "",
                       "baseline": "1"}


class RecordingPrometheus(PrometheusClient):
    """Answers every query with one series at 0.01 and remembers the queries."""

    def __init__(self) -> None:
        super().__init__("http://prometheus.invalid")
        self.sent: list[str] = []

    def query(self, promql: str, at: float) -> list[Series]:
        self.sent.append(promql)
        return [Series(labels={}, points=((at, 0.01),))]


@pytest.mark.parametrize(("held", "window"), [(8.0, "[10s]"), (25.3, "[26s]")])
def test_a_step_held_longer_is_read_in_full(held: float, window: str) -> None:
    config = AnalysisConfig(metrics=(ThresholdMetric(
        name="error_slo", query="rate(errors{version='{{version}}'}[{{window}}])",
        maximum=0.05),))
    client = RecordingPrometheus()
    judge = PrometheusJudge(config, client, canary="2", baseline="1", window="10s",
                            log=lambda _line: None)
    assert judge.look(1, 3, held).decision.outcome == "pass"
    assert client.sent == [f"rate(errors{{version='2'}}{window})"]


# -- last resort: whatever raises after the image is set, the rollout is aborted ----------


def test_an_unexpected_exception_in_the_judge_aborts_and_is_recorded_as_an_error(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    result = _run(standin, tmp_path, ScriptedJudge("pass", RuntimeError("boom")))
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 1, 0)
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "pass"), (25, "error")]
    assert result.error is not None
    assert result.error.startswith("internal error (RuntimeError")
    assert "boom" in result.error
    assert "fakes.py:" in result.error  # the line the scripted judge raised at
    assert "traffic is back on stable" in result.message
    assert _status_patches(standin)[-1] == ABORT
    assert PROMOTE_FULL not in _status_patches(standin)
    report = result.to_json()
    assert report["error"] == result.error
    json.dumps(report, allow_nan=False)


def test_an_unexpected_io_error_is_exit_3(standin: RolloutsStandIn, tmp_path: Path) -> None:
    result = _run(standin, tmp_path, ScriptedJudge(ConnectionResetError("reset by peer")))
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 3, 0)
    assert result.error is not None
    assert "unexpected I/O error (ConnectionResetError" in \
        result.error
    assert _status_patches(standin)[-1] == ABORT


def test_an_abort_that_fails_unexpectedly_too_is_said(standin: RolloutsStandIn,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_abort(_self: RolloutDriver, **_waiting: object) -> None:
        raise KeyError("status")

    monkeypatch.setattr(RolloutDriver, "abort", broken_abort)
    result = _run(standin, tmp_path, ScriptedJudge(ValueError("bad")))
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 1, None)
    assert "the abort failed too: internal error (KeyError" in result.message
    assert result.error is not None
    assert "ValueError" in result.error


@pytest.mark.parametrize("raised", [TypeError("unexpected answer"), KeyboardInterrupt()])
def test_set_image_raising_unexpectedly_aborts_in_case_it_was_set(
        standin: RolloutsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        raised: BaseException) -> None:
    original = RolloutDriver.set_image

    def set_then_fail(self: RolloutDriver, image: str, container: str | None = None) -> None:
        original(self, image, container)
        raise raised

    monkeypatch.setattr(RolloutDriver, "set_image", set_then_fail)
    if isinstance(raised, KeyboardInterrupt):  # a cancelled job: abort, then go on
        with pytest.raises(KeyboardInterrupt):
            _run(standin, tmp_path, ScriptedJudge("pass"))
    else:
        result = _run(standin, tmp_path, ScriptedJudge("pass"))
        assert (result.result, int(result.exit_code), result.weight) == ("aborted", 1, 0)
    assert _status_patches(standin)[-1] == ABORT


def test_an_unexpected_exception_before_the_image_is_set_changes_nothing(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    class BrokenJudge(ScriptedJudge):
        def preflight(self) -> None:
            raise AttributeError("no such thing")

    result = _run(standin, tmp_path, BrokenJudge("pass"))
    assert (result.result, int(result.exit_code)) == ("aborted", 1)
    assert "the rollout was not changed" in result.message
    assert result.error is not None
    assert "AttributeError" in result.error
    assert standin.writes() == []


FAST_POLICY = """\
model: ranker
rollout: {name: ranker, namespace: ml, steps: [10, 25, 50], step_seconds: 0.2}
analysis:
  metrics:
    error_rate: {kind: compare, data: counter, min_samples: 10,
                 query: 'errors{version="{{version}}"}', total: 'requests{version="{{version}}"}'}
"""


def _cli_run(standin: RolloutsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             prometheus: PrometheusClient, policy: str = FAST_POLICY
             ) -> tuple[int, dict[str, object], dict[str, str]]:
    """`canary run` through main() on the stand-in, Prometheus answered by `prometheus`."""
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setattr(PrometheusClient, "from_env", staticmethod(lambda _url: prometheus))
    kubeconfig = str(standin.write_kubeconfig(tmp_path / "kubeconfig"))
    code = _cli(tmp_path, policy, "--kubeconfig", kubeconfig, "--summary",
                "--report-dir", str(tmp_path / "report"))
    report = json.loads((tmp_path / "out.json").read_text())
    return code, report, parse_file_command((tmp_path / "outputs").read_text())


@pytest.mark.parametrize(("errors", "requests"), [
    (math.inf, 1000.0), (-math.inf, 1000.0), (3.0, math.inf), (math.nan, math.nan)])
def test_the_cli_aborts_a_canary_whose_counter_is_not_a_number(
        standin: RolloutsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], errors: float, requests: float) -> None:
    """(NaN is a missing point: NaN errors alone would be 0 errors, as before.)"""
    prometheus = ScriptedPrometheus({"errors": errors, "requests": requests})
    code, report, outputs = _cli_run(standin, tmp_path, monkeypatch, prometheus)
    assert code == 4  # the metric's no_data (inconclusive): never promoted
    assert (report["result"], report["exit_code"], report["weight"]) == ("aborted", 4, 0)
    assert report["error"] is None
    assert outputs["result"] == "aborted"
    assert standin.weight("ranker", "ml") == 0
    assert _status_patches(standin)[-1] == ABORT
    assert "Traceback" not in capsys.readouterr().err
    assert (tmp_path / "report" / "canary-report.html").exists()


def test_the_cli_writes_json_and_outputs_when_something_unexpected_raises(
        standin: RolloutsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def broken_analyze(*_args: object, **_kwargs: object) -> AnalysisResult:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr("modelrail.canary.loop.analyze", broken_analyze)
    prometheus = ScriptedPrometheus({"errors": 1.0, "requests": 1000.0})
    code, report, outputs = _cli_run(standin, tmp_path, monkeypatch, prometheus)
    assert code == 1
    assert (report["result"], report["exit_code"], report["weight"]) == ("aborted", 1, 0)
    assert isinstance(report["error"], str)
    assert "ZeroDivisionError" in report["error"]
    assert outputs == {"result": "aborted", "failed-step": "10", "weight": "0",
                       "baseline": "1"}
    assert standin.weight("ranker", "ml") == 0
    assert "internal error \\(ZeroDivisionError" in (tmp_path / "summary.md").read_text()
    assert "Traceback" not in capsys.readouterr().err


# -- metrics that were never judged --------------------------------------------------------


class UnjudgedJudge(ScriptedJudge):
    """Every look passes on error_rate while `latency` never has data (non-critical)."""

    def look(self, look: int, looks: int, held: float) -> AnalysisResult:
        result = super().look(look, looks, held)
        latency = Verdict(name="latency", test="histogram", outcome="inconclusive",
                          reason="no data: the buckets are too coarse to judge")
        verdicts = (*result.verdicts, latency)
        return replace(result, verdicts=verdicts, decision=decide(verdicts, 100))


def test_a_metric_never_judged_is_named_in_the_result_summary_and_report(
        standin: RolloutsStandIn, tmp_path: Path) -> None:
    result = _run(standin, tmp_path, UnjudgedJudge("pass"))
    assert (result.result, int(result.exit_code)) == ("promoted", 0)
    assert result.unjudged == ("latency",)
    report = result.to_json()
    assert report["unjudged"] == ["latency"]
    steps = report["steps"]
    assert isinstance(steps, list)
    assert [step["unjudged"] for step in steps] == [["latency"]] * 3
    config = replace(CONFIG, metrics=(*CONFIG.metrics, HistogramMetric(
        name="latency", query="h{version='{{version}}'}")))
    markdown = canary_markdown(result, config)
    assert "⚠️ **Not judged** (no data at the last look): <code>latency</code>" in markdown
    assert "| 10% | ✅ pass ⚠️ not judged: latency |" in markdown
    write_report(tmp_path / "report", result, config)
    html = (tmp_path / "report" / "canary-report.html").read_text()
    assert "Not judged (no data at the last look): latency" in html


TOO_COARSE = [("+Inf", 1000.0)]  # one bucket: no boundary to judge a p99 by


@pytest.mark.parametrize(("required", "code", "result"), [
    (False, 0, "promoted"), (True, 4, "aborted")])
def test_a_histogram_too_coarse_to_judge_warns_or_with_require_all_judged_aborts(
        standin: RolloutsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], required: bool, code: int, result: str) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    policy = FAST_POLICY + (
        "    latency: {kind: compare, data: histogram, min_samples: 10,\n"
        "              query: 'buckets{version=\"{{version}}\"}'}\n"
        "    slo: {kind: threshold, query: 'rate{version=\"{{version}}\"}', max: 0.05}\n"
        "  require_all_judged: " + ("true" if required else "false") + "\n")
    prometheus = ScriptedPrometheus({"errors": 1.0, "requests": 1000.0, "buckets": TOO_COARSE,
                                     "rate": 0.01})
    exit_code, report, outputs = _cli_run(standin, tmp_path, monkeypatch, prometheus, policy)
    assert (exit_code, report["result"], outputs["result"]) == (code, result, result)
    assert report["unjudged"] == ["latency"]
    out = capsys.readouterr().out
    assert "::warning title=Canary::not judged (no data at the last look): latency" in out
    summary = (tmp_path / "summary.md").read_text()
    assert "**Not judged** (no data at the last look): <code>latency</code>" in summary
    if required:
        assert "analysis.require_all_judged is true" in report["message"]  # type: ignore[operator]
        assert PROMOTE_FULL not in _status_patches(standin)
        assert standin.weight("ranker", "ml") == 0


@pytest.mark.parametrize("routing", [True, False])
def test_a_step_is_held_only_once_the_controller_moved_the_traffic(
        tmp_path: Path, routing: bool) -> None:
    """The first reconcile after the new image keeps the old weights (stable hash), or
    without traffic routing has no canary pod ready: the hold timer must not start there
    at 0 % real traffic (rollout/canary.go, rollout/trafficrouting.go)."""
    with RolloutsStandIn(controller_delay=3600) as server:  # reconciles on reads only
        server.add_rollout("ranker", "ml", image="ranker:v1", weights=WEIGHTS,
                           traffic_routing=routing)
        at_reached: list[int] = []

        def log(line: str) -> None:
            if " · reached · " in line:
                at_reached.append(server.weight("ranker", "ml"))

        clock = FakeClock()
        plan = CanaryPlan(image="ranker:v2", version="2", baseline="1",
                          baseline_source="--baseline-version", weights=WEIGHTS,
                          step_seconds=STEP_SECONDS, looks=len(WEIGHTS),
                          extra_seconds=STEP_SECONDS, interval=2.0)
        result = CanaryRun(_driver(server, tmp_path), ScriptedJudge("pass"), plan, log=log,
                           clock=clock, sleep=clock.sleep).run()
    assert (result.result, int(result.exit_code)) == ("promoted", 0)
    assert at_reached == list(WEIGHTS)


@pytest.mark.parametrize("abort", [False, True])
def test_canary_pods_that_never_get_ready_end_the_run_on_the_progress_deadline(
        tmp_path: Path, abort: bool) -> None:
    """Argo reports ProgressDeadlineExceeded (or aborts, with progressDeadlineAbort) when
    the canary makes no progress for progressDeadlineSeconds (rollout/sync.go): the run
    stops there with exit 1, aborts and names it, instead of waiting out its own bound."""
    with RolloutsStandIn() as server:
        server.add_rollout("ranker", "ml", image="ranker:v1", weights=WEIGHTS,
                           progress_deadline=1, progress_deadline_abort=abort)
        server.never_ready("ranker:v2")
        plan = CanaryPlan(image="ranker:v2", version="2", baseline="1",
                          baseline_source="--baseline-version", weights=WEIGHTS,
                          step_seconds=STEP_SECONDS, looks=len(WEIGHTS),
                          extra_seconds=STEP_SECONDS, interval=0.1)
        started = time.monotonic()
        result = CanaryRun(_driver(server, tmp_path), ScriptedJudge("pass"), plan,
                           log=lambda _line: None).run()
        elapsed = time.monotonic() - started
        status = server.rollout("ranker", "ml")["status"]
    assert (result.result, int(result.exit_code), result.weight) == ("aborted", 1, 0)
    assert elapsed < 15
    assert "ProgressDeadlineExceeded" in result.message
    assert "has timed out progressing." in result.message
    assert status["abort"] is True
    assert [(s.weight, s.verdict) for s in result.steps] == [(10, "error")]
