"""Join + aggregate of 10 million prediction rows and 10 million events: DuckDB against pandas.

The same Parquet files (generated once by DuckDB under a temp dir) are aggregated to the
per-variant sufficient statistics twice, each in its own subprocess so time and peak
memory (the process's peak RSS, interpreter and imports included) and CPU time are its
own (wall time depends on what else the machine runs; the load average is recorded):

- duckdb: modelrail's real aggregation (`modelrail.ab.aggregate.aggregate_logs`, the SQL
  of `sql/sufficient_stats.sql`);
- duckdb+report: the same plus what `ab analyze --report` adds, the statistics at every
  checkpoint of the interval-over-time plot (`sql/over_time.sql`, one more pass);
- pandas: a `merge`/`groupby` of the same data computing the same statistics (first
  exposure, impressions, clicks anchored to their request within the window, session
  durations after the first exposure). Every click in this data names its request, so
  the pandas version implements only that anchoring.

Both must agree (relative 1e-9) before any number is reported. The DuckDB runs repeat for
each memory limit of `--memory-limits` (MODELRAIL_DUCKDB_MEMORY, `modelrail.plumbing.duck`;
default: the environment's, else modelrail's default); a limit too small for a run is
reported as such (the MemoryLimitError an `ab analyze` user would get, exit 2).

    python bench/ab_join.py [--rows 10000000] [--memory-limits 2GB,1GB]
    # prints a table, writes bench/results/ab_join.json
"""

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support

from modelrail.errors import UsageError

from tests.support.paths import REPO_ROOT

if TYPE_CHECKING:
    from modelrail.ab.aggregate import LogStats

RESULTS = REPO_ROOT / "bench" / "results" / "ab_join.json"
VARIANTS = ("control", "treatment")
EXPERIMENT = "ranker-v2"
WINDOW_SECONDS = 30 * 60.0
IMPRESSIONS_PER_USER = 10
CTR = 0.10
LIFT = 0.05
FIELDS = ("units", "multi_variant_users", "impressions_sum", "impressions_sum_squares",
          "clicks_sum", "clicks_sum_squares", "clicks_impressions_sum_products",
          "duration_sum", "duration_sum_squares", "converted")

# Impression i belongs to user i % U in round i // U (two hours apart); event i follows
# impression i by 1-50 s: the last round's impressions end their user's session, the
# others are a click (10%, +5% relative in the treatment) or a view (a type the
# aggregation ignores). Heavy-tailed users (`skewed`): impression i goes to user
# floor(U * u^3) instead, u uniform from a hash of i, so a few users get thousands of
# impressions, many none, ties in time are common (a user's impressions of one round
# share their second) and users without an impression in the last round have no session.
_UNIFORM_USER = "i % $users"
_SKEWED_USER = "CAST(floor($users * pow((hash(i) % 1000003) / 1000003.0, 3)) AS BIGINT)"
_GENERATE = """
CREATE TABLE impressions AS
SELECT i, k, i // $users AS round,
       TIMESTAMPTZ '2026-01-01 00:00:00+00'
         + to_seconds(CAST((i // $users) * 7200 + k % 7200 AS DOUBLE)) AS ts,
       CASE WHEN hash('ranker-v2/' || k) % 2 = 0 THEN 'control'
            ELSE 'treatment' END AS variant
FROM (SELECT i, $user_of_i AS k FROM range($rows) AS t(i));
COPY (SELECT ts AS "timestamp", 'r' || i AS request_id, 'u' || k AS user_id, variant,
             'ranker-v2' AS experiment, 0.1 AS prediction
      FROM impressions) TO '$predictions' (FORMAT parquet);
COPY (SELECT ts + to_seconds(CAST(1 + i % 50 AS DOUBLE)) AS "timestamp",
             'u' || k AS user_id, 'r' || i AS request_id,
             CASE WHEN round = $last THEN 'session_end'
                  WHEN (hash(i) % 100000) / 100000.0
                       < $ctr * (CASE WHEN variant = 'treatment' THEN 1 + $lift ELSE 1 END)
                  THEN 'click' ELSE 'view' END AS type,
             CASE WHEN round = $last THEN 30.0 + k % 600 ELSE 1.0 END AS value
      FROM impressions) TO '$events' (FORMAT parquet);
"""


def generate(directory: Path, rows: int, skewed: bool = False,
             memory_limit: str | None = None) -> tuple[Path, Path]:
    """The Parquet logs `predictions.parquet` and `events.parquet` in `directory`, `rows`
    each; `memory_limit` bounds DuckDB (spilling to `directory`) for large `rows`."""
    import duckdb  # noqa: PLC0415 - the parent process only generates

    predictions, events = directory / "predictions.parquet", directory / "events.parquet"
    values = {"$user_of_i": _SKEWED_USER if skewed else _UNIFORM_USER,
              "$users": str(rows // IMPRESSIONS_PER_USER), "$rows": str(rows),
              "$last": str(IMPRESSIONS_PER_USER - 1), "$ctr": str(CTR), "$lift": str(LIFT),
              "$predictions": str(predictions), "$events": str(events)}
    script = _GENERATE
    for name, value in values.items():
        script = script.replace(name, value)
    bounded: dict[str, str | bool | int | float | list[str]] = \
        {"memory_limit": memory_limit, "temp_directory": str(directory)} if memory_limit else {}
    with duckdb.connect(config=bounded) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(script)
    return predictions, events


def run_duckdb(predictions: Path, events: Path,
               over_time: bool = False) -> dict[str, dict[str, float]]:
    from modelrail.ab.aggregate import aggregate_logs  # noqa: PLC0415

    logs = aggregate_logs(predictions, events, VARIANTS, experiment=EXPERIMENT,
                          window_seconds=WINDOW_SECONDS, over_time=over_time)
    if over_time and (logs.timeline is None or len(logs.timeline.checkpoints) < 2):
        raise SystemExit("duckdb+report: no statistics over time")
    return flat_stats(logs)


def flat_stats(logs: "LogStats") -> dict[str, dict[str, float]]:
    """The per-variant sums (FIELDS) of an aggregation's result, as the SQL returns them."""
    stats: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        ctr = asdict(logs.stats.metrics["ctr"][variant])
        duration = asdict(logs.stats.metrics["session_duration"][variant])
        multi: Mapping[str, int] = logs.data["multi_variant_users_by_variant"]  # type: ignore[assignment]
        stats[variant] = {
            "units": logs.stats.units[variant], "multi_variant_users": multi[variant],
            "impressions_sum": ctr["denominator_sum"],
            "impressions_sum_squares": ctr["denominator_sum_squares"],
            "clicks_sum": ctr["numerator_sum"], "clicks_sum_squares": ctr["numerator_sum_squares"],
            "clicks_impressions_sum_products": ctr["numerator_denominator_sum_products"],
            "duration_sum": duration["sum"], "duration_sum_squares": duration["sum_squares"],
            "converted": asdict(logs.stats.metrics["conversion"][variant])["sum"],
        }
    return stats


def run_pandas(predictions: Path, events: Path) -> dict[str, dict[str, float]]:
    import pandas as pd  # type: ignore[import-untyped]  # noqa: PLC0415 - dev dependency

    shown = pd.read_parquet(predictions, columns=["timestamp", "request_id", "user_id",
                                                  "variant", "experiment"])
    shown = shown[shown["experiment"].isna() | (shown["experiment"] == EXPERIMENT)]
    shown = shown.sort_values(["user_id", "timestamp", "request_id", "variant"])
    units = shown.drop_duplicates("user_id").set_index("user_id")[["variant", "timestamp"]]
    per_user = shown.groupby("user_id").agg(impressions=("request_id", "size"),
                                            variants=("variant", "nunique"))
    requests = shown.groupby(["user_id", "request_id"], as_index=False)["timestamp"].min()
    logged = pd.read_parquet(events, columns=["timestamp", "user_id", "type", "request_id",
                                              "value"])
    clicks = logged[logged["type"] == "click"].merge(requests, on=["user_id", "request_id"],
                                                     suffixes=("", "_anchor"))
    window = pd.Timedelta(seconds=WINDOW_SECONDS)
    clicks = clicks[(clicks["timestamp"] >= clicks["timestamp_anchor"])
                    & (clicks["timestamp"] <= clicks["timestamp_anchor"] + window)]
    sessions = logged[logged["type"] == "session_end"].merge(
        units["timestamp"].rename("first_ts"), left_on="user_id", right_index=True)
    sessions = sessions[sessions["timestamp"] >= sessions["first_ts"]]
    table = units[["variant"]].join(per_user)
    table["clicks"] = clicks.groupby("user_id").size().reindex(table.index, fill_value=0)
    table["duration"] = sessions.groupby("user_id")["value"].sum().reindex(
        table.index, fill_value=0.0)
    table = table.astype({"impressions": "float64", "clicks": "float64"})
    table["multi"] = (table["variants"] > 1).astype("int64")
    table["clicks_sq"] = table["clicks"] ** 2
    table["impressions_sq"] = table["impressions"] ** 2
    table["products"] = table["clicks"] * table["impressions"]
    table["duration_sq"] = table["duration"] ** 2
    table["converted"] = (table["clicks"] > 0).astype("int64")
    sums = table.groupby("variant").agg(
        units=("clicks", "size"), multi_variant_users=("multi", "sum"),
        impressions_sum=("impressions", "sum"), impressions_sum_squares=("impressions_sq", "sum"),
        clicks_sum=("clicks", "sum"), clicks_sum_squares=("clicks_sq", "sum"),
        clicks_impressions_sum_products=("products", "sum"), duration_sum=("duration", "sum"),
        duration_sum_squares=("duration_sq", "sum"), converted=("converted", "sum"))
    return {variant: {name: float(sums.loc[variant, name]) for name in FIELDS}
            for variant in VARIANTS}


ENGINES: dict[str, Callable[[Path, Path], dict[str, dict[str, float]]]] = {
    "duckdb": run_duckdb,
    # what `ab analyze --report` adds: the statistics at every checkpoint (timeline.py)
    "duckdb+report": lambda predictions, events: run_duckdb(predictions, events, True),
    "pandas": run_pandas,
}
MODULES = {"duckdb": "modelrail.ab.aggregate", "duckdb+report": "modelrail.ab.aggregate",
           "pandas": "pandas"}


def worker(engine: str, directory: Path) -> None:
    """One measurement; prints its JSON on stdout (`stats` None and the `error` when
    `ab analyze` would exit 2, e.g. DuckDB's memory limit was too small)."""
    importlib.import_module(MODULES[engine])
    limit = None
    if engine.startswith("duckdb"):  # not imported for pandas: its RSS stays its own
        from modelrail.plumbing.duck import memory_limit  # noqa: PLC0415

        limit = memory_limit()
    baseline = _peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        stats, error = ENGINES[engine](directory / "predictions.parquet",
                                       directory / "events.parquet"), None
    except UsageError as exit_2:
        stats, error = None, str(exit_2)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"engine": engine, "duckdb_memory_limit": limit, "seconds": seconds,
                      "cpu_seconds": cpu_seconds, "peak_rss_mb": _peak_mb(),
                      "rss_before_mb": baseline, "stats": stats, "error": error}))


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: that survives exec, so a child
    would report the parent's peak (the data generation) when its own is lower."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise SystemExit("no VmHWM in /proc/self/status: this bench needs Linux")


def measure(engine: str, directory: Path, env: Mapping[str, str],
            script: str = __file__) -> dict[str, Any]:
    """`script --worker ENGINE` in a fresh process (its own peak memory): its last line."""
    done = subprocess.run([sys.executable, script, "--worker", engine, "--data",
                           str(directory)], capture_output=True, text=True, check=False,
                          env={**os.environ, **env})
    if done.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def check_same(first: dict[str, Any], other: dict[str, Any]) -> None:
    for variant in VARIANTS:
        for name in FIELDS:
            a, b = first["stats"][variant][name], other["stats"][variant][name]
            if abs(a - b) > 1e-9 * max(abs(a), abs(b), 1.0):
                raise SystemExit(f"{variant}.{name}: {first['engine']} {a} != "
                                 f"{other['engine']} {b}")


def write_results(path: Path, rows: int, load: float, results: list[dict[str, Any]],
                  statistics: Any, **extra: Any) -> None:
    """Print the machine line and write the JSON: every run but its statistics, once."""
    print(f"on {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, load average {load:.1f} at the start; statistics "
          "identical (rel 1e-9)")
    path.write_text(json.dumps({
        "rows": {"predictions": rows, "events": rows}, **extra,
        "cores": os.cpu_count(), "load_average_at_start": load,
        "results": [{key: value for key, value in result.items() if key != "stats"}
                    for result in results],
        "statistics": statistics,
    }, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000,
                        help="prediction rows, and as many events")
    parser.add_argument("--memory-limits", type=lambda text: text.split(","), default=[],
                        help="comma-separated MODELRAIL_DUCKDB_MEMORY values for the DuckDB "
                             "runs (default: the environment's, else modelrail's default)")
    parser.add_argument("--worker", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    from modelrail.plumbing.duck import MEMORY_VARIABLE, memory_limit  # noqa: PLC0415 - not in workers

    load = os.getloadavg()[0]  # the machine may be shared: wall times depend on it
    with tempfile.TemporaryDirectory(prefix="modelrail-ab-join-") as temp:
        directory = Path(temp)
        started = time.perf_counter()
        predictions, events = generate(directory, args.rows)
        generated = time.perf_counter() - started
        sizes = {path.name: round(path.stat().st_size / 2**20, 1)
                 for path in (predictions, events)}
        results = [measure(engine, directory, {MEMORY_VARIABLE: limit})
                   for limit in args.memory_limits or [memory_limit()]
                   for engine in ENGINES if engine.startswith("duckdb")]
        results.append(measure("pandas", directory, {}))
    fitted = [result for result in results if result["stats"] is not None]
    for other in fitted[1:]:
        check_same(fitted[0], other)
    print(f"{args.rows:,} prediction rows + {args.rows:,} events (Parquet, MiB: {sizes}); "
          f"generated in {generated:.1f} s")
    print(f"{'engine':<14} {'DuckDB limit':>12} {'seconds':>8} {'CPU s':>7} "
          f"{'peak RSS MiB':>13} {'RSS after imports':>18}")
    for result in results:
        print(f"{result['engine']:<14} {result['duckdb_memory_limit'] or '-':>12} "
              f"{result['seconds']:>8.1f} {result['cpu_seconds']:>7.1f} "
              f"{result['peak_rss_mb']:>13.0f} {result['rss_before_mb']:>18.0f}"
              + ("" if result["stats"] is not None else "  exit 2: see error in the JSON"))
    write_results(RESULTS, args.rows, load, results, fitted[0]["stats"],
                  parquet_mib=sizes, generate_seconds=round(generated, 1))


if __name__ == "__main__":
    main()
