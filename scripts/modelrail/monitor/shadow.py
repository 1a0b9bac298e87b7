"""`modelrail shadow analyze`: how a shadow's answers compare with production's on the
same requests, and how the shadow calls fared (Prometheus, optional).

Both sides come from one prediction log, paired on (request id, row) (docs/log-formats.md);
everything is one DuckDB aggregation (the KS distance by a sort and a running sum), so
memory stays bounded. With a `version`, only that version's shadow lines count.
"""

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from modelrail.errors import UsageError
from modelrail.monitor.config import ShadowConfig
from modelrail.plumbing import duck
from modelrail.plumbing.logs import read_log
from modelrail.plumbing.prometheus import PrometheusClient

_PAIRS_SQL = """
CREATE VIEW pairs AS
SELECT CAST(p.prediction AS DOUBLE) AS production, CAST(s.prediction AS DOUBLE) AS shadow
FROM shadow_lines s JOIN log p
  ON p.shadow IS NOT TRUE
 AND CAST(s.shadow_of AS VARCHAR) = CAST(p.request_id AS VARCHAR) AND s."row" = p."row"
"""
_SHADOW_LINES = "CREATE VIEW shadow_lines AS SELECT * FROM log WHERE shadow IS TRUE"
_VERSION = " AND CAST(version AS VARCHAR) = '{version:d}'"  # an int: no quoting to get wrong
_VERSIONS_SQL = """
SELECT DISTINCT CAST(version AS VARCHAR) AS v FROM log WHERE shadow IS TRUE ORDER BY v LIMIT 5
"""
_STATS_SQL = """
WITH values_ AS (SELECT production AS x, 1 AS a, 0 AS b FROM pairs
                 UNION ALL SELECT shadow, 0, 1 FROM pairs),
grouped AS (SELECT x, SUM(a) AS a, SUM(b) AS b FROM values_ GROUP BY x),
steps AS (SELECT SUM(a) OVER w - SUM(b) OVER w AS gap FROM grouped
          WINDOW w AS (ORDER BY x ROWS UNBOUNDED PRECEDING))
SELECT (SELECT COUNT(*) FROM pairs),
       (SELECT AVG(CASE WHEN (production >= ?) = (shadow >= ?) THEN 1.0 ELSE 0.0 END)
          FROM pairs),
       (SELECT corr(production, shadow) FROM pairs),
       (SELECT MAX(ABS(gap)) FROM steps),
       (SELECT COUNT(*) FROM shadow_lines)
"""


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


def agreement(path: Path, threshold: float, version: int | None = None) -> Agreement:
    with duck.connect() as connection:
        try:
            relation = read_log(connection, path)
            needed = (*_COLUMNS, "version") if version is not None else _COLUMNS
            missing = set(needed) - set(relation.columns)
            if missing:
                raise UsageError(f"{path}: no {sorted(missing)[0]!r} column: no shadow lines "
                                 "(a router with SHADOW set writes them, with the shadow "
                                 "server's version)")
            relation.create_view("log")
            connection.execute(_SHADOW_LINES + (
                "" if version is None else _VERSION.format(version=version)))
            connection.execute(_PAIRS_SQL)
            row = connection.execute(_STATS_SQL, [threshold, threshold]).fetchone()
            pairs, agreed, correlation, gap, shadow_rows = row or (0, None, None, None, 0)
            others = tuple(v for (v,) in connection.execute(_VERSIONS_SQL).fetchall()) \
                if version is not None and not shadow_rows else ()
        except duckdb.Error as error:
            raise duck.usage_error(error, f"{path}: cannot read the predictions") from None
    return Agreement(pairs=int(pairs), shadow_rows=int(shadow_rows), other_versions=others,
                     agreement=float(agreed or 0.0),
                     correlation=None if correlation is None else float(correlation),
                     ks=float(gap or 0) / int(pairs) if pairs else 0.0)


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
