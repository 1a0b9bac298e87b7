"""The statistics as they stood over time: the aggregation re-run on cumulative prefixes.

For the report's interval-over-time plot. Each checkpoint runs the same aggregation SQL
on the rows logged up to it (predictions and events with `ts <= checkpoint`), through two
temporary views over a one-row cutoff table, so the database does the work (DuckDB, or
PostgreSQL when pushed down) and only a few numbers per variant come back per
checkpoint. Checkpoints are the ends of the minutes, hours or days (the finest of those
giving at most MAX_CHECKPOINTS) from the first exposure, the last one at the last row
logged, so it holds all the data. A checkpoint whose statistics cannot be read yet (a
variant without users, no variance) has none: a gap in the plot.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modelrail.ab.stats import SufficientStats
from modelrail.errors import UsageError

MAX_CHECKPOINTS = 48
UNITS = (("minute", timedelta(minutes=1)), ("hour", timedelta(hours=1)),
         ("day", timedelta(days=1)))
# (SQL text, bound values) -> result rows as {column: value}; none for a statement.
Query = Callable[[str, Sequence[object]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Checkpoint:
    at: datetime
    stats: SufficientStats | None  # None: not readable yet at this time


@dataclass(frozen=True)
class Timeline:
    unit: str  # minute, hour or day: the spacing of the checkpoints
    start: datetime  # the first exposure
    checkpoints: tuple[Checkpoint, ...]

    def elapsed(self, checkpoint: Checkpoint) -> float:
        """Units (minutes, hours or days) from the first exposure to the checkpoint."""
        return (checkpoint.at - self.start) / dict(UNITS)[self.unit]


def checkpoints(first: datetime, last: datetime) -> tuple[str, list[datetime]]:
    """The unit, and the ends of each unit-long period after `first` up to `last`."""
    span = last - first
    unit, step = next(((name, size) for name, size in UNITS
                       if span / size <= MAX_CHECKPOINTS), UNITS[-1])
    times = [first + step * k for k in range(1, int(span / step) + 1)]
    times = [t for t in times if t < last] + [last]
    if len(times) > MAX_CHECKPOINTS:  # only a span of more than 48 days gets here
        picks = {round(i * (len(times) - 1) / (MAX_CHECKPOINTS - 1))
                 for i in range(MAX_CHECKPOINTS)}
        times = [times[i] for i in sorted(picks)]
    return unit, times


def timeline(query: Query, relations: tuple[str, str], placeholder: str,
             statistics: Callable[[str, str], SufficientStats]) -> Timeline | None:
    """Checkpointed statistics; `relations` are the (quoted) predictions and events
    relations with the typed `ts` column, `statistics(predictions, events)` aggregates
    two relations. None when the predictions hold no timestamp."""
    predictions, events = relations
    span = query(f"SELECT (SELECT MIN(ts) FROM {predictions}) AS first, "  # noqa: S608
                 f"(SELECT MAX(ts) FROM (SELECT ts FROM {predictions} UNION ALL "
                 f"SELECT ts FROM {events}) AS logged) AS last", [])
    first, last = span[0]["first"], span[0]["last"]
    if first is None or last is None:
        return None
    unit, times = checkpoints(first, last)
    cutoff = "modelrail_cutoff"
    query(f"CREATE TEMPORARY TABLE {cutoff} (ts TIMESTAMP WITH TIME ZONE)", [])
    query(f"INSERT INTO {cutoff} VALUES ({placeholder})", [times[0]])  # noqa: S608
    views = []
    for name, relation in (("predictions", predictions), ("events", events)):
        view = f"modelrail_{name}_upto"
        query(f"CREATE TEMPORARY VIEW {view} AS SELECT r.* FROM {relation} AS r, "  # noqa: S608
              f"{cutoff} AS c WHERE r.ts <= c.ts", [])
        views.append(view)
    marks = []
    for at in times:
        query(f"UPDATE {cutoff} SET ts = {placeholder}", [at])  # noqa: S608
        try:
            stats: SufficientStats | None = statistics(views[0], views[1])
        except UsageError:
            stats = None
        marks.append(Checkpoint(at=at, stats=stats))
    return Timeline(unit=unit, start=first, checkpoints=tuple(marks))
