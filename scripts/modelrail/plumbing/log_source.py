"""A log on one of the SQL engines (`sql_engine`), as the aggregations (A/B, monitor,
shadow) share it: a file DuckDB reads (JSON lines, CSV, Parquet), a Parquet file or
directory Spark reads, or a PostgreSQL table, each opened by its engine's module
(`duck.file_log`, `spark.parquet_log`, `postgres.table_log`; which one: `engines`) as a
`RawLog`: the name the engine knows it by, its columns and its row count (one number
comes back). What an aggregation reads of it is then SQL (`typed_columns`,
`flat_columns`, `subquery`), the same on every engine.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from modelrail.errors import UsageError
from modelrail.plumbing.sql_engine import SqlEngine

# The column a log's typed instant is read from: `ts` on PostgreSQL tables (typed
# columns), the log format's `timestamp` in files.
TABLE_TIMESTAMP = "ts"


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
        """The log (a file, or a PostgreSQL table of typed columns) has rows and every
        column in `required` (UsageError naming it)."""
        if not self.rows:
            raise UsageError(f"{self.source}: the {role} log is empty")
        for column in required:
            if column not in self.columns:
                raise UsageError(f"{self.source}: the {role} log has no {column!r} column "
                                 f"(required: {', '.join(required)})")


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
