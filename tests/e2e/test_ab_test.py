"""An A/B test end to end: the traffic simulator → the router → two real model servers →
their prediction logs + the simulator's events → `modelrail ab analyze` (DuckDB) → the
decision; then act runs example-model's A/B test workflow on the same logs.

What the lab is (tests/support/labs/ab.py): `python -m ctr_serving` twice (control v1,
treatment v2), `python -m ctr_router` assigning users with `modelrail.ab.assign`, and
`python -m simulator` sending planned sessions with a known true CTR effect on the
treatment. The traffic is fixed by the seed (every random draw is made before any
request), so each run's data and decision are reproducible.

Sizes: through real HTTP servers this machine serves ~100 requests/s. A +5% CTR lift has
a standard error of ~8% at 2,000 users here (per-user CTRs vary a lot), so detecting it
needs ~40,000 users (~10 minutes); the +5% run therefore checks that the pipeline measures
what the simulator did and that the interval covers the true lift, a +30% run checks that
a detectable lift ships (and that act hands `ship` on), and an A/A run that nothing ships.
That +5% ships at sufficient size is tested on simulated logs (tests/integration/
test_ab_sql.py, 20,000 users).
"""

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from modelrail.local.act import ActRun

from tests.support.builders.ab_hand_logs import EVENTS, PREDICTIONS
from tests.support.builders.ab_logs import write_logs
from tests.support.labs.ab import EXPERIMENT, VARIANTS, AbLogs, run_ab_lab
from tests.support.paths import EXAMPLE_MODEL
from tests.support.workflows.flows import ExampleWorkbench, commit_all, model_repo

pytestmark = pytest.mark.e2e

USERS = 2000
# Sized for the lab: fixed-horizon tests, and a guardrail margin 2,000 users can show.
LAB_POLICY = f"""\
model: ctr-ranker
experiment:
  key: {EXPERIMENT}
  primary: ctr
  guardrails:
    session_duration: {{margin: 0.10}}
  metrics:
    ctr: {{type: ratio}}
"""
WORKFLOW = ".github/workflows/ab-test.yml"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained once for every lab run of this module (the A/B lab trains on first use)."""
    return tmp_path_factory.mktemp("ab-models")


def analyze(logs: AbLogs, policy: Path, workdir: Path) -> tuple[int, dict[str, Any]]:
    """The CLI as a user runs it; its exit code and --json result."""
    workdir.mkdir(parents=True, exist_ok=True)
    modelrail = Path(sys.executable).parent / "modelrail"
    done = subprocess.run(
        [str(modelrail), "ab", "analyze", "--config", str(policy), "--predictions",
         str(logs.predictions), "--events", str(logs.events), "--json", "result.json",
         "--report", "report.html", "--no-summary"],
        cwd=workdir, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1, 4), done.stderr
    result: dict[str, Any] = json.loads((workdir / "result.json").read_text())
    return done.returncode, result


def lab_policy(tmp_path: Path) -> Path:
    path = tmp_path / "lab-policy.yaml"
    path.write_text(LAB_POLICY, encoding="utf-8")
    return path


def dispatch(action_repo: Path, repo: Path, artifacts: Path, predictions: str,
             events: str) -> ActRun:
    """example-model's A/B test workflow dispatched by hand on these logs, no promotion;
    uploaded artifacts land in `artifacts`."""
    bench = ExampleWorkbench(action_repo, Path(sys.prefix), mlflow_url="",
                      env={"MODELRAIL_LOCAL_ARTIFACT_DIR": str(artifacts)})
    inputs = {"predictions": predictions, "events": events, "promote-version": ""}
    return bench.run(repo, "workflow_dispatch", WORKFLOW, {"inputs": inputs},
                     f"ab-test-{uuid.uuid4().hex[:6]}")


def assert_logs_match_the_simulation(logs: AbLogs, result: dict[str, Any]) -> None:
    """Every user, impression and click the simulator produced is in the analysis, in
    the variant the router chose."""
    truth = logs.summary["variants"]
    assert logs.summary["errors"] == {}
    assert result["srm"]["units"] == {v: truth[v]["users"] for v in VARIANTS}
    assert result["data"]["prediction_rows"] == sum(truth[v]["impressions"] for v in VARIANTS)
    assert result["data"]["attributed_clicks"] == {v: truth[v]["clicks"] for v in VARIANTS}
    assert result["data"]["multi_variant_users"] == 0


def test_a_five_percent_lift_is_measured_as_simulated(tmp_path: Path, models: Path) -> None:
    logs = run_ab_lab(tmp_path / "lab", models, users=USERS, seed=11, effect=0.05)

    code, result = analyze(logs, lab_policy(tmp_path), tmp_path / "analysis")

    assert_logs_match_the_simulation(logs, result)
    assert result["srm"]["passed"]
    ctr = result["metrics"]["ctr"]
    assert ctr["ci"][0] < 0.05 < ctr["ci"][1]  # the true lift is inside the interval
    assert (code, result["decision"]) in ((0, "ship"), (4, "keep-running"))


def test_an_a_a_run_does_not_ship(tmp_path: Path, models: Path) -> None:
    logs = run_ab_lab(tmp_path / "lab", models, users=USERS, seed=12, effect=0.0)

    code, result = analyze(logs, lab_policy(tmp_path), tmp_path / "analysis")

    assert_logs_match_the_simulation(logs, result)
    assert result["srm"]["passed"]
    assert result["decision"] != "ship"
    assert code != 0


def test_a_real_lift_ships_and_the_workflow_hands_it_on(
        tmp_path: Path, models: Path, action_repo: Path, dvc_remote: Path) -> None:
    logs = run_ab_lab(tmp_path / "lab", models, users=USERS, seed=13, effect=0.30)

    code, result = analyze(logs, lab_policy(tmp_path), tmp_path / "analysis")

    assert_logs_match_the_simulation(logs, result)
    assert (code, result["decision"]) == (0, "ship"), result
    assert 0.05 < result["metrics"]["ctr"]["lift"] < 0.6
    report = (tmp_path / "analysis" / "report.html").read_text(encoding="utf-8")
    assert "ctr: cumulative lift (%)" in report

    # example-model's scheduled workflow, dispatched on these logs, with its own policy
    # (sequential, 5% guardrail margin): it must decide what the CLI decides.
    repo, _ = model_repo(tmp_path / "ctr-model", dvc_remote)
    (repo / "ab-logs").mkdir()
    for path in (logs.predictions, logs.events):
        shutil.copy(path, repo / "ab-logs" / path.name)
    commit_all(repo, "the day's A/B logs")
    _, expected = analyze(logs, EXAMPLE_MODEL / "modelrail.yaml", tmp_path / "expected")
    artifacts = tmp_path / "artifacts"
    run = dispatch(action_repo, repo, artifacts, "ab-logs/predictions.jsonl",
                   "ab-logs/events.jsonl")

    assert run.returncode == 0, run.log[-6000:]
    assert run.job_result("A/B test decision") == "succeeded"
    outputs = run.outputs("A/B test decision")
    assert outputs["decision"] == expected["decision"]
    assert float(outputs["lift"]) == pytest.approx(expected["metrics"]["ctr"]["lift"])
    assert run.job_result("promote") is None  # no version to promote: skipped
    uploaded = artifacts / "ab-test-report"
    assert json.loads((uploaded / "ab-test.json").read_text())["decision"] \
        == expected["decision"]
    assert "<svg" in (uploaded / "ab-test.html").read_text(encoding="utf-8")
    summary = run.summary("A/B test decision")
    assert f"**{expected['decision']}**" in summary
    assert "xychart-beta" in summary


def test_the_workflow_reads_logs_from_an_artifact(tmp_path: Path, action_repo: Path,
                                                  dvc_remote: Path) -> None:
    """`logs-artifact`: the logs an earlier job of the run uploaded (a dozen users)."""
    repo, _ = model_repo(tmp_path / "ctr-model", dvc_remote)
    workflow = repo / WORKFLOW
    text = workflow.read_text(encoding="utf-8")
    workflow.write_text(text.replace("      attribution-window: 30m\n",
                                     "      attribution-window: 30m\n"
                                     "      logs-artifact: ab-logs\n"), encoding="utf-8")
    commit_all(repo, "logs from an artifact")
    artifacts = tmp_path / "artifacts"
    (artifacts / "ab-logs").mkdir(parents=True)
    write_logs(artifacts / "ab-logs", PREDICTIONS, EVENTS)

    run = dispatch(action_repo, repo, artifacts, "predictions.jsonl", "events.jsonl")

    assert run.returncode == 0, run.log[-6000:]
    assert "downloaded artifact ab-logs" in run.log
    assert run.outputs("A/B test decision")["decision"] == "keep-running"
