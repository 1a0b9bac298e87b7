"""DVC-style metrics files: JSON or YAML, nested keys flattened to dotted names.

The candidate's file comes from the pull request, so it is read by the strict loader
(no repeated keys, bounded aliases, nesting and size) and two spellings of one metric
(`a.b` and `a: {b}`) are refused rather than one silently winning.
"""

from collections.abc import Mapping
from pathlib import Path

from modelrail.errors import UsageError
from modelrail.plumbing.textfile import read_json, read_yaml


def flatten_metrics(data: object, prefix: str = "") -> dict[str, float]:
    """Numeric leaves keyed by their dotted path; other leaves are ignored, as DVC does.

    NaN and infinities are kept (the gate fails them loudly); a name reached twice or an
    integer too large for a float is a UsageError naming the metric.
    """
    flat: dict[str, float] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for leaf, number in flatten_metrics(value, name).items():
                if leaf in flat:
                    raise UsageError(f"metric {leaf!r} is written twice (as a dotted key "
                                     "and as nested keys)")
                flat[leaf] = number
    elif isinstance(data, int | float) and not isinstance(data, bool):
        try:
            flat[prefix] = float(data)
        except OverflowError:
            raise UsageError(f"metric {prefix!r}: the number is too large (a metric must "
                             "be within ±1.8e308)") from None
    return flat


def load_metrics(path: str | Path) -> dict[str, float]:
    """Read a metrics file; a missing, oversized or unparseable file is a usage error
    naming it."""
    source = Path(path)
    read = read_json if source.suffix == ".json" else read_yaml
    data = read(source, "metrics file")
    if not isinstance(data, Mapping):
        raise UsageError(f"{source}: expected a mapping of metric names to numbers")
    try:
        return flatten_metrics(data)
    except UsageError as error:
        raise UsageError(f"{source}: {error}") from None
