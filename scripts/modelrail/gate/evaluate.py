"""The quality gate: a candidate's metrics against absolute bounds and the champion.

Semantics follow MLflow's MetricThreshold. For a metric where greater is better:
    candidate >= threshold
    candidate >= champion + min_absolute_change
    candidate >= champion + min_relative_change * |champion|
and mirrored when lower is better. A negative change allows a bounded regression.
"""

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from modelrail.gate.config import MetricThreshold


@dataclass(frozen=True)
class Check:
    """One comparison inside a metric's verdict."""

    kind: str  # threshold | min_absolute_change | min_relative_change
    required: float  # the bound the candidate had to reach
    passed: bool
    detail: str


@dataclass(frozen=True)
class MetricVerdict:
    name: str
    candidate: float | None
    champion: float | None
    greater_is_better: bool
    passed: bool
    reason: str
    checks: list[Check] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        if self.candidate is None or self.champion is None:
            return None
        change = self.candidate - self.champion
        return change if math.isfinite(change) else None


@dataclass(frozen=True)
class GateResult:
    model: str
    passed: bool
    champion: str | None  # e.g. "models:/ranker@champion", None when there is none
    metrics: list[MetricVerdict]
    notes: list[str]

    def failures(self) -> list[MetricVerdict]:
        return [m for m in self.metrics if not m.passed]

    def to_json(self) -> dict[str, object]:
        report: dict[str, object] = _json_safe({
            "model": self.model,
            "passed": self.passed,
            "champion": self.champion,
            "notes": self.notes,
            "metrics": [
                {**asdict(m), "change": m.change, "checks": [asdict(c) for c in m.checks]}
                for m in self.metrics
            ],
        })
        return report


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: the report must be strict JSON for fromJSON()."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def result_from_json(report: Mapping[str, Any]) -> GateResult:
    """Rebuild a GateResult from `to_json()` output (it crosses jobs as a step output).

    The verdict is judged again from the metric entries, never taken on trust: a metric
    passes only when its entry and all its checks say so, and the gate only when the
    report and every metric do; each disagreement is a note (and a failure). A field of
    the wrong type raises ValueError/TypeError/KeyError naming it (`bool("false")` is
    True, so nothing is coerced).
    """
    entries = _list(report["metrics"], "metrics")
    notes = [str(n) for n in _list(report.get("notes", []), "notes")]
    metrics = [_verdict_from_json(entry, notes) for entry in entries]
    said = _flag(report["passed"], "passed")
    passed = all(m.passed for m in metrics)
    if said and not passed:
        failed = ", ".join(m.name for m in metrics if not m.passed)
        notes.append(f"the report said passed, but these metrics failed: {failed}")
    elif passed and not said:
        notes.append("the report said failed although every metric entry passed; "
                     "treated as failed")
    champion = report.get("champion")
    return GateResult(model=str(report["model"]), passed=said and passed, metrics=metrics,
                      champion=str(champion) if champion else None, notes=notes)


def _verdict_from_json(entry: Mapping[str, Any], notes: list[str]) -> MetricVerdict:
    name = str(entry["name"])
    checks = [Check(str(c["kind"]), float(c["required"]), _flag(c["passed"], "passed"),
                    str(c["detail"])) for c in _list(entry["checks"], "checks")]
    said = _flag(entry["passed"], "passed")
    failed_check = any(not c.passed for c in checks)
    if said and failed_check:
        notes.append(f"{name}: the entry said passed, but a check failed")
    return MetricVerdict(
        name=name, candidate=_optional_float(entry["candidate"]),
        champion=_optional_float(entry["champion"]),
        greater_is_better=_flag(entry["greater_is_better"], "greater_is_better"),
        passed=said and not failed_check, reason=str(entry["reason"]), checks=checks)


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{field}: expected true or false, got {value!r}")
    return value


def _list(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{field}: expected a list, got {type(value).__name__}")
    return value


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def evaluate_gate(
    model: str,
    policy: Mapping[str, MetricThreshold],
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    champion_ref: str | None = None,
    *,
    no_champion_because: str = "no champion metrics were given",
) -> GateResult:
    """Judge every metric of `policy`; `champion` is None when there is none to compare
    with, and `no_champion_because` then says why in the note (what was looked up where,
    or that nothing was asked for: the note never claims more than was checked)."""
    notes: list[str] = []
    if champion is None:
        notes.append(f"no champion compared: {no_champion_because}; "
                     "champion-relative checks were skipped")
    verdicts = [
        _judge_metric(name, rule, candidate, champion, notes) for name, rule in policy.items()
    ]
    return GateResult(
        model=model,
        passed=all(v.passed for v in verdicts),
        champion=champion_ref if champion is not None else None,
        metrics=verdicts,
        notes=notes,
    )


def _judge_metric(
    name: str,
    rule: MetricThreshold,
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    notes: list[str],
) -> MetricVerdict:
    value = candidate.get(name)
    base = champion.get(name) if champion is not None else None

    def verdict(passed: bool, reason: str, checks: list[Check]) -> MetricVerdict:
        return MetricVerdict(name, value, base, rule.greater_is_better, passed, reason, checks)

    if value is None:
        have = ", ".join(sorted(candidate)) or "none"
        return verdict(False, f"{name}: missing from the candidate metrics (have: {have})", [])
    if not math.isfinite(value):
        return verdict(False, f"{name}: candidate value is {value}, not a finite number", [])

    checks: list[Check] = []
    if rule.threshold is not None:
        checks.append(_bound_check(name, "threshold", value, rule.threshold, rule))
    if champion is not None and _has_relative_rule(rule):
        if base is not None and math.isfinite(base):
            checks.extend(_champion_checks(name, value, base, rule))
        else:
            notes.append(f"{name}: the champion has no finite value; "
                         "champion-relative checks were skipped")

    failed = [c for c in checks if not c.passed]
    if failed:
        return verdict(False, "; ".join(c.detail for c in failed), checks)
    if not checks:
        return verdict(True, f"{name} = {_fmt(value)} (no bound applies)", checks)
    return verdict(True, "; ".join(c.detail for c in checks), checks)


def _has_relative_rule(rule: MetricThreshold) -> bool:
    return rule.min_absolute_change is not None or rule.min_relative_change is not None


def _champion_checks(name: str, value: float, base: float, rule: MetricThreshold) -> list[Check]:
    sign = 1.0 if rule.greater_is_better else -1.0
    checks = []
    if rule.min_absolute_change is not None:
        required = base + sign * rule.min_absolute_change
        checks.append(_bound_check(name, "min_absolute_change", value, required, rule,
                                    champion=base))
    if rule.min_relative_change is not None:
        required = base + sign * rule.min_relative_change * abs(base)
        checks.append(_bound_check(name, "min_relative_change", value, required, rule,
                                    champion=base))
    return checks


def _bound_check(
    name: str,
    kind: str,
    value: float,
    required: float,
    rule: MetricThreshold,
    *,
    champion: float | None = None,
) -> Check:
    op = ">=" if rule.greater_is_better else "<="
    # A candidate exactly at the bound passes, even when float arithmetic put the bound
    # a few ulps away (champion 0.1 + change 0.2 = 0.30000000000000004).
    at_bound = math.isclose(value, required, rel_tol=1e-9, abs_tol=1e-12)
    passed = at_bound or (value >= required if rule.greater_is_better else value <= required)
    shortfall = abs(required - value)
    if champion is None:
        what = f"threshold {_fmt(required)}"
    else:
        change = value - champion
        relative = f" ({change / abs(champion):+.2%})" if champion != 0 else ""
        setting = getattr(rule, kind)
        what = (f"{_fmt(required)} = champion {_fmt(champion)} with {kind} {setting:g}; "
                f"change {change:+.6g}{relative}")
    if passed:
        detail = f"{name} {_fmt(value)} {op} {what}"
    else:
        worse = "below" if rule.greater_is_better else "above"
        detail = f"{name} {_fmt(value)} is {worse} {what}, off by {_fmt(shortfall)}"
    return Check(kind=kind, required=required, passed=passed, detail=detail)
