"""The simulator's two seeds: the population (users, item catalogue) and the traffic
(sessions, shown items, hours, draws). Another traffic seed over the same population is
new traffic from the same users and items; the population seed defaults to the seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.__main__ import main
from simulator.population import Session, plan_sessions
from simulator.run import SimulationConfig, SimulationResult

USER_KEYS = ("age_bucket", "activity_level", "region", "device")
ITEM_KEYS = ("category", "price", "popularity")


def users(plan: list[Session]) -> dict[str, tuple[Any, ...]]:
    """user id -> the user's attributes (the same on every row of that user)."""
    found: dict[str, tuple[Any, ...]] = {}
    for session in plan:
        for row in session.rows:
            attributes = tuple(row[key] for key in USER_KEYS)
            assert found.setdefault(session.user_id, attributes) == attributes
    return found


def items(plan: list[Session]) -> set[tuple[Any, ...]]:
    return {tuple(row[key] for key in ITEM_KEYS) for session in plan for row in session.rows}


def test_the_population_seed_defaults_to_the_seed() -> None:
    assert plan_sessions(11, 80) == plan_sessions(11, 80, population_seed=11)


def test_another_traffic_seed_keeps_the_users_and_the_catalogue() -> None:
    first = plan_sessions(11, 300, population_seed=11)
    second = plan_sessions(12, 300, population_seed=11)

    assert [s.rows for s in first] != [s.rows for s in second]  # other traffic
    assert users(first) == users(second)  # every user kept their attributes
    shown = items(first) | items(second)
    assert len(shown) <= 200  # one catalogue (N_ITEMS), not two
    assert len(items(first) & items(second)) > 100


def test_another_population_seed_is_another_population() -> None:
    first = plan_sessions(12, 300, population_seed=11)
    other = plan_sessions(12, 300, population_seed=21)

    assert users(first) != users(other)
    assert not items(first) & items(other)  # prices are continuous: no item in common


def test_the_flag_reaches_the_simulation(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    seen: list[SimulationConfig] = []

    def fake_simulate(config: SimulationConfig, _client: object) -> SimulationResult:
        seen.append(config)
        return SimulationResult([], {}, {}, sent=0, planned=0, finished=True)

    monkeypatch.setattr("simulator.__main__.simulate", fake_simulate)
    base = ["--router", "http://127.0.0.1:1", "--users", "5", "--seed", "12",
            "--events", str(tmp_path / "e.jsonl"), "--wait-ready", "0"]

    assert main([*base, "--population-seed", "11"]) == 0
    assert main(base) == 0
    assert [(c.seed, c.population_seed) for c in seen] == [(12, 11), (12, None)]
