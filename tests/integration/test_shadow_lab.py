"""Shadow candidates through the real router and two real model servers (MonitorLab):
`modelrail shadow analyze` passes a candidate that agrees with production (C=0.5) and
fails the miscalibrated one (class_weight=balanced), and the shadow changes no production
answer.

The same traffic (one seed) is sent in both runs, so production's lines of the two runs
must be the same rows with the same scores: whatever the shadow answers, production's
answers do not move.
"""

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from modelrail.cli.main import main

from tests.support.labs.monitor import PRODUCTION_VERSION, Logs, MonitorLab
from tests.support.paths import EXAMPLE_MODEL

pytestmark = pytest.mark.integration

POLICY = EXAMPLE_MODEL / "modelrail.yaml"
SHADOW_VERSION = "3"


@dataclass(frozen=True)
class Runs:
    good: Logs
    balanced: Logs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    lab = MonitorLab(tmp_path_factory.mktemp("shadow-lab"))
    good = lab.candidate("c-half", C=0.5)
    balanced = lab.candidate("balanced", class_weight="balanced")
    return Runs(good=lab.simulate("good", shadow=good, shadow_version=SHADOW_VERSION),
                balanced=lab.simulate("balanced", shadow=balanced,
                                      shadow_version=SHADOW_VERSION))


def analyze(logs: Logs, out: Path) -> tuple[int, dict[str, Any]]:
    code = main(["shadow", "analyze", "--config", str(POLICY), "--predictions",
                 str(logs.predictions), "--json", str(out), "--no-summary"])
    return code, json.loads(out.read_text())


def lines(logs: Logs) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(production lines, shadow lines)."""
    records = [json.loads(line) for line in logs.predictions.read_text().splitlines()]
    return ([r for r in records if not r.get("shadow")], [r for r in records if r.get("shadow")])


def test_a_candidate_that_agrees_with_production_passes(runs: Runs, tmp_path: Path) -> None:
    code, result = analyze(runs.good, tmp_path / "good.json")

    assert code == 0, result
    assert result["passed"] is True
    assert result["pairs"] >= 1000  # shadow.min_pairs
    assert {c["name"] for c in result["checks"]} == {
        "decision_agreement", "score_correlation", "score_ks_distance"}


def test_the_miscalibrated_candidate_fails_naming_its_checks(runs: Runs,
                                                             tmp_path: Path) -> None:
    code, result = analyze(runs.balanced, tmp_path / "balanced.json")

    assert code == 1, result
    assert result["passed"] is False
    failed = {c["name"] for c in result["checks"] if not c["passed"]}
    assert {"decision_agreement", "score_ks_distance"} <= failed


@pytest.mark.parametrize("run", ["good", "balanced"])
def test_every_shadow_line_mirrors_a_production_row(runs: Runs, run: str) -> None:
    logs: Logs = getattr(runs, run)
    production, shadow = lines(logs)
    rows = Counter(r["request_id"] for r in production)
    by_row = {(r["request_id"], r["row"]): r for r in production}

    assert set(rows.values()) == {5}  # every production request has exactly its 5 rows
    assert {r["version"] for r in production} == {PRODUCTION_VERSION}
    assert {r["version"] for r in shadow} == {SHADOW_VERSION}
    assert 5 * logs.shadow_calls.get("ok", 0) <= len(shadow) <= len(production)
    for line in shadow:
        mirrored = by_row[(line["shadow_of"], line["row"])]
        assert (line["features"], line["user_id"]) == (mirrored["features"],
                                                       mirrored["user_id"])
    events = [json.loads(line) for line in logs.events.read_text().splitlines()]
    assert events
    assert {e["request_id"] for e in events} <= set(rows)


def test_the_shadow_changes_no_production_answer(runs: Runs) -> None:
    """Same traffic, two different shadows: production scored the same rows the same."""

    def answers(logs: Logs) -> list[tuple[str, str, float]]:
        return sorted((r["user_id"], json.dumps(r["features"], sort_keys=True),
                       r["prediction"]) for r in lines(logs)[0])

    good, balanced = answers(runs.good), answers(runs.balanced)
    assert len(good) >= 1000
    assert good == balanced
    good_shadow = sorted(r["prediction"] for r in lines(runs.good)[1])
    assert good_shadow != sorted(r["prediction"] for r in lines(runs.balanced)[1])
