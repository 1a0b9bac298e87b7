"""The registry side of modelrail.yaml: `model`, `registry:` and `image:`.

`registry:` says where the model's versions live and how they move through the
environments; `image:` names the serving image the versions are built into.
`ModelPolicy` is what the registry code reads of a parsed policy file, so it needs
the assembled config's shape, not the assembler.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from modelrail.errors import UsageError
from modelrail.plumbing.policy_section import Section
from modelrail.registry.client import validate_alias

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_ENV_REF = "env:"
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
DEFAULT_ENVIRONMENTS = ("dev", "staging", "canary", "prod")
DEFAULT_MODEL_NAME_PATTERN = "{env}.{model}"
Layout = Literal["aliases", "models"]
LAYOUTS: tuple[Layout, ...] = ("aliases", "models")


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
        """The tracking URI, with `env:NAME` read from the environment now.

        Where the policy file comes from untrusted code (`MODELRAIL_UNTRUSTED_POLICY=true`:
        the PR check's gate job), its `tracking_uri` is not used: the credentials go only
        to the server the workflow names in MLFLOW_TRACKING_URI.
        """
        if self.tracking_uri is None or policy_is_untrusted():
            return _workflow_tracking_uri(source, self.tracking_uri is not None)
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


UNTRUSTED_POLICY_VARIABLE = "MODELRAIL_UNTRUSTED_POLICY"
_CREDENTIAL_NAME = re.compile(r"TOKEN|PASSWORD|SECRET|KEY|CREDENTIAL", re.IGNORECASE)


def policy_is_untrusted() -> bool:
    return os.environ.get(UNTRUSTED_POLICY_VARIABLE, "").lower() == "true"


def _workflow_tracking_uri(source: Path, policy_has_one: bool) -> str:
    value = os.environ.get("MLFLOW_TRACKING_URI", "")
    if value:
        return value
    if policy_has_one:
        raise UsageError(
            f"{source} comes from the pull request ({UNTRUSTED_POLICY_VARIABLE}=true), so its "
            "registry.tracking_uri is not used with the MLflow credentials; set the "
            "workflow's mlflow-tracking-uri input (MLFLOW_TRACKING_URI)")
    raise UsageError(f"{source}: registry.tracking_uri is not set and MLFLOW_TRACKING_URI "
                     "is empty; set one of them")


@dataclass(frozen=True)
class ImageConfig:
    """The serving image: `image.name` is the repository tags are made in (no tag)."""

    name: str


class ModelPolicy(Protocol):
    """What the registry code reads of a parsed policy file; the assembled `Config` has it."""

    @property
    def source(self) -> Path: ...

    @property
    def model(self) -> str: ...

    @property
    def registry(self) -> RegistryConfig: ...


def parse_model(top: Section) -> str:
    """The top-level `model:`: the registered model's name."""
    model = top.required_string("model")
    if not _MODEL_NAME.fullmatch(model):
        raise top.error("model", f"{model!r} is not a valid model name "
                                  "(letters, digits, '_', '-', '.')")
    return model


def parse_image(section: Section) -> ImageConfig:
    name = section.required_string("name")
    section.finish()
    return ImageConfig(name=name)


def parse_registry(section: Section, model: str) -> RegistryConfig:
    """Read and check `registry:`; every problem names the file and the dotted key."""
    tracking_uri = section.string("tracking_uri")
    if tracking_uri and tracking_uri.startswith(_ENV_REF) \
            and _CREDENTIAL_NAME.search(tracking_uri[len(_ENV_REF):]):
        raise section.error("tracking_uri", f"{tracking_uri!r} names a credential variable; "
                                            "name the variable that holds the server's URL")
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


def _parse_aliases(section: Section, environments: tuple[str, ...]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    mapping = section.section("aliases")
    for env in mapping.keys():  # noqa: SIM118 - a Section, not a dict
        if env not in environments:
            raise mapping.error(env, "is not one of registry.environments "
                                     f"({', '.join(environments)})")
        value = mapping.string(env)
        if value is None:
            raise mapping.error(env, "expected an alias name")
        aliases[env] = value
    return aliases


def _check_aliases(section: Section, config: RegistryConfig) -> None:
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


def _check_model_names(section: Section, config: RegistryConfig, model: str) -> None:
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
