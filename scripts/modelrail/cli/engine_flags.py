"""The engine flags `ab analyze`, `monitor` and `shadow analyze` share: where the logs are
aggregated (docs/engines.md). Files go to DuckDB (embedded, the default) or, with
`--engine spark`, to Spark (`--spark-master`); `--postgres-dsn-env VAR` pushes the
aggregation down to PostgreSQL tables (one `--...-table` flag per log). The DSN is read
from the environment variable named, so it never appears on a command line, in a
process list or in a log.
"""

import argparse
import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from modelrail.errors import UsageError
from modelrail.plumbing.engines import Location

ENGINES = ("duckdb", "spark")
DSN_FLAG = "--postgres-dsn-env"
# The extra each engine's client library comes in, and the module that tells it is there.
_CLIENTS = {"postgres": ("psycopg", "postgres"), "spark": ("pyspark", "spark")}


@dataclass(frozen=True)
class TableFlag:
    """A `--...-table` flag: the table holding one log on PostgreSQL."""

    flag: str
    log: str  # what the table holds, for the help
    default: str | None = None
    file_flag: str | None = None  # the file flag it stands for, when not a source flag


def add_engine_flags(parser: argparse.ArgumentParser,
                     sources: argparse._MutuallyExclusiveGroup, files: str,
                     tables: Sequence[TableFlag]) -> None:
    """`--postgres-dsn-env` (in the group of mutually exclusive `sources`), `--engine`,
    `--spark-master` and the table flags; `files` names the file flags (for the help)."""
    sources.add_argument(DSN_FLAG, metavar="VAR",
                         help="aggregate on PostgreSQL instead: the environment variable "
                              "holding the connection string (never the DSN itself)")
    parser.add_argument("--engine", choices=ENGINES, default="duckdb",
                        help=f"what aggregates {files}: duckdb (embedded, the default) or "
                             "spark (see --spark-master)")
    parser.add_argument("--spark-master", metavar="MASTER",
                        help="with --engine spark: local[N] / local[*] on this runner "
                             "(Java 17), or a Spark Connect URL sc://HOST:15002 (default: "
                             "$SPARK_REMOTE, else local[*])")
    for table in tables:
        default = f" (default: {table.default})" if table.default else ""
        parser.add_argument(table.flag, default=table.default, metavar="TABLE",
                            help=f"with {DSN_FLAG}: the {table.log} table{default}")


def engine_location(args: argparse.Namespace, files: str, feature: str,
                    other: str | None = None, tables: Sequence[TableFlag] = ()) -> Location:
    """Where the command's logs are, from the engine flags (checked): `files` names the
    file flags `--engine spark` reads, `other` a source flag given that is neither files
    nor the DSN (`ab analyze --stats`); `feature` is the command's extra (install hints).
    A table flag's `file_flag` given with the DSN is an error naming the table flag."""
    given = other or (DSN_FLAG if args.postgres_dsn_env is not None else None)
    for table in tables:
        file_flag = table.file_flag or ""
        if given == DSN_FLAG and getattr(args, file_flag.lstrip("-"), None) is not None:
            raise UsageError(f"{file_flag} goes with {files.split(maxsplit=1)[0]}; on PostgreSQL "
                             f"name the table with {table.flag}")
    if args.engine == "spark" and given is not None:
        raise UsageError(f"--engine spark aggregates {files} (Parquet), not {given}")
    if args.spark_master is not None and args.engine != "spark":
        raise UsageError("--spark-master goes with --engine spark")
    if args.postgres_dsn_env is not None:
        dsn = os.environ.get(args.postgres_dsn_env, "")
        if not dsn:
            raise UsageError(f"{DSN_FLAG}: the environment variable {args.postgres_dsn_env} "
                             "is not set or empty")
        _require_client("postgres", DSN_FLAG, feature)
        return Location(engine="postgres", dsn=dsn)
    if args.engine == "spark":
        _require_client("spark", "--engine spark", feature)
        return Location(engine="spark", spark_master=args.spark_master)
    return Location()


def _require_client(engine: str, flag: str, feature: str) -> None:
    module, extra = _CLIENTS[engine]
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise UsageError(f"{flag} needs the {extra} extra ({error.name} is missing): "
                         f"install modelrail[{feature},{extra}]") from None
