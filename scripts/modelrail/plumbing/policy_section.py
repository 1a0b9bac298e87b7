"""Strict reading of modelrail.yaml: the typed `Section` reader (the file itself is
parsed by plumbing.strict_data, the loader every data file shares).

Every feature parses its own section of the policy file with a `Section`, so the
validators live here once and every problem is a UsageError naming the file and the
dotted key: a typo in policy fails loudly instead of silently loosening a check.
Every key a parser asks about (`has`, `raw` and the typed readers) is a key the section
allows, so an unknown key is reported with the whole list and the nearest of them, and
a missing key names a misspelt sibling that is probably meant.
"""

import re
from collections.abc import Callable, Mapping
from difflib import get_close_matches
from pathlib import Path
from typing import Any, TypeVar

from modelrail.errors import UsageError
from modelrail.plumbing.strict_data import finite_float, shown

T = TypeVar("T")
D = TypeVar("D")
S = TypeVar("S", bound=str)

_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
_DURATION_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_PROMETHEUS_DURATION = "a Prometheus duration such as 30s, 5m or 1h"


def duration_seconds(text: str) -> float | None:
    """A Prometheus duration (`90s`, `5m`, `1h30m`) in seconds; None if not one."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        return None
    return sum(int(part) * unit for part, unit in zip(match.groups(), _DURATION_SECONDS,
                                                      strict=True) if part)


class Section:
    """Typed, key-checked access to one mapping of the policy file."""

    def __init__(self, data: object, key: str, source: Path) -> None:
        if not isinstance(data, Mapping):
            raise UsageError(f"{source}: {key or 'top level'}: expected a mapping, "
                             f"got {_type_name(data)}")
        self._data: Mapping[str, Any] = data
        self._key = key
        self._source = source
        self._seen: set[str] = set()

    @property
    def source(self) -> Path:
        return self._source

    def path(self, name: str) -> str:
        return f"{self._key}.{name}" if self._key else name

    def keys(self) -> list[str]:
        """The keys as written (user-chosen names such as environments)."""
        return [str(k) for k in self._data]

    def error(self, name: str, message: str) -> UsageError:
        """A problem with key `name`; when it is absent, a near-miss written instead is named."""
        return UsageError(f"{self._source}: {self.path(name)}: {message}{self._near_miss(name)}")

    def _near_miss(self, name: str) -> str:
        if name in self._data or "." in name:
            return ""
        unknown = [str(k) for k in self._data if k not in self._seen]
        found = get_close_matches(name, unknown, n=1)
        return f"; found {found[0]!r}: did you mean {name}?" if found else ""

    def has(self, name: str) -> bool:
        """Whether `name` is written; asking makes it a key this section allows."""
        self._seen.add(name)
        return name in self._data

    def raw(self, name: str) -> object:
        self._seen.add(name)
        return self._data.get(name)

    def section(self, name: str) -> "Section":
        value = self.raw(name)
        if not isinstance(value, Mapping):
            raise self.error(name, f"expected a mapping, got {_type_name(value)}")
        return Section(value, self.path(name), self._source)

    def optional_section(self, name: str, parse: "Callable[[Section], T]", default: T) -> T:
        """An optional sub-section, parsed; absent or empty gives `default`."""
        return default if self.raw(name) is None else parse(self.section(name))

    def children(self) -> list[tuple[str, "Section"]]:
        """Every entry of a mapping whose keys are user-chosen names (metric names)."""
        self._seen.update(self._data)
        return [(str(k), Section(v, self.path(str(k)), self._source))
                for k, v in self._data.items()]

    def finish(self) -> None:
        """Reject keys nobody asked for: a typo must not silently disable a check.

        Call it after every read, so that the keys asked about are all this section allows.
        """
        unknown = sorted(str(k) for k in self._data if k not in self._seen)
        if unknown:
            allowed = sorted(self._seen)
            nearest = get_close_matches(unknown[0], allowed, n=1)
            guess = f": did you mean {nearest[0]}?" if nearest else ""
            raise UsageError(f"{self._source}: unknown key {self.path(unknown[0])!r}{guess} "
                             f"(allowed here: {', '.join(allowed) or 'none'})")

    def string(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.error(name, f"expected a non-empty string, got {_type_name(value)}")
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name)
        if value is None:
            raise self.error(name, "is required")
        return value

    def string_list(self, name: str) -> tuple[str, ...] | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, "expected a list of non-empty strings")
        return tuple(value)

    def choice(self, name: str, choices: tuple[S, ...], default: S | None) -> S:
        """One of `choices`; with `default` None the key is required."""
        value = self.string(name)
        if value is None and default is not None:
            return default
        for choice in choices:
            if value == choice:
                return choice
        allowed = ", ".join(choices)
        if value is None:
            raise self.error(name, f"is required ({allowed})")
        raise self.error(name, f"expected one of {allowed}, got {value!r}")

    def duration(self, name: str, default: D, expected: str = _PROMETHEUS_DURATION
                 ) -> str | D:
        """A non-zero Prometheus duration, kept as written; absent gives `default`."""
        text = self.string(name)
        if text is None:
            return default
        if not duration_seconds(text):
            raise self.error(name, f"expected {expected}, got {text!r}")
        return text

    def required_boolean(self, name: str) -> bool:
        value = self.raw(name)
        if value is None:
            raise self.error(name, "is required (true or false)")
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_type_name(value)}")
        return value

    def optional_boolean(self, name: str) -> bool | None:
        """None when the key is absent; written, it must be true or false."""
        return self.required_boolean(name) if self.has(name) else None

    def flag(self, name: str) -> bool:
        """A switch that is off unless written as true."""
        if self.raw(name) is None:  # read even when absent: the key is allowed here
            return False
        return self.required_boolean(name)

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, str):
            value = _number_from_text(value)  # YAML 1.1 reads `1e-3` as text
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, f"expected a number, got {_type_name(value)}")
        number = finite_float(value)
        if number is None:
            raise self.error(name, f"expected a finite number, got {shown(value)}")
        return number

    def checked(self, name: str, default: D, valid: Callable[[float], bool],
                expected: str) -> float | D:
        """A number for which `valid` holds (`expected` describes it); absent gives `default`."""
        value = self.number(name)
        if value is None:
            return default
        if not valid(value):
            raise self.error(name, f"expected {expected}, got {value:g}")
        return value

    def bounded(self, name: str, default: float, *, low: float, high: float,
                low_open: bool = False, high_open: bool = False) -> float:
        """A number within [low, high]; `low_open`/`high_open` exclude that bound."""
        value = self.number(name)
        if value is None:
            return default
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high:
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise self.error(name, f"must be in {interval}, got {value:g}")
        return value

    def positive(self, name: str, default: float | None) -> float:
        """A number > 0; `default` None makes it required."""
        value = self.number(name)
        if value is None:
            if default is None:
                raise self.error(name, "is required")
            return default
        if value <= 0:
            raise self.error(name, f"must be greater than 0, got {value:g}")
        return value

    def whole(self, name: str, default: int, *, low: int) -> int:
        """A whole number >= `low`."""
        return int(self.checked(name, default, lambda v: v.is_integer() and v >= low,
                                f"a whole number >= {low}"))

    def percent(self, name: str) -> int | None:
        """A whole percentage from 1 to 100; None when absent."""
        value = self.checked(name, None, lambda v: v.is_integer() and 1 <= v <= 100,
                             "a whole percentage from 1 to 100")
        return None if value is None else int(value)


def _number_from_text(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text


def _type_name(value: object) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {shown(value)}" if isinstance(value, str | int | float) \
        else type(value).__name__
