"""The log aggregations on each SQL engine, from 10 M to 100 M rows: how each one grows.

Two aggregations, each over Parquet generated once per size by DuckDB into `--data`
(default /var/tmp/modelrail-bench; reused while its `.complete` marker is there):

- ab: predictions + as many events (`bench/ab_join.generate`, heavy-tailed users: a few
  with thousands of impressions, many with one, ties in time, users without a session)
  aggregated by modelrail's real code (`aggregate_logs` on DuckDB, `aggregate_on` on Spark, or the
  PostgreSQL aggregation on a throwaway server whose tables were loaded untimed); the
  engines' statistics must agree (relative 1e-9) before any number is kept;
- monitor: N rows x 20 features against a 50 000-row reference (`bench/monitor.write_data`
  with 2 % nulls in three features), the real `modelrail monitor` command (with
  `--engine spark --spark-master local[2]` on Spark); the engines must flag the same
  checks.

Every measurement is a fresh process (the worker, or `modelrail monitor`) that the bench
samples every SAMPLE_SECONDS in /proc, with all its descendants (Spark's JVM, DuckDB's
threads are in the process): wall time, CPU seconds of the whole tree (the larger of the
sampled sum and wait4's rusage, which holds the children the worker reaped), peak RSS of
the tree (the sum at the sampled instant with the most; a peak shorter than a sample can
be missed) and the peak size of the spill directories (DuckDB's under RUNNER_TEMP,
Spark's SPARK_LOCAL_DIRS). DuckDB runs under modelrail's default memory limit (2 GB,
`modelrail.plumbing.duck`), Spark on `local[2]` with `modelrail.plumbing.spark`'s
settings. PostgreSQL's server backend is outside the tree: its CPU and peak RSS are read
from /proc and added. The page cache is warm (the data was just written or read): no
measurement reads from a cold disk. The load average before and after each run is
recorded: the machine may be shared, so wall times are the fragile numbers, CPU time and
peak memory the robust ones.

Results accumulate in bench/results/engines.json, keyed by aggregation, engine and size,
so a sweep can be run in parts (e.g. Spark at a smaller top size); the table and the
growth from the smallest to the largest size measured are printed from all of them.

    python bench/engines.py [--sizes 10000000,100000000] [--aggregations ab,monitor]
                            [--engines duckdb,spark] [--data DIR]
"""

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support

from modelrail.ab.aggregate import Aggregation
from modelrail.plumbing.duck import DEFAULT_MEMORY, MEMORY_VARIABLE

from bench.ab_join import (
    EXPERIMENT,
    VARIANTS,
    WINDOW_SECONDS,
    check_same,
    flat_stats,
    generate,
)
from bench.monitor import monitor_command, write_data
from tests.support.paths import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results" / "engines.json"
DEFAULT_DATA = Path("/var/tmp/modelrail-bench")  # noqa: S108 - kept between runs: /var/tmp
DEFAULT_SIZES = (10_000_000, 100_000_000)
DSN_VARIABLE = "MODELRAIL_BENCH_DSN"
SPARK_MASTER = "local[2]"
SAMPLE_SECONDS = 0.25
AGGREGATION = Aggregation(experiment=EXPERIMENT, window_seconds=WINDOW_SECONDS)
AGGREGATIONS = {"ab": ("duckdb", "postgres", "spark"), "monitor": ("duckdb", "spark")}
MONITOR_FLAGS = {"duckdb": [], "spark": ["--engine", "spark", "--spark-master", SPARK_MASTER]}
ENGINE_NAMES = ("duckdb", "postgres", "spark")
Stats = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Run:
    """One engine's A/B aggregation in a worker: the statistics, the seconds spent starting
    before it, and the CPU seconds and peak RSS (MiB) of a server process outside the
    worker's tree that did the work (PostgreSQL's backend; zeros otherwise)."""

    stats: Stats
    startup_seconds: float = 0.0
    outside_cpu_seconds: float = 0.0
    outside_peak_rss_mb: float = 0.0


def run_duckdb(predictions: Path, events: Path) -> Run:
    from modelrail.ab.aggregate import aggregate_logs  # noqa: PLC0415

    return Run(flat_stats(aggregate_logs(predictions, events, VARIANTS,
                                         experiment=EXPERIMENT,
                                         window_seconds=WINDOW_SECONDS)))


def run_postgres(_predictions: Path, _events: Path) -> Run:
    """`collect` on a connection of our own, so its backend can be measured before it
    ends (what `aggregate_on` does on PostgreSQL, after its table checks)."""
    from modelrail.ab.aggregate import collect  # noqa: PLC0415
    from modelrail.plumbing import postgres  # noqa: PLC0415

    with postgres.connect(os.environ[DSN_VARIABLE]) as connection:
        logs = collect(postgres.engine(connection), ("predictions", "events"), VARIANTS,
                       AGGREGATION, sources=("predictions", "events"), data={})
        cpu, peak = usage(connection.info.backend_pid)
    return Run(flat_stats(logs), 0.0, cpu, peak)


def run_spark(predictions: Path, events: Path) -> Run:
    from modelrail.ab.aggregate import aggregate_on  # noqa: PLC0415
    from modelrail.plumbing import spark  # noqa: PLC0415
    from modelrail.plumbing.engines import Location  # noqa: PLC0415

    started = time.perf_counter()
    with spark.session(SPARK_MASTER):
        startup = time.perf_counter() - started
        logs = aggregate_on(Location("spark", spark_master=SPARK_MASTER), str(predictions),
                            str(events), VARIANTS, AGGREGATION)  # in the session, still open
    return Run(flat_stats(logs), startup)


AB_RUNS: dict[str, Callable[[Path, Path], Run]] = {
    "duckdb": run_duckdb, "postgres": run_postgres, "spark": run_spark}


def usage(pid: int) -> tuple[float, float]:
    """A live process's CPU seconds (user + system) and peak RSS in MiB (VmHWM)."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return cpu, int(line.split()[1]) / 1024
    raise SystemExit(f"no VmHWM for process {pid}: this bench needs Linux")


def worker(engine: str, directory: Path) -> None:
    """One A/B measurement; prints its JSON on stdout. `seconds` is the aggregation's wall
    time (start-up apart)."""
    started = time.perf_counter()
    run = AB_RUNS[engine](directory / "predictions.parquet", directory / "events.parquet")
    print(json.dumps({
        "aggregation_seconds": time.perf_counter() - started - run.startup_seconds,
        "startup_seconds": run.startup_seconds,
        "outside_cpu_seconds": run.outside_cpu_seconds,
        "outside_peak_rss_mb": run.outside_peak_rss_mb, "stats": run.stats}))


@dataclass
class Tree:
    """What the sampler saw of a process and its descendants."""

    peak_rss_mb: float = 0.0
    cpu_by_pid: dict[int, float] = field(default_factory=dict)
    peak_spill_mb: float = 0.0


def _sample(root: int, spill: Path, tree: Tree, done: threading.Event) -> None:
    while not done.wait(SAMPLE_SECONDS):
        processes = _descendants(root)
        rss = 0.0
        for pid, (cpu, resident_mb) in processes.items():
            tree.cpu_by_pid[pid] = cpu
            rss += resident_mb
        tree.peak_rss_mb = max(tree.peak_rss_mb, rss)
        tree.peak_spill_mb = max(tree.peak_spill_mb, _size_mb(spill))


def _descendants(root: int) -> dict[int, tuple[float, float]]:
    """`root` and every process below it: pid -> (CPU seconds, RSS MiB), from /proc."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        try:  # fields after the command name: state is [0], ppid [1], utime [11]
            stats[int(entry.name)] = (entry / "stat").read_text(encoding="utf-8") \
                .rsplit(")", 1)[1].split()
        except (ValueError, OSError):  # not a process, or it ended meanwhile
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, fields in stats.items() if int(fields[1]) == parent]
        tree.update(children)
        frontier.extend(children)
    ticks, page_mb = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE") / 2**20
    return {pid: ((int(stats[pid][11]) + int(stats[pid][12])) / ticks,
                  int(stats[pid][21]) * page_mb)  # rss in pages
            for pid in tree if pid in stats}


def _size_mb(directory: Path) -> float:
    total = 0
    for parent, _, files in os.walk(directory):
        for name in files:
            try:
                total += (Path(parent) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total / 2**20


def measure_tree(command: list[str], env: dict[str, str], data: Path) -> dict[str, Any]:
    """Run `command` to its end, sampled (module docstring); its measurements and the
    last line of its stdout. Spill directories go to a fresh directory under `data`."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="spill-", dir=data) as spill, \
            tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, env={
            **os.environ, **env, "RUNNER_TEMP": spill, "SPARK_LOCAL_DIRS": spill})
        tree, done = Tree(), threading.Event()
        sampler = threading.Thread(target=_sample, args=(child.pid, Path(spill), tree, done))
        sampler.start()
        _, status, rusage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        lines = stdout.read().decode().strip().splitlines()
        error = stderr.read().decode()[-3000:]
    return {"seconds": seconds, "exit_code": child.returncode, "error": error,
            "cpu_seconds": max(sum(tree.cpu_by_pid.values()),
                               rusage.ru_utime + rusage.ru_stime),
            "peak_rss_mb": tree.peak_rss_mb, "peak_spill_mb": tree.peak_spill_mb,
            "processes": len(tree.cpu_by_pid), "load_before": load_before,
            "load_after": os.getloadavg()[0], "output": lines[-1] if lines else ""}


def measure_ab(engine: str, directory: Path, env: dict[str, str]) -> dict[str, Any]:
    measured = measure_tree([sys.executable, __file__, "--worker", engine,
                             "--data", str(directory)], env, directory.parent)
    if measured.pop("exit_code") != 0:
        raise SystemExit(f"ab on {engine} failed:\n{measured['error']}")
    own = json.loads(measured.pop("output"))
    return {**measured, **own,
            "cpu_seconds": measured["cpu_seconds"] + own.pop("outside_cpu_seconds"),
            "peak_rss_mb": measured["peak_rss_mb"] + own.pop("outside_peak_rss_mb")}


def measure_monitor(engine: str, directory: Path) -> dict[str, Any]:
    out = directory / f"monitor-{engine}.json"
    command = monitor_command(directory / "modelrail.yaml", directory / "reference.parquet",
                              directory / "current.parquet", out)
    measured = measure_tree([*command, *MONITOR_FLAGS[engine]], {}, directory.parent)
    if measured.pop("exit_code") not in (0, 1):
        raise SystemExit(f"monitor on {engine} failed:\n{measured['error']}")
    checks = json.loads(out.read_text(encoding="utf-8"))["checks"]
    measured.pop("output")
    return {**measured, "flagged": [check["name"] for check in checks if check["severity"]]}


def prepared(data: Path, aggregation: str, rows: int) -> Path:
    """The directory holding `aggregation`'s data at `rows`, generated unless complete."""
    directory = data / f"{aggregation}-{rows}"
    marker = directory / ".complete"
    if not marker.exists():
        directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        if aggregation == "ab":
            generate(directory, rows, skewed=True, memory_limit="3GB")
        else:
            write_data(directory, rows, nulls=True)
        marker.write_text(f"{time.perf_counter() - started:.1f}\n", encoding="utf-8")
    return directory


@contextmanager
def postgres_loaded(directory: Path) -> Iterator[str]:
    """A throwaway server with the typed tables loaded from the Parquet logs."""
    from tests.support.builders.ab_tables import create_tables, load_postgres  # noqa: PLC0415
    from tests.support.services.postgres import postgres_server  # noqa: PLC0415

    with postgres_server() as dsn:
        create_tables(dsn)
        load_postgres(dsn, directory / "predictions.parquet", directory / "events.parquet")
        yield dsn


def bench_ab(directory: Path, rows: int, engines: list[str]) -> list[dict[str, Any]]:
    engines = [engine for engine in engines if engine in AGGREGATIONS["ab"]]
    server: AbstractContextManager[str | None] = \
        postgres_loaded(directory) if "postgres" in engines else nullcontext(None)
    with server as dsn:
        env = {DSN_VARIABLE: dsn} if dsn else {}
        return [{"aggregation": "ab", "engine": engine, "rows": rows,
                 **measure_ab(engine, directory, env)} for engine in engines]


def bench_monitor(directory: Path, rows: int, engines: list[str]) -> list[dict[str, Any]]:
    results = [{"aggregation": "monitor", "engine": engine, "rows": rows,
                **measure_monitor(engine, directory)}
               for engine in engines if engine in AGGREGATIONS["monitor"]]
    for other in results[1:]:
        if other["flagged"] != results[0]["flagged"]:
            raise SystemExit(f"monitor: {other['engine']} flagged {other['flagged']}, "
                             f"{results[0]['engine']} {results[0]['flagged']}")
    return results


def stamped(result: dict[str, Any]) -> dict[str, Any]:
    """A result as kept: the settings it ran with, rows/s; no stderr. The A/B statistics
    stay, so runs of other engines at that size, later, are checked against them."""
    kept = {key: value for key, value in result.items() if key != "error"}
    return {**kept, "rows_per_second": result["rows"] / result["seconds"],
            "duckdb_memory_limit": DEFAULT_MEMORY if result["engine"] == "duckdb" else None,
            "spark_master": SPARK_MASTER if result["engine"] == "spark" else None,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}


def merged(previous: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`previous` results with those `new` measures again replaced, ordered for the table."""
    def key(result: dict[str, Any]) -> tuple[str, str, int]:
        return result["aggregation"], result["engine"], result["rows"]
    by_key = {key(result): result for result in previous} | {key(r): r for r in new}
    return [by_key[k] for k in sorted(by_key)]


def growth(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per aggregation and engine, from each size measured to the next: how wall time, CPU
    time and peak RSS grow, beside the rows' own factor (linear: the same factor)."""
    grown: list[dict[str, Any]] = []
    for aggregation, engines in AGGREGATIONS.items():
        for engine in engines:
            runs = [r for r in results
                    if (r["aggregation"], r["engine"]) == (aggregation, engine)]
            grown.extend({"aggregation": aggregation, "engine": engine,
                          "from_rows": small["rows"], "to_rows": large["rows"],
                          "rows": large["rows"] / small["rows"],
                          **{name: large[name] / small[name]
                             for name in ("seconds", "cpu_seconds", "peak_rss_mb")}}
                         for small, large in itertools.pairwise(runs))
    return grown


def print_table(results: list[dict[str, Any]], grown: list[dict[str, Any]]) -> None:
    print(f"{'aggregation':<11} {'engine':<8} {'rows':>12} {'wall s':>8} {'CPU s':>8} "
          f"{'peak RSS MiB':>12} {'spill MiB':>9} {'rows/s':>10} {'load before/after':>17}")
    for r in results:
        print(f"{r['aggregation']:<11} {r['engine']:<8} {r['rows']:>12,} {r['seconds']:>8.1f} "
              f"{r['cpu_seconds']:>8.1f} {r['peak_rss_mb']:>12.0f} {r['peak_spill_mb']:>9.0f} "
              f"{r['rows_per_second']:>10,.0f} "
              f"{r['load_before']:>8.1f}/{r['load_after']:<8.1f}")
    for g in grown:
        print(f"growth {g['aggregation']}/{g['engine']} {g['from_rows']:,} -> {g['to_rows']:,} "
              f"rows (x{g['rows']:.0f}): wall x{g['seconds']:.1f}, CPU x{g['cpu_seconds']:.1f}, "
              f"peak RSS x{g['peak_rss_mb']:.2f}")
    print(f"on {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, shared (load average per run above: wall times depend "
          "on it); page cache warm; A/B statistics identical across engines (rel 1e-9)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=lambda text: [int(n) for n in text.split(",")],
                        default=list(DEFAULT_SIZES),
                        help="comma-separated row counts (predictions, and as many events; "
                             "monitor log rows)")
    parser.add_argument("--aggregations", type=lambda text: text.split(","),
                        default=list(AGGREGATIONS), help="comma-separated: ab,monitor")
    parser.add_argument("--engines", type=lambda text: text.split(","),
                        default=["duckdb", "spark"],
                        help="comma-separated: duckdb,postgres,spark")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="where the generated Parquet is kept between runs")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the JSON the results accumulate in")
    parser.add_argument("--worker", choices=sorted(AB_RUNS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    for flag, chosen, valid in (("--engines", args.engines, ENGINE_NAMES),
                                ("--aggregations", args.aggregations, tuple(AGGREGATIONS))):
        unknown = sorted(set(chosen) - set(valid))
        if unknown:
            parser.error(f"{flag}: unknown {unknown}; choose from {', '.join(valid)}")
    os.environ.pop(MEMORY_VARIABLE, None)  # DuckDB at modelrail's default limit
    args.data.mkdir(parents=True, exist_ok=True)
    benches = {"ab": bench_ab, "monitor": bench_monitor}
    new = [stamped(result) for rows in sorted(args.sizes)
           for aggregation in args.aggregations
           for result in benches[aggregation](prepared(args.data, aggregation, rows), rows,
                                              args.engines)]
    previous = json.loads(args.results.read_text(encoding="utf-8"))["results"] \
        if args.results.exists() else []
    results = merged([r for r in previous if "aggregation" in r], new)
    for rows in args.sizes:  # every engine's A/B statistics at a size, of any run, agree
        checked = [r for r in results if r["rows"] == rows and r.get("stats")]
        for other in checked[1:]:
            check_same(checked[0], other)
    grown = growth(results)
    print_table(results, grown)
    args.results.write_text(json.dumps({
        "cores": os.cpu_count(), "sample_seconds": SAMPLE_SECONDS,
        "page_cache": "warm", "results": results, "growth": grown}, indent=2) + "\n",
        encoding="utf-8")


if __name__ == "__main__":
    main()
