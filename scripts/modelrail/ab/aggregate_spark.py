"""The log aggregation on Spark SQL: the same SQL text as DuckDB's, over Parquet.

The logs are Parquet files or directories in the log format (docs/log-formats.md), read
where Spark runs (a local master, or a cluster through Spark Connect: then a path the
cluster sees); they get the typed views DuckDB gives files, and only a few numbers per
variant (and checkpoint) are collected to the runner.
"""

from collections.abc import Sequence

from pyspark.sql import SparkSession

from modelrail.ab.aggregate import (
    Aggregation,
    LogStats,
    check_log,
    collect,
    files_data,
    typed_view_sql,
)
from modelrail.plumbing import spark as spark_engine
from modelrail.plumbing.sql_engine import SqlEngine


def run_on_spark(spark: SparkSession, predictions: str, events: str,
                 variants: Sequence[str], aggregation: Aggregation | None = None) -> LogStats:
    """Aggregate the Parquet logs at `predictions` and `events` in the session `spark`."""
    aggregation = aggregation or Aggregation()
    engine = spark_engine.engine(spark)
    rows = (_load(spark, engine, predictions, "predictions"),
            _load(spark, engine, events, "events"))
    return collect(engine, ("predictions", "events"), variants, aggregation,
                   sources=(predictions, events),
                   data=files_data((predictions, events), rows, aggregation.window_seconds))


def _load(spark: SparkSession, engine: SqlEngine, path: str, role: str) -> int:
    """Expose the Parquet log as the view `role` with the typed columns; its row count."""
    columns, rows = spark_engine.parquet_view(spark, path, f"raw_{role}")
    check_log(path, role, columns, rows)
    engine.query(typed_view_sql(engine, role, columns), [])
    return rows
