"""The demo's A/B stage: simulated users through the router to two model servers, then
`modelrail ab analyze` on the prediction logs and the events.

The A/B lab (tests/support/labs/ab.py) runs the example model's real server twice (v1 as
control, v2 as treatment), the router assigning each user by GrowthBook's hash, and the
traffic simulator, whose users click the treatment's recommendations 30% more often.
The analysis uses example-model's own policy (sequential, a 5% guardrail on session
duration) and leaves its HTML report in <work>/report.html.

    python -m demo.ab_test        # this stage alone, under .demo/ab-test/
"""

import shutil
import subprocess
import sys
from pathlib import Path

from demo.run import WORK, say
from tests.support.labs.ab import run_ab_lab
from tests.support.paths import EXAMPLE_MODEL

USERS = 1200
EFFECT = 0.30


def ab_stage(work: Path) -> bool:
    """True when the analysis decided (ship or keep running) on logs without errors."""
    say(f"A/B test: {USERS} simulated users through the router to v1 and v2 "
        f"(true CTR lift of v2: {EFFECT:+.0%})")
    logs = run_ab_lab(work / "lab", work / "models", users=USERS, seed=13, effect=EFFECT)
    truth = logs.summary["variants"]
    print(", ".join(f"{v}: {t['users']} users, {t['impressions']} impressions, "
                    f"{t['clicks']} clicks" for v, t in truth.items()))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "modelrail"), "ab", "analyze", "--config",
         str(EXAMPLE_MODEL / "modelrail.yaml"), "--predictions", str(logs.predictions),
         "--events", str(logs.events), "--report", str(work / "report.html"),
         "--json", str(work / "result.json"), "--no-summary"],
        capture_output=True, text=True, check=False)
    print(done.stdout.rstrip() or done.stderr)
    say(f"A/B report: {work / 'report.html'} (exit {done.returncode})")
    return done.returncode in (0, 4) and not logs.summary["errors"]


if __name__ == "__main__":
    shutil.rmtree(WORK / "ab-test", ignore_errors=True)
    raise SystemExit(0 if ab_stage(WORK / "ab-test") else 1)
