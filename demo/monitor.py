"""The demo's shadow and monitor stage: candidates checked as shadows, production watched
for drift.

The monitor lab (tests/support/labs/monitor.py) serves the example model (version 2) with
its real server behind the router and sends the traffic simulator's users through it.
Shadow: a candidate runs on a second server that gets a copy of every answered request,
and `modelrail shadow analyze` pairs both logs: a candidate trained with C=0.5 agrees with
production, one trained with `class_weight: balanced` (click probabilities far too high)
does not. Monitor: `modelrail monitor` compares production's log with the model's
reference sample: other traffic from the same users and items changes nothing, prices
multiplied by 2.5 are a major drift whose action is a rollback (exit 1). The monitor
reports are left in <work>/<name>.html.

    python -m demo.monitor        # this stage alone, under .demo/monitor/
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from demo.run import WORK, say
from tests.support.labs.monitor import OTHER_TRAFFIC_SEED, Logs, MonitorLab
from tests.support.paths import EXAMPLE_MODEL

POLICY = EXAMPLE_MODEL / "modelrail.yaml"
DRIFT = {"price": 2.5}


def monitor_stage(work: Path) -> bool:
    """True when the good shadow passed, the bad one failed, plain traffic raised nothing
    and the price drift asked for a rollback."""
    say("shadow + monitor: training the production model and two candidates (one "
        "parameter different each)")
    lab = MonitorLab(work / "lab")
    results = [
        shadow(lab, "an agreeing candidate (C=0.5)", lab.candidate("c-half", C=0.5),
               expected_exit=0),
        shadow(lab, "a miscalibrated candidate (class_weight=balanced)",
               lab.candidate("balanced", class_weight="balanced"), expected_exit=1),
        monitor(lab, "traffic like the reference",
                lab.simulate("plain", seed=OTHER_TRAFFIC_SEED), expected_exit=0),
        monitor(lab, f"prices x{DRIFT['price']:g}", lab.simulate("drift", shift=DRIFT),
                expected_exit=1, expected_top="price"),
    ]
    return all(results)


def shadow(lab: MonitorLab, what: str, candidate: Path, expected_exit: int) -> bool:
    say(f"shadow: {what} mirrors production's traffic")
    logs = lab.simulate(f"shadow-{candidate.name}", shadow=candidate)
    code, result = modelrail(["shadow", "analyze", "--predictions", str(logs.predictions)],
                             lab.root.parent / f"shadow-{candidate.name}.json")
    copies = ", ".join(f"{n} {k}" for k, n in sorted(logs.shadow_calls.items()))
    print(f"mirrored copies: {copies}; {result.get('pairs', 0)} paired rows")
    for check in result.get("checks", []):
        sign = "≥" if check["kind"] == "min" else "≤"
        value = "—" if check["value"] is None else f"{check['value']:.4g}"
        print(f"  {check['name']}: {value} ({sign} {check['limit']:g}) "
              f"{'pass' if check['passed'] else 'FAIL'}")
    say(f"shadow analyze: exit {code} ({'pass' if code == 0 else 'fail'}), expected "
        f"{expected_exit}")
    return code == expected_exit


def monitor(lab: MonitorLab, what: str, logs: Logs, expected_exit: int,
            expected_top: str | None = None) -> bool:
    name = logs.predictions.parent.name
    say(f"monitor: {what}")
    report = lab.root.parent / f"{name}.html"
    code, result = modelrail(["monitor", "--reference", str(lab.reference), "--current",
                              str(logs.predictions), "--events", str(logs.events),
                              "--report", str(report)], lab.root.parent / f"{name}.json")
    top = max(result.get("checks", []), key=lambda check: check.get("psi") or 0.0,
              default={"name": None, "psi": None})
    print(f"{result.get('current_rows')} rows: severity {result.get('severity') or 'none'}, "
          f"action {result.get('action') or 'none'}; top drifted feature {top['name']} "
          f"(PSI {top['psi'] or 0:.3f})")
    say(f"monitor: exit {code}, expected {expected_exit} (report: {report})")
    return code == expected_exit and (expected_top is None or top["name"] == expected_top)


def modelrail(args: list[str], out: Path) -> tuple[int, dict[str, Any]]:
    """Run the CLI with example-model's policy; its exit code and its --json result."""
    done = subprocess.run([str(Path(sys.executable).parent / "modelrail"), *args,
                           "--config", str(POLICY), "--json", str(out), "--no-summary"],
                          capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        print(done.stdout.rstrip(), done.stderr.rstrip(), sep="\n")
    return done.returncode, json.loads(out.read_text()) if out.exists() else {}


def main() -> int:
    work = WORK / "monitor"
    shutil.rmtree(work, ignore_errors=True)
    ok = monitor_stage(work)
    say("shadow + monitor stage complete: the agreeing candidate passed, the miscalibrated "
        "one failed; plain traffic raised nothing, the price drift asked for a rollback"
        if ok else "shadow + monitor stage did not behave as expected; see the logs above")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
