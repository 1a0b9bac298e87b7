"""modelrail.yaml parsing: strict, and every error names the file and the dotted key."""

from pathlib import Path

import pytest
from modelrail.config import Config, load_config, parse_config
from modelrail.errors import ExitCode, UsageError
from modelrail.gate.config import MetricThreshold
from modelrail.registry.config import DEFAULT_ENVIRONMENTS, RegistryConfig

FULL = """\
model: ranker
registry:
  tracking_uri: env:RANKER_TRACKING_URI
  environments: [dev, staging, prod]
gate:
  champion_alias: production
  metrics:
    roc_auc: {threshold: 0.80, min_relative_change: 0.0, greater_is_better: true}
    latency_p95_ms: {threshold: 50, greater_is_better: false}
    eval.loss: {min_absolute_change: -0.01, greater_is_better: false}
"""


def write(tmp_path: Path, text: str, name: str = "modelrail.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> tuple[Path, str]:
    """Load `text` as a policy file; return its path and the UsageError message."""
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        load_config(path)
    assert caught.value.exit_code == ExitCode.USAGE
    assert int(caught.value.exit_code) == 2
    return path, str(caught.value)


def test_full_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)

    config = load_config(path)

    assert config == Config(
        source=path,
        model="ranker",
        registry=RegistryConfig(tracking_uri="env:RANKER_TRACKING_URI",
                                environments=("dev", "staging", "prod")),
        gate=config.gate,
    )
    gate = config.require_gate()
    assert gate.champion_alias == "production"
    assert dict(gate.metrics) == {
        "roc_auc": MetricThreshold(greater_is_better=True, threshold=0.8,
                                   min_relative_change=0.0),
        "latency_p95_ms": MetricThreshold(greater_is_better=False, threshold=50.0),
        "eval.loss": MetricThreshold(greater_is_better=False, min_absolute_change=-0.01),
    }
    assert list(gate.metrics) == ["roc_auc", "latency_p95_ms", "eval.loss"]  # file order
    assert isinstance(gate.metrics["latency_p95_ms"].threshold, float)


def test_minimal_file_gets_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "model: ranker\n"))

    assert config.registry == RegistryConfig(tracking_uri=None,
                                             environments=DEFAULT_ENVIRONMENTS)
    assert config.gate is None
    with pytest.raises(UsageError, match=r"modelrail\.yaml: gate\.metrics is required"):
        config.require_gate()


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "model: ranker\ngates: {}\n")

    assert str(path) in message
    assert "'gates'" in message
    assert "allowed here" in message


def test_unknown_key_inside_a_metric(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, """\
model: ranker
gate:
  metrics:
    roc_auc: {treshold: 0.8, greater_is_better: true}
""")

    assert str(path) in message
    assert "gate.metrics.roc_auc.treshold" in message


def test_unknown_key_inside_gate_and_registry(tmp_path: Path) -> None:
    _, message = load_error(tmp_path, "model: m\ngate: {metrics: {}, alias: x}\n")
    assert "gate.alias" in message
    _, message = load_error(tmp_path, "model: m\nregistry: {uri: http://x}\n")
    assert "registry.uri" in message


@pytest.mark.parametrize(
    ("rule", "key", "shown"),
    [
        ('{threshold: "high", greater_is_better: true}', "threshold", "high"),
        ('{threshold: 0.5, greater_is_better: "yes"}', "greater_is_better", "yes"),
        ("{threshold: true, greater_is_better: true}", "threshold", "bool"),
        ("{min_relative_change: .nan, greater_is_better: true}", "min_relative_change", "nan"),
        ("{min_absolute_change: [1], greater_is_better: true}", "min_absolute_change", "list"),
        ("{threshold: 0.5, greater_is_better: 1}", "greater_is_better", "int"),
    ],
)
def test_wrong_metric_types_name_the_dotted_key(
    tmp_path: Path, rule: str, key: str, shown: str
) -> None:
    path, message = load_error(tmp_path, f"model: ranker\ngate:\n  metrics:\n    auc: {rule}\n")

    assert str(path) in message
    assert f"gate.metrics.auc.{key}:" in message
    assert shown in message


def test_model_of_wrong_type(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "model: 3\n")

    assert str(path) in message
    assert "model:" in message
    assert "int 3" in message


@pytest.mark.parametrize("model", ["'-ranker'", "'rank er'", "'a/b'", "''"])
def test_invalid_model_name(tmp_path: Path, model: str) -> None:
    _, message = load_error(tmp_path, f"model: {model}\n")
    assert "model:" in message


def test_model_name_with_trailing_newline_is_rejected(tmp_path: Path) -> None:
    load_error(tmp_path, "model: |\n  ranker\n")  # a block scalar: 'ranker\n'


def test_missing_model(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "gate: {metrics: {}}\n")

    assert str(path) in message
    assert "model: is required" in message


def test_missing_greater_is_better(tmp_path: Path) -> None:
    path, message = load_error(tmp_path,
                               "model: ranker\ngate:\n  metrics:\n    auc: {threshold: 0.8}\n")

    assert str(path) in message
    assert "gate.metrics.auc.greater_is_better: is required" in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("model: ranker\ngate: [a, b]\n", "gate: expected a mapping, got list"),
        ("model: ranker\ngate: {metrics: 5}\n", "gate.metrics: expected a mapping, got int"),
        ("model: ranker\ngate: {}\n", "gate.metrics: expected a mapping, got nothing"),
        ("model: ranker\ngate: {metrics: {auc: 0.8}}\n", "gate.metrics.auc: expected a mapping"),
        ("model: ranker\nregistry: env:X\n", "registry: expected a mapping, got str"),
        ("- model\n", "top level: expected a mapping, got list"),
        ("", "top level: expected a mapping, got nothing"),
    ],
)
def test_non_mapping_section(tmp_path: Path, text: str, key: str) -> None:
    path, message = load_error(tmp_path, text)

    assert str(path) in message
    assert key in message


def test_invalid_yaml(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, "model: ranker\ngate: {metrics: [\n")

    assert message.startswith(f"{path}: not valid YAML")
    assert "line" in message  # the parser's position survives


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "modelrail.yaml"

    with pytest.raises(UsageError) as caught:
        load_config(path)

    assert str(path) in str(caught.value)
    assert "not found" in str(caught.value)
    assert "--config" in str(caught.value)


def test_unreadable_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read policy file"):
        load_config(tmp_path)  # a directory


def test_non_utf8_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "modelrail.yaml"
    path.write_bytes("# politique de déploiement\nmodel: ranker\n".encode("latin-1"))

    with pytest.raises(UsageError, match=r"modelrail\.yaml"):
        load_config(path)


def test_parse_config_accepts_data_directly() -> None:
    source = Path("policy/modelrail.yaml")
    config = parse_config({"model": "m", "gate": {"metrics": {"a": {"greater_is_better": True}}}},
                          source)
    assert config.source == source
    assert config.require_gate().metrics["a"] == MetricThreshold(greater_is_better=True)

    with pytest.raises(UsageError, match=r"^policy/modelrail\.yaml: unknown key 'x'"):
        parse_config({"model": "m", "x": 1}, source)


TOP_KEYS = "analysis, experiment, gate, image, model, monitor, registry, rollout, shadow"
COUNTER = "{kind: compare, data: counter, query: 'e{{version}}', total: 't{{version}}'"


@pytest.mark.parametrize(
    ("text", "key", "nearest", "allowed"),
    [
        ("registy: {}", "registy", "registry", TOP_KEYS),
        ("gate: {metrics: {}, champion_alais: x}", "gate.champion_alais", "champion_alias",
         "champion_alias, metrics"),
        ("gate: {metrics: {auc: {greater_is_better: true, treshold: 1}}}",
         "gate.metrics.auc.treshold", "threshold",
         "greater_is_better, min_absolute_change, min_relative_change, threshold"),
        ("registry: {enviroments: [a, b]}", "registry.enviroments", "environments",
         "aliases, environments, experiment, layout, model_name_pattern, tracking_uri"),
        ("image: {name: x, nmae: y}", "image.nmae", "name", "name"),
        ("analysis: {metrics: {e: {kind: threshold, query: up, max: 1}}, look: 3}",
         "analysis.look", "looks",
         "false_rollback_rate, looks, metrics, pass_score, require_all_judged, window"),
        ("analysis: {metrics: {e: " + COUNTER + ", min_sample: 5}}}",
         "analysis.metrics.e.min_sample", "min_samples",
         "allowed_ratio, critical, data, direction, kind, min_samples, no_data, query, total"),
        ("experiment: {key: k, primary: ctr, varients: [a, b]}", "experiment.varients",
         "variants", "alpha, coverage, cuped, difference, guardrails, key, metrics, primary, "
         "sequential, sided, target_effect, variants, weights"),
        ("experiment: {key: k, primary: ctr, guardrails: {lat: {margin: 1, direcion: x}}}",
         "experiment.guardrails.lat.direcion", "direction", "direction, margin"),
        ("experiment: {key: k, primary: ctr, sequential: {enabeld: true}}",
         "experiment.sequential.enabeld", "enabled",
         "enabled, method, planned_units, rho, spending, tuning"),
        ("rollout: {name: r, stepz: [10]}", "rollout.stepz", "steps",
         "backend, container, istio, mirror, name, namespace, step_seconds, steps"),
        ("rollout: {name: r, mirror: {route: m, percentage: 5, scael: 5}}",
         "rollout.mirror.scael", "scale", "percentage, route, scale"),
        ("monitor: {bin: 5}", "monitor.bin", "bins",
         "actions, alpha, bins, categorical, epsilon, features, min_rows, performance, "
         "prediction, reference_artifact, thresholds"),
        ("monitor: {thresholds: {default: {minor: 1, major: 2, majr: 3}}}",
         "monitor.thresholds.default.majr", "major", "major, minor"),
        ("monitor: {performance: {calibration_error: {minor: 1, major: 2}, "
         "attribution_windw: 1h}}", "monitor.performance.attribution_windw",
         "attribution_window", "attribution_window, calibration_error"),
        ("shadow: {min_pair: 5}", "shadow.min_pair", "min_pairs",
         "decision_threshold, max_error_rate, max_ks, max_latency_p99, min_agreement, "
         "min_correlation, min_pairs, window"),
    ],
)
def test_a_misspelt_key_gets_every_allowed_key_and_the_nearest(
    tmp_path: Path, text: str, key: str, nearest: str, allowed: str
) -> None:
    path, message = load_error(tmp_path, f"model: m\n{text}\n")

    assert message == (f"{path}: unknown key {key!r}: did you mean {nearest}? "
                       f"(allowed here: {allowed})")


@pytest.mark.parametrize(
    ("text", "missing", "found"),
    [
        ("modle: m", "model: is required", "modle"),
        ("model: m\ngate: {metrics: {auc: {greater_is_beter: true}}}",
         "gate.metrics.auc.greater_is_better: is required (true or false)",
         "greater_is_beter"),
        ("model: m\ngate: {metric: {auc: {greater_is_better: true}}}",
         "gate.metrics: expected a mapping, got nothing", "metric"),
        ("model: m\nexperiment: {key: k, primay: ctr}", "experiment.primary: is required",
         "primay"),
        ("model: m\nrollout: {nmae: r}", "rollout.name: is required", "nmae"),
        ("model: m\nrollout: {name: r, mirror: {route: m, percentag: 5}}",
         "rollout.mirror.percentage: is required", "percentag"),
        ("model: m\nmonitor: {thresholds: {default: {minor: 1, mjor: 2}}}",
         "monitor.thresholds.default.major: is required", "mjor"),
        ("model: m\nanalysis: {metrics: {e: {knd: threshold, query: up, max: 1}}}",
         "analysis.metrics.e.kind: is required", "knd"),
    ],
)
def test_a_missing_key_names_the_misspelt_one(
    tmp_path: Path, text: str, missing: str, found: str
) -> None:
    path, message = load_error(tmp_path, text + "\n")

    assert message.startswith(f"{path}: {missing}")
    wanted = missing.split(":", maxsplit=1)[0].rsplit(".", 1)[-1]
    assert message.endswith(f"; found {found!r}: did you mean {wanted}?")


# -- registry -----------------------------------------------------------------------


def test_tracking_uri_env_reference_is_resolved_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, FULL))
    monkeypatch.setenv("RANKER_TRACKING_URI", "http://mlflow.internal:5000")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://not-this-one")

    assert config.registry.resolve_tracking_uri(config.source) == "http://mlflow.internal:5000"


@pytest.mark.parametrize("value", [None, ""])
def test_tracking_uri_env_reference_unset_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    config = load_config(write(tmp_path, FULL))
    if value is None:
        monkeypatch.delenv("RANKER_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("RANKER_TRACKING_URI", value)

    with pytest.raises(UsageError) as caught:
        config.registry.resolve_tracking_uri(config.source)

    assert str(config.source) in str(caught.value)
    assert "registry.tracking_uri" in str(caught.value)
    assert "RANKER_TRACKING_URI" in str(caught.value)


def test_tracking_uri_defaults_to_mlflow_tracking_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, "model: ranker\n"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")

    assert config.registry.resolve_tracking_uri(config.source) == "http://127.0.0.1:5000"

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with pytest.raises(UsageError) as caught:
        config.registry.resolve_tracking_uri(config.source)
    assert str(config.source) in str(caught.value)
    assert "MLFLOW_TRACKING_URI" in str(caught.value)
    assert "registry.tracking_uri" in str(caught.value)


def test_literal_tracking_uri_is_used_as_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env-value")
    config = load_config(write(tmp_path,
                               "model: m\nregistry: {tracking_uri: 'http://mlflow:5000'}\n"))

    assert config.registry.resolve_tracking_uri(config.source) == "http://mlflow:5000"


@pytest.mark.parametrize("policy_uri", ["'http://attacker.example:5000'", "'env:PR_URI'"])
def test_an_untrusted_policy_cannot_choose_where_the_credentials_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy_uri: str
) -> None:
    """The PR check's gate job reads the PR's own policy with the MLflow token at hand."""
    monkeypatch.setenv("MODELRAIL_UNTRUSTED_POLICY", "true")
    monkeypatch.setenv("PR_URI", "http://attacker.example:5000")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    config = load_config(write(tmp_path, f"model: m\nregistry: {{tracking_uri: {policy_uri}}}\n"))

    assert config.registry.resolve_tracking_uri(config.source) == "http://mlflow.internal:5000"

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with pytest.raises(UsageError, match="comes from the pull request") as caught:
        config.registry.resolve_tracking_uri(config.source)
    assert "mlflow-tracking-uri" in str(caught.value)


@pytest.mark.parametrize("name", ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD",
                                  "AWS_SECRET_ACCESS_KEY", "github_token"])
def test_tracking_uri_may_not_name_a_credential_variable(tmp_path: Path, name: str) -> None:
    path, message = load_error(
        tmp_path, f"model: m\nregistry: {{tracking_uri: 'env:{name}'}}\n")

    assert f"{path}: registry.tracking_uri: 'env:{name}' names a credential variable" in message


def test_duplicate_environments(tmp_path: Path) -> None:
    path, message = load_error(
        tmp_path, "model: ranker\nregistry: {environments: [dev, prod, dev]}\n")

    assert str(path) in message
    assert "registry.environments" in message
    assert "twice" in message


@pytest.mark.parametrize("value", ["prod", "[dev, 3]", "[dev, '']"])
def test_environments_must_be_a_list_of_names(tmp_path: Path, value: str) -> None:
    _, message = load_error(tmp_path, f"model: ranker\nregistry: {{environments: {value}}}\n")
    assert "registry.environments: expected a list of non-empty strings" in message
