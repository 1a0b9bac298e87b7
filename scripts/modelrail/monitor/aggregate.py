"""The reference sample and the prediction log in DuckDB, reduced to counts.

Files are read by `modelrail.plumbing.logs.read_log`; shadow rows (`shadow = true`) are
left out. Memory stays bounded by the reference, not the log: each feature becomes a
GROUP BY over the reference grid or its categories (docs/statistics.md, "Drift"), and
DuckDB's own memory by `modelrail.plumbing.duck`. Columns read: docs/log-formats.md.
"""

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from modelrail.errors import UsageError
from modelrail.monitor.stats import Grid, IntArray
from modelrail.plumbing import duck
from modelrail.plumbing.logs import read_log

_TEXT_TYPES = ("VARCHAR", "BOOLEAN")


@dataclass(frozen=True)
class Calibration:
    """Predictions whose attribution window has closed, and the clicks they got."""

    rows: int
    clicks: int
    mean_score: float

    @property
    def error(self) -> float:
        """|observed CTR / mean predicted CTR - 1| (0 when nothing can be judged)."""
        if not self.rows or self.mean_score <= 0:
            return 0.0
        return abs(self.clicks / self.rows / self.mean_score - 1.0)


class Logs:
    """An in-memory DuckDB (`duck.connect`) with the views `reference` and `current` (and
    `events`). Every query goes through `_fetch`, so running out of memory is a
    MemoryLimitError and a value that cannot be cast (e.g. `"n/a"` as a price) is a
    UsageError naming the column, wherever it happens."""

    def __init__(self, reference: Path, current: Path) -> None:
        self.reference_path, self.current_path = reference, current
        with ExitStack() as stack:  # closed here if a file cannot be read, else by close()
            self.connection = stack.enter_context(duck.connect())
            self._view(reference, "reference", "reference sample")
            self._view(current, "current", "prediction log")
            self._stack = stack.pop_all()

    def close(self) -> None:
        self._stack.close()

    def _fetch(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:  # the views cast lazily: a bad value in some row fails here
            return self.connection.execute(sql, list(params)).fetchall()
        except duckdb.Error as error:
            logs = f"{self.reference_path}, {self.current_path}"
            raise duck.usage_error(error, f"{logs}: a value the monitor cannot use") from None

    def _view(self, path: Path, name: str, role: str) -> None:
        try:
            relation = read_log(self.connection, path)
            relation.create_view(f"raw_{name}")
            types = dict(zip(relation.columns, map(str, relation.types), strict=True))
            self.connection.execute(
                f'CREATE VIEW "{name}" AS SELECT {_flat(types)} FROM raw_{name} '  # noqa: S608
                f"{_production_only(types)}")
        except duckdb.Error as error:
            raise duck.usage_error(error, f"{path}: cannot read the {role}") from None

    def columns(self, view: str) -> dict[str, str]:
        """Column name -> DuckDB type of a view."""
        rows = self._fetch(f'DESCRIBE "{view}"')
        return {str(row[0]): str(row[1]) for row in rows}

    def count(self, view: str) -> int:
        return int(self._fetch(f'SELECT COUNT(*) FROM "{view}"')[0][0])  # noqa: S608

    def text_columns(self) -> list[str]:
        return [name for name, kind in self.columns("reference").items()
                if kind in _TEXT_TYPES]

    def require(self, features: Sequence[str]) -> None:
        """Every feature is a column of both files."""
        for view, path in (("reference", self.reference_path), ("current", self.current_path)):
            columns = self.columns(view)
            for feature in features:
                if feature not in columns:
                    raise UsageError(f"{path}: no column or feature {feature!r} "
                                     f"(has: {', '.join(sorted(columns))})")

    def grid(self, feature: str) -> Grid:
        """The reference's values of a numeric feature, on their grid."""
        values = self._fetch(self._numbers("reference", feature).sql_query())
        return Grid.of(np.asarray([row[0] for row in values], dtype=np.float64))

    def grid_counts(self, feature: str, grid: Grid) -> IntArray:
        """The current values of a numeric feature counted onto `grid` (see stats.Grid)."""
        reference = self._numbers("reference", feature).sql_query()
        sql = ("CREATE OR REPLACE TEMP TABLE grid AS SELECT "  # noqa: S608
               f"row_number() OVER (ORDER BY x) - 1 AS i, x AS v "
               f"FROM (SELECT DISTINCT x FROM ({reference}))")
        self._fetch(sql)  # the same sorted distinct values as Grid.of
        rows = self._fetch(f"""
            SELECT CASE WHEN g.i IS NULL THEN 0 WHEN c.x = g.v THEN 2 * g.i + 1
                        ELSE 2 * g.i + 2 END AS slot, COUNT(*)
            FROM ({self._numbers("current", feature).sql_query()}) c
            ASOF LEFT JOIN grid g ON c.x >= g.v
            GROUP BY slot""")  # noqa: S608 - quoted identifiers only
        counts = np.zeros(len(grid.reference), dtype=np.int64)
        for slot, count in rows:
            counts[int(slot)] = int(count)
        return counts

    def _numbers(self, view: str, feature: str) -> duckdb.DuckDBPyRelation:
        column = _quote(feature)
        path = self.reference_path if view == "reference" else self.current_path
        try:
            return self.connection.sql(
                f'SELECT CAST({column} AS DOUBLE) AS x FROM "{view}" '  # noqa: S608
                f"WHERE {column} IS NOT NULL AND NOT isnan(CAST({column} AS DOUBLE))")
        except duckdb.Error as error:
            raise duck.usage_error(error, f"{path}: {feature!r} is not numeric") from None

    def categories(self, view: str, feature: str) -> dict[str, int]:
        column = _quote(feature)
        rows = self._fetch(
            f'SELECT CAST({column} AS VARCHAR), COUNT(*) FROM "{view}" '  # noqa: S608
            f"WHERE {column} IS NOT NULL GROUP BY 1")
        return {str(value): int(count) for value, count in rows}

    def calibration(self, events: Path, prediction: str, window_seconds: float) -> Calibration:
        """Clicks naming a request within [prediction, prediction + window], per closed
        prediction row: a row counts once the window has passed the latest event."""
        self._view(events, "events", "events log")
        self.require_events(events)
        rows, clicks, mean = self._fetch(f"""
            WITH horizon AS (SELECT MAX(CAST("timestamp" AS TIMESTAMPTZ)) AS last FROM events),
            requests AS (
                SELECT CAST(request_id AS VARCHAR) AS request_id,
                       MIN(CAST("timestamp" AS TIMESTAMPTZ)) AS ts,
                       COUNT(*) AS rows, SUM(CAST({_quote(prediction)} AS DOUBLE)) AS score
                FROM current GROUP BY 1),
            closed AS (
                SELECT r.* FROM requests r, horizon h
                WHERE r.ts + to_microseconds(CAST(? * 1e6 AS BIGINT)) <= h.last),
            clicks AS (
                SELECT c.request_id, COUNT(*) AS clicks FROM closed c JOIN events e
                  ON CAST(e.request_id AS VARCHAR) = c.request_id AND e.type = 'click'
                 AND CAST(e."timestamp" AS TIMESTAMPTZ) BETWEEN c.ts
                     AND c.ts + to_microseconds(CAST(? * 1e6 AS BIGINT))
                GROUP BY 1)
            SELECT COALESCE(SUM(c.rows), 0), COALESCE(SUM(k.clicks), 0),
                   COALESCE(SUM(c.score) / NULLIF(SUM(c.rows), 0), 0)
            FROM closed c LEFT JOIN clicks k USING (request_id)""",  # noqa: S608
            [window_seconds, window_seconds])[0]
        return Calibration(rows=int(rows), clicks=int(clicks), mean_score=float(mean))

    def require_events(self, events: Path) -> None:
        columns = self.columns("events")
        for column in ("timestamp", "type", "request_id"):
            if column not in columns:
                raise UsageError(f"{events}: the events log has no {column!r} column")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _flat(types: Mapping[str, str]) -> str:
    """`features` (a STRUCT in JSON lines) spread into columns, the rest as is."""
    if types.get("features", "").startswith("STRUCT"):
        return "* EXCLUDE (features), UNNEST(features)"
    return "*"


def _production_only(types: Mapping[str, str]) -> str:
    return "WHERE shadow IS NOT TRUE" if "shadow" in types else ""
