"""Gauges written as OpenMetrics text (https://prometheus.io/docs/specs/om/open_metrics_spec/).

A verdict is written once, as a file with a timestamp on every sample (whole seconds, so
`promtool check metrics`, which reads the older text format, accepts it too), and pushed to
a Pushgateway without them (the Pushgateway rejects pushed timestamps: it stamps a push
with its own time). Only gauges: every value here is a reading, not a running count.
"""

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float
    timestamp: int | None = None  # Unix seconds


@dataclass
class Gauge:
    """One metric family: its samples, in the order they were added."""

    name: str
    help: str
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"not a metric name: {self.name!r}")

    def add(self, labels: Mapping[str, str], value: float, timestamp: int | None) -> None:
        bad = [name for name in labels if not _LABEL.fullmatch(name) or name.startswith("__")]
        if bad:
            raise ValueError(f"not a label name: {bad[0]!r}")
        self.samples.append(Sample(dict(labels), value, timestamp))


def escape(value: str) -> str:
    """A label value or help text as OpenMetrics quotes it: backslash, quote and newline
    escaped (the older text format reads these the same way)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number_text(value: float) -> str:
    """A sample value as the exposition formats spell it (NaN, +Inf, -Inf)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _line(name: str, sample: Sample, timestamps: bool) -> str:
    labels = ",".join(f'{key}="{escape(value)}"' for key, value in sample.labels.items())
    stamp = f" {sample.timestamp}" if timestamps and sample.timestamp is not None else ""
    return f"{name}{{{labels}}} {number_text(sample.value)}{stamp}"


def render(families: Iterable[Gauge], *, timestamps: bool = True) -> str:
    """The exposition: `# TYPE` and `# HELP` before each family's samples, a series' samples
    together and oldest first (as the format requires), empty families left out, `# EOF`
    last. `timestamps=False` for a push."""
    lines: list[str] = []
    for family in families:
        if not family.samples:
            continue
        lines += [f"# TYPE {family.name} gauge", f"# HELP {family.name} {escape(family.help)}"]
        order: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
        for sample in family.samples:
            order.setdefault(tuple(sample.labels.items()), []).append(sample)
        for series in order.values():
            series.sort(key=lambda sample: sample.timestamp or 0)
            # without timestamps a series has one value: the last
            shown = series if timestamps else series[-1:]
            lines += [_line(family.name, sample, timestamps) for sample in shown]
    return "\n".join([*lines, "# EOF"]) + "\n"
