"""Stage ``prepare``: generate synthetic users, items and labelled impressions.

Clicks are drawn from a known logistic ground truth (the coefficients below), so the
achievable quality is known and a model change that loses signal shows up in the metrics.
Everything is derived from ``prepare.seed``: the same params always give byte-identical CSVs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctr_model.common import ALL_FEATURES, LABEL, PARAMS_PATH, TEST_PATH, TRAIN_PATH, load_params

# --- ground truth -------------------------------------------------------------------------
INTERCEPT = -2.3
AGE_EFFECT = np.array([-0.30, 0.10, 0.25, 0.15, -0.05, -0.35])  # 6 age buckets
ACTIVITY_EFFECT = np.array([-0.45, 0.0, 0.45])  # low / medium / high
REGION_EFFECT = np.array([0.10, -0.05, 0.0, 0.15, -0.10, 0.05, -0.15, 0.0])  # 8 regions
DEVICE_EFFECT = np.array([0.10, -0.10, 0.0])  # mobile / desktop / tablet
CATEGORY_EFFECT = np.array([0.6, -0.4, 0.2, -0.7, 0.35, 0.0, -0.2, 0.5, -0.5, 0.1, 0.3, -0.3])
POPULARITY_COEF = 2.0  # per unit of popularity in [0, 1]
LOG_PRICE_COEF = -0.6  # per log-unit of price relative to 20
POSITION_COEF = -0.22  # per slot below the top
HOUR_AMPLITUDE = 0.2  # evening peak at 21h
# Users in age bucket b prefer category b (and b + 6). A linear model on one-hot features
# cannot represent this interaction, so a trained model stays measurably below the oracle.
AFFINITY_BONUS = 0.3

AGE_PROBS = np.array([0.12, 0.22, 0.24, 0.18, 0.14, 0.10])
ACTIVITY_PROBS = np.array([0.5, 0.35, 0.15])
DEVICE_PROBS = np.array([0.6, 0.3, 0.1])
ACTIVITY_IMPRESSION_WEIGHT = np.array([1.0, 2.0, 4.0])  # active users see more impressions
N_POSITIONS = 10


@dataclass(frozen=True)
class PrepareConfig:
    """The ``prepare`` section of params.yaml."""

    seed: int
    n_users: int
    n_items: int
    n_impressions: int
    test_fraction: float

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> PrepareConfig:
        section = params["prepare"]
        cfg = cls(
            seed=int(section["seed"]),
            n_users=int(section["n_users"]),
            n_items=int(section["n_items"]),
            n_impressions=int(section["n_impressions"]),
            test_fraction=float(section["test_fraction"]),
        )
        if not 0.0 < cfg.test_fraction < 1.0:
            raise ValueError(f"prepare.test_fraction must be in (0, 1), got {cfg.test_fraction}")
        if min(cfg.n_users, cfg.n_items, cfg.n_impressions) < 1:
            raise ValueError("prepare.n_users, n_items and n_impressions must be positive")
        return cfg


def make_users(rng: np.random.Generator, n_users: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": np.arange(n_users),
            "age_bucket": rng.choice(len(AGE_PROBS), size=n_users, p=AGE_PROBS),
            "activity_level": rng.choice(len(ACTIVITY_PROBS), size=n_users, p=ACTIVITY_PROBS),
            "region": rng.integers(0, len(REGION_EFFECT), size=n_users),
            "device": rng.choice(len(DEVICE_PROBS), size=n_users, p=DEVICE_PROBS),
        }
    )


def make_items(rng: np.random.Generator, n_items: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": np.arange(n_items),
            "category": rng.integers(0, len(CATEGORY_EFFECT), size=n_items),
            # Rounded so the CSV holds exactly the values the model trains on.
            "price": np.round(rng.lognormal(mean=np.log(20.0), sigma=0.6, size=n_items), 2),
            "popularity": np.round(rng.beta(2.0, 5.0, size=n_items), 4),
        }
    )


def true_logit(df: pd.DataFrame) -> np.ndarray:
    """Ground-truth log-odds of a click for rows carrying all of ``ALL_FEATURES``."""
    age = df["age_bucket"].to_numpy()
    category = df["category"].to_numpy()
    hour = df["hour_of_day"].to_numpy()
    return (
        INTERCEPT
        + AGE_EFFECT[age]
        + ACTIVITY_EFFECT[df["activity_level"].to_numpy()]
        + REGION_EFFECT[df["region"].to_numpy()]
        + DEVICE_EFFECT[df["device"].to_numpy()]
        + CATEGORY_EFFECT[category]
        + POPULARITY_COEF * (df["popularity"].to_numpy() - 2.0 / 7.0)
        + LOG_PRICE_COEF * np.log(df["price"].to_numpy() / 20.0)
        + POSITION_COEF * (df["position"].to_numpy() - 1)
        + HOUR_AMPLITUDE * np.cos(2.0 * np.pi * (hour - 21) / 24.0)
        + AFFINITY_BONUS * (category % len(AGE_EFFECT) == age)
    )


def true_probability(df: pd.DataFrame) -> np.ndarray:
    """Ground-truth click probability (the oracle a perfect model would predict)."""
    return 1.0 / (1.0 + np.exp(-true_logit(df)))


def make_impressions(
    rng: np.random.Generator, users: pd.DataFrame, items: pd.DataFrame, n: int
) -> pd.DataFrame:
    user_w = ACTIVITY_IMPRESSION_WEIGHT[users["activity_level"].to_numpy()]
    item_w = 0.05 + items["popularity"].to_numpy()  # popular items are shown more often
    hour_w = 1.0 + 0.5 * np.cos(2.0 * np.pi * (np.arange(24) - 20) / 24.0)
    impressions = pd.DataFrame(
        {
            "impression_id": np.arange(n),
            "user_id": rng.choice(len(users), size=n, p=user_w / user_w.sum()),
            "item_id": rng.choice(len(items), size=n, p=item_w / item_w.sum()),
            "position": rng.integers(1, N_POSITIONS + 1, size=n),
            "hour_of_day": rng.choice(24, size=n, p=hour_w / hour_w.sum()),
        }
    )
    df = impressions.merge(users, on="user_id", how="left").merge(items, on="item_id", how="left")
    df[LABEL] = (rng.random(n) < true_probability(df)).astype(np.int64)
    return df[["impression_id", "user_id", "item_id", *ALL_FEATURES, LABEL]]


def generate(cfg: PrepareConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(train, test)`` impressions, deterministically from ``cfg.seed``."""
    rng = np.random.default_rng(cfg.seed)
    users = make_users(rng, cfg.n_users)
    items = make_items(rng, cfg.n_items)
    df = make_impressions(rng, users, items, cfg.n_impressions)
    order = rng.permutation(len(df))
    n_test = max(1, round(len(df) * cfg.test_fraction))
    test = df.iloc[np.sort(order[:n_test])].reset_index(drop=True)
    train = df.iloc[np.sort(order[n_test:])].reset_index(drop=True)
    return train, test


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=PARAMS_PATH)
    parser.add_argument("--train-out", type=Path, default=TRAIN_PATH)
    parser.add_argument("--test-out", type=Path, default=TEST_PATH)
    args = parser.parse_args(argv)

    cfg = PrepareConfig.from_params(load_params(args.params))
    train, test = generate(cfg)
    for frame, path in ((train, args.train_out), (test, args.test_out)):
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
    print(
        f"prepare: {len(train)} train / {len(test)} test impressions, "
        f"train CTR {train[LABEL].mean():.4f}, test CTR {test[LABEL].mean():.4f}"
    )


if __name__ == "__main__":
    main()
