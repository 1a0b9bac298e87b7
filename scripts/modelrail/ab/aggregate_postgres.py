"""The log aggregation pushed down to PostgreSQL: the same SQL text as DuckDB's.

The tables hold the typed columns the SQL reads (see `sql/sufficient_stats.sql`):
predictions `(ts timestamptz, request_id text, user_id text, variant text, experiment
text)` and events `(ts timestamptz, user_id text, type text, request_id text, value double
precision)`. Only a few numbers per variant come back over the wire.
"""

import contextlib
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from modelrail.ab.aggregate import Aggregation, LogStats, collect
from modelrail.ab.timeline import Query
from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing.redact import register, register_url
from modelrail.plumbing.retry import RetryPolicy, TransientError, retry_or_fail

PREDICTION_COLUMNS = ("ts", "request_id", "user_id", "variant", "experiment")
EVENT_COLUMNS = ("ts", "user_id", "type", "request_id", "value")


def run_on_postgres(dsn: str, predictions: str, events: str, variants: Sequence[str],
                    aggregation: Aggregation | None = None) -> LogStats:
    """Aggregate the tables `predictions` and `events` (names, quoted as identifiers)."""
    aggregation = aggregation or Aggregation()
    _register_password(dsn)
    try:
        with _connect(dsn, RetryPolicy.from_env()) as connection:
            prediction_rows = _table_rows(connection, predictions, PREDICTION_COLUMNS)
            event_rows = _table_rows(connection, events, EVENT_COLUMNS)
            return collect(
                _query(connection),
                (_quoted(connection, predictions), _quoted(connection, events)), "%s",
                variants, aggregation, sources=(f"table {predictions}", f"table {events}"),
                data={"predictions": predictions, "events": events,
                      "prediction_rows": prediction_rows, "event_rows": event_rows,
                      "attribution_window_seconds": aggregation.window_seconds})
    except psycopg.OperationalError as error:
        raise ServiceError(f"PostgreSQL: {error}") from None


def _register_password(dsn: str) -> None:
    """The DSN's password (key=value or URL form) is a secret for the redaction."""
    register_url(dsn)
    with contextlib.suppress(psycopg.ProgrammingError):  # not a DSN: connecting says so
        register(str(conninfo_to_dict(dsn).get("password") or ""))


def _connect(dsn: str, policy: RetryPolicy) -> psycopg.Connection[tuple[object, ...]]:
    """A connection, retried per `policy` (a server restarting); ServiceError (exit 3)
    when it stays unreachable."""
    def attempt() -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(dsn, connect_timeout=max(1, round(policy.timeout)))
        except psycopg.OperationalError as error:
            raise TransientError(str(error).strip().splitlines()[0]) from None
    return retry_or_fail(attempt, policy, "PostgreSQL", "connecting")


def _query(connection: psycopg.Connection[tuple[object, ...]]) -> Query:
    def run(text: str, params: Sequence[object]) -> list[dict[str, Any]]:
        # bytes: the text is this package's template with psycopg-quoted identifiers
        cursor = connection.execute(text.encode(), list(params))
        if cursor.description is None:  # a statement: no rows
            return []
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return run


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
