"""The demo's canary stage: `modelrail canary run` on live traffic, a good and a bad canary.

The canary lab (tests/support/canary_lab.py) runs the example model's real server for the
stable version and for the canary, a real Prometheus scraping both every second, and
20 requests/s split by the Argo Rollouts stand-in's weight. The good canary walks
10 → 25 → 50 → 100 % and is promoted in full; the bad one (the same model trained with
`class_weight: balanced`, so its click probabilities are ~5x too high) is aborted at the
first step that catches it and the traffic goes back to stable. Each run leaves its
report in <work>/<name>/report/canary-report.html.

    python -m demo.canary        # this stage alone, under .demo/canary/
"""

import shutil
from pathlib import Path

from demo.run import WORK, say
from tests.support.canary_lab import Side, run_canary_cli

STABLE = Side("ghcr.io/acme/ctr-ranker:v1", version="1")
GOOD = Side("ghcr.io/acme/ctr-ranker:v2", version="2")
BAD = Side("ghcr.io/acme/ctr-ranker:v3", version="3", faulty=True)
STEP_SECONDS = 10.0


def canary_stage(work: Path) -> bool:
    """Both runs; True when the good canary was promoted and the bad one aborted."""
    promoted = run_canary(work / "good", GOOD, "a good canary", expected_exit=0)
    aborted = run_canary(work / "bad", BAD, "a miscalibrated canary", expected_exit=1)
    return promoted and aborted


def run_canary(work: Path, canary: Side, what: str, expected_exit: int) -> bool:
    say(f"{what}: version {canary.version} against stable version {STABLE.version}, on "
        f"live traffic at 20 req/s")
    outcome = run_canary_cli(work, STABLE, canary, step_seconds=STEP_SECONDS)
    say(f"{what}: exit {outcome.exit_code} after {outcome.seconds:.0f}s, canary weight now "
        f"{outcome.weight}% (report: {work / 'report' / 'canary-report.html'})")
    return outcome.exit_code == expected_exit


def main() -> int:
    work = WORK / "canary"
    shutil.rmtree(work, ignore_errors=True)
    ok = canary_stage(work)
    say("canary stage complete: the good canary was promoted, the bad one aborted" if ok
        else "canary stage did not behave as expected; see the logs above")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
