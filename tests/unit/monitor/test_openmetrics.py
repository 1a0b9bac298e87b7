"""`monitor --openmetrics`: per feature PSI, statistic, adjusted p-value and severity, per
run the worst severity, checked by Prometheus's own parsers."""

from pathlib import Path

from modelrail.monitor.drift import Check, MonitorResult
from modelrail.monitor.openmetrics import monitor_gauges
from modelrail.plumbing.openmetrics import render

from tests.support.promtool import check_metrics, load_and_dump, needs_promtool

NOW = 1_796_518_800


def check(name: str, kind: str, psi: float | None, severity: str | None) -> Check:
    return Check(name=name, kind=kind, test="ks" if kind == "numeric" else "chi2",
                 statistic=0.3, p_value=0.001, adjusted_p_value=None if psi is None else 0.002,
                 psi=psi, minor=0.1, major=0.25, severity=severity,  # type: ignore[arg-type]
                 reference={}, current={})


def result() -> MonitorResult:
    return MonitorResult(model="ctr-ranker", reference="models:/ctr-ranker@champion",
                         current="log.jsonl", current_rows=5000, alpha=0.01,
                         correction="Holm", model_version=3,
                         checks=[check("position", "numeric", 0.4, "major"),
                                 check("device", "categorical", 0.05, None),
                                 check("calibration", "performance", None, None)],
                         actions={"minor": "warn", "major": "rollback"})


def text() -> str:
    return render(monitor_gauges(result(), now=NOW))


def test_each_feature_has_its_psi_and_severity_and_the_run_its_worst() -> None:
    lines = text().splitlines()
    run = 'model="ctr-ranker",version="3"'

    assert f'modelrail_monitor_severity{{{run},severity="major"}} 2.0 {NOW}' in lines
    assert f'modelrail_monitor_rows{{{run}}} 5000.0 {NOW}' in lines
    assert f'modelrail_monitor_psi{{{run},feature="position",kind="numeric"}} 0.4 {NOW}' in lines
    assert f'modelrail_monitor_drift_severity{{{run},feature="device",kind="categorical",' \
        f'severity="none"}} 0.0 {NOW}' in lines
    assert f'modelrail_monitor_statistic{{{run},feature="position",kind="numeric",' \
        f'test="ks"}} 0.3 {NOW}' in lines
    assert not [line for line in lines if "psi" in line and "calibration" in line]


@needs_promtool
def test_prometheus_parses_and_loads_it(tmp_path: Path) -> None:
    check_metrics(text())
    dump = load_and_dump(text(), tmp_path)

    assert len(dump) == len([line for line in text().splitlines() if line[:1] != "#"])
