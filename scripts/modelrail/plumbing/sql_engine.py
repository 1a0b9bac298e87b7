"""One interface to the SQL engines the aggregations run on: DuckDB (embedded, the
default: `duck.engine`), PostgreSQL (a warehouse: `postgres.engine`) and Spark SQL (a
cluster through Spark Connect, or a local master: `spark.engine`).

An aggregation is one SQL text per concern, in the subset the three dialects share, run
unchanged by each: only aggregated rows (sufficient statistics) come back. What they do
not share is isolated here, one small item per engine, and nowhere else:

- the positional bind marker (`placeholder`): `?` for DuckDB and Spark, `%s` for psycopg;
- how an identifier is quoted (`quote`): double quotes, or backticks on Spark, where a
  double-quoted word is a string;
- three type names (`types`, formatted into the SQL as `{text}`, `{double}` and
  `{timestamp}`): Spark has no `VARCHAR` without a length, no `DOUBLE PRECISION` and no
  `TIMESTAMP WITH TIME ZONE` (its `TIMESTAMP` is an instant, shown in the session's time
  zone, which `spark.session` sets to UTC); PostgreSQL has no `STRING` or `DOUBLE`.

Everything else (window functions, `NULLS LAST`, `VALUES` lists, `COUNT(DISTINCT ...)`,
`timestamp + seconds * INTERVAL '1 second'`) is written once. docs/engines.md lists the
engines, their flags and which one to pick at which size.

How an aggregation uses it (the A/B one: `ab/aggregate.py`): its inputs become relations
with typed columns (views over files on DuckDB and Spark, tables on PostgreSQL), its SQL
(`sql_file`) is formatted with the quoted relation names, the engine's `placeholder` and
`types`, and every value is bound; a list of values (the A/B checkpoints) is a bound
`VALUES` list (`binds` per row), not a temporary table, which Spark cannot insert into.
A long list of numbers (the monitor's reference grid: `values`) is a bound `VALUES` list
too, except on Spark, which parses bound rows slowly: there it is a temporary view made
from the values (`local_values`).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

# (SQL text, bound values) -> result rows as {column: value}; none for a statement.
Query = Callable[[str, Sequence[object]], list[dict[str, Any]]]
# The type names of standard SQL, as DuckDB and PostgreSQL spell them.
STANDARD_TYPES: Mapping[str, str] = {"text": "VARCHAR", "double": "DOUBLE PRECISION",
                                     "timestamp": "TIMESTAMP WITH TIME ZONE"}


@dataclass(frozen=True)
class SqlEngine:
    """A connected engine: its dialect's differences (above) and how it runs a query.
    `query` returns every row of the result to the caller: run it on aggregated results
    only, never on the logs themselves. `types` maps `text`, `double` and `timestamp`."""

    placeholder: str
    types: Mapping[str, str]
    quote: Callable[[str], str]
    query: Query
    # Where a long bound VALUES list is slow (Spark parses each bound row: 20 000 took
    # 25 s), the values as a relation of the engine's own (one column `v`); its name.
    local_values: Callable[[Sequence[float | None]], str] | None = None

    def binds(self, count: int) -> str:
        """`count` bind markers, comma-separated (a row of a VALUES list)."""
        return ", ".join([self.placeholder] * count)

    def values(self, values: Sequence[float | None]) -> tuple[str, list[object]]:
        """A relation of one column `v` holding `values`, for a FROM clause, and its
        binds: a bound VALUES list, or the engine's `local_values`."""
        if self.local_values is not None:
            return self.local_values(values), []
        rows = ", ".join(f"({self.placeholder})" for _ in values)
        return f"(VALUES {rows}) AS bound (v)", list(values)


def quote_standard(name: str) -> str:
    """An identifier in double quotes, as DuckDB and PostgreSQL read it."""
    return '"' + name.replace('"', '""') + '"'


def sql_file(package: str, name: str) -> str:
    """The text of `sql/<name>` in `package` (the aggregations' SQL ships as data)."""
    return resources.files(package).joinpath("sql", name).read_text(encoding="utf-8")
