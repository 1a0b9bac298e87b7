"""Monitoring cost: `modelrail monitor` on 10 million logged predictions with 20 features,
and what shadow mirroring adds to production's p99 latency.

1. Monitor. DuckDB writes a Parquet prediction log of `--rows` rows (default 10 million):
   14 numeric features (normal, log-normal and uniform, 3 decimals), 6 categorical ones
   (10-50 levels), a prediction, a timestamp and a request id; one numeric feature (n0,
   standard normal) is shifted by 0.5. The reference is 50 000 rows of the unshifted
   generator (another seed). The bench runs `modelrail monitor --json` as a child process
   and reports its wall time and peak resident memory (the child's own rusage, from
   wait4), `--monitor-runs` times for each DuckDB memory limit of `--memory-limits`
   (MODELRAIL_DUCKDB_MEMORY; default: the environment's, else modelrail's default).
2. Shadow. The example model is trained and served (`python -m ctr_serving`, one for
   production, one for the shadow), with two routers in front of production: one plain,
   one with `SHADOW` set. Each round sends `--requests` requests (5 rows each) to each
   router from one closed-loop client, in an order that alternates between rounds; the
   overhead is p99(shadow router) / p99(plain router) - 1, median over rounds.

    python bench/monitor.py [--rows N] [--monitor-runs N] [--memory-limits 2GB,1GB]
                            [--rounds N] [--requests N]
    # table; bench/results/monitor.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support

from modelrail.plumbing.duck import MEMORY_VARIABLE, memory_limit

from tests.support.labs.example_apps import example_app
from tests.support.labs.monitor import MonitorLab
from tests.support.paths import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results" / "monitor.json"
REFERENCE_ROWS = 50_000
NUMERIC = 14
CATEGORICAL = 6
NULL_SHARE = 0.02


def _columns(shift: float, nulls: bool = False) -> str:
    """The features (and the prediction) as DuckDB expressions; with `nulls`, n4, n9 and
    c4 are missing (NULL) in NULL_SHARE of the rows."""
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
        numeric.append(f"{_maybe_null(f'round({expr}, 3)', nulls and index % 5 == 4)} "
                       f"AS n{index}")
    levels = [f"CAST(floor(power(random(), 2) * {10 + 8 * i}) AS INTEGER)"
              for i in range(CATEGORICAL)]
    categorical = [f"{_maybe_null(level, nulls and i == 4)} AS c{i}"
                   for i, level in enumerate(levels)]
    return ", ".join([*numeric, *categorical,
                      "round(1 / (1 + exp(3 - random())), 4) AS prediction"])


def _maybe_null(expression: str, nullable: bool) -> str:
    return f"CASE WHEN random() < {NULL_SHARE} THEN NULL ELSE {expression} END" \
        if nullable else expression


def write_data(directory: Path, rows: int, nulls: bool = False) -> tuple[Path, Path, Path]:
    import duckdb  # noqa: PLC0415 - the [monitor] extra

    reference, current = directory / "reference.parquet", directory / "current.parquet"
    with duckdb.connect() as db:
        db.execute("SELECT setseed(0.11)")
        db.execute(f"COPY (SELECT {_columns(0.0, nulls)} FROM range({REFERENCE_ROWS})) "  # noqa: S608
                   f"TO '{reference}' (FORMAT parquet)")
        db.execute("SELECT setseed(0.42)")
        db.execute(f"COPY (SELECT TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_milliseconds(i) "  # noqa: S608
                   f"AS timestamp, 'r' || i AS request_id, 0 AS row, {_columns(0.5, nulls)} "
                   f"FROM range({rows}) t(i)) TO '{current}' (FORMAT parquet)")
    policy = directory / "modelrail.yaml"
    categorical = ", ".join(f"c{i}" for i in range(CATEGORICAL))
    policy.write_text(f"model: bench\nmonitor:\n  min_rows: 1000\n"
                      f"  categorical: [{categorical}]\n", encoding="utf-8")
    return policy, reference, current


def monitor_command(policy: Path, reference: Path, current: Path, out: Path) -> list[str]:
    """`modelrail monitor` of this interpreter's environment, writing its JSON to `out`."""
    return [str(Path(sys.executable).parent / "modelrail"), "monitor", "--config",
            str(policy), "--reference", str(reference), "--current", str(current),
            "--json", str(out), "--no-summary"]


def monitor_once(policy: Path, reference: Path, current: Path, out: Path,
                 limit: str) -> dict[str, Any]:
    """One `modelrail monitor` child under the DuckDB memory `limit`. Its peak RSS comes
    from wait4 on it alone: RUSAGE_CHILDREN would keep the largest of all runs so far."""
    command = monitor_command(policy, reference, current, out)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(command, env={**os.environ, MEMORY_VARIABLE: limit},
                                 stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        stderr.seek(0)
        error = stderr.read().decode()[-2000:]
    measured = {"duckdb_memory_limit": limit, "seconds": seconds,
                "peak_rss_mib": usage.ru_maxrss / 1024, "exit_code": child.returncode}
    if child.returncode == 2 and MEMORY_VARIABLE in error:  # too small a limit: a result
        return {**measured, "flagged": None, "error": error.strip()}
    if child.returncode not in (0, 1):
        raise RuntimeError(f"modelrail monitor with {MEMORY_VARIABLE}={limit} failed "
                           f"({child.returncode}): {error}")
    result = json.loads(out.read_text())
    return {**measured, "flagged": [c["name"] for c in result["checks"] if c["severity"]]}


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


def _by_limit(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median seconds and largest peak RSS per memory limit."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault(run["duckdb_memory_limit"], []).append(run)
    return {limit: {"seconds_median": statistics.median(r["seconds"] for r in group),
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in group)}
            for limit, group in grouped.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="monitor and shadow mirroring costs")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--monitor-runs", type=int, default=1)
    parser.add_argument("--memory-limits", type=lambda text: text.split(","),
                        default=[memory_limit()],
                        help=f"comma-separated {MEMORY_VARIABLE} values, one series each")
    parser.add_argument("--rounds", type=int, default=3, help="shadow rounds (0: none)")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        policy, reference, current = write_data(root, args.rows)
        generated = time.perf_counter() - started
        runs = [monitor_once(policy, reference, current, root / f"out-{i}.json", limit)
                for limit in args.memory_limits for i in range(args.monitor_runs)]
        shadow = shadow_overhead(root / "shadow", args.rounds, args.requests) \
            if args.rounds else None
    print(f"monitor: {args.rows:,} rows x {NUMERIC + CATEGORICAL} features "
          f"(+ prediction), reference {REFERENCE_ROWS:,} rows; data written in {generated:.0f}s")
    print(f"| run | {MEMORY_VARIABLE} | seconds | peak RSS MiB | flagged |\n"
          "|---|---|---|---|---|")
    for index, run in enumerate(runs):
        print(f"| {index + 1} | {run['duckdb_memory_limit']} | {run['seconds']:.1f} | "
              f"{run['peak_rss_mib']:.0f} | {_flagged(run['flagged'])} |")
    if shadow is not None:
        _print_shadow(shadow, args.rounds, args.requests)
    RESULTS.write_text(json.dumps({
        "rows": args.rows, "features": NUMERIC + CATEGORICAL,
        "reference_rows": REFERENCE_ROWS, "cores": os.cpu_count(),
        "load_average_at_end": os.getloadavg()[0], "monitor_runs": runs,
        "by_memory_limit": _by_limit(runs), "shadow": shadow}, indent=2) + "\n", encoding="utf-8")


def _flagged(names: list[str] | None) -> str:
    return "did not fit: exit 2" if names is None else ", ".join(names) or "-"


def _print_shadow(shadow: dict[str, Any], rounds: int, count: int) -> None:
    print(f"\nshadow mirroring, {count} requests x {rounds} rounds:")
    print("| round | plain p50 ms | plain p99 ms | mirrored p50 ms | mirrored p99 ms |")
    print("|---|---|---|---|---|")
    for index, r in enumerate(shadow["rounds"]):
        print(f"| {index + 1} | {r['plain']['p50_ms']:.2f} | {r['plain']['p99_ms']:.2f} | "
              f"{r['mirrored']['p50_ms']:.2f} | {r['mirrored']['p99_ms']:.2f} |")
    print(f"p99 overhead: median {shadow['p99_overhead_median']:+.1%} "
          f"(min {shadow['p99_overhead_min']:+.1%}, max {shadow['p99_overhead_max']:+.1%})")


if __name__ == "__main__":
    main()
