from __future__ import annotations

import pytest

from ctr_model.log_mlflow import flatten_params, git_sha, main, numeric_metrics


def test_flatten_params_uses_dotted_string_keys() -> None:
    params = {
        "prepare": {"seed": 42, "test_fraction": 0.2},
        "train": {"C": 1.0, "class_weight": None, "features": ["position", "price"]},
        "flag": True,
    }
    assert flatten_params(params) == {
        "prepare.seed": "42",
        "prepare.test_fraction": "0.2",
        "train.C": "1.0",
        "train.class_weight": "null",
        "train.features": "position,price",
        "flag": "true",
    }


def test_flatten_params_handles_deep_nesting_and_nested_lists() -> None:
    flat = flatten_params({"a": {"b": {"c": 1}}, "d": [{"x": 1}]})
    assert flat == {"a.b.c": "1", "d": '[{"x": 1}]'}


def test_flatten_real_params_file(root) -> None:
    from ctr_model.common import load_params

    flat = flatten_params(load_params(root / "params.yaml"))
    assert flat["prepare.seed"] == str(load_params(root / "params.yaml")["prepare"]["seed"])
    assert "train.features" in flat
    assert all(isinstance(v, str) for v in flat.values())


def test_numeric_metrics_keeps_only_finite_numbers() -> None:
    metrics = {"roc_auc": 0.8, "n_test": 10, "ok": True, "note": "x", "nan": float("nan"),
               "by_device": {"mobile": {"roc_auc": 0.7}}}  # fmt: skip
    assert numeric_metrics(metrics) == {
        "roc_auc": 0.8,
        "n_test": 10.0,
        "by_device.mobile.roc_auc": 0.7,
    }


def test_git_sha_outside_a_repo_is_none(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert git_sha(tmp_path) is None


def test_main_refuses_without_tracking_uri(monkeypatch, capsys) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main([]) == 2
    assert "MLFLOW_TRACKING_URI" in capsys.readouterr().err


def test_cli_flags(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--experiment", "--run-name", "--json"):
        assert flag in out
