"""A log file as a typed PostgreSQL table, as a warehouse holds it for `monitor` and
`shadow analyze --postgres-dsn-env`: the log format's columns with their types, the
`features` object spread into one column per feature (as the DuckDB path reads it), and
`timestamp` renamed `ts` (the column the SQL reads, as for `ab analyze`).
"""

from collections.abc import Mapping
from pathlib import Path

import duckdb
import psycopg
from modelrail.plumbing.logs import read_log
from psycopg import sql

POSTGRES_TYPES = {"VARCHAR": "text", "UUID": "text", "BIGINT": "bigint", "INTEGER": "bigint",
                  "DOUBLE": "double precision", "FLOAT": "double precision",
                  "BOOLEAN": "boolean", "TIMESTAMP WITH TIME ZONE": "timestamptz"}
RENAMED = {"timestamp": "ts"}


def load_log_table(dsn: str, log: Path, table: str,
                   renamed: Mapping[str, str] = RENAMED) -> int:
    """(Re)create `table` from the log file `log` (any format modelrail reads) and copy
    its rows in; returns how many."""
    with duckdb.connect() as source, psycopg.connect(dsn) as target:
        source.execute("SET TimeZone = 'UTC'")
        raw = read_log(source, log)
        raw.create_view("raw")
        spread = "* EXCLUDE (features), UNNEST(features)" if "features" in raw.columns else "*"
        flat = source.sql(f"SELECT {spread} FROM raw")  # noqa: S608 - a fixed text
        flat.create_view("flat")
        types = dict(zip(flat.columns, map(str, flat.dtypes), strict=True))
        columns = {name: POSTGRES_TYPES[dtype] for name, dtype in types.items()}
        # An id DuckDB took for a UUID keeps its text as logged.
        rows = source.execute("SELECT " + ", ".join(  # noqa: S608 - the log's own names
            f'CAST("{name}" AS VARCHAR)' if dtype == "UUID" else f'"{name}"'
            for name, dtype in types.items()) + " FROM flat")
        target.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        target.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), sql.SQL(
            ", ").join(sql.SQL("{} {}").format(sql.Identifier(renamed.get(name, name)),
                                               sql.SQL(kind))
                       for name, kind in columns.items())))
        copied = 0
        with target.cursor() as cursor, cursor.copy(
                sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as copy:
            while batch := rows.fetchmany(10_000):
                for row in batch:
                    copy.write_row(row)
                copied += len(batch)
        return copied
