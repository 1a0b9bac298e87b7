from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from ctr_model.common import ALL_FEATURES, LABEL, load_params
from ctr_model.prepare import PrepareConfig, generate, main


def test_same_seed_gives_identical_data(small_cfg: PrepareConfig) -> None:
    train_a, test_a = generate(small_cfg)
    train_b, test_b = generate(small_cfg)
    pd.testing.assert_frame_equal(train_a, train_b)
    pd.testing.assert_frame_equal(test_a, test_b)


def test_different_seed_gives_different_data(small_cfg: PrepareConfig) -> None:
    train_a, _ = generate(small_cfg)
    train_b, _ = generate(dataclasses.replace(small_cfg, seed=small_cfg.seed + 1))
    assert not train_a.equals(train_b)
    assert not train_a[LABEL].equals(train_b[LABEL])


def test_split_and_schema(small_cfg: PrepareConfig, small_data) -> None:
    train, test = small_data
    assert len(train) + len(test) == small_cfg.n_impressions
    assert len(test) == round(small_cfg.n_impressions * small_cfg.test_fraction)
    assert set(train["impression_id"]).isdisjoint(test["impression_id"])
    assert list(train.columns) == ["impression_id", "user_id", "item_id", *ALL_FEATURES, LABEL]
    assert set(train[LABEL].unique()) == {0, 1}
    # Realistic CTR, not a degenerate label.
    assert 0.02 < train[LABEL].mean() < 0.25


def test_csv_output_is_byte_identical(tmp_path, root) -> None:
    params = load_params(root / "params.yaml")
    params["prepare"] = {**params["prepare"], "n_impressions": 2000}
    p = tmp_path / "params.yaml"
    import yaml

    p.write_text(yaml.safe_dump(params))
    outs = []
    for run in ("a", "b"):
        train_out, test_out = tmp_path / run / "train.csv", tmp_path / run / "test.csv"
        main(["--params", str(p), "--train-out", str(train_out), "--test-out", str(test_out)])
        outs.append((train_out.read_bytes(), test_out.read_bytes()))
    assert outs[0] == outs[1]


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_rejects_bad_test_fraction(fraction: float) -> None:
    section = {"seed": 1, "n_users": 10, "n_items": 10, "n_impressions": 10}
    with pytest.raises(ValueError, match="test_fraction"):
        PrepareConfig.from_params({"prepare": {**section, "test_fraction": fraction}})
