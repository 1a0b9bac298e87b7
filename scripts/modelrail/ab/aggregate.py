"""Prediction logs + business events -> per-variant sufficient statistics, in SQL.

The join is one standard SQL text (`sql/sufficient_stats.sql`) that DuckDB runs here as
a stream over the files and PostgreSQL runs unchanged (`aggregate_postgres`), so a
warehouse can push it down. Input columns and attribution rules: docs/log-formats.md.
"""

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from modelrail.ab.stats import SufficientStats
from modelrail.ab.stats_file import parse_stats
from modelrail.ab.timeline import Query, Timeline, logged_span, timeline
from modelrail.errors import UsageError
from modelrail.plumbing import duck
from modelrail.plumbing.logs import read_log

DEFAULT_WINDOW_SECONDS = 30 * 60.0
PREDICTION_COLUMNS = ("timestamp", "request_id", "user_id", "variant")
EVENT_COLUMNS = ("timestamp", "user_id", "type", "value")
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


def sufficient_stats_sql(predictions: str, events: str, placeholder: str,
                         checkpoints: str | None = None) -> str:
    """The aggregation over two relations (quoted identifiers the caller controls); its
    binds are the window in seconds, then the experiment key or None. With `checkpoints`
    (a relation of `(k, lo, hi)`), the statistics at every checkpoint, in rows with `k`."""
    folder = resources.files("modelrail.ab").joinpath("sql")
    tail = folder.joinpath("per_variant.sql" if checkpoints is None else "over_time.sql")
    template = folder.joinpath("sufficient_stats.sql").read_text(encoding="utf-8")
    sums = folder.joinpath("sums.sql").read_text(encoding="utf-8").strip()
    text = template.replace("{tail}", tail.read_text(encoding="utf-8")).replace("{sums}", sums)
    return text.format(predictions=predictions, events=events, param=placeholder,
                       checkpoints=checkpoints)


def aggregate_logs(predictions: Path, events: Path, variants: Sequence[str], *,
                   experiment: str | None = None,
                   window_seconds: float = DEFAULT_WINDOW_SECONDS,
                   metrics: Collection[str] | None = None,
                   over_time: bool = False) -> LogStats:
    """Join and aggregate the logs in an in-memory DuckDB; `variants` are the
    experiment's, in order (the first is the control); with `experiment`, prediction rows
    logged for another experiment are skipped. `metrics` keeps only the metrics
    named (default: all of them), so a metric nobody reads cannot fail the checks.
    `over_time` adds the statistics at checkpoints (`timeline`)."""
    with duck.connect() as connection:
        prediction_rows = _load(connection, predictions, "predictions", PREDICTION_COLUMNS,
                                _prediction_columns)
        event_rows = _load(connection, events, "events", EVENT_COLUMNS, _event_columns)
        try:  # the views cast lazily: a bad value in a row fails here, not in _load
            return collect(duckdb_query(connection), ('"predictions"', '"events"'), "?",
                           variants,
                           Aggregation(experiment, window_seconds, metrics, over_time),
                           sources=(str(predictions), str(events)), data={
                               "predictions": str(predictions), "events": str(events),
                               "prediction_rows": prediction_rows, "event_rows": event_rows,
                               "attribution_window_seconds": window_seconds})
        except duckdb.Error as error:
            raise duck.usage_error(error, f"{predictions}, {events}: a value the "
                                          "aggregation cannot use") from None


@dataclass(frozen=True)
class Aggregation:
    """What to aggregate: the experiment key (None: all), the attribution window, the
    metrics to keep (None: all), and whether to add the statistics over time."""

    experiment: str | None = None
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    metrics: Collection[str] | None = None
    over_time: bool = False


def collect(query: Query, relations: tuple[str, str], placeholder: str,
            variants: Sequence[str], aggregation: Aggregation, *, sources: tuple[str, str],
            data: Mapping[str, object]) -> LogStats:
    """Run the aggregation on `relations` (predictions, events) through `query`, on any
    database with the typed columns; `placeholder` is its driver's bind marker."""
    binds = [aggregation.window_seconds, aggregation.experiment]

    def statistics(rows: Sequence[Mapping[str, Any]]) -> LogStats:
        return log_stats(rows, variants, sources, metrics=aggregation.metrics, data=data)

    def at_checkpoints(checkpoints: str) -> list[dict[str, Any]]:
        return query(sufficient_stats_sql(*relations, placeholder, checkpoints), binds)

    result = replace(statistics(query(sufficient_stats_sql(*relations, placeholder), binds)),
                     span=logged_span(query, relations))
    if not aggregation.over_time:
        return result
    return replace(result, timeline=timeline(query, relations, placeholder, at_checkpoints,
                                             lambda rows: statistics(rows).stats))


def duckdb_query(connection: duckdb.DuckDBPyConnection) -> Query:
    def run(text: str, params: Sequence[object]) -> list[dict[str, Any]]:
        cursor = connection.execute(text, list(params))
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return run


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


def _load(connection: duckdb.DuckDBPyConnection, path: Path, role: str,
          required: Sequence[str], select: Callable[[set[str]], str]) -> int:
    """Expose the file as the view `role` with the columns `select` types for the SQL;
    its row count."""
    raw = f"raw_{role}"
    try:
        relation = read_log(connection, path)
        relation.create_view(raw)
        rows = connection.execute(f"SELECT COUNT(*) FROM {raw}").fetchone()  # noqa: S608
    except duckdb.Error as error:
        raise duck.usage_error(error, f"{path}: cannot read the {role} log") from None
    if not rows or not rows[0]:
        raise UsageError(f"{path}: the {role} log is empty")
    columns = set(relation.columns)
    for column in required:
        if column not in columns:
            raise UsageError(f"{path}: the {role} log has no {column!r} column "
                             f"(required: {', '.join(required)})")
    # Only this module's constants are formatted in: column names and view names.
    view = f'CREATE VIEW "{role}" AS SELECT {select(columns)} FROM {raw}'  # noqa: S608
    try:
        connection.execute(view)
    except duckdb.Error as error:
        raise duck.usage_error(error, f"{path}: bad {role} log") from None
    return int(rows[0])


def _text(column: str, columns: set[str]) -> str:
    """A text column, empty strings as NULL (CSV); NULL when the file lacks it."""
    if column not in columns:
        return f"CAST(NULL AS VARCHAR) AS {column}"
    return f'NULLIF(CAST("{column}" AS VARCHAR), \'\') AS {column}'


_TIMESTAMP = 'CAST("timestamp" AS TIMESTAMP WITH TIME ZONE) AS ts'


def _prediction_columns(columns: set[str]) -> str:
    texts = ("request_id", "user_id", "variant", "experiment")
    return ", ".join([_TIMESTAMP, *(_text(name, columns) for name in texts)])


def _event_columns(columns: set[str]) -> str:
    texts = ("user_id", "type", "request_id")
    return ", ".join([_TIMESTAMP, *(_text(name, columns) for name in texts),
                      'CAST("value" AS DOUBLE PRECISION) AS value'])
