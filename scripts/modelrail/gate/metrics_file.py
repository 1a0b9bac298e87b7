"""DVC-style metrics files: JSON or YAML, nested keys flattened to dotted names."""

import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from modelrail.errors import UsageError
from modelrail.plumbing.textfile import read_text


def flatten_metrics(data: object, prefix: str = "") -> dict[str, float]:
    """Numeric leaves keyed by their dotted path; other leaves are ignored, as DVC does."""
    flat: dict[str, float] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_metrics(value, name))
    elif isinstance(data, int | float) and not isinstance(data, bool):
        flat[prefix] = float(data)
    return flat


def load_metrics(path: str | Path) -> dict[str, float]:
    """Read a metrics file; a missing or unparseable file is a usage error naming it."""
    source = Path(path)
    text = read_text(source, "metrics file")
    try:
        data = json.loads(text) if source.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise UsageError(f"{source}: not valid {source.suffix or 'YAML'}: {error}") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"{source}: expected a mapping of metric names to numbers")
    return flatten_metrics(data)
