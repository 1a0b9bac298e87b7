from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ctr_model.prepare import PrepareConfig, generate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def small_cfg() -> PrepareConfig:
    return PrepareConfig(seed=7, n_users=500, n_items=120, n_impressions=8000, test_fraction=0.25)


@pytest.fixture(scope="session")
def small_data(small_cfg: PrepareConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate(small_cfg)
