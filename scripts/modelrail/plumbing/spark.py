"""Spark SQL as a `SqlEngine`: a cluster reached by Spark Connect (`sc://host:15002`), or
a local master (`local[N]`, Java 17) on the runner.

The SQL runs where the data is; only the aggregated rows are collected to the runner.
The session's time zone is UTC; pyspark hands instants back as naive local times, which
`engine` turns back into aware UTC ones. Spark Connect is probed before the session is
made and its client's own retries are bounded by MODELRAIL_RETRY_* (the client alone
would try for ten minutes): unreachable is a ServiceError (exit 3). A token in the URL
(`sc://host:15002/;token=...`) is redacted from every message; SPARK_REMOTE, Spark's own
variable, keeps it off the command line.
"""

import os
import re
import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from pyspark.errors import PySparkException
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from modelrail.errors import ModelrailError, ServiceError, UsageError
from modelrail.plumbing.log_source import RawLog
from modelrail.plumbing.redact import register
from modelrail.plumbing.retry import RetryPolicy, TransientError, retry_or_fail
from modelrail.plumbing.sql_engine import SqlEngine

REMOTE_VARIABLE = "SPARK_REMOTE"
DEFAULT_LOCAL = "local[*]"
CONNECT_PORT = 15002  # Spark Connect's default
# Spark SQL has no VARCHAR without a length, DOUBLE PRECISION or TIMESTAMP WITH TIME ZONE.
SPARK_TYPES = {"text": "STRING", "double": "DOUBLE", "timestamp": "TIMESTAMP"}
_CONNECT_MODE_MARKERS = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE")
_LOCAL = re.compile(r"local(\[(\d+|\*)\])?")
_CONNECT = re.compile(r"sc://(?P<host>\[[^\]]+\]|[^:/;]+)(:(?P<port>\d+))?(/.*)?")
_VALUES_VIEW = "modelrail_values"
_MASTER_FORMS = "local, local[N], local[*] or a Spark Connect URL sc://HOST[:PORT]"
T = TypeVar("T")
# pyspark warns about pandas 3 on every Connect session; the aggregation hands pandas no
# data (rows come back as a few Python values), so the warning would only be noise.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)


def default_master() -> str:
    """SPARK_REMOTE when set (Spark's own variable for a Connect URL), else local[*]."""
    return os.environ.get(REMOTE_VARIABLE) or DEFAULT_LOCAL


@contextmanager
def session(master: str, flag: str = "--spark-master") -> Iterator[SparkSession]:
    """A Spark session on `master` (validated; `flag` names it in messages), stopped on
    exit. A session already running in this process is used as it is for a local master
    (the tests start one for all of them) and left running."""
    connect = _CONNECT.fullmatch(master)
    if connect is None and not _LOCAL.fullmatch(master):
        raise UsageError(f"{flag}: expected {_MASTER_FORMS}, got {master!r}")
    running = SparkSession.getActiveSession()
    if connect is not None:
        spark = _remote(master, connect.group("host").strip("[]"),
                        int(connect.group("port") or CONNECT_PORT))
    else:
        spark = running or _local(master, flag)
    try:
        yield spark
    finally:
        if spark is not running:
            spark.stop()


def _local(master: str, flag: str) -> SparkSession:
    """A classic session on a local master. pyspark's builder would make a Connect session
    instead (pyspark/sql/session.py, `Builder.getOrCreate`) while SPARK_REMOTE is set, or
    while its own markers of a process in Connect mode are (left by an earlier, stopped
    Connect session): the markers go, SPARK_REMOTE is hidden while the session starts."""
    for marker in _CONNECT_MODE_MARKERS:
        os.environ.pop(marker, None)
    remote = os.environ.pop(REMOTE_VARIABLE, None)
    try:
        spark = (SparkSession.builder.master(master).appName("modelrail")
                 .config("spark.sql.session.timeZone", "UTC")
                 .config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    except PySparkException as error:  # JAVA_GATEWAY_EXITED: no (working) Java
        raise UsageError(f"{flag} {master}: Spark's local mode did not start "
                         f"({_first_line(error)}); it needs Java 17 (Debian: "
                         "openjdk-17-jre-headless)") from None
    finally:
        if remote is not None:
            os.environ[REMOTE_VARIABLE] = remote
    spark.sparkContext.setLogLevel("OFF")  # failures reach the user as messages
    return spark


def _remote(url: str, host: str, port: int) -> SparkSession:
    """A Spark Connect session, once the server answers (bounded retries)."""
    for token in re.findall(r";token=([^;]+)", url):
        register(token)
    policy = RetryPolicy.from_env()

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=policy.timeout).close()
        except OSError as error:
            raise TransientError(f"{host}:{port}: {error.strerror or error}") from None
    retry_or_fail(probe, policy, "Spark Connect", "connecting")
    try:
        from pyspark.sql.connect.client.retries import DefaultPolicy  # noqa: PLC0415
        spark = SparkSession.builder.remote(url).getOrCreate()
    except ImportError as error:
        raise UsageError(f"a Spark Connect URL needs the spark extra ({error.name} is "
                         "missing): install modelrail[spark]") from None
    spark.client.set_retry_policies([DefaultPolicy(
        max_retries=policy.attempts - 1, initial_backoff=round(policy.base_delay * 1000),
        max_backoff=round(policy.max_delay * 1000))])
    _guarded(lambda: spark.conf.set("spark.sql.session.timeZone", "UTC"))
    return spark


def engine(spark: SparkSession) -> SqlEngine:
    """The session as a `SqlEngine` (Spark's types, backtick quoting, `?` binds)."""
    def query(text: str, params: Sequence[object]) -> list[dict[str, Any]]:
        rows = _guarded(lambda: spark.sql(text, args=list(params) or None).collect())
        return [{name: _aware(value) for name, value in row.asDict().items()}
                for row in rows]
    def local_values(values: Sequence[float | None]) -> str:
        frame = spark.createDataFrame([(value,) for value in values], "v double")
        _guarded(lambda: frame.createOrReplaceTempView(_VALUES_VIEW))
        return _backticks(_VALUES_VIEW)
    return SqlEngine(placeholder="?", types=SPARK_TYPES, quote=_backticks,
                     query=query, local_values=local_values)


def parquet_log(spark: SparkSession, path: str, view: str) -> RawLog:
    """Register the Parquet file or directory `path` as the temporary view `view`: its
    columns, struct fields and row count (one number collected). A relative path is this
    process's on a local master, the server's on Spark Connect."""
    def read() -> RawLog:
        frame = spark.read.parquet(path if _is_connect(spark) or "://" in path
                                   else os.path.abspath(path))
        frame.createOrReplaceTempView(view)
        structs = {column.name: tuple(column.dataType.fieldNames())
                   for column in frame.schema.fields if isinstance(column.dataType, StructType)}
        return RawLog(relation=view, source=path, columns=tuple(frame.columns),
                      rows=frame.count(), structs=structs)
    return _guarded(read, f"{path}: Spark cannot read it as Parquet")


@contextmanager
def guard(context: str) -> Iterator[None]:
    """Spark's errors in the block as this package's (`_guarded`), naming `context`."""
    try:
        yield
    except PySparkException as error:
        raise _translated(error, context) from None


def _guarded(call: Callable[[], T], context: str = "Spark") -> T:
    """Run `call`; Spark's errors as this package's (`_translated`)."""
    try:
        return call()
    except PySparkException as error:
        raise _translated(error, context) from None


def _translated(error: PySparkException, context: str) -> ModelrailError:
    """The server gone is a ServiceError (exit 3), anything else (a missing table or
    column, a bad value) a UsageError naming `context`."""
    if _unavailable(error):
        return ServiceError(f"Spark Connect: {_first_line(error)}")
    return UsageError(f"{context}: {_first_line(error)}")


def _unavailable(error: PySparkException) -> bool:
    """A Spark Connect call that failed for want of the server (gRPC UNAVAILABLE)."""
    status = getattr(error, "getGrpcStatusCode", None)
    return status is not None and getattr(status(), "name", "") in ("UNAVAILABLE",
                                                                     "DEADLINE_EXCEEDED")


def _is_connect(spark: SparkSession) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _aware(value: object) -> object:
    """pyspark returns an instant as a naive datetime in the process's local time."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.astimezone(UTC)
    return value


def _backticks(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
