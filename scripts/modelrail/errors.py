"""Exit codes and the exceptions that carry them to the CLI boundary.

Every command keeps the same contract (docs/exit-codes.md): 0 done/passed, 1 the check said no,
2 usage or configuration error, 3 a service failed after bounded retries, 4 inconclusive.
"""

from collections.abc import Callable
from enum import IntEnum

# Set by modelrail.plumbing.redact when it is imported (every client and the CLI import
# it): errors sit below plumbing in the layers, so the redaction is handed in, not imported.
_redact: Callable[[str], str] = str


def install_redaction(redact: Callable[[str], str]) -> None:
    """Run every ModelrailError message made from now on through `redact`."""
    global _redact  # noqa: PLW0603 - one process-wide hook, installed once
    _redact = redact


class ExitCode(IntEnum):
    OK = 0
    REJECTED = 1
    USAGE = 2
    SERVICE = 3
    INCONCLUSIVE = 4


class ModelrailError(Exception):
    """An error whose message is fit to show a user as is (no traceback): credentials in
    it (a server echoing a header, a URL with a password) are redacted on construction."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, *args: object) -> None:
        super().__init__(*(_redact(arg) if isinstance(arg, str) else arg for arg in args))


class UsageError(ModelrailError):
    """Bad flags, a bad policy file or bad input data; the message names which."""

    exit_code = ExitCode.USAGE


class ServiceError(ModelrailError):
    """A remote service could not be reached or kept failing after bounded retries."""

    exit_code = ExitCode.SERVICE


class InconclusiveError(ModelrailError):
    """Too little data for a verdict either way; the message says how much there was."""

    exit_code = ExitCode.INCONCLUSIVE
