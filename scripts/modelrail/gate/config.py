"""The `gate:` section of modelrail.yaml: the metrics a candidate must meet to be promoted.

Each metric is a MetricThreshold with MLflow's semantics (see gate/evaluate.py); the
champion it is compared with is named by `champion_alias` or the registry's last env.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from modelrail.plumbing.policy_section import Section


@dataclass(frozen=True)
class MetricThreshold:
    """One gate criterion, with the semantics of MLflow's MetricThreshold."""

    greater_is_better: bool
    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None


@dataclass(frozen=True)
class GateConfig:
    metrics: Mapping[str, MetricThreshold]
    champion_alias: str | None = None  # None: the alias of the last environment


def parse_gate(section: Section) -> GateConfig:
    """Read and check `gate:`; every problem names the file and the dotted key."""
    metrics_section = section.section("metrics")
    metrics = {name: _parse_threshold(child) for name, child in metrics_section.children()}
    alias = section.string("champion_alias")
    section.finish()
    return GateConfig(metrics=metrics, champion_alias=alias)


def _parse_threshold(section: Section) -> MetricThreshold:
    threshold = MetricThreshold(
        greater_is_better=section.required_boolean("greater_is_better"),
        threshold=section.number("threshold"),
        min_absolute_change=section.number("min_absolute_change"),
        min_relative_change=section.number("min_relative_change"),
    )
    section.finish()
    return threshold
