"""The demo's A/B stage: simulated users through the router to two model servers, then
`modelrail ab analyze` on the prediction logs and the events.

The A/B lab (tests/support/labs/ab.py) runs the example model's real server twice (v1 as
control, v2 as treatment), the router assigning each user by GrowthBook's hash, and the
traffic simulator, whose users click the treatment's recommendations 30% more often.
The analysis uses example-model's own policy (sequential, a 5% guardrail on session
duration) and leaves its HTML report in <work>/report.html. Then the same logs are read as
a daily group-sequential design would read them: day 1 on the first half of the
predictions, day 2 on all of them, planned maximum = the users simulated; the looks file
(<work>/looks.json) carries day 1's look into day 2.

    python -m demo.ab_test        # this stage alone, under .demo/ab-test/
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from demo.run import WORK, say
from tests.support.labs.ab import run_ab_lab
from tests.support.paths import EXAMPLE_MODEL

USERS = 1200
EFFECT = 0.30
GROUP_SEQUENTIAL = (f"  sequential: {{enabled: true, method: group-sequential, "
                    f"planned_units: {USERS}}}\n")


def ab_stage(work: Path) -> bool:
    """True when the analysis decided (ship or keep running) on logs without errors."""
    say(f"A/B test: {USERS} simulated users through the router to v1 and v2 "
        f"(true CTR lift of v2: {EFFECT:+.0%})")
    logs = run_ab_lab(work / "lab", work / "models", users=USERS, seed=13, effect=EFFECT)
    truth = logs.summary["variants"]
    print(", ".join(f"{v}: {t['users']} users, {t['impressions']} impressions, "
                    f"{t['clicks']} clicks" for v, t in truth.items()))
    done = _analyze(EXAMPLE_MODEL / "modelrail.yaml", logs.predictions, logs.events,
                    "--report", str(work / "report.html"), "--json", str(work / "result.json"))
    print(done.stdout.rstrip() or done.stderr)
    say(f"A/B report: {work / 'report.html'} (exit {done.returncode})")
    daily = _group_sequential_days(work, logs.predictions, logs.events)
    return done.returncode in (0, 4) and daily and not logs.summary["errors"]


def _analyze(policy: Path, predictions: Path, events: Path,
             *extra: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [str(Path(sys.executable).parent / "modelrail"), "ab", "analyze", "--config",
         str(policy), "--predictions", str(predictions), "--events", str(events),
         "--no-summary", *extra], capture_output=True, text=True, check=False)


def _group_sequential_days(work: Path, predictions: Path, events: Path) -> bool:
    """Two daily looks of a group-sequential design over the same experiment."""
    policy = work / "modelrail-group-sequential.yaml"
    text = (EXAMPLE_MODEL / "modelrail.yaml").read_text(encoding="utf-8")
    policy.write_text(text.replace("  sequential: {enabled: true, tuning: 20000}\n",
                                   GROUP_SEQUENTIAL), encoding="utf-8")
    rows = sorted(predictions.read_text(encoding="utf-8").splitlines(keepends=True),
                  key=lambda row: json.loads(row)["timestamp"])
    first_half = work / "predictions-day1.jsonl"
    first_half.write_text("".join(rows[:len(rows) // 2]), encoding="utf-8")
    looks = work / "looks.json"
    looks.unlink(missing_ok=True)
    codes = []
    for day, day_predictions in (("2026-12-01", first_half), ("2026-12-02", predictions)):
        say(f"group-sequential look of {day} (planned maximum {USERS} users)")
        done = _analyze(policy, day_predictions, events, "--looks", str(looks),
                        "--look-day", day)
        print(done.stdout.rstrip() or done.stderr)
        codes.append(done.returncode)
    return all(code in (0, 1, 4) for code in codes)


if __name__ == "__main__":
    shutil.rmtree(WORK / "ab-test", ignore_errors=True)
    raise SystemExit(0 if ab_stage(WORK / "ab-test") else 1)
