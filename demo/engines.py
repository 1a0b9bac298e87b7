"""The monitor stage's analyses again on the two other engines (docs/engines.md): the logs
loaded into a PostgreSQL server (the aggregation pushed down to it) and as Parquet on
Spark's local mode (`local[2]`, a JVM of its own per run: ~15 s to start). Each must give
the verdict (exit code) and the statistics (to 1e-9) that DuckDB gave on the files.

The server is a throwaway cluster (tests/support/services/postgres.py); its DSN reaches
the CLI through an environment variable (`--postgres-dsn-env`), never the command line.
"""

import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.cli import modelrail
from demo.run import say
from tests.support.builders.ab_logs import jsonl_as_parquet
from tests.support.builders.log_tables import load_log_table
from tests.support.services.postgres import postgres_bin, postgres_server

DSN_VARIABLE = "MODELRAIL_DEMO_WAREHOUSE_DSN"
ON_SPARK = ["--engine", "spark", "--spark-master", "local[2]"]
# What each command's result says besides its checks; not where it read (a file, a table).
SUMMARY_KEYS = {"monitor": ("current_rows", "severity", "action", "breach"),
                "shadow": ("pairs", "shadow_rows", "passed")}


@dataclass(frozen=True)
class FileRun:
    """An analysis the stage ran on log files with DuckDB: a name for its tables and
    files, what it shows, the command (`monitor`, `shadow analyze`), its arguments other
    than the logs, the logs by their file flag (`--current`, `--events`, `--predictions`),
    its exit code and --json result."""

    name: str
    what: str
    command: Sequence[str]
    args: Sequence[str]
    logs: dict[str, Path]
    code: int
    result: dict[str, Any]


# The file flag -> the PostgreSQL table flag that replaces it.
TABLE_FLAGS = {"--current": "--current-table", "--events": "--events-table",
               "--predictions": "--predictions-table"}


def missing_engine() -> str | None:
    """What is missing to run the two other engines (install-system-packages.sh's `demo`
    set installs both), or None."""
    if postgres_bin() is None:
        return "PostgreSQL (apt-get install postgresql)"
    if shutil.which("java") is None:
        return "Java 17 for Spark (apt-get install openjdk-17-jre-headless)"
    return None


def same_on_every_engine(work: Path, runs: Sequence[FileRun]) -> bool:
    """Each run again on PostgreSQL and on Spark; True when every verdict and statistic
    matched DuckDB's."""
    missing = missing_engine()
    if missing is not None:
        say(f"PostgreSQL and Spark runs skipped: {missing} is not installed")
        return False
    work.mkdir(parents=True, exist_ok=True)
    say("the same analyses on PostgreSQL (logs loaded into tables) and on Spark local[2] "
        "(logs as Parquet)")
    with postgres_server() as dsn:
        agreed = [same_verdict(work, run, dsn) for run in runs]
    return all(agreed)


def same_verdict(work: Path, run: FileRun, dsn: str) -> bool:
    """The run's logs loaded into tables of the server at `dsn` and written as Parquet,
    the command run on each; True when both matched DuckDB's result."""
    tables = {flag: f"{run.name}_{flag.strip('-')}" for flag in run.logs}
    for flag, path in run.logs.items():
        load_log_table(dsn, tables[flag], path)
    parquet = {flag: jsonl_as_parquet(path, work / f"{tables[flag]}.parquet")
               for flag, path in run.logs.items()}
    sources = {
        "PostgreSQL": ["--postgres-dsn-env", DSN_VARIABLE,
                       *(arg for flag, table in tables.items()
                         for arg in (TABLE_FLAGS[flag], table))],
        "Spark": [*ON_SPARK, *(arg for flag, path in parquet.items() for arg in (flag, str(path)))],
    }
    agreed = True
    for engine, source in sources.items():
        started = time.monotonic()
        code, result = modelrail([*run.command, *run.args, *source],
                                 work / f"{run.name}-{engine.lower()}.json", {DSN_VARIABLE: dsn})
        unlike = compare(run, code, result)
        print(f"  {run.what} on {engine} ({time.monotonic() - started:.0f} s): exit {code} "
              f"(DuckDB {run.code}); "
              + ("the same statistics" if not unlike else "DIFFERENT: " + "; ".join(unlike[:5])))
        agreed = agreed and not unlike
    return agreed


def compare(run: FileRun, code: int, result: dict[str, Any]) -> list[str]:
    """Where an engine's exit code and result differ from DuckDB's."""
    found = [f"exit {code}"] if code != run.code else []
    for key in SUMMARY_KEYS[run.command[0]]:
        found += differences(key, result.get(key), run.result.get(key))
    return found + differences("checks", result.get("checks"), run.result.get("checks"))


def differences(where: str, mine: object, theirs: object) -> list[str]:
    """The paths at which two JSON values differ: numbers beyond 1e-9 (relative), other
    values at all."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        if mine.keys() != theirs.keys():
            return [f"{where}: keys {sorted(mine)} vs {sorted(theirs)}"]
        return [d for key in mine for d in differences(f"{where}.{key}", mine[key], theirs[key])]
    if isinstance(mine, list) and isinstance(theirs, list):
        if len(mine) != len(theirs):
            return [f"{where}: {len(mine)} items vs {len(theirs)}"]
        return [d for index, (a, b) in enumerate(zip(mine, theirs, strict=True))
                for d in differences(f"{where}[{index}]", a, b)]
    if isinstance(mine, bool) or isinstance(theirs, bool):  # True == 1.0 in Python
        same = mine is theirs
    elif isinstance(mine, int | float) and isinstance(theirs, int | float):
        same = math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-12)
    else:
        same = mine == theirs
    return [] if same else [f"{where}: {mine!r} vs {theirs!r}"]
