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
reports are left in <work>/<name>.html. Then the miscalibrated shadow and the drift are
analysed again with their logs loaded into a PostgreSQL server and as Parquet on Spark's
local mode (demo/engines.py): the same verdicts and statistics as DuckDB's on the files.

    python -m demo.monitor        # this stage alone, under .demo/monitor/
"""

from pathlib import Path

from demo.cli import modelrail
from demo.engines import FileRun, same_on_every_engine
from demo.run import run_alone, say
from tests.support.labs.monitor import OTHER_TRAFFIC_SEED, Logs, MonitorLab

DRIFT = {"price": 2.5}


def monitor_stage(work: Path) -> bool:
    """True when the good shadow passed, the bad one failed, plain traffic raised nothing
    and the price drift asked for a rollback, and the bad shadow and the drift got the same
    verdicts and statistics on PostgreSQL and Spark as on the files."""
    say("shadow + monitor: training the production model and two candidates (one "
        "parameter different each)")
    lab = MonitorLab(work / "lab")
    agreeing, _ = shadow(lab, "an agreeing candidate (C=0.5)", lab.candidate("c-half", C=0.5),
                         expected_exit=0)
    caught, miscalibrated = shadow(lab, "a miscalibrated candidate (class_weight=balanced)",
                                   lab.candidate("balanced", class_weight="balanced"),
                                   expected_exit=1)
    quiet, _ = monitor(lab, "traffic like the reference",
                       lab.simulate("plain", seed=OTHER_TRAFFIC_SEED), expected_exit=0)
    drifted, drift = monitor(lab, f"prices x{DRIFT['price']:g}",
                             lab.simulate("drift", shift=DRIFT), expected_exit=1,
                             expected_top="price")
    engines = same_on_every_engine(work / "engines", [miscalibrated, drift])
    return agreeing and caught and quiet and drifted and engines


def shadow(lab: MonitorLab, what: str, candidate: Path,
           expected_exit: int) -> tuple[bool, FileRun]:
    """Whether `shadow analyze` gave the expected exit code, and the run."""
    say(f"shadow: {what} mirrors production's traffic")
    logs = lab.simulate(f"shadow-{candidate.name}", shadow=candidate)
    code, result = modelrail(["shadow", "analyze", "--predictions", str(logs.predictions)],
                             lab.root.parent / f"shadow-{candidate.name}.json")
    run = FileRun(f"shadow_{candidate.name.replace('-', '_')}", f"shadow analyze, {what}",
                  ("shadow", "analyze"), (), {"--predictions": logs.predictions}, code, result)
    copies = ", ".join(f"{n} {k}" for k, n in sorted(logs.shadow_calls.items()))
    print(f"mirrored copies: {copies}; {result.get('pairs', 0)} paired rows")
    for check in result.get("checks", []):
        sign = "≥" if check["kind"] == "min" else "≤"
        value = "—" if check["value"] is None else f"{check['value']:.4g}"
        print(f"  {check['name']}: {value} ({sign} {check['limit']:g}) "
              f"{'pass' if check['passed'] else 'FAIL'}")
    say(f"shadow analyze: exit {code} ({'pass' if code == 0 else 'fail'}), expected "
        f"{expected_exit}")
    return code == expected_exit, run


def monitor(lab: MonitorLab, what: str, logs: Logs, expected_exit: int,
            expected_top: str | None = None) -> tuple[bool, FileRun]:
    """Whether `monitor` gave the expected exit code (and top drifted feature), and the
    run."""
    name = logs.predictions.parent.name
    say(f"monitor: {what}")
    report = lab.root.parent / f"{name}.html"
    files = {"--current": logs.predictions, "--events": logs.events}
    code, result = modelrail(["monitor", "--reference", str(lab.reference),
                              *(arg for flag, path in files.items() for arg in (flag, str(path))),
                              "--report", str(report)], lab.root.parent / f"{name}.json")
    run = FileRun(f"monitor_{name}", f"monitor, {what}", ("monitor",),
                  ("--reference", str(lab.reference)), files, code, result)
    top = max(result.get("checks", []), key=lambda check: check.get("psi") or 0.0,
              default={"name": None, "psi": None})
    print(f"{result.get('current_rows')} rows: severity {result.get('severity') or 'none'}, "
          f"action {result.get('action') or 'none'}; top drifted feature {top['name']} "
          f"(PSI {top['psi'] or 0:.3f})")
    say(f"monitor: exit {code}, expected {expected_exit} (report: {report})")
    return code == expected_exit and (expected_top is None or top["name"] == expected_top), run


def main() -> int:
    return run_alone(monitor_stage, "monitor", "shadow + monitor",
                     "the agreeing candidate passed, the miscalibrated one failed; plain "
                     "traffic raised nothing, the price drift asked for a rollback; PostgreSQL "
                     "and Spark gave the same verdicts and statistics as the files")


if __name__ == "__main__":
    raise SystemExit(main())
