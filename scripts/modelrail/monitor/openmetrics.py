"""A monitoring run as gauges (docs/openmetrics.md): per feature (and the prediction, and
calibration) its PSI, test statistic, Holm-adjusted p-value and severity; per run the
worst severity and the rows read. Stamped with the run's time.

Severities are numbers so they can be graphed: none 0, minor 1, major 2.
"""

import math
import time

from modelrail.monitor.drift import Check, MonitorResult
from modelrail.plumbing.openmetrics import Gauge

SEVERITY_VALUES = {None: 0.0, "minor": 1.0, "major": 2.0}


def monitor_gauges(result: MonitorResult, now: float | None = None) -> list[Gauge]:
    """Every check of `result` as gauge samples, stamped `now` (default: the clock)."""
    stamp = int(time.time() if now is None else now)
    run = {"model": result.model, "version": str(result.model_version or "")}
    severity = Gauge("modelrail_monitor_severity",
                     "Worst drift severity of a monitoring run: 0 none, 1 minor, 2 major")
    severity.add({**run, "severity": result.severity or "none"},
                 SEVERITY_VALUES[result.severity], stamp)
    rows = Gauge("modelrail_monitor_rows", "Rows of the production log a run read")
    rows.add(run, float(result.current_rows), stamp)
    checks = {name: Gauge(f"modelrail_monitor_{name}", text) for name, text in (
        ("drift_severity", "Severity of one feature's drift: 0 none, 1 minor, 2 major"),
        ("psi", "Population stability index of one feature against the reference"),
        ("statistic", "Test statistic of one feature (KS, chi-squared, calibration error)"),
        ("adjusted_p_value", "Holm-adjusted p-value of one feature's drift test"))}
    for check in result.checks:
        _add_check(checks, {**run, "feature": check.name, "kind": check.kind}, check, stamp)
    return [severity, rows, *checks.values()]


def _add_check(checks: dict[str, Gauge], labels: dict[str, str], check: Check,
               stamp: int) -> None:
    checks["drift_severity"].add({**labels, "severity": check.severity or "none"},
                                 SEVERITY_VALUES[check.severity], stamp)
    values = {"psi": check.psi, "statistic": check.statistic,
              "adjusted_p_value": check.adjusted_p_value}
    for name, value in values.items():
        if value is not None and math.isfinite(value):
            checks[name].add({**labels, "test": check.test} if name == "statistic" else labels,
                             value, stamp)
