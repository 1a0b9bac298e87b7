"""`modelrail shadow analyze`: how a shadow's answers compare with production's on the
same requests, and how the shadow calls fared (Prometheus, optional).

Both sides come from one prediction log, paired on (request id, row) (docs/log-formats.md);
everything is one SQL aggregation (`sql/shadow_stats.sql`: the KS distance by a sort and a
running sum) on the engine of a `Location` (DuckDB on a file, PostgreSQL on a table, Spark
on Parquet), so memory stays bounded and only a few numbers come back. With a `version`,
only that version's shadow lines count.
"""

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from modelrail.errors import UsageError
from modelrail.monitor.config import ShadowConfig
from modelrail.plumbing.engines import Location, open_engine
from modelrail.plumbing.log_source import Kind, RawLog, subquery, typed_columns
from modelrail.plumbing.prometheus import PrometheusClient
from modelrail.plumbing.sql_engine import SqlEngine, sql_file


@dataclass(frozen=True)
class ShadowCheck:
    name: str
    value: float | None
    limit: float
    kind: str  # min | max
    passed: bool


@dataclass(frozen=True)
class ShadowResult:
    pairs: int
    shadow_rows: int
    checks: tuple[ShadowCheck, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def to_json(self) -> dict[str, object]:
        return {"pairs": self.pairs, "shadow_rows": self.shadow_rows, "passed": self.passed,
                "checks": [asdict(check) for check in self.checks]}


@dataclass(frozen=True)
class Agreement:
    pairs: int
    shadow_rows: int  # of the version asked for, if one was
    agreement: float
    correlation: float | None
    ks: float
    other_versions: tuple[str, ...] = ()  # of the shadow lines, when none was of `version`


_COLUMNS = ("request_id", "row", "prediction", "shadow", "shadow_of")
# The typed columns the SQL reads; `row` is `line` (a keyword in PostgreSQL).
_TYPED: dict[str, Kind] = {"request_id": "text", "prediction": "double",
                           "shadow_of": "text", "version": "text"}


def agreement(log: Path | str, threshold: float, version: int | None = None,
              location: Location | None = None) -> Agreement:
    """The pairs' statistics from the prediction log `log` (a file, or a table when
    `location` is PostgreSQL)."""
    with open_engine(location or Location()) as engine:
        raw = engine.open(str(log), "raw_log", "predictions")
        needed = (*_COLUMNS, "version") if version is not None else _COLUMNS
        missing = set(needed) - set(raw.columns)
        if missing:
            raise UsageError(f"{raw.source}: no {sorted(missing)[0]!r} column: no shadow "
                             "lines (a router with SHADOW set writes them, with the shadow "
                             "server's version)")
        lines = _typed_lines(engine.sql, raw)
        wanted = None if version is None else str(version)
        with engine.guard(f"{raw.source}: cannot read the predictions"):
            found = engine.sql.query(_sql(engine.sql, "shadow_stats.sql", lines),
                                     [wanted, wanted, threshold, threshold])[0]
            others = tuple(str(row["version"]) for row in engine.sql.query(
                _sql(engine.sql, "shadow_versions.sql", lines), [])) \
                if version is not None and not found["shadow_rows"] else ()
    pairs = int(found["pairs"])
    return Agreement(pairs=pairs, shadow_rows=int(found["shadow_rows"]), other_versions=others,
                     agreement=float(found["agreement"] or 0.0),
                     correlation=None if found["correlation"] is None
                     else float(found["correlation"]),
                     ks=float(found["gap"] or 0) / pairs if pairs else 0.0)


def _typed_lines(engine: SqlEngine, raw: RawLog) -> str:
    """The log's lines with the typed columns the SQL reads."""
    return subquery(engine, [*typed_columns(engine, raw.columns, _TYPED),
                             f"{engine.quote('row')} AS line",
                             "COALESCE(CAST(shadow AS BOOLEAN), FALSE) AS is_shadow"], raw)


def _sql(engine: SqlEngine, name: str, lines: str) -> str:
    return sql_file(__package__, name).format(log=lines, param=engine.placeholder,
                                              **engine.types)


def judge(found: Agreement, config: ShadowConfig,
          calls: tuple[float | None, float | None] | None) -> ShadowResult:
    """The checks; `calls` is (error rate, p99 seconds) from Prometheus, if asked."""
    checks = [
        _at_least("decision_agreement", found.agreement, config.min_agreement),
        _at_least("score_correlation", found.correlation, config.min_correlation),
        _at_most("score_ks_distance", found.ks, config.max_ks),
    ]
    if calls is not None:
        checks += [_at_most("shadow_error_rate", calls[0], config.max_error_rate),
                   _at_most("shadow_latency_p99_seconds", calls[1], config.max_latency_p99)]
    return ShadowResult(pairs=found.pairs, shadow_rows=found.shadow_rows, checks=tuple(checks))


def _at_least(name: str, value: float | None, limit: float) -> ShadowCheck:
    return ShadowCheck(name, value, limit, "min", value is not None and value >= limit)


def _at_most(name: str, value: float | None, limit: float) -> ShadowCheck:
    return ShadowCheck(name, value, limit, "max", value is not None and value <= limit)


ERROR_RATE_QUERY = (
    'sum(increase(modelrail_router_shadow_requests_total{{outcome!="ok"}}[{window}])) / '
    "sum(increase(modelrail_router_shadow_requests_total[{window}]))")
LATENCY_QUERY = ("histogram_quantile(0.99, sum by (le) "
                 "(increase(modelrail_router_shadow_duration_seconds_bucket[{window}])))")


def shadow_calls(client: PrometheusClient, window: str) -> tuple[float | None, float | None]:
    """(error rate, p99 latency) of the shadow calls over `window`; None when not known."""
    now = time.time()

    def value(query: str) -> float | None:
        series = client.query(query.format(window=window), now)
        number = series[0].points[-1][1] if series and series[0].points else None
        return number if number is not None and math.isfinite(number) else None  # NaN: none

    return value(ERROR_RATE_QUERY), value(LATENCY_QUERY)
