"""PostgreSQL as a `SqlEngine`: a warehouse the aggregations are pushed down to.

The DSN comes from an environment variable the caller names (never a flag), its password
is redacted from every message, connecting is retried per MODELRAIL_RETRY_* and fails
closed (ServiceError, exit 3); a missing table or column is a UsageError naming it.
"""

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing.log_source import RawLog
from modelrail.plumbing.redact import register, register_url
from modelrail.plumbing.retry import RetryPolicy, TransientError, retry_or_fail
from modelrail.plumbing.sql_engine import STANDARD_TYPES, SqlEngine

Connection = psycopg.Connection[tuple[object, ...]]


@contextlib.contextmanager
def connect(dsn: str) -> Iterator[Connection]:
    """A connection, retried per MODELRAIL_RETRY_* (a server restarting); ServiceError
    (exit 3) when it stays unreachable or drops during the block."""
    _register_password(dsn)
    policy = RetryPolicy.from_env()

    def attempt() -> Connection:
        try:
            return psycopg.connect(dsn, connect_timeout=max(1, round(policy.timeout)))
        except psycopg.OperationalError as error:
            raise TransientError(str(error).strip().splitlines()[0]) from None
    try:
        with retry_or_fail(attempt, policy, "PostgreSQL", "connecting") as connection:
            yield connection
    except psycopg.OperationalError as error:
        raise ServiceError(f"PostgreSQL: {error}") from None


def engine(connection: Connection) -> SqlEngine:
    """The connection as a `SqlEngine` (standard SQL types and quoting, `%s` binds)."""
    def query(text: str, params: Sequence[object]) -> list[dict[str, Any]]:
        # bytes: the text is this package's SQL with psycopg-quoted identifiers
        cursor = connection.execute(text.encode(), list(params))
        if cursor.description is None:  # a statement: no rows
            return []
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def quote(name: str) -> str:
        return sql.Identifier(name).as_string(connection)
    return SqlEngine(placeholder="%s", types=STANDARD_TYPES, quote=quote,
                     query=query)


def table_log(connection: Connection, table: str) -> RawLog:
    """The table `table` as a log: its columns and row count (UsageError when it does
    not exist)."""
    name = sql.Identifier(table)
    try:
        cursor = connection.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(name))
        columns = tuple(column.name for column in cursor.description or ())
        count = connection.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(name)).fetchone()
    except psycopg.errors.UndefinedTable:
        raise UsageError(f"table {table}: does not exist") from None
    return RawLog(relation=table, source=f"table {table}", columns=columns,
                  rows=int(str(count[0])) if count else 0)


@contextlib.contextmanager
def guard(context: str) -> Iterator[None]:
    """PostgreSQL's errors in the block as this package's: the server gone is a
    ServiceError (exit 3), anything else (a value that cannot be cast, a missing column)
    a UsageError: `context: error`."""
    try:
        yield
    except psycopg.OperationalError as error:
        raise ServiceError(f"PostgreSQL: {_first_line(error)}") from None
    except psycopg.Error as error:
        raise UsageError(f"{context}: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _register_password(dsn: str) -> None:
    """The DSN's password (key=value or URL form) is a secret for the redaction."""
    register_url(dsn)
    with contextlib.suppress(psycopg.ProgrammingError):  # not a DSN: connecting says so
        register(str(conninfo_to_dict(dsn).get("password") or ""))
