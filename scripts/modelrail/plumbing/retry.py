"""Bounded retries with exponential backoff for calls to remote services."""

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing.redact import redact

T = TypeVar("T")


class TransientError(Exception):
    """Raised by a call that may succeed if tried again (5xx, timeout, refused); its
    message is redacted on construction, like a ModelrailError's."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before failing closed.

    The defaults give up after about 8 s of waiting plus the request timeouts, short
    enough for a CI step and long enough to ride out a server restart.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    timeout: float = 15.0

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        """Read MODELRAIL_RETRY_ATTEMPTS, _BASE_DELAY and MODELRAIL_HTTP_TIMEOUT, each within
        the range docs/exit-codes.md gives (a UsageError naming the variable if not)."""
        default = cls()
        return cls(
            attempts=int(_env_number(ATTEMPTS, default.attempts)),
            base_delay=_env_number(BASE_DELAY, default.base_delay),
            max_delay=default.max_delay,
            timeout=_env_number(HTTP_TIMEOUT, default.timeout),
        )

    def delays(self) -> list[float]:
        """Sleep before each retry: base, 2·base, 4·base … capped at max_delay."""
        delays: list[float] = []
        delay = min(self.base_delay, self.max_delay)
        for _ in range(self.attempts - 1):
            delays.append(delay)
            delay = min(delay * 2, self.max_delay)
        return delays


@dataclass(frozen=True)
class _Range:
    """The values an environment knob accepts, and how to say so."""

    low: float
    high: float
    low_open: bool
    whole: bool
    expected: str

    def holds(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high and (value.is_integer() or not self.whole)


ATTEMPTS = "MODELRAIL_RETRY_ATTEMPTS"
BASE_DELAY = "MODELRAIL_RETRY_BASE_DELAY"
HTTP_TIMEOUT = "MODELRAIL_HTTP_TIMEOUT"
_RANGES = {
    ATTEMPTS: _Range(1, 100, False, True, "a whole number from 1 to 100"),
    BASE_DELAY: _Range(0, 60, False, False, "seconds from 0 to 60"),
    # 0 is not "no timeout": a request that may hang forever could never fail closed.
    HTTP_TIMEOUT: _Range(0, 3600, True, False, "seconds greater than 0, at most 3600"),
}


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    valid = _RANGES[name]
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not valid.holds(value):
        raise UsageError(f"environment variable {name}: expected {valid.expected}, "
                         f"got {raw!r}")
    return value


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    on_retry: Callable[[int, TransientError], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`, retrying TransientError per `policy`; re-raise the last one."""
    delays = policy.delays()
    for attempt, delay in enumerate([*delays, None], start=1):
        try:
            return call()
        except TransientError as error:
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(attempt, error)
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")


def retry_or_fail(call: Callable[[], T], policy: RetryPolicy, service: str,
                  context: str = "") -> T:
    """`call_with_retries`, failing closed: ServiceError (exit 3) naming `service` at the end."""
    try:
        return call_with_retries(call, policy)
    except TransientError as error:
        during = f" ({context})" if context else ""
        raise ServiceError(f"{service} kept failing after {policy.attempts} attempts{during}: "
                           f"{error}") from None
