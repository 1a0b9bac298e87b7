"""The demo's canary stage: `modelrail canary run` on live traffic, a good and a bad canary.

The canary lab (tests/support/labs/canary.py) runs the example model's real server for the
stable version and for the canary, a real Prometheus scraping both every second, and
20 requests/s split by the Argo Rollouts stand-in's weight. The good canary walks
10 → 25 → 50 → 100 % and is promoted in full; the bad one (the same model trained with
`class_weight: balanced`, so its click probabilities are ~5x too high) is aborted at the
first step that catches it and the traffic goes back to stable. The bad canary runs a
second time behind a mirror phase (`rollout.mirror`: Argo Rollouts' setMirrorRoute, half
of the requests copied to the canary, its answers dropped): it is aborted there, before
any user request reached it. Then both again without Argo Rollouts (`rollout.backend:
istio`): modelrail writes the weights of a VirtualService route itself, the lab splits the
traffic by what istiod last pushed, and the good canary is promoted through the stable
Deployment; and on KServe (`rollout.backend: kserve`): `canaryTrafficPercent` of an
InferenceService, the traffic split by its revisions' percents. Each run leaves its report
in <work>/<name>/report/canary-report.html, its verdicts as OpenMetrics in canary.om.

    python -m demo.canary        # this stage alone, under .demo/canary/
"""

from pathlib import Path

from demo.run import run_alone, say
from tests.support.labs.canary import FAULTY, GOOD, STABLE, Backend, Side, run_canary_cli
from tests.support.standins.rollouts import Mirror

STEP_SECONDS = 10.0


MIRROR = Mirror(route="mirror", percentage=50, scale=50)


def canary_stage(work: Path) -> bool:
    """The runs; True when each good canary was promoted and each bad one aborted, the
    second time in the mirror phase with no user request answered by it."""
    promoted = run_canary(work / "good", GOOD, "a good canary", expected_exit=0)
    aborted = run_canary(work / "bad", FAULTY, "a miscalibrated canary", expected_exit=1)
    unseen = run_canary(work / "bad-mirrored", FAULTY,
                        "the miscalibrated canary behind a mirror phase", expected_exit=1,
                        mirror=MIRROR)
    backends: tuple[tuple[Backend, str], ...] = (("istio", "Istio"), ("kserve", "KServe"))
    elsewhere = [run_canary(work / f"{backend}-{name}", side, f"{what} on {label}",
                            expected_exit=code, backend=backend)
                 for backend, label in backends
                 for name, side, what, code in (("good", GOOD, "a good canary", 0),
                                                ("bad", FAULTY, "a miscalibrated canary", 1))]
    return promoted and aborted and unseen and all(elsewhere)


def run_canary(work: Path, canary: Side, what: str, expected_exit: int, *,
               mirror: Mirror | None = None, backend: Backend = "argo") -> bool:
    say(f"{what}: version {canary.version} against stable version {STABLE.version}, on "
        f"live traffic at 20 req/s")
    outcome = run_canary_cli(work, STABLE, canary, step_seconds=STEP_SECONDS, mirror=mirror,
                             backend=backend)
    users = "; users saw the canary" if outcome.result.get("users_saw_canary") else \
        "; no user request reached the canary"
    where = (f"version {canary.version} now serves all traffic" if outcome.exit_code == 0
             else f"canary weight now {outcome.weight}%")
    say(f"{what}: exit {outcome.exit_code} after {outcome.seconds:.0f}s, {where}{users} "
        f"(report: {work / 'report' / 'canary-report.html'})")
    if mirror is not None and outcome.result.get("users_saw_canary") is not False:
        return False
    return outcome.exit_code == expected_exit


def main() -> int:
    return run_alone(canary_stage, "canary", "canary",
                     "the good canary was promoted, the bad one aborted (behind a mirror "
                     "phase: before any user saw it), on Argo Rollouts, Istio and KServe")


if __name__ == "__main__":
    raise SystemExit(main())
