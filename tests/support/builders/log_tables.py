"""A log file as a typed PostgreSQL table, the way docs/log-formats.md describes the
tables `monitor` and `shadow analyze` read: one column per log column, a JSON object
(`features`) spread into columns of its own, `timestamp` as `ts timestamptz`."""

from pathlib import Path

import duckdb
import psycopg
from modelrail.plumbing.logs import read_log
from psycopg import sql

# DuckDB's type of a log column -> the PostgreSQL column type it is loaded as.
POSTGRES_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "BIGINT": "bigint",
                  "INTEGER": "integer", "BOOLEAN": "boolean",
                  "TIMESTAMP WITH TIME ZONE": "timestamptz"}


def load_log_table(dsn: str, table: str, path: Path) -> None:
    """(Re)create `table` from the log file at `path` and copy its rows in."""
    with duckdb.connect() as source, psycopg.connect(dsn) as target:
        source.execute("SET TimeZone = 'UTC'")
        relation = read_log(source, path)
        kinds = dict(zip(relation.columns, map(str, relation.types), strict=True))
        flat = "* EXCLUDE (features), UNNEST(features)" \
            if kinds.get("features", "").startswith("STRUCT") else "*"
        relation.create_view("raw")
        # An id DuckDB takes for a UUID (a uuid4 request id) stays the text it was logged as.
        uuids = [f'CAST("{column}" AS VARCHAR) AS "{column}"'
                 for column, kind in kinds.items() if kind == "UUID"]
        as_text = f" REPLACE ({', '.join(uuids)})" if uuids else ""
        source.execute(f"CREATE VIEW flat AS SELECT {flat} FROM "  # noqa: S608
                       f"(SELECT *{as_text} FROM raw)")
        if "timestamp" in kinds:
            source.execute('CREATE VIEW typed AS SELECT * EXCLUDE ("timestamp"), '
                           'CAST("timestamp" AS TIMESTAMPTZ) AS ts FROM flat')
        else:
            source.execute("CREATE VIEW typed AS SELECT * FROM flat")
        described = source.execute("DESCRIBE typed").fetchall()
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(str(name)), sql.SQL(POSTGRES_TYPES[kind]))
            for name, kind, *_ in described)
        name = sql.Identifier(table)
        target.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
        target.execute(sql.SQL("CREATE TABLE {} ({})").format(name, columns))
        rows = source.execute("SELECT * FROM typed")
        with target.cursor() as cursor, cursor.copy(
                sql.SQL("COPY {} FROM STDIN").format(name)) as copy:
            while batch := rows.fetchmany(10_000):
                for row in batch:
                    copy.write_row(row)
