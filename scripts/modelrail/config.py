"""modelrail.yaml: the per-repository release policy, parsed strictly.

Every problem is reported as a UsageError that names the file and the dotted key, so a
typo in policy fails the PR check loudly instead of silently loosening the gate.
"""

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from modelrail.ab.config import ExperimentConfig, parse_experiment
from modelrail.canary.config import AnalysisConfig, parse_analysis
from modelrail.errors import UsageError
from modelrail.monitor.config import MonitorConfig, ShadowConfig, parse_monitor, parse_shadow
from modelrail.plumbing.textfile import read_text
from modelrail.registry.client import validate_alias
from modelrail.rollouts.policy import RolloutConfig, parse_rollout

T = TypeVar("T")
S = TypeVar("S", bound=str)

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_ENV_REF = "env:"
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
DEFAULT_ENVIRONMENTS = ("dev", "staging", "canary", "prod")
DEFAULT_MODEL_NAME_PATTERN = "{env}.{model}"
Layout = Literal["aliases", "models"]
LAYOUTS: tuple[Layout, ...] = ("aliases", "models")


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


def default_alias(env: str) -> str:
    """An environment's alias unless `registry.aliases` says otherwise: prod is `champion`."""
    return "champion" if env == "prod" else env


@dataclass(frozen=True)
class RegistryConfig:
    """Where models live and how they move through environments.

    `layout: aliases` keeps one registered model and moves one alias per environment;
    `layout: models` keeps one registered model per environment (`model_name_pattern`),
    copies versions between them and points each model's alias at its copy. `aliases`
    holds only the overrides written in the file; `alias_for` applies the defaults.
    """

    tracking_uri: str | None = None
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
    layout: Layout = "aliases"
    aliases: Mapping[str, str] = field(default_factory=dict)
    model_name_pattern: str = DEFAULT_MODEL_NAME_PATTERN
    experiment: str | None = None

    def alias_for(self, env: str) -> str:
        return self.aliases.get(env) or default_alias(env)

    def model_for(self, env: str, model: str) -> str:
        """The registered model that holds `env`'s versions."""
        if self.layout == "aliases":
            return model
        return self.model_name_pattern.replace("{env}", env).replace("{model}", model)

    def production_ref(self, model: str, alias: str | None = None) -> str:
        """`NAME@ALIAS` of what the last environment (prod) serves: the gate's baseline."""
        env = self.environments[-1]
        return f"{self.model_for(env, model)}@{alias or self.alias_for(env)}"

    def registered_model(self, model: str) -> str:
        """Where `register` creates versions: the model itself, or the first env's model."""
        return self.model_for(self.environments[0], model)

    def experiment_for(self, model: str) -> str:
        return self.experiment or model

    def resolve_tracking_uri(self, source: Path) -> str:
        """The tracking URI, with `env:NAME` read from the environment now."""
        if self.tracking_uri is None:
            value = os.environ.get("MLFLOW_TRACKING_URI", "")
            if not value:
                raise UsageError(
                    f"{source}: registry.tracking_uri is not set and MLFLOW_TRACKING_URI "
                    "is empty; set one of them"
                )
            return value
        if self.tracking_uri.startswith(_ENV_REF):
            name = self.tracking_uri[len(_ENV_REF) :]
            value = os.environ.get(name, "")
            if not value:
                raise UsageError(
                    f"{source}: registry.tracking_uri refers to environment variable "
                    f"{name}, which is not set"
                )
            return value
        return self.tracking_uri


@dataclass(frozen=True)
class ImageConfig:
    """The serving image: `image.name` is the repository tags are made in (no tag)."""

    name: str


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


class _Section:
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
        return UsageError(f"{self._source}: {self.path(name)}: {message}")

    def has(self, name: str) -> bool:
        return name in self._data

    def raw(self, name: str) -> object:
        self._seen.add(name)
        return self._data.get(name)

    def section(self, name: str) -> "_Section":
        return _Section(self.raw(name), self.path(name), self._source)

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

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, str):
            value = _number_from_text(value)  # YAML 1.1 reads `1e-3` as text
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(name, f"expected a number, got {_type_name(value)}")
        if not math.isfinite(value):
            raise self.error(name, f"expected a finite number, got {value}")
        return float(value)

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

    def optional_section(self, name: str, parse: "Callable[[_Section], T]", default: T) -> T:
        """An optional sub-section, parsed; absent or empty gives `default`."""
        return default if self.raw(name) is None else parse(self.section(name))

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

    def required_boolean(self, name: str) -> bool:
        value = self.raw(name)
        if value is None:
            raise self.error(name, "is required (true or false)")
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_type_name(value)}")
        return value

    def string_list(self, name: str) -> tuple[str, ...] | None:
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, "expected a list of non-empty strings")
        return tuple(value)

    def children(self) -> list[tuple[str, "_Section"]]:
        """Every entry of a mapping whose keys are user-chosen names (metric names)."""
        self._seen.update(self._data)
        return [(str(k), _Section(v, self.path(str(k)), self._source))
                for k, v in self._data.items()]

    def finish(self) -> None:
        """Reject keys nobody asked for: a typo must not silently disable a check."""
        unknown = sorted(str(k) for k in self._data if k not in self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen)) or "none"
            raise UsageError(
                f"{self._source}: unknown key {self.path(unknown[0])!r} (allowed here: {known})"
            )


def _number_from_text(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text


def _type_name(value: object) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}" if isinstance(value, str | int | float) \
        else type(value).__name__


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a modelrail.yaml file."""
    source = Path(path)
    text = read_text(source, "policy file", hint="pass --config PATH")
    return parse_config(load_yaml_strict(text, source), source)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml_strict(text: str, source: Path) -> object:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise UsageError(f"{source}: not valid YAML: {error}") from None


def parse_config(data: object, source: Path) -> Config:
    top = _Section(data, "", source)
    model = top.required_string("model")
    if not _MODEL_NAME.fullmatch(model):
        raise top.error("model", f"{model!r} is not a valid model name "
                                  "(letters, digits, '_', '-', '.')")
    registry = _parse_registry(top.section("registry"), model) if top.has("registry") \
        else RegistryConfig()
    gate = _parse_gate(top.section("gate")) if top.has("gate") else None
    experiment = parse_experiment(top.section("experiment")) if top.has("experiment") \
        else None
    rollout = parse_rollout(top.section("rollout")) if top.has("rollout") else None
    analysis = parse_analysis(top.section("analysis")) if top.has("analysis") else None
    image = _parse_image(top.section("image")) if top.has("image") else None
    monitor = parse_monitor(top.section("monitor")) if top.has("monitor") else None
    shadow = parse_shadow(top.section("shadow")) if top.has("shadow") else None
    top.finish()
    return Config(source=source, model=model, registry=registry, gate=gate,
                  experiment=experiment, rollout=rollout, analysis=analysis, image=image,
                  monitor=monitor, shadow=shadow)


def _parse_image(section: _Section) -> ImageConfig:
    name = section.required_string("name")
    section.finish()
    return ImageConfig(name=name)


def _parse_registry(section: _Section, model: str) -> RegistryConfig:
    tracking_uri = section.string("tracking_uri")
    environments = section.string_list("environments") or DEFAULT_ENVIRONMENTS
    if len(set(environments)) != len(environments):
        raise section.error("environments", "lists an environment twice")
    for env in environments:
        if not _ENV_NAME.fullmatch(env):
            raise section.error("environments", f"{env!r} is not a valid environment name "
                                                "(letters, digits, '_' and '-')")
    layout = section.string("layout") or "aliases"
    if layout not in LAYOUTS:
        raise section.error("layout", f"expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    config = RegistryConfig(
        tracking_uri=tracking_uri,
        environments=environments,
        layout=layout,
        aliases=_parse_aliases(section, environments) if section.has("aliases") else {},
        model_name_pattern=section.string("model_name_pattern") or DEFAULT_MODEL_NAME_PATTERN,
        experiment=section.string("experiment"),
    )
    _check_aliases(section, config)
    _check_model_names(section, config, model)
    section.finish()
    return config


def _parse_aliases(section: _Section, environments: tuple[str, ...]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    mapping = section.section("aliases")
    for env in mapping.keys():  # noqa: SIM118 - a _Section, not a dict
        if env not in environments:
            raise mapping.error(env, "is not one of registry.environments "
                                     f"({', '.join(environments)})")
        value = mapping.string(env)
        if value is None:
            raise mapping.error(env, "expected an alias name")
        aliases[env] = value
    return aliases


def _check_aliases(section: _Section, config: RegistryConfig) -> None:
    """Every env's alias is a legal MLflow alias; in one model no two envs share one."""
    holders: dict[str, str] = {}
    for env in config.environments:
        alias = config.alias_for(env)
        key = section.path(f"aliases.{env}")
        validate_alias(alias, f"{section.source}: {key}")
        if config.layout == "aliases" and alias in holders:
            raise UsageError(f"{section.source}: {key}: alias {alias!r} is already the alias "
                             f"of environment {holders[alias]!r}; with layout: aliases every "
                             "environment needs its own alias")
        holders[alias] = env


def _check_model_names(section: _Section, config: RegistryConfig, model: str) -> None:
    pattern = config.model_name_pattern
    for placeholder in ("{env}", "{model}"):
        if placeholder not in pattern:
            raise section.error("model_name_pattern",
                                f"{pattern!r} must contain {placeholder}")
    for env in config.environments:  # distinct envs give distinct names: {env} is in it
        name = pattern.replace("{env}", env).replace("{model}", model)
        if not _MODEL_NAME.fullmatch(name):
            raise section.error("model_name_pattern",
                                f"gives {name!r} for environment {env!r}, which is not a "
                                "valid model name (letters, digits, '_', '-', '.')")
    experiment = config.experiment
    if experiment is not None and experiment.strip() != experiment:
        raise section.error("experiment", "must not start or end with whitespace")


def _parse_gate(section: _Section) -> GateConfig:
    metrics_section = section.section("metrics")
    metrics = {name: _parse_threshold(child) for name, child in metrics_section.children()}
    alias = section.string("champion_alias")
    section.finish()
    return GateConfig(metrics=metrics, champion_alias=alias)


def _parse_threshold(section: _Section) -> MetricThreshold:
    threshold = MetricThreshold(
        greater_is_better=section.required_boolean("greater_is_better"),
        threshold=section.number("threshold"),
        min_absolute_change=section.number("min_absolute_change"),
        min_relative_change=section.number("min_relative_change"),
    )
    section.finish()
    return threshold
