"""One monitoring run: every feature and the prediction tested, corrected together,
graded by severity, and the action the policy attaches to the worst one."""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from modelrail.errors import InconclusiveError
from modelrail.monitor.aggregate import Calibration, Logs, open_logs
from modelrail.monitor.config import Action, MonitorConfig, Severity
from modelrail.monitor.stats import (
    FeatureDrift,
    Grid,
    IntArray,
    binned,
    categorical_test,
    numeric_test,
)
from modelrail.multiple_testing import holm
from modelrail.plumbing.engines import Location

_EXCLUDED = ("label", "shadow", "timestamp", "request_id", "row", "user_id", "experiment",
             "variant", "model", "version")


@dataclass(frozen=True)
class Check:
    """One feature (or the prediction, or calibration) and its verdict."""

    name: str
    kind: str  # numeric | categorical | prediction | performance
    test: str
    statistic: float
    p_value: float | None
    adjusted_p_value: float | None
    psi: float | None
    minor: float
    major: float
    severity: Severity | None
    reference: Mapping[str, float]  # label -> share, for the plots
    current: Mapping[str, float]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class MonitorResult:
    model: str
    reference: str
    current: str
    current_rows: int
    alpha: float
    correction: str
    checks: Sequence[Check]
    actions: Mapping[Severity, Action]
    model_version: int | None = None  # the version monitored, when the registry said

    @property
    def severity(self) -> Severity | None:
        found = {check.severity for check in self.checks}
        return "major" if "major" in found else "minor" if "minor" in found else None

    @property
    def action(self) -> Action | None:
        return self.actions[self.severity] if self.severity else None

    def breaches(self) -> list[Check]:
        return [check for check in self.checks if check.severity]

    def to_json(self) -> dict[str, object]:
        return {"model": self.model, "model_version": self.model_version,
                "reference": self.reference, "current": self.current,
                "current_rows": self.current_rows, "alpha": self.alpha,
                "correction": self.correction, "severity": self.severity,
                "action": self.action, "breach": self.action == "rollback",
                "checks": [check.to_json() for check in self.checks]}


@dataclass(frozen=True)
class _Tested:
    name: str
    kind: str
    drift: FeatureDrift
    reference: Mapping[str, float]
    current: Mapping[str, float]


def check_logs(reference: Path, current: str, events: str | None, config: MonitorConfig,
               location: Location | None = None) -> tuple[int, list[Check]]:
    """(production rows, checks): drift, and performance with `events`; fewer rows than
    monitor.min_rows give no verdict (InconclusiveError). `current` and `events` are
    files, or tables when `location` is PostgreSQL."""
    with open_logs(reference, current, location or Location()) as logs:
        rows = logs.count()
        if rows < config.min_rows:
            raise InconclusiveError(f"{logs.current.source}: {rows} production rows, fewer "
                                    f"than monitor.min_rows ({config.min_rows}); no verdict")
        checks = drift_checks(logs, config)
        performance = performance_check(logs, events, config) if events else None
    return rows, [*checks, *([performance] if performance else [])]


def features_of(logs: Logs, config: MonitorConfig) -> list[str]:
    if config.features is not None:
        return list(config.features)
    skip = {config.prediction, *_EXCLUDED}
    return [name for name in logs.reference_columns() if name not in skip]


def drift_checks(logs: Logs, config: MonitorConfig) -> list[Check]:
    """Every feature and the prediction, Holm-corrected together at `config.alpha`."""
    features = features_of(logs, config)
    logs.require([*features, config.prediction])
    categorical = set(config.categorical if config.categorical is not None
                      else logs.text_columns())
    tested = [_categorical(logs, name, config) if name in categorical
              else _numeric(logs, name, "numeric", config) for name in features]
    tested.append(_numeric(logs, config.prediction, "prediction", config))
    adjusted = holm([item.drift.p_value for item in tested])
    return [_grade(item, p, config) for item, p in zip(tested, adjusted, strict=True)]


def _numeric(logs: Logs, name: str, kind: str, config: MonitorConfig) -> _Tested:
    grid = logs.grid(name)
    counts = logs.grid_counts(name, grid)
    drift = numeric_test(grid, counts, bins=config.bins, epsilon=config.epsilon)
    ends = grid.psi_bins(config.bins)
    labels = _bin_labels(grid, ends)
    return _Tested(name, kind, drift, _shares(labels, binned(grid.reference, ends).tolist()),
                   _shares(labels, binned(counts, ends).tolist()))


def _bin_labels(grid: Grid, ends: IntArray) -> list[str]:
    """Each PSI bin by its upper edge (`<= 3.5`), the last by the edge below it."""
    edges = [f"{grid.values[(end - 2) // 2]:.4g}" for end in ends[:-1]]
    return [f"<= {edge}" for edge in edges] + [f"> {edges[-1]}" if edges else "all"]


def _categorical(logs: Logs, name: str, config: MonitorConfig) -> _Tested:
    reference = logs.categories(name, reference=True)
    current = logs.categories(name, reference=False)
    drift = categorical_test(reference, current, epsilon=config.epsilon)
    labels = sorted(set(reference) | set(current))
    return _Tested(name, "categorical", drift,
                   _shares(labels, [reference.get(c, 0) for c in labels]),
                   _shares(labels, [current.get(c, 0) for c in labels]))


def _shares(labels: Sequence[str], counts: Sequence[int]) -> dict[str, float]:
    total = sum(counts) or 1
    return {label: count / total for label, count in zip(labels, counts, strict=True)}


def _grade(item: _Tested, adjusted: float, config: MonitorConfig) -> Check:
    """Drift has a severity only when it is significant *and* large: with millions of
    rows any shift is significant, and PSI alone would alarm on noise in small samples."""
    levels = config.levels(item.name)
    significant = adjusted < config.alpha
    return Check(name=item.name, kind=item.kind, test=item.drift.test,
                 statistic=item.drift.statistic, p_value=item.drift.p_value,
                 adjusted_p_value=adjusted, psi=item.drift.psi, minor=levels.minor,
                 major=levels.major,
                 severity=levels.severity(item.drift.psi) if significant else None,
                 reference=item.reference, current=item.current)


def performance_check(logs: Logs, events: str, config: MonitorConfig) -> Check | None:
    if config.performance is None:
        return None
    found: Calibration = logs.calibration(events, config.prediction,
                                          config.performance.attribution_window_seconds)
    levels = config.performance.calibration_error
    observed = found.clicks / found.rows if found.rows else 0.0
    return Check(name="calibration", kind="performance", test="observed/predicted CTR",
                 statistic=found.error, p_value=None, adjusted_p_value=None, psi=None,
                 minor=levels.minor, major=levels.major,
                 severity=levels.severity(found.error) if found.rows else None,
                 reference={"predicted CTR": found.mean_score},
                 current={"observed CTR": observed, "judged rows": float(found.rows)})
