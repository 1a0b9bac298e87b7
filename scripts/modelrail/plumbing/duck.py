"""Open a DuckDB connection the modelrail way: a memory bound we can state, spilling to
the runner's temp dir, and a clean exit when a query still does not fit.

DuckDB's default (80% of the machine's RAM) is no bound on a shared runner, so every
connection goes through `connect()`. The settings, the default and the measurements
behind it: docs/log-formats.md ("DuckDB memory").
"""

import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from modelrail.errors import UsageError
from modelrail.plumbing.log_source import RawLog
from modelrail.plumbing.logs import read_log
from modelrail.plumbing.sql_engine import STANDARD_TYPES, SqlEngine, quote_standard

MEMORY_VARIABLE = "MODELRAIL_DUCKDB_MEMORY"
DEFAULT_MEMORY = "2GB"
_MIB = 2**20
_BYTES_PER_THREAD = 128 * _MIB
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([a-z]+)")


class MemoryLimitError(UsageError):
    """A query needed more memory than MODELRAIL_DUCKDB_MEMORY allows, even spilling."""


def memory_limit() -> str:
    """MODELRAIL_DUCKDB_MEMORY as DuckDB will read it (validated), or the default."""
    text = os.environ.get(MEMORY_VARIABLE, "").strip() or DEFAULT_MEMORY
    _bytes(text)
    return text


def _bytes(text: str) -> int:
    """The size `text` names; UsageError naming the variable unless it is a positive
    number with one of DuckDB's units (no percentages or `-1`: those are not a bound)."""
    match = _SIZE.fullmatch(text.lower())
    size = float(match.group(1)) * _UNITS[match.group(2)] \
        if match and match.group(2) in _UNITS else 0.0
    if size < 1:
        raise UsageError(f"{MEMORY_VARIABLE}: expected a size such as 2GB, 512MB or 1.5GiB "
                         f"(units {', '.join(unit.upper() for unit in _UNITS)}), got {text!r}")
    return int(size)


def threads(limit: str) -> int:
    """The CPUs available to this process, at most one per 128 MiB of `limit`."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1  # macOS runners have no affinity call
    return max(1, min(cpus, _bytes(limit) // _BYTES_PER_THREAD))


@contextmanager
def connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the settings above, in UTC; closed and its spill
    directory removed on exit. A query out of memory in the block exits as
    MemoryLimitError."""
    limit = memory_limit()
    with _spill_directory() as spill, duckdb.connect(config={
            "memory_limit": limit, "threads": threads(limit), "temp_directory": spill,
            "preserve_insertion_order": False}) as connection, bounded():
        connection.execute("SET TimeZone = 'UTC'")
        yield connection


def engine(connection: duckdb.DuckDBPyConnection) -> SqlEngine:
    """The connection as a `SqlEngine` (standard SQL types and quoting, `?` binds)."""
    def query(text: str, params: Sequence[object]) -> list[dict[str, Any]]:
        cursor = connection.execute(text, list(params))
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return SqlEngine(placeholder="?", types=STANDARD_TYPES,
                     quote=quote_standard, query=query)


def file_log(connection: duckdb.DuckDBPyConnection, path: str, name: str,
             what: str) -> RawLog:
    """The log file at `path` as the view `name` (`what` it is names it in messages)."""
    try:
        relation = read_log(connection, Path(path))
        relation.create_view(name)
        count = connection.execute(f"SELECT COUNT(*) FROM {quote_standard(name)}").fetchone()  # noqa: S608
    except duckdb.Error as error:
        raise usage_error(error, f"{path}: cannot read the {what}") from None
    structs = {column: tuple(field for field, _ in kind.children)
               for column, kind in zip(relation.columns, relation.types, strict=True)
               if kind.id == "struct"}
    return RawLog(relation=name, source=path, columns=tuple(relation.columns),
                  rows=int(count[0]) if count else 0, structs=structs)


@contextmanager
def guard(context: str) -> Iterator[None]:
    """A DuckDB error in the block (the views cast lazily: a value that cannot be cast
    fails where it is read) is a UsageError: `context: error`."""
    try:
        yield
    except duckdb.Error as error:
        raise usage_error(error, context) from None


@contextmanager
def _spill_directory() -> Iterator[str]:
    root = os.environ.get("RUNNER_TEMP") or None
    try:
        spill = tempfile.TemporaryDirectory(prefix="modelrail-duckdb-", dir=root)
    except OSError as error:
        raise UsageError(f"RUNNER_TEMP: cannot create DuckDB's spill directory under "
                         f"{root}: {error.strerror}") from None
    with spill as path:
        yield path


@contextmanager
def bounded() -> Iterator[None]:
    """DuckDB running out of memory in the block becomes MemoryLimitError."""
    try:
        yield
    except duckdb.OutOfMemoryException as error:
        raise _memory_error(error) from None


def usage_error(error: duckdb.Error, context: str) -> UsageError:
    """What a user sees for a DuckDB error caught around a query: the memory advice when
    it ran out of memory, else `context: error`."""
    if isinstance(error, duckdb.OutOfMemoryException):
        return _memory_error(error)
    return UsageError(f"{context}: {error}")


def _memory_error(error: duckdb.OutOfMemoryException) -> MemoryLimitError:
    detail = str(error).splitlines()[0]  # DuckDB's own advice (SET ...) does not apply
    return MemoryLimitError(
        f"{detail}: the query did not fit in {MEMORY_VARIABLE}={memory_limit()} even "
        f"spilling to disk; raise {MEMORY_VARIABLE} (e.g. 4GB) on a runner with that much "
        "memory free")
