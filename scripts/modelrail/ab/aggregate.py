"""Prediction logs + business events -> per-variant sufficient statistics, in SQL.

The join is one SQL text (`sql/sufficient_stats.sql`) that DuckDB runs here as a stream
over the files, and PostgreSQL and Spark run unchanged (`aggregate_on`), so a warehouse
or a cluster can push it down (the engines: `modelrail.plumbing.sql_engine`; the logs
opened by `modelrail.plumbing.log_source`). Input columns and attribution rules:
docs/log-formats.md.
"""

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from modelrail.ab.stats import SufficientStats
from modelrail.ab.stats_file import parse_stats
from modelrail.ab.timeline import Bounds, Timeline, logged_span, timeline
from modelrail.errors import UsageError
from modelrail.plumbing.engines import Location, OpenEngine, open_engine
from modelrail.plumbing.log_source import Kind, RawLog, typed_columns
from modelrail.plumbing.sql_engine import SqlEngine, sql_file

DEFAULT_WINDOW_SECONDS = 30 * 60.0
PREDICTION_COLUMNS = ("timestamp", "request_id", "user_id", "variant")
EVENT_COLUMNS = ("timestamp", "user_id", "type", "value")
LOG_COLUMNS = {"predictions": PREDICTION_COLUMNS, "events": EVENT_COLUMNS}
# The typed columns the SQL reads: a PostgreSQL table's, a file's typed view's.
TYPED_COLUMNS: dict[str, dict[str, Kind]] = {
    "predictions": {"ts": "timestamp", "request_id": "text", "user_id": "text",
                    "variant": "text", "experiment": "text"},
    "events": {"ts": "timestamp", "user_id": "text", "type": "text", "request_id": "text",
               "value": "double"},
}
TABLE_COLUMNS = {role: tuple(columns) for role, columns in TYPED_COLUMNS.items()}
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


@dataclass(frozen=True)
class LogStats:
    """The statistics for the engine, what the data looked like (`--json`'s `data`), and
    the statistics over time when asked for (`--report`)."""

    stats: SufficientStats
    data: Mapping[str, object]
    timeline: Timeline | None = None
    span: tuple[datetime, datetime] | None = None  # first exposure, last row logged

    def units_per_day(self) -> float | None:
        """The enrolment rate so far: exposed units per day of the logged span."""
        if self.span is None:
            return None
        days = (self.span[1] - self.span[0]) / timedelta(days=1)
        return sum(self.stats.units.values()) / days if days > 0 else None


def parse_window(text: str) -> float:
    """An attribution window like `90s`, `30m`, `1h` or `1d`, in seconds (> 0)."""
    match = _DURATION.fullmatch(text.strip())
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise UsageError(f"--attribution-window: expected a positive duration such as "
                         f"90s, 30m, 1h or 1d, got {text!r}")
    return seconds


def sufficient_stats_sql(engine: SqlEngine, relations: tuple[str, str],
                         checkpoints: int | None = None) -> str:
    """The aggregation over two relations (quoted identifiers the caller controls) in
    `engine`'s dialect; its binds are the window in seconds, then the experiment key or
    None. With `checkpoints` (how many), the statistics at every checkpoint, in rows with
    `k`: then three more binds per checkpoint, its `Bounds`."""
    tail = sql_file(__package__, "per_variant.sql" if checkpoints is None else "over_time.sql")
    sums = sql_file(__package__, "sums.sql").strip()
    text = sql_file(__package__, "sufficient_stats.sql").replace("{tail}", tail) \
        .replace("{sums}", sums)
    rows = ", ".join(f"({engine.binds(3)})" for _ in range(checkpoints or 0))
    return text.format(predictions=relations[0], events=relations[1],
                       param=engine.placeholder, checkpoints=rows, **engine.types)


def aggregate_logs(predictions: Path, events: Path, variants: Sequence[str], *,
                   experiment: str | None = None,
                   window_seconds: float = DEFAULT_WINDOW_SECONDS,
                   metrics: Collection[str] | None = None,
                   over_time: bool = False) -> LogStats:
    """Join and aggregate the log files in an in-memory DuckDB (`aggregate_on`)."""
    return aggregate_on(Location(), str(predictions), str(events), variants,
                        Aggregation(experiment, window_seconds, metrics, over_time))


def aggregate_on(location: Location, predictions: str, events: str, variants: Sequence[str],
                 aggregation: "Aggregation | None" = None) -> LogStats:
    """Join and aggregate the logs where `location` says: files (DuckDB; Parquet on Spark)
    or PostgreSQL tables (`predictions` and `events` are then table names). `variants`
    are the experiment's, in order (the first is the control); with an experiment key,
    prediction rows logged for another experiment are skipped; only the metrics named
    are kept (default: all of them), so a metric nobody reads cannot fail the checks;
    `over_time` adds the statistics at checkpoints (`timeline`)."""
    aggregation = aggregation or Aggregation()
    with open_engine(location) as engine:
        rows = (_open(engine, predictions, "predictions"), _open(engine, events, "events"))
        on_tables = engine.name == "postgres"
        with engine.guard(f"{predictions}, {events}: a value the aggregation cannot use"):
            return collect(
                engine.sql, (predictions, events) if on_tables else ("predictions", "events"),
                variants, aggregation,
                sources=(f"table {predictions}", f"table {events}") if on_tables
                else (predictions, events),
                data={"predictions": predictions, "events": events,
                      "prediction_rows": rows[0], "event_rows": rows[1],
                      "attribution_window_seconds": aggregation.window_seconds})


@dataclass(frozen=True)
class Aggregation:
    """What to aggregate: the experiment key (None: all), the attribution window, the
    metrics to keep (None: all), and whether to add the statistics over time."""

    experiment: str | None = None
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    metrics: Collection[str] | None = None
    over_time: bool = False


def collect(engine: SqlEngine, tables: tuple[str, str], variants: Sequence[str],
            aggregation: Aggregation, *, sources: tuple[str, str],
            data: Mapping[str, object]) -> LogStats:
    """Run the aggregation on `engine` over the `tables` (predictions, events: relation
    names, quoted here) with the typed columns; only aggregated rows come back."""
    relations = (engine.quote(tables[0]), engine.quote(tables[1]))
    binds = [aggregation.window_seconds, aggregation.experiment]

    def statistics(rows: Sequence[Mapping[str, Any]]) -> LogStats:
        return log_stats(rows, variants, sources, metrics=aggregation.metrics, data=data)

    def at_checkpoints(bounds: Sequence[Bounds]) -> list[dict[str, Any]]:
        return engine.query(sufficient_stats_sql(engine, relations, len(bounds)),
                            [*binds, *(value for bound in bounds for value in bound)])

    result = replace(statistics(engine.query(sufficient_stats_sql(engine, relations), binds)),
                     span=logged_span(engine.query, relations))
    if not aggregation.over_time:
        return result
    return replace(result, timeline=timeline(result.span, at_checkpoints,
                                             lambda rows: statistics(rows).stats))


def log_stats(rows: Sequence[Mapping[str, Any]], variants: Sequence[str],
              sources: tuple[str, str], *, metrics: Collection[str] | None,
              data: Mapping[str, object]) -> LogStats:
    """The SQL's per-variant rows, checked as STATS.json is, with `data` (what was read)
    and the multi-variant users; `sources` name the predictions and the events."""
    by_variant = _by_variant(rows, variants, sources[0])
    document = stats_document(by_variant, variants)
    if metrics is not None:
        document["metrics"] = {name: section for name, section in document["metrics"].items()
                               if name in metrics}
    stats = parse_stats(document, " + ".join(sources))
    multi = {v: int(by_variant[v]["multi_variant_users"]) for v in variants}
    return LogStats(stats=stats, data={
        **data,
        "multi_variant_users": sum(multi.values()),
        "multi_variant_users_by_variant": multi,
        "attributed_clicks": {v: by_variant[v]["clicks_sum"] for v in variants},
    })


def stats_document(rows: Mapping[str, Mapping[str, Any]],
                   variants: Sequence[str]) -> dict[str, Any]:
    """STATS.json's shape from the SQL's per-variant rows."""
    def metric(kind: str, fields: Mapping[str, str]) -> dict[str, object]:
        section: dict[str, object] = {"type": kind}
        for v in variants:
            section[v] = {"n": int(rows[v]["units"]),
                          **{name: float(rows[v][column]) for name, column in fields.items()}}
        return section

    return {
        "variants": list(variants),
        "units": {v: int(rows[v]["units"]) for v in variants},
        "metrics": {
            "ctr": metric("ratio", {
                "numerator_sum": "clicks_sum",
                "numerator_sum_squares": "clicks_sum_squares",
                "denominator_sum": "impressions_sum",
                "denominator_sum_squares": "impressions_sum_squares",
                "numerator_denominator_sum_products": "clicks_impressions_sum_products"}),
            "session_duration": metric("mean", {"sum": "duration_sum",
                                                "sum_squares": "duration_sum_squares"}),
            "conversion": metric("proportion", {"sum": "converted"}),
        },
    }


def _by_variant(rows: Sequence[Mapping[str, Any]], variants: Sequence[str],
                predictions: str) -> dict[str, Mapping[str, Any]]:
    by_variant = {str(row["variant"]): row for row in rows}
    unknown = sorted(set(by_variant) - set(variants))
    if unknown:
        raise UsageError(f"{predictions}: variant {unknown[0]!r} is not one of the "
                         f"experiment's variants {list(variants)}")
    for variant in variants:
        if variant not in by_variant:
            raise UsageError(f"{predictions}: variant {variant!r} has no users")
    return by_variant


def _open(engine: OpenEngine, source: str, role: str) -> int:
    """The log `source` (a file, or a PostgreSQL table of typed columns, read as it is)
    checked; a file exposed as the view `role` with the typed columns. Its row count."""
    log = engine.open(source, f"raw_{role}", f"{role} log")
    if engine.name == "postgres":
        log.require(role, TABLE_COLUMNS[role])
        return log.rows
    log.require(role, LOG_COLUMNS[role])
    with engine.guard(f"{source}: bad {role} log"):
        engine.sql.query(typed_view_sql(engine.sql, log), [])
    return log.rows


def typed_view_sql(engine: SqlEngine, log: RawLog) -> str:
    """The statement that exposes the log file `raw_<role>` as the view `role`, with the
    typed columns the aggregation reads (those of a PostgreSQL table)."""
    role = log.relation.removeprefix("raw_")
    select = typed_columns(engine, log.columns, TYPED_COLUMNS[role])
    # Only this module's constants are formatted in: column names and view names.
    return (f"CREATE OR REPLACE TEMPORARY VIEW {engine.quote(role)} AS "  # noqa: S608
            f"SELECT {', '.join(select)} FROM {engine.quote(log.relation)}")
