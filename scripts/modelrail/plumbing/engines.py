"""Connecting to the engine where the logs are: a `Location` (built from the CLI's engine
flags: files on DuckDB or Spark, or PostgreSQL tables) and `open_engine`, which gives the
connected `SqlEngine` and how it opens a log (`log_source.RawLog`). The engines' client
libraries are extras, imported on use.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from modelrail.plumbing.log_source import RawLog
from modelrail.plumbing.sql_engine import SqlEngine

EngineName = Literal["duckdb", "spark", "postgres"]


@dataclass(frozen=True)
class Location:
    """Where the logs are: files aggregated by DuckDB (embedded) or Spark (`spark_master`),
    or PostgreSQL tables (`dsn`, read from the environment by the CLI)."""

    engine: EngineName = "duckdb"
    spark_master: str | None = None
    dsn: str | None = None


# (path or table, relation name to give it, what the log is: messages) -> the log
Opener = Callable[[str, str, str], RawLog]


@dataclass(frozen=True)
class OpenEngine:
    """A connected engine (`sql`), how it opens a log (`open`), and `guard`: a context in
    which the engine's own errors in a query (a value that cannot be cast) become a
    UsageError with the context given, or a ServiceError when the server went away."""

    name: EngineName
    sql: SqlEngine
    open: Opener
    guard: Callable[[str], AbstractContextManager[None]]
    duckdb: Any = None  # the DuckDB connection, when the engine is DuckDB (no import here)


def open_engine(location: Location) -> AbstractContextManager[OpenEngine]:
    """Connect to `location`'s engine for the block."""
    if location.engine == "postgres":
        return _on_postgres(location.dsn or "")
    if location.engine == "spark":
        return _on_spark(location.spark_master)
    return _on_duckdb()


@contextmanager
def _on_postgres(dsn: str) -> Iterator[OpenEngine]:
    from modelrail.plumbing import postgres  # noqa: PLC0415 - the postgres extra
    with postgres.connect(dsn) as connection:
        yield OpenEngine("postgres", postgres.engine(connection),
                         lambda table, _name, _what: postgres.table_log(connection, table),
                         postgres.guard)


@contextmanager
def _on_spark(master: str | None) -> Iterator[OpenEngine]:
    from modelrail.plumbing import spark  # noqa: PLC0415 - the spark extra
    with spark.session(master or spark.default_master()) as session:
        yield OpenEngine("spark", spark.engine(session),
                         lambda path, name, _what: spark.parquet_log(session, path, name),
                         spark.guard)


@contextmanager
def _on_duckdb() -> Iterator[OpenEngine]:
    from modelrail.plumbing import duck  # noqa: PLC0415 - the ab and monitor extras
    with duck.connect() as connection:
        yield OpenEngine("duckdb", duck.engine(connection),
                         lambda path, name, what: duck.file_log(connection, path, name, what),
                         duck.guard, connection)


