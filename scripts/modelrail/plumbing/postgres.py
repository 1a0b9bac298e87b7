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


def table_rows(connection: Connection, table: str, required: Sequence[str]) -> int:
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


def _register_password(dsn: str) -> None:
    """The DSN's password (key=value or URL form) is a secret for the redaction."""
    register_url(dsn)
    with contextlib.suppress(psycopg.ProgrammingError):  # not a DSN: connecting says so
        register(str(conninfo_to_dict(dsn).get("password") or ""))
