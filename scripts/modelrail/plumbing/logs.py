"""Log files as DuckDB relations: JSON lines (`.jsonl`, `.ndjson`, `.json`), CSV (`.csv`)
or Parquet (`.parquet`), chosen by the file's suffix. The A/B aggregation, the monitor and
the shadow analysis read the serving app's prediction log and the event log this one way.
"""

from pathlib import Path

import duckdb

from modelrail.errors import UsageError
from modelrail.plumbing.textfile import is_file

FORMATS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".csv": "csv",
           ".parquet": "parquet"}
TEXT_COLUMNS = ("request_id", "user_id", "variant", "experiment", "type")
"""Columns a CSV file keeps as text: "007" must match "007" in a JSON events file."""


def read_log(connection: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    """The file as a relation of `connection`; a UsageError for an unknown suffix or a
    missing file."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"{path}: unknown format {path.suffix!r} (expected "
                         f"{', '.join(FORMATS)})")
    if not is_file(path):
        raise UsageError(f"{path}: no such file")
    name = str(path)
    if kind == "json":
        return connection.read_json(name, format="newline_delimited")
    if kind == "csv":
        columns = connection.read_csv(name).columns
        return connection.read_csv(name, dtype={c: "VARCHAR" for c in TEXT_COLUMNS
                                                if c in columns})
    return connection.read_parquet(name)
