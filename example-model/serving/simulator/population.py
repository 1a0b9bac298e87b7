"""Users, sessions and the random draws that decide their behaviour, fixed by the seeds.

Two seeds: the population seed fixes who exists (the users' attributes and the item
catalogue), the traffic seed everything else (how many sessions each user makes, which
items are shown at what hour, the click and duration draws). Traffic with another traffic
seed over the same population is a fresh sample of the same distribution (no drift for
``modelrail monitor``); the population seed defaults to the traffic seed.

Feature rows use the training pipeline's own generators (``ctr_model.prepare``), so the
model scores rows like the ones it was trained on. Every random draw is made here, before
any request: the events a user produces depend on the seed and the variant only, never on
the order in which concurrent requests happen to complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ctr_model.common import ALL_FEATURES
from ctr_model.prepare import make_items, make_users, true_probability

N_ITEMS = 200
MAX_SESSIONS = 3
CLICK_DELAY_SECONDS = (1.0, 60.0)  # a click follows its impression within a minute
SESSION_MEDIAN_SECONDS = 120.0
SESSION_SIGMA = 0.8


@dataclass(frozen=True)
class Session:
    """One request a user makes and everything random that follows it."""

    index: int
    user_id: str
    rows: list[dict[str, Any]]
    true_ctr: list[float]  # per row, before the variant's effect
    click_draws: list[float]  # uniform in [0, 1): clicked when below the row's CTR
    click_delays: list[float]  # seconds after the response
    duration: float  # seconds from the response to the session's end


def user_id(index: int) -> str:
    """Stable across runs and seeds, so a user keeps their variant for one experiment key."""
    return f"user-{index:06d}"


def plan_sessions(seed: int, n_users: int, rows_per_request: int = 5,
                  shift: Mapping[str, float] | None = None,
                  population_seed: int | None = None) -> list[Session]:
    """Every session of every user, in a fixed order (user, then session).

    ``seed`` is the traffic seed; ``population_seed`` (default: ``seed``) the users' and
    items'. When both are equal one random stream draws everything, so a plan made before
    the two were separated is unchanged.

    ``shift`` multiplies numeric features (``{"price": 2.0}``) after they are drawn: the
    population drifted away from the training data (what ``modelrail monitor`` detects);
    the true click probabilities follow the shifted rows."""
    if n_users < 1 or rows_per_request < 1:
        raise ValueError("users and rows per request must be positive")
    rng = np.random.default_rng(seed)
    population = (rng if population_seed in (None, seed)
                  else np.random.default_rng(population_seed))
    users = make_users(population, n_users)
    items = make_items(population, N_ITEMS)
    sessions_per_user = np.minimum(1 + rng.poisson(0.7, size=n_users), MAX_SESSIONS)
    n_sessions = int(sessions_per_user.sum())
    n_rows = n_sessions * rows_per_request
    owner = np.repeat(np.arange(n_users), sessions_per_user)
    row_owner = np.repeat(owner, rows_per_request)
    frame = users.iloc[row_owner].reset_index(drop=True)
    shown = rng.choice(N_ITEMS, size=n_rows, p=_item_weights(items))
    for column in ("category", "price", "popularity"):
        frame[column] = items[column].to_numpy()[shown]
    frame["position"] = np.tile(np.arange(1, rows_per_request + 1), n_sessions)
    frame["hour_of_day"] = np.repeat(rng.integers(0, 24, size=n_sessions), rows_per_request)
    for column, factor in (shift or {}).items():
        if column not in ("price", "popularity"):
            raise ValueError(f"shift: {column!r} is not a numeric feature (price, popularity)")
        frame[column] = frame[column] * factor
    ctr = true_probability(frame)
    draws = rng.random(n_rows)
    delays = rng.uniform(*CLICK_DELAY_SECONDS, size=n_rows)
    durations = rng.lognormal(np.log(SESSION_MEDIAN_SECONDS), SESSION_SIGMA, size=n_sessions)
    records = _records(frame)
    sessions = []
    for index in range(n_sessions):
        rows = slice(index * rows_per_request, (index + 1) * rows_per_request)
        sessions.append(Session(
            index=index,
            user_id=user_id(int(owner[index])),
            rows=records[rows],
            true_ctr=[float(p) for p in ctr[rows]],
            click_draws=[float(u) for u in draws[rows]],
            click_delays=[round(float(d), 3) for d in delays[rows]],
            duration=round(float(durations[index]), 3),
        ))
    return sessions


def _item_weights(items: pd.DataFrame) -> np.ndarray:
    weights = 0.05 + items["popularity"].to_numpy()  # popular items are shown more often
    return np.asarray(weights / weights.sum())


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts with Python scalars of the model's expected kinds."""
    out = []
    for values in frame[list(ALL_FEATURES)].itertuples(index=False):
        row = {}
        for name, value in zip(ALL_FEATURES, values, strict=True):
            row[name] = float(value) if name in ("price", "popularity") else int(value)
        out.append(row)
    return out
