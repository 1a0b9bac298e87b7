"""The statistics as they stood over time: the aggregation at cumulative checkpoints.

For the report's interval-over-time plot, computed for every checkpoint in one pass of
SQL (`sql/over_time.sql`) in the database, so only a few numbers per variant and
checkpoint come back. What a checkpoint holds and how they are chosen: docs/statistics.md
("Interval over time").
"""

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modelrail.ab.stats import SufficientStats
from modelrail.errors import UsageError
from modelrail.plumbing.sql_engine import Query

MAX_CHECKPOINTS = 48
UNITS = (("minute", timedelta(minutes=1)), ("hour", timedelta(hours=1)),
         ("day", timedelta(days=1)))
# A checkpoint's number k, the end of the one before (None for the first) and its time.
Bounds = tuple[int, datetime | None, datetime]


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


def logged_span(query: Query, relations: tuple[str, str]) -> tuple[datetime, datetime] | None:
    """The first exposure and the last row logged (prediction or event); None when the
    predictions hold no timestamp."""
    predictions, events = relations
    span = query(f"SELECT (SELECT MIN(ts) FROM {predictions}) AS first, "  # noqa: S608
                 f"(SELECT MAX(ts) FROM (SELECT ts FROM {predictions} UNION ALL "
                 f"SELECT ts FROM {events}) AS logged) AS last", [])
    first, last = span[0]["first"], span[0]["last"]
    if first is None or last is None:
        return None
    return first, last


def timeline(span: tuple[datetime, datetime] | None,
             aggregate: Callable[[Sequence[Bounds]], list[dict[str, Any]]],
             statistics: Callable[[Sequence[Mapping[str, Any]]], SufficientStats],
             ) -> Timeline | None:
    """Checkpointed statistics over the logged `span` (`logged_span`); `aggregate(bounds)`
    runs the aggregation at the checkpoints `(k, lo, hi)` (`sql/over_time.sql`), and
    `statistics` reads one checkpoint's rows. None when the predictions hold no
    timestamp (no span)."""
    if span is None:
        return None
    first, last = span
    unit, times = checkpoints(first, last)
    bounds = [(k, lo, hi) for k, (lo, hi) in enumerate(zip([None, *times[:-1]], times,
                                                              strict=True))]
    by_checkpoint: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in aggregate(bounds):
        by_checkpoint[int(row["k"])].append(row)
    return Timeline(unit=unit, start=first, checkpoints=tuple(
        Checkpoint(at=at, stats=_readable(statistics, by_checkpoint[k]))
        for k, at in enumerate(times)))


def _readable(statistics: Callable[[Sequence[Mapping[str, Any]]], SufficientStats],
              rows: Sequence[Mapping[str, Any]]) -> SufficientStats | None:
    try:
        return statistics(rows)
    except UsageError:
        return None
