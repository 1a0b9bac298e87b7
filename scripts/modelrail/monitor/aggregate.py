"""The reference sample and the prediction log reduced to counts, in SQL.

The reference sample is small and stays a file on the runner (DuckDB reads it): its grid
and categories are computed here. The current log (and the events) are the big side: they
are read by the engine of `Location` (DuckDB embedded, PostgreSQL tables, Spark), where
each aggregation is one SQL text (`sql/*.sql`) run unchanged: per-feature counts against
the reference's grid (passed as a bound VALUES list) or categories, and the late-click
calibration. Only the counts come back: Python's memory is bounded by the reference, not
the log (docs/statistics.md, "Drift"), DuckDB's by `modelrail.plumbing.duck` (it spills).
Shadow rows (`shadow = true`) are left out. Columns read: docs/log-formats.md.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from modelrail.errors import UsageError
from modelrail.monitor.stats import Grid, IntArray
from modelrail.plumbing import duck
from modelrail.plumbing.engines import Location, OpenEngine, open_engine
from modelrail.plumbing.log_source import (
    TABLE_TIMESTAMP,
    Kind,
    RawLog,
    flat_columns,
    subquery,
    typed_columns,
)
from modelrail.plumbing.sql_engine import SqlEngine, sql_file

# Reference values bound per grid query (a VALUES list): below PostgreSQL's 65535 binds;
# DuckDB counts 1 M rows onto a 50 000-value grid about as fast in chunks of 20 000 as in
# one (larger lists take longer to parse).
GRID_CHUNK = 20_000
_TEXT_TYPES = ("VARCHAR", "BOOLEAN")
_TYPED: dict[str, Kind] = {"ts": "timestamp", "request_id": "text"}  # the calibration's


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


def production_rows(engine: SqlEngine, log: RawLog, typed: Mapping[str, Kind]) -> str:
    """The log's production rows as a subquery: struct fields (`features`) spread into
    columns, and the `typed` columns (replacing columns of those names)."""
    flat = [item for name, item in flat_columns(engine, log).items() if name not in typed]
    return subquery(engine, [*flat, *typed_columns(engine, log.columns, typed)], log,
                    "shadow IS NOT TRUE" if "shadow" in log.columns else "")


@contextmanager
def open_logs(reference: Path, current: str, location: Location) -> Iterator["Logs"]:
    """The logs, open for the block (the engine connected, the reference read)."""
    with ExitStack() as stack:
        engine = stack.enter_context(open_engine(location))
        local = engine.duckdb if engine.duckdb is not None \
            else stack.enter_context(duck.connect())
        yield Logs(reference, current, engine, local)


class Logs:
    """The reference sample as the DuckDB view `reference` on the runner, and the current
    log on the engine. Every query goes through a guard, so running out of memory is a
    MemoryLimitError and a value that cannot be cast (e.g. `"n/a"` as a price) is a
    UsageError naming the column, wherever it happens."""

    def __init__(self, reference: Path, current: str, engine: OpenEngine,
                 local: duckdb.DuckDBPyConnection) -> None:
        self.reference_path, self.engine, self.local = reference, engine, local
        self.local_sql = duck.engine(local)
        self._context = f"{reference}, {current}: a value the monitor cannot use"
        reference_log = duck.file_log(local, str(reference), "raw_reference", "reference sample")
        with duck.guard(f"{reference}: cannot read the reference sample"):
            local.execute('CREATE VIEW "reference" AS SELECT * FROM '  # noqa: S608
                          f"{production_rows(self.local_sql, reference_log, {})}")
        self.current = engine.open(current, "raw_current", "prediction log")
        self.current_rows = production_rows(engine.sql, self.current, _TYPED)

    def _on_engine(self, text: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        with self.engine.guard(self._context):
            return self.engine.sql.query(text, params)

    def _on_runner(self, text: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        with duck.guard(self._context):
            return self.local_sql.query(text, params)

    def reference_columns(self) -> dict[str, str]:
        """Column name -> DuckDB type of the reference sample (production rows)."""
        return {str(row["column_name"]): str(row["column_type"])
                for row in self._on_runner('DESCRIBE "reference"')}

    def count(self) -> int:
        """The production rows of the current log."""
        rows = self._on_engine(f"SELECT COUNT(*) AS n FROM {self.current_rows} AS c")  # noqa: S608
        return int(rows[0]["n"])

    def text_columns(self) -> list[str]:
        return [name for name, kind in self.reference_columns().items()
                if kind in _TEXT_TYPES]

    def require(self, features: Sequence[str]) -> None:
        """Every feature is a column of both logs."""
        current = set(flat_columns(self.engine.sql, self.current)) | set(_TYPED)
        for path, columns in ((self.reference_path, set(self.reference_columns())),
                              (self.current.source, current)):
            for feature in features:
                if feature not in columns:
                    raise UsageError(f"{path}: no column or feature {feature!r} "
                                     f"(has: {', '.join(sorted(columns))})")

    def grid(self, feature: str) -> Grid:
        """The reference's values of a numeric feature, on their grid."""
        column = self.local_sql.quote(feature)
        values = self._on_runner(
            f'SELECT CAST({column} AS DOUBLE) AS x FROM "reference" '  # noqa: S608
            f"WHERE {column} IS NOT NULL AND NOT isnan(CAST({column} AS DOUBLE))")
        return Grid.of(np.asarray([row["x"] for row in values], dtype=np.float64))

    def grid_counts(self, feature: str, grid: Grid) -> IntArray:
        """The current values of a numeric feature counted onto `grid` (see stats.Grid),
        on the engine, a chunk of the grid at a time."""
        engine = self.engine.sql
        counts = np.zeros(len(grid.reference), dtype=np.int64)
        values: list[float | None] = [float(value) for value in grid.values]
        size = GRID_CHUNK if engine.local_values is None else max(len(values), 1)
        for start in range(0, max(len(values), 1), size):
            relation, binds = engine.values(values[start:start + size] or [None])
            lower = values[start] if start else None
            upper = values[start + size] if start + size < len(values) else None
            text = sql_file(__package__, "grid_counts.sql").format(
                grid=relation, feature=engine.quote(feature), log=self.current_rows,
                param=engine.placeholder, **engine.types)
            for row in self._on_engine(text, [*binds, lower, lower, upper, upper, start]):
                counts[int(row["slot"])] += int(row["n"])
        return counts

    def categories(self, feature: str, *, reference: bool) -> dict[str, int]:
        """Rows per category of a feature, in the reference or the current log."""
        engine = self.local_sql if reference else self.engine.sql
        text = sql_file(__package__, "categories.sql").format(
            feature=engine.quote(feature), log='"reference"' if reference
            else self.current_rows, **engine.types)
        run = self._on_runner if reference else self._on_engine
        return {str(row["category"]): int(row["n"]) for row in run(text)}

    def calibration(self, events: str, prediction: str, window_seconds: float) -> Calibration:
        """Clicks naming a request within [prediction, prediction + window], per closed
        prediction row: a row counts once the window has passed the latest event."""
        instant = TABLE_TIMESTAMP if self.engine.name == "postgres" else "timestamp"
        current = set(flat_columns(self.engine.sql, self.current))
        for column in (instant, "request_id"):
            if column not in current:
                raise UsageError(f"{self.current.source}: the prediction log has no "
                                 f"{column!r} column (monitor.performance joins on it)")
        log = self.engine.open(events, "raw_events", "events log")
        for column in (instant, "type", "request_id"):
            if column not in log.columns:
                raise UsageError(f"{log.source}: the events log has no {column!r} column")
        engine = self.engine.sql
        typed = typed_columns(engine, log.columns, {"ts": "timestamp", "type": "text",
                                                    "request_id": "text"})
        rows = self._on_engine(sql_file(__package__, "calibration.sql").format(
            events=subquery(engine, typed, log),
            current=self.current_rows, prediction=engine.quote(prediction),
            param=engine.placeholder, **engine.types), [window_seconds, window_seconds])
        found = rows[0]
        return Calibration(rows=int(found["judged_rows"]), clicks=int(found["clicks"]),
                           mean_score=float(found["mean_score"]))
