"""Exit codes and the exceptions that carry them to the CLI boundary.

Every command keeps the same contract (docs/exit-codes.md): 0 done/passed, 1 the check said no,
2 usage or configuration error, 3 a service failed after bounded retries, 4 inconclusive.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    REJECTED = 1
    USAGE = 2
    SERVICE = 3
    INCONCLUSIVE = 4


class ModelrailError(Exception):
    """An error whose message is fit to show a user as is (no traceback)."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(ModelrailError):
    """Bad flags, a bad policy file or bad input data; the message names which."""

    exit_code = ExitCode.USAGE


class ServiceError(ModelrailError):
    """A remote service could not be reached or kept failing after bounded retries."""

    exit_code = ExitCode.SERVICE


class InconclusiveError(ModelrailError):
    """Too little data for a verdict either way; the message says how much there was."""

    exit_code = ExitCode.INCONCLUSIVE
