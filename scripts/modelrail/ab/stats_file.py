"""STATS.json: per-variant sufficient statistics, the engine's input from anywhere.

`parse_stats` takes the decoded document, so a producer that aggregates logs hands its
numbers through the same checks; every problem is a UsageError naming the JSON path.
The format: docs/log-formats.md ("STATS.json").
"""

import math
from collections.abc import Mapping
from pathlib import Path

from modelrail.ab.stats import (
    STATS_TYPES,
    MeanStats,
    MetricStats,
    ProportionStats,
    RatioStats,
    StatsError,
    SufficientStats,
    checked_n,
)
from modelrail.errors import UsageError
from modelrail.plumbing.strict_data import finite_float, shown
from modelrail.plumbing.textfile import read_json

# Per type: the required fields, then the optional ones (all or none of them).
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mean": (("n", "sum", "sum_squares"),
             ("covariate_sum", "covariate_sum_squares", "covariate_sum_products")),
    "proportion": (("n", "sum"), ()),
    "ratio": (("n", "numerator_sum", "numerator_sum_squares", "denominator_sum",
               "denominator_sum_squares", "numerator_denominator_sum_products"), ()),
}
# Sums of squares are >= (sum)^2 / n for real data; allow rounding from the producer.
_TOLERANCE = 1e-9
MAX_COUNT = 2**53
"""Unit counts beyond this are not exact as floats (and no experiment has that many)."""
MAX_SUM = 1e100
"""Sums beyond ±1e100 are refused: the tests square and multiply them, which would
overflow a float, and real sums (even of squares of revenue) stay far below it."""


def load_stats(path: str | Path) -> SufficientStats:
    source = Path(path)
    return parse_stats(read_json(source, "statistics file"), str(source))


def parse_stats(data: object, source: str) -> SufficientStats:
    document = _Object(data, "", source)
    variants = document.variants()
    units_object = document.child("units")
    units = {v: units_object.count(v) for v in variants}
    for variant, count in units.items():
        if count == 0:
            raise units_object.error(variant, "the variant has no units")
    units_object.finish()
    metrics_object = document.child("metrics")
    metrics = {name: _metric(metrics_object.child(name), variants)
               for name in metrics_object.names()}
    document.finish()
    return SufficientStats(source=source, variants=variants, units=units, metrics=metrics)


def _metric(metric: "_Object", variants: tuple[str, ...]) -> dict[str, MetricStats]:
    kind = metric.string("type")
    if kind not in _FIELDS:
        raise metric.error("type", f"expected one of {', '.join(_FIELDS)}, got {kind!r}")
    stats = {v: _variant(metric.child(v), kind) for v in variants}
    metric.finish()
    if all(_has_no_spread(s) for s in stats.values()):
        raise metric.error("", "every variant has the same value for every unit: "
                               "with zero variance no test is possible")
    return stats


def _variant(section: "_Object", kind: str) -> MetricStats:
    required, optional = _FIELDS[kind]
    n = section.count("n")
    try:
        checked_n(n)
    except StatsError as error:
        raise section.error("n", str(error)) from None
    values: dict[str, float] = {name: section.number(name) for name in required[1:]}
    present = [name for name in optional if section.has(name)]
    if present and len(present) != len(optional):
        missing = next(name for name in optional if name not in present)
        raise section.error(missing, f"is required with {present[0]} "
                                     f"(the CUPED covariate needs {', '.join(optional)})")
    values.update({name: section.number(name) for name in present})
    section.finish()
    _check_consistent(section, n, values)
    return STATS_TYPES[kind](n=n, **values)


def _check_consistent(section: "_Object", n: int, values: Mapping[str, float]) -> None:
    """Sums must be ones real data can produce: a proportion's sum within [0, n], every
    sum of squares at least sum^2/n (else the variance would be negative)."""
    if "sum" in values and "sum_squares" not in values and not 0 <= values["sum"] <= n:
        raise section.error("sum", f"a proportion's sum must be within [0, n = {n}], "
                                   f"got {values['sum']:g}")
    for squares, total in (("sum_squares", "sum"),
                           ("covariate_sum_squares", "covariate_sum"),
                           ("numerator_sum_squares", "numerator_sum"),
                           ("denominator_sum_squares", "denominator_sum")):
        if squares in values:
            floor = values[total] ** 2 / n
            if values[squares] < floor - _TOLERANCE * max(1.0, abs(floor)):
                raise section.error(squares, f"{values[squares]:g} is below {total}^2 / n "
                                             f"= {floor:g}: no data has these sums")


def _has_no_spread(stats: MetricStats) -> bool:
    """True when every unit of the variant has the same value (zero sample variance)."""
    n = stats.n
    match stats:
        case MeanStats():
            return math.isclose(stats.sum_squares, stats.sum**2 / n, rel_tol=_TOLERANCE)
        case ProportionStats():
            return stats.sum in (0, n)
        case RatioStats():
            return math.isclose(stats.numerator_sum_squares, stats.numerator_sum**2 / n,
                                rel_tol=_TOLERANCE) and math.isclose(
                stats.denominator_sum_squares, stats.denominator_sum**2 / n,
                rel_tol=_TOLERANCE)


class _Object:
    """Typed, key-checked access to one JSON object; errors carry its path."""

    def __init__(self, data: object, path: str, source: str) -> None:
        self._path = path
        self._source = source
        if not isinstance(data, Mapping):
            raise self._error_at(path, f"expected an object, got {_json_type(data)}")
        if not all(isinstance(key, str) for key in data):  # a producer's dict, not JSON
            raise self._error_at(path, "every key must be text")
        self._data: Mapping[str, object] = data
        self._seen: set[str] = set()

    def _error_at(self, path: str, message: str) -> UsageError:
        return UsageError(f"{self._source}: {path or 'top level'}: {message}")

    def path(self, name: str) -> str:
        return ".".join(part for part in (self._path, name) if part)

    def error(self, name: str, message: str) -> UsageError:
        return self._error_at(self.path(name), message)

    def names(self) -> list[str]:
        """The keys, all taken as read: they are user-chosen names (metrics)."""
        self._seen.update(self._data)
        return list(self._data)

    def has(self, name: str) -> bool:
        return name in self._data

    def raw(self, name: str) -> object:
        if name not in self._data:
            raise self.error(name, "is required")
        self._seen.add(name)
        return self._data[name]

    def child(self, name: str) -> "_Object":
        return _Object(self.raw(name), self.path(name), self._source)

    def string(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or not value:
            raise self.error(name, f"expected a non-empty string, got {_json_type(value)}")
        return value

    def number(self, name: str) -> float:
        value = self.raw(name)
        number = None if isinstance(value, bool) or not isinstance(value, int | float) \
            else finite_float(value)
        if number is None:
            raise self.error(name, f"expected a finite number, got {_json_type(value)}")
        if abs(number) > MAX_SUM:
            raise self.error(name, f"{number:g} is beyond ±{MAX_SUM:g}")
        return number

    def count(self, name: str) -> int:
        value = self.number(name)
        if value < 0 or not value.is_integer() or value > MAX_COUNT:
            raise self.error(name, f"expected a whole number from 0 to 2^53, got {value:g}")
        return int(value)

    def variants(self) -> tuple[str, ...]:
        value = self.raw("variants")
        if not isinstance(value, list) or len(value) < 2 \
                or not all(isinstance(v, str) and v for v in value) \
                or len(set(value)) != len(value):
            raise self.error("variants", "expected a list of at least two distinct names")
        return tuple(value)

    def finish(self) -> None:
        """Reject keys nobody asked for: a misspelt field must not go unnoticed."""
        unknown = sorted(k for k in self._data if k not in self._seen)
        if unknown:
            allowed = ", ".join(sorted(self._seen)) or "none"
            raise self.error(unknown[0], f"unknown key (allowed here: {allowed})")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str | int | float):
        return f"{type(value).__name__} {shown(value)}"
    return "a list" if isinstance(value, list) else type(value).__name__
