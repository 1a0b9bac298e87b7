"""The promotion keys of modelrail.yaml's registry section: defaults and strict errors."""

from pathlib import Path

import pytest
from modelrail.config import Config, load_config
from modelrail.errors import UsageError


def load(tmp_path: Path, registry: str, model: str = "ranker") -> Config:
    path = tmp_path / "modelrail.yaml"
    path.write_text(f"model: {model}\nregistry:\n{registry}", encoding="utf-8")
    return load_config(path)


def error(tmp_path: Path, registry: str) -> str:
    with pytest.raises(UsageError) as caught:
        load(tmp_path, registry)
    message = str(caught.value)
    assert str(tmp_path / "modelrail.yaml") in message
    return message


def test_defaults(tmp_path: Path) -> None:
    registry = load(tmp_path, "  tracking_uri: http://x\n").registry
    assert registry.layout == "aliases"
    assert [registry.alias_for(e) for e in registry.environments] == \
        ["dev", "staging", "canary", "champion"]
    assert registry.model_for("canary", "ranker") == "ranker"
    assert registry.registered_model("ranker") == "ranker"
    assert registry.experiment_for("ranker") == "ranker"


def test_models_layout_with_pattern_and_overrides(tmp_path: Path) -> None:
    registry = load(tmp_path, (
        "  environments: [dev, staging, prod]\n"
        "  layout: models\n"
        "  model_name_pattern: 'ml-{model}-{env}'\n"
        "  aliases: {prod: live, staging: current}\n"
        "  experiment: ranker-ci\n")).registry
    assert registry.layout == "models"
    assert registry.model_for("staging", "ranker") == "ml-ranker-staging"
    assert registry.registered_model("ranker") == "ml-ranker-dev"
    assert [registry.alias_for(e) for e in registry.environments] == ["dev", "current", "live"]
    assert registry.experiment_for("ranker") == "ranker-ci"


def test_models_layout_may_reuse_one_alias_name(tmp_path: Path) -> None:
    registry = load(tmp_path, "  layout: models\n  aliases: {dev: current, staging: current,"
                              " canary: current, prod: current}\n").registry
    assert {registry.alias_for(e) for e in registry.environments} == {"current"}


@pytest.mark.parametrize(("registry", "key", "expected"), [
    ("  layout: stages\n", "registry.layout", "expected one of aliases, models"),
    ("  aliases: {prod: latest}\n", "registry.aliases.prod", "not a valid MLflow alias"),
    ("  aliases: {dev: v2}\n", "registry.aliases.dev", "not a valid MLflow alias"),
    ("  aliases: {dev: 'my alias'}\n", "registry.aliases.dev", "not a valid MLflow alias"),
    ("  aliases: {qa: x}\n", "registry.aliases.qa", "not one of registry.environments"),
    ("  aliases: {dev: ''}\n", "registry.aliases.dev", "expected a non-empty string"),
    ("  aliases: [dev]\n", "registry.aliases", "expected a mapping"),
    ("  aliases: {staging: dev}\n", "registry.aliases.staging", "already the alias of"),
    ("  environments: [dev, v1]\n", "registry.aliases.v1", "not a valid MLflow alias"),
    ("  environments: [dev, 'pre prod']\n", "registry.environments", "not a valid environment"),
    ("  model_name_pattern: '{model}'\n", "registry.model_name_pattern", "must contain {env}"),
    ("  model_name_pattern: '{env}'\n", "registry.model_name_pattern", "must contain {model}"),
    ("  model_name_pattern: \"{env}'{model}\"\n", "registry.model_name_pattern",
     "not a valid model name"),
    ("  model_name_pattern: '{env}{model}{x}'\n", "registry.model_name_pattern",
     "not a valid model name"),
    ("  experiment: 3\n", "registry.experiment", "expected a non-empty string"),
    ("  aliasses: {prod: live}\n", "registry.aliasses", "unknown key"),
])
def test_errors_name_the_dotted_key(tmp_path: Path, registry: str, key: str,
                                    expected: str) -> None:
    message = error(tmp_path, registry)
    assert key in message
    assert expected in message
