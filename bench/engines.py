"""The A/B aggregation on each SQL engine: DuckDB, PostgreSQL and Spark (local master).

Scaffolding for issue 18's bench (100 M rows are for later): the Parquet logs of
`bench/ab_join.py` (`generate`, default 1 M prediction rows + 1 M events) are aggregated
by modelrail's real code on each engine, each in its own subprocess, and the statistics
must agree (relative 1e-9) before any number is printed. Per engine: wall time of the
aggregation, CPU time and peak resident memory of every process doing the work, and the
start-up cost apart:

- duckdb: `aggregate_logs` over the files (in the worker; MODELRAIL_DUCKDB_MEMORY bounds
  it);
- postgres: the aggregation of `aggregate_on` on a throwaway server (Debian's
  `postgresql`) whose tables were loaded beforehand (not timed); CPU and peak memory are
  the worker's plus its server backend's (shared buffers it touched count in its RSS);
- spark: `aggregate_on` on `local[2]` (Java 17); CPU and peak memory are the worker's
  plus the JVM's; the session's start-up is reported apart (`startup_seconds`).

Peak memory of several processes is the sum of each one's peak (an upper bound).

    python bench/engines.py [--rows 1000000] [--engines duckdb,postgres,spark]
    # prints a table, writes bench/results/engines.json
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support

from modelrail.ab.aggregate import Aggregation

from bench.ab_join import (
    EXPERIMENT,
    VARIANTS,
    WINDOW_SECONDS,
    check_same,
    flat_stats,
    generate,
    measure,
    write_results,
)
from tests.support.paths import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results" / "engines.json"
DSN_VARIABLE = "MODELRAIL_BENCH_DSN"
SPARK_MASTER = "local[2]"
AGGREGATION = Aggregation(experiment=EXPERIMENT, window_seconds=WINDOW_SECONDS)
Stats = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Run:
    """One engine's aggregation in a worker: the statistics, the seconds spent starting
    before it, and the CPU seconds and peak RSS (MiB) of the helper process that did the
    work (the JVM, the server backend; zeros for DuckDB, which works in the worker)."""

    stats: Stats
    startup_seconds: float = 0.0
    helper_cpu_seconds: float = 0.0
    helper_peak_rss_mb: float = 0.0


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
    with spark.session(SPARK_MASTER) as session:
        startup = time.perf_counter() - started
        logs = aggregate_on(Location("spark", spark_master=SPARK_MASTER), str(predictions),
                            str(events), VARIANTS, AGGREGATION)  # in `session`, still open
        jvm = session.sparkContext._gateway.proc.pid  # type: ignore[union-attr]
        cpu, peak = usage(jvm)
    return Run(flat_stats(logs), startup, cpu, peak)


ENGINES: dict[str, Callable[[Path, Path], Run]] = {
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
    """One measurement; prints its JSON on stdout. `seconds` is the aggregation's wall
    time (start-up apart); CPU and peak memory include the start-up, as on a runner."""
    started = time.perf_counter()
    run = ENGINES[engine](directory / "predictions.parquet", directory / "events.parquet")
    own_cpu, own_peak = usage(os.getpid())
    print(json.dumps({
        "engine": engine, "seconds": time.perf_counter() - started - run.startup_seconds,
        "startup_seconds": run.startup_seconds,
        "cpu_seconds": own_cpu + run.helper_cpu_seconds,
        "peak_rss_mb": own_peak + run.helper_peak_rss_mb,
        "helper_peak_rss_mb": run.helper_peak_rss_mb, "stats": run.stats}))


@contextmanager
def postgres_loaded(predictions: Path, events: Path) -> Iterator[str]:
    """A throwaway server with the typed tables loaded from the Parquet logs."""
    from tests.support.builders.ab_tables import create_tables, load_postgres  # noqa: PLC0415
    from tests.support.services.postgres import postgres_server  # noqa: PLC0415

    with postgres_server() as dsn:
        create_tables(dsn)
        load_postgres(dsn, predictions, events)
        yield dsn


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="prediction rows, and as many events")
    parser.add_argument("--engines", type=lambda text: text.split(","),
                        default=list(ENGINES), help="comma-separated: duckdb,postgres,spark")
    parser.add_argument("--worker", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    unknown = sorted(set(args.engines) - set(ENGINES))
    if unknown:
        parser.error(f"--engines: unknown {unknown}; choose from {', '.join(ENGINES)}")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="modelrail-engines-") as temp:
        directory = Path(temp)
        predictions, events = generate(directory, args.rows)
        server: AbstractContextManager[str | None] = \
            postgres_loaded(predictions, events) if "postgres" in args.engines \
            else nullcontext(None)
        with server as dsn:
            env = {DSN_VARIABLE: dsn} if dsn else {}
            results = [measure(engine, directory, env, __file__) for engine in args.engines]
    for other in results[1:]:
        check_same(results[0], other)
    print(f"{args.rows:,} prediction rows + {args.rows:,} events (Parquet)")
    print(f"{'engine':<10} {'seconds':>8} {'start-up s':>10} {'CPU s':>7} "
          f"{'peak RSS MiB':>13} {'of it helper':>13}")
    for result in results:
        print(f"{result['engine']:<10} {result['seconds']:>8.1f} "
              f"{result['startup_seconds']:>10.1f} {result['cpu_seconds']:>7.1f} "
              f"{result['peak_rss_mb']:>13.0f} {result['helper_peak_rss_mb']:>13.0f}")
    write_results(RESULTS, args.rows, load, results, results[0]["stats"])


if __name__ == "__main__":
    main()
