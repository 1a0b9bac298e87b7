"""Live canary runs, repeated: `modelrail canary run` against the canary lab.

Each repetition starts a fresh lab (tests/support/labs/canary.py: the example model's real
server for stable and canary, a real Prometheus scraping both every second, 20 req/s split
by the Rollouts stand-in's weight, or with `--backend istio` by the weights of the
VirtualService route the stand-in's istiod last pushed, or with `--backend kserve` by the
traffic the KServe stand-in's Knative route resolved) twice: once with a good canary
(the same model as stable, a new version) and once with the miscalibrated one
(`class_weight: balanced`), each through steps 10/25/50/100 % of `--step-seconds`, judged
by `lab_policy()`.

What it shows: how often a good canary is rolled back (the judge's budget is 1 % per
rollout), at which weight the bad one is caught (target: the first step), and how long a
run takes. bench/canary_judge.py measures the judge itself on simulated streams.

    python bench/canary_live.py [--runs 3] [--step-seconds 10] [--backend argo|istio|kserve]
        # prints a table, writes bench/results/canary_live.json (argo) or
        # bench/results/canary_live_<backend>.json
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support
from tests.support.labs.canary import Side, run_canary_cli
from tests.support.paths import REPO_ROOT

STABLE = Side("ghcr.io/acme/ctr-ranker:v1", version="1")
KINDS = {"good": Side("ghcr.io/acme/ctr-ranker:v2", version="2"),
         "miscalibrated": Side("ghcr.io/acme/ctr-ranker:v3", version="3", faulty=True)}
STEPS = (10, 25, 50, 100)
RESULTS = {"argo": REPO_ROOT / "bench" / "results" / "canary_live.json",
           "istio": REPO_ROOT / "bench" / "results" / "canary_live_istio.json",
           "kserve": REPO_ROOT / "bench" / "results" / "canary_live_kserve.json"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--backend", choices=sorted(RESULTS), default="argo")
    args = parser.parse_args()
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="canary-live-") as scratch:
        for number in range(1, args.runs + 1):
            for kind, side in KINDS.items():
                outcome = run_canary_cli(Path(scratch) / f"{kind}-{number}", STABLE, side,
                                         steps=STEPS, step_seconds=args.step_seconds,
                                         quiet=True, backend=args.backend)
                runs.append({"kind": kind, "run": number, "exit_code": outcome.exit_code,
                             "result": outcome.result["result"],
                             "failed_step": outcome.result["failed_step"],
                             "final_weight": outcome.weight,
                             "seconds": round(outcome.seconds, 1)})
                print(f"{kind:<14} run {number}: {runs[-1]}", flush=True)
    summary = [_summary(kind, [r for r in runs if r["kind"] == kind]) for kind in KINDS]
    print(f"\n{'canary':<14} {'runs':>4} {'promoted':>8} {'aborted':>7} "
          f"{'caught at':<16} {'mean run':>8}")
    for row in summary:
        print(f"{row['kind']:<14} {row['runs']:>4} {row['promoted']:>8} {row['aborted']:>7} "
              f"{row['caught_at']:<16} {row['mean_seconds']:>7}s")
    results = RESULTS[args.backend]
    results.write_text(json.dumps({"backend": args.backend, "steps": STEPS,
                                   "step_seconds": args.step_seconds, "rate_per_second": 20,
                                   "summary": summary, "runs": runs},
                                  indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {results.relative_to(REPO_ROOT)}")
    return 0


def _summary(kind: str, runs: list[dict[str, object]]) -> dict[str, object]:
    caught = [f"{r['failed_step']}%" for r in runs if r["result"] == "aborted"]
    seconds = [float(str(r["seconds"])) for r in runs]
    return {"kind": kind, "runs": len(runs),
            "promoted": sum(r["result"] == "promoted" for r in runs),
            "aborted": len(caught), "caught_at": ",".join(caught) or "-",
            "mean_seconds": round(statistics.fmean(seconds), 1) if seconds else None}


if __name__ == "__main__":
    raise SystemExit(main())
