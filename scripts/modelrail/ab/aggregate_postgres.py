"""The log aggregation pushed down to PostgreSQL: the same SQL text as DuckDB's.

The tables hold the typed columns the SQL reads (see `sql/sufficient_stats.sql`):
predictions `(ts timestamptz, request_id text, user_id text, variant text, experiment
text)` and events `(ts timestamptz, user_id text, type text, request_id text, value double
precision)`. Only a few numbers per variant come back over the wire.
"""

from collections.abc import Collection, Sequence

import psycopg
from psycopg import sql

from modelrail.ab.aggregate import (
    DEFAULT_WINDOW_SECONDS,
    LogStats,
    log_stats,
    sufficient_stats_sql,
)
from modelrail.errors import ServiceError, UsageError

PREDICTION_COLUMNS = ("ts", "request_id", "user_id", "variant", "experiment")
EVENT_COLUMNS = ("ts", "user_id", "type", "request_id", "value")


def run_on_postgres(dsn: str, predictions: str, events: str, variants: Sequence[str], *,
                    experiment: str | None = None,
                    window_seconds: float = DEFAULT_WINDOW_SECONDS,
                    metrics: Collection[str] | None = None) -> LogStats:
    """Aggregate the tables `predictions` and `events` (names, quoted as identifiers)."""
    try:
        with psycopg.connect(dsn) as connection:
            prediction_rows = _table_rows(connection, predictions, PREDICTION_COLUMNS)
            event_rows = _table_rows(connection, events, EVENT_COLUMNS)
            text = sufficient_stats_sql(_quoted(connection, predictions),
                                        _quoted(connection, events), "%s")
            # bytes: the text is this package's template with psycopg-quoted identifiers
            cursor = connection.execute(text.encode(), [window_seconds, experiment])
            names = [column.name for column in cursor.description or ()]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except psycopg.OperationalError as error:
        raise ServiceError(f"PostgreSQL: {error}") from None
    return log_stats(rows, variants, (f"table {predictions}", f"table {events}"),
                     metrics=metrics, data={
                         "predictions": predictions, "events": events,
                         "prediction_rows": prediction_rows, "event_rows": event_rows,
                         "attribution_window_seconds": window_seconds})


def _quoted(connection: psycopg.Connection[tuple[object, ...]], table: str) -> str:
    return sql.Identifier(table).as_string(connection)


def _table_rows(connection: psycopg.Connection[tuple[object, ...]], table: str,
                required: Sequence[str]) -> int:
    """The table's row count, once it is known to have rows and the required columns."""
    name = sql.Identifier(table)
    try:
        cursor = connection.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(name))
        columns = {column.name for column in cursor.description or ()}
        count = connection.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(name)).fetchone()
    except psycopg.errors.UndefinedTable:
        raise UsageError(f"table {table}: does not exist") from None
    for column in required:
        if column not in columns:
            raise UsageError(f"table {table}: has no {column!r} column "
                             f"(required: {', '.join(required)})")
    rows = int(str(count[0])) if count else 0
    if rows == 0:
        raise UsageError(f"table {table}: is empty")
    return rows
