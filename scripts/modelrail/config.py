"""modelrail.yaml: the per-repository release policy, assembled from its sections.

Each feature parses its own section (with plumbing.policy_section's strict reader); this
module reads the file, hands every top-level key to its feature's parser and refuses
any other key, so a typo in policy fails the PR check loudly.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

from modelrail.ab.config import ExperimentConfig, parse_experiment
from modelrail.canary.config import AnalysisConfig, parse_analysis
from modelrail.errors import UsageError
from modelrail.gate.config import GateConfig, parse_gate
from modelrail.monitor.config import MonitorConfig, ShadowConfig, parse_monitor, parse_shadow
from modelrail.plumbing.policy_section import Section
from modelrail.plumbing.textfile import POLICY_LIMIT, read_yaml
from modelrail.registry.config import (
    ImageConfig,
    RegistryConfig,
    parse_image,
    parse_model,
    parse_registry,
)
from modelrail.rollouts.policy import RolloutConfig, parse_rollout


@dataclass(frozen=True)
class Config:
    source: Path
    model: str
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    gate: GateConfig | None = None
    experiment: ExperimentConfig | None = None
    rollout: RolloutConfig | None = None
    analysis: AnalysisConfig | None = None
    image: ImageConfig | None = None
    monitor: MonitorConfig | None = None
    shadow: ShadowConfig | None = None

    def require_analysis(self) -> AnalysisConfig:
        if self.analysis is None:
            raise UsageError(f"{self.source}: analysis.metrics is required for canary "
                             "analysis")
        return self.analysis

    def require_gate(self) -> GateConfig:
        if self.gate is None or not self.gate.metrics:
            raise UsageError(f"{self.source}: gate.metrics is required for the quality gate")
        return self.gate


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a modelrail.yaml file."""
    source = Path(path)
    data = read_yaml(source, "policy file", hint="pass --config PATH", limit=POLICY_LIMIT)
    return parse_config(data, source)


def parse_config(data: object, source: Path) -> Config:
    top = Section(data, "", source)
    model = parse_model(top)
    registry = parse_registry(top.section("registry"), model) if top.has("registry") \
        else RegistryConfig()
    gate = parse_gate(top.section("gate")) if top.has("gate") else None
    experiment = parse_experiment(top.section("experiment")) if top.has("experiment") \
        else None
    rollout = parse_rollout(top.section("rollout")) if top.has("rollout") else None
    analysis = parse_analysis(top.section("analysis")) if top.has("analysis") else None
    image = parse_image(top.section("image")) if top.has("image") else None
    monitor = parse_monitor(top.section("monitor")) if top.has("monitor") else None
    shadow = parse_shadow(top.section("shadow")) if top.has("shadow") else None
    top.finish()
    return Config(source=source, model=model, registry=registry, gate=gate,
                  experiment=experiment, rollout=rollout, analysis=analysis, image=image,
                  monitor=monitor, shadow=shadow)
