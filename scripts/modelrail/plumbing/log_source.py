"""A log on one of the SQL engines (`sql_engine`), opened the one way the aggregations
(A/B, monitor, shadow) share: a file DuckDB reads (JSON lines, CSV, Parquet), a Parquet
file or directory Spark reads, or a PostgreSQL table. Each becomes a `RawLog`: the name
the engine knows it by, its columns and its row count (one number comes back); what an
aggregation reads of it is then SQL (`typed_columns`, `flat_columns`), the same on every
engine.

Where the logs are is a `Location` (built from the CLI's engine flags); `open_engine`
connects to it. The engines' client libraries are extras, imported on use.
"""

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from modelrail.errors import UsageError
from modelrail.plumbing.sql_engine import SqlEngine

EngineName = Literal["duckdb", "spark", "postgres"]
# The column a log's typed instant is read from: `ts` on PostgreSQL tables (typed
# columns), the log format's `timestamp` in files.
TABLE_TIMESTAMP = "ts"


@dataclass(frozen=True)
class Location:
    """Where the logs are: files aggregated by DuckDB (embedded) or Spark (`spark_master`),
    or PostgreSQL tables (`dsn`, read from the environment by the CLI)."""

    engine: EngineName = "duckdb"
    spark_master: str | None = None
    dsn: str | None = None


@dataclass(frozen=True)
class RawLog:
    """A log as the engine sees it: `relation` (a view over a file, or a table), how
    messages name it (`source`: the path, or `table NAME`), its columns, its rows, and
    the fields of its struct columns (a JSON object or Parquet struct, e.g. `features`)."""

    relation: str
    source: str
    columns: tuple[str, ...]
    rows: int
    structs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def require(self, role: str, required: Sequence[str]) -> None:
        """The log has rows and every column in `required` (UsageError naming it)."""
        if not self.rows:
            raise UsageError(f"{self.source}: the {role} log is empty")
        for column in required:
            if column not in self.columns:
                raise UsageError(f"{self.source}: the {role} log has no {column!r} column "
                                 f"(required: {', '.join(required)})")

    def require_table(self, required: Sequence[str]) -> None:
        """A table of typed columns (PostgreSQL) has every one in `required`, and rows."""
        for column in required:
            if column not in self.columns:
                raise UsageError(f"{self.source}: has no {column!r} column "
                                 f"(required: {', '.join(required)})")
        if not self.rows:
            raise UsageError(f"{self.source}: is empty")


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
    guard: Callable[[str], Any]
    duckdb: Any = None  # the DuckDB connection, when the engine is DuckDB


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


def flat_columns(engine: SqlEngine, log: RawLog) -> dict[str, str]:
    """The log's columns as SELECT-list items by name, in order, a struct's fields spread
    into columns of their own (a column of that name wins over a field)."""
    select = {column: engine.quote(column) for column in log.columns
              if column not in log.structs}
    taken = set(log.columns)
    for struct, fields in log.structs.items():
        select.update({name: f"{engine.quote(struct)}.{engine.quote(name)} AS "
                             f"{engine.quote(name)}" for name in fields if name not in taken})
        taken.update(fields)
    return select


def subquery(engine: SqlEngine, items: Sequence[str], log: RawLog, where: str = "") -> str:
    """`(SELECT items FROM log [WHERE where])`: a log as a relation an aggregation's SQL
    reads (its `FROM {log} AS alias`), with no view or table made on the engine."""
    condition = f" WHERE {where}" if where else ""
    # Only quoted identifiers and this package's SQL are formatted in.
    return f"(SELECT {', '.join(items)} FROM {engine.quote(log.relation)}{condition})"  # noqa: S608


Kind = Literal["text", "double", "timestamp", "boolean"]


def typed_columns(engine: SqlEngine, columns: Collection[str],
                  wanted: Mapping[str, Kind]) -> list[str]:
    """SELECT-list items for the `wanted` columns, cast to their kind: text with empty
    strings as NULL (CSV), NULL when the log lacks the column; the instant (`ts`) from
    `ts` when the relation has it (a PostgreSQL table), else from the log's `timestamp`."""
    items = []
    for name, kind in wanted.items():
        source = name
        if kind == "timestamp":
            source = TABLE_TIMESTAMP if TABLE_TIMESTAMP in columns else "timestamp"
        typed = f"CAST({engine.quote(source)} AS {_type(engine, kind)})"
        if source not in columns:
            typed = f"CAST(NULL AS {_type(engine, kind)})"
        elif kind == "text":
            typed = f"NULLIF({typed}, '')"
        items.append(f"{typed} AS {engine.quote(name)}")
    return items


def _type(engine: SqlEngine, kind: Kind) -> str:
    return "BOOLEAN" if kind == "boolean" else engine.types[kind]
