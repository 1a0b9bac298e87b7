"""The A/B logs as typed PostgreSQL tables (the columns `ab.aggregate.TYPED_COLUMNS`)."""

import json
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from modelrail.plumbing.logs import read_log
from psycopg import sql


def create_tables(dsn: str) -> None:
    with psycopg.connect(dsn) as connection:
        connection.execute("DROP TABLE IF EXISTS predictions, events")
        connection.execute("CREATE TABLE predictions (ts timestamptz, request_id text, "
                           "user_id text, variant text, experiment text)")
        connection.execute("CREATE TABLE events (ts timestamptz, user_id text, type text, "
                           "request_id text, value double precision)")


def load_postgres(dsn: str, predictions: Path, events: Path) -> None:
    """Copy the logs (any format `ab analyze` reads) into the typed tables, through
    DuckDB's reading of the same files, in batches."""
    with duckdb.connect() as source, psycopg.connect(dsn) as target:
        source.execute("SET TimeZone = 'UTC'")
        for table, path, columns in (
                ("predictions", predictions,
                 'CAST("timestamp" AS TIMESTAMPTZ), request_id, user_id, variant, experiment'),
                ("events", events,
                 'CAST("timestamp" AS TIMESTAMPTZ), user_id, type, request_id, '
                 "CAST(value AS DOUBLE)")):
            read_log(source, path).create_view(f"raw_{table}")
            rows = source.execute(f"SELECT {columns} FROM raw_{table}")  # noqa: S608
            with target.cursor() as cursor, cursor.copy(
                    sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as copy:
                while batch := rows.fetchmany(100_000):
                    for row in batch:
                        copy.write_row(row)


def same_analysis(workdir: Path, first: str, second: str) -> tuple[dict[str, Any], ...]:
    """The two `ab analyze --json` documents in `workdir`, checked to decide alike: the
    decision, the SRM check and the primary's lift (to 1e-9)."""
    reports = tuple(json.loads((workdir / name).read_text(encoding="utf-8"))
                    for name in (first, second))
    one, other = reports
    assert one["decision"] == other["decision"]
    assert one["srm"] == other["srm"]
    assert one["metrics"]["ctr"]["lift"] == pytest.approx(other["metrics"]["ctr"]["lift"],
                                                          rel=1e-9)
    return reports
