"""Monitoring cost: `modelrail monitor` on 10 million logged predictions with 20 features,
and what shadow mirroring adds to production's p99 latency.

1. Monitor. DuckDB writes a Parquet prediction log of `--rows` rows (default 10 million):
   14 numeric features (normal, log-normal and uniform, 3 decimals), 6 categorical ones
   (10-50 levels), a prediction, a timestamp and a request id; one numeric feature (n0,
   standard normal) is shifted by 0.5. The reference is 50 000 rows of the unshifted
   generator (another seed). The bench runs `modelrail monitor --json` as a child process
   and reports its wall time and peak resident memory (getrusage of the child),
   `--monitor-runs` times.
2. Shadow. The example model is trained and served (`python -m ctr_serving`, one for
   production, one for the shadow), with two routers in front of production: one plain,
   one with `SHADOW` set. Each round sends `--requests` requests (5 rows each) to each
   router from one closed-loop client, in an order that alternates between rounds; the
   overhead is p99(shadow router) / p99(plain router) - 1, median over rounds.

    python bench/monitor.py [--rows N] [--monitor-runs N] [--rounds N] [--requests N]
    # table; bench/results/monitor.json
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.example_apps import example_app
from tests.support.monitor_lab import MonitorLab

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results" / "monitor.json"
REFERENCE_ROWS = 50_000
NUMERIC = 14
CATEGORICAL = 6


def _columns(shift: float) -> str:
    numeric = []
    for index in range(NUMERIC):
        kind = index % 3
        offset = shift if index == 0 else 0.0
        if kind == 0:
            expr = f"sqrt(-2 * ln(random())) * cos(2 * pi() * random()) + {offset}"
        elif kind == 1:
            expr = "exp(sqrt(-2 * ln(random())) * cos(2 * pi() * random()) * 0.5)"
        else:
            expr = "random() * 100"
        numeric.append(f"round({expr}, 3) AS n{index}")
    categorical = [f"CAST(floor(power(random(), 2) * {10 + 8 * i}) AS INTEGER) AS c{i}"
                   for i in range(CATEGORICAL)]
    return ", ".join([*numeric, *categorical,
                      "round(1 / (1 + exp(3 - random())), 4) AS prediction"])


def write_data(directory: Path, rows: int) -> tuple[Path, Path, Path]:
    import duckdb  # noqa: PLC0415 - the [monitor] extra

    reference, current = directory / "reference.parquet", directory / "current.parquet"
    with duckdb.connect() as db:
        db.execute("SELECT setseed(0.11)")
        db.execute(f"COPY (SELECT {_columns(0.0)} FROM range({REFERENCE_ROWS})) "  # noqa: S608
                   f"TO '{reference}' (FORMAT parquet)")
        db.execute("SELECT setseed(0.42)")
        db.execute(f"COPY (SELECT TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_milliseconds(i) "  # noqa: S608
                   f"AS timestamp, 'r' || i AS request_id, 0 AS row, {_columns(0.5)} "
                   f"FROM range({rows}) t(i)) TO '{current}' (FORMAT parquet)")
    policy = directory / "modelrail.yaml"
    categorical = ", ".join(f"c{i}" for i in range(CATEGORICAL))
    policy.write_text(f"model: bench\nmonitor:\n  min_rows: 1000\n"
                      f"  categorical: [{categorical}]\n", encoding="utf-8")
    return policy, reference, current


def monitor_once(policy: Path, reference: Path, current: Path, out: Path) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "modelrail"), "monitor",
                           "--config", str(policy), "--reference", str(reference),
                           "--current", str(current), "--json", str(out), "--no-summary"],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"modelrail monitor failed ({done.returncode}): {done.stderr}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.read_text())
    flagged = [c["name"] for c in result["checks"] if c["severity"]]
    return {"seconds": seconds, "peak_rss_mib": max(peak_kib, before) / 1024,
            "flagged": flagged}


def _latencies(url: str, body: dict[str, object], count: int) -> list[float]:
    seconds = []
    with requests.Session() as session:
        for index in range(count):
            started = time.perf_counter()
            response = session.post(f"{url}/predict", json={**body, "user_id": f"u{index}"},
                                    timeout=10)
            seconds.append(time.perf_counter() - started)
            response.raise_for_status()
    return seconds


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def shadow_overhead(root: Path, rounds: int, count: int) -> dict[str, Any]:
    lab = MonitorLab(root)
    rows = json.loads(json.dumps([{k: (float(v) if k in ("price", "popularity") else int(v))
                                   for k, v in row.items() if k != "prediction"}
                                  for row in _reference_rows(lab.reference, 5)]))
    body: dict[str, object] = {"rows": rows}
    model = {"MODEL_PATH": str(lab.model_dir), "MODEL_NAME": "ctr-ranker",
             "PREDICTION_LOG": "off"}
    with example_app("ctr_serving", {**model, "MODEL_VERSION": "1"}, root / "prod.log") as prod, \
            example_app("ctr_serving", {**model, "MODEL_VERSION": "2"}, root / "shadow.log") as shd:
        variants = {"EXPERIMENT": "bench", "VARIANTS": f"a={prod},b={prod}"}
        with example_app("ctr_router", variants, root / "plain.log") as plain, \
                example_app("ctr_router", {**variants, "SHADOW": f"candidate={shd}"},
                       root / "mirrored.log") as mirrored:
            _latencies(plain, body, 50)
            _latencies(mirrored, body, 50)  # warm-up
            per_round = []
            for index in range(rounds):
                order = [("plain", plain), ("mirrored", mirrored)]
                measured = {name: _latencies(url, body, count)
                            for name, url in (order if index % 2 == 0 else order[::-1])}
                per_round.append({name: {"p50_ms": 1000 * statistics.median(v),
                                         "p99_ms": 1000 * _p99(v)}
                                  for name, v in measured.items()})
    overheads = [r["mirrored"]["p99_ms"] / r["plain"]["p99_ms"] - 1 for r in per_round]
    return {"rounds": per_round, "p99_overhead_median": statistics.median(overheads),
            "p99_overhead_min": min(overheads), "p99_overhead_max": max(overheads)}


def _reference_rows(path: Path, count: int) -> list[dict[str, str]]:
    import csv  # noqa: PLC0415

    with path.open() as handle:
        return [row for _, row in zip(range(count), csv.DictReader(handle), strict=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description="monitor and shadow mirroring costs")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--monitor-runs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="shadow rounds")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        policy, reference, current = write_data(root, args.rows)
        generated = time.perf_counter() - started
        runs = [monitor_once(policy, reference, current, root / f"out-{i}.json")
                for i in range(args.monitor_runs)]
        shadow = shadow_overhead(root / "shadow", args.rounds, args.requests)
    seconds = [float(r["seconds"]) for r in runs]
    peak = max(float(r["peak_rss_mib"]) for r in runs)
    print(f"monitor: {args.rows:,} rows x {NUMERIC + CATEGORICAL} features "
          f"(+ prediction), reference {REFERENCE_ROWS:,} rows; data written in {generated:.0f}s")
    print("| run | seconds | peak RSS MiB | flagged |\n|---|---|---|---|")
    for index, run in enumerate(runs):
        print(f"| {index + 1} | {run['seconds']:.1f} | {run['peak_rss_mib']:.0f} | "
              f"{', '.join(run['flagged']) or '-'} |")
    print(f"\nshadow mirroring, {args.requests} requests x {args.rounds} rounds:")
    print("| round | plain p50 ms | plain p99 ms | mirrored p50 ms | mirrored p99 ms |")
    print("|---|---|---|---|---|")
    for index, r in enumerate(shadow["rounds"]):
        print(f"| {index + 1} | {r['plain']['p50_ms']:.2f} | {r['plain']['p99_ms']:.2f} | "
              f"{r['mirrored']['p50_ms']:.2f} | {r['mirrored']['p99_ms']:.2f} |")
    print(f"p99 overhead: median {shadow['p99_overhead_median']:+.1%} "
          f"(min {shadow['p99_overhead_min']:+.1%}, max {shadow['p99_overhead_max']:+.1%})")
    RESULTS.write_text(json.dumps({
        "rows": args.rows, "features": NUMERIC + CATEGORICAL,
        "reference_rows": REFERENCE_ROWS, "monitor_runs": runs,
        "monitor_seconds_median": statistics.median(seconds), "monitor_peak_rss_mib": peak,
        "shadow": shadow}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
