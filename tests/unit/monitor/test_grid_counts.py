"""The monitor's SQL grid counts (monitor/sql/grid_counts.sql) against numpy's
(`Grid.count`): ties, values below, on, between and above the grid, NULLs and NaN, in one
chunk of the grid and in several (each query a range of the log's values)."""

import json
from pathlib import Path

import numpy as np
import pytest
from modelrail.monitor import aggregate
from modelrail.monitor.aggregate import open_logs
from modelrail.monitor.stats import Grid
from modelrail.plumbing.engines import Location


@pytest.mark.parametrize("chunk", [aggregate.GRID_CHUNK, 7, 1])
def test_sql_counts_match_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                chunk: int) -> None:
    rng = np.random.default_rng(11)
    reference = rng.integers(0, 40, size=200) / 4  # ties on a 0.25 grid
    current = np.concatenate([rng.integers(-8, 48, size=500) / 8, [np.nan, 100.0, -5.0]])
    (tmp_path / "reference.csv").write_text(
        "price\n" + "".join(f"{value}\n" for value in reference), encoding="utf-8")
    log = tmp_path / "current.jsonl"
    log.write_text("".join(json.dumps({"features": {"price": value}}) + "\n"
                           for value in [*current.tolist()[:-3], None, 100.0, -5.0]) +
                   json.dumps({"features": {"price": 1.0}, "shadow": True}) + "\n",
                   encoding="utf-8")
    monkeypatch.setattr(aggregate, "GRID_CHUNK", chunk)

    with open_logs(tmp_path / "reference.csv", str(log), Location()) as logs:
        grid = logs.grid("price")
        counts = logs.grid_counts("price", grid)

    expected = Grid.of(reference)
    assert grid.values.tolist() == expected.values.tolist()
    assert counts.tolist() == expected.count(current[~np.isnan(current)]).tolist()
    assert counts[0] > 0  # below the grid
    assert counts[-1] > 0  # above it


def test_an_empty_grid_counts_everything_below_it(tmp_path: Path) -> None:
    (tmp_path / "reference.csv").write_text("price,other\n,1\n,2\n", encoding="utf-8")
    log = tmp_path / "current.jsonl"
    log.write_text("".join(json.dumps({"price": value}) + "\n" for value in (1.0, 2.0, None)),
                   encoding="utf-8")

    with open_logs(tmp_path / "reference.csv", str(log), Location()) as logs:
        counts = logs.grid_counts("price", logs.grid("price"))

    assert counts.tolist() == [2]
