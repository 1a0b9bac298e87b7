"""Serving latency and throughput of the example model's POST /predict, prediction log off vs on.

Trains the example model once with the pipeline's own stages (``ctr_model.prepare`` and
``ctr_model.train``, what ``dvc repro`` runs, on a temp copy of params.yaml), exports it to
``scorer.json`` as the image build does (``python -m ctr_serving.export``), then starts the
real server (``python -m ctr_serving``: uvicorn, one worker, access log off as in the image,
127.0.0.1 on a free port) once per prediction-log mode: ``off``, ``stdout`` (a pipe the
bench drains) and ``file`` (a temp file). The three servers run side by side.

The question is whether logging costs 5 % of throughput, on a shared 2-core machine whose
speed drifts by more than that between minutes. So the measurement is repeated and paired:
``--rounds`` rounds (default 7), and in each round every mode gets, in an order that
rotates from round to round,

- a closed-loop slice: ``CLOSED_CLIENTS`` clients sending back to back (max throughput), and
- an open-loop slice at a fixed rate (requests sent on schedule whatever the server does;
  latency counts from the scheduled send time, so queueing is not hidden), with the
  server's CPU time per request.

Two costs are paired per round (slices seconds apart, so drift cancels) and reported as
median [min..max] over rounds:

- measured throughput, ``1 - rps(mode) / rps(off)``: what a user sees, but the load
  generator shares the two cores with the servers and with whatever else runs, so it
  swings by tens of percent from slice to slice;
- server CPU per request at max rate, ``cpu_ms(mode) / cpu_ms(off) - 1`` (utime + stime of
  the server process over its answered requests): one uvicorn worker is CPU-bound, so its
  capacity is 1 / CPU-per-request and this is the throughput cost, while CPU time is not
  stretched by other processes the way wall time is.

Both still move with the machine's other load. So the logging path is also timed alone:
the real ``PredictionLogger`` of ``ctr_serving.predlog`` fed the same request bodies (a
batch built and submitted per request, as the app does, then serialised and written by the
writer thread to a drained pipe or a file), its process CPU time divided by the requests:
CPU per request that logging adds. Its share of the ``off`` server's CPU per request at max
rate is the throughput it costs; the verdict (< 5 %) uses that share.

The fixed rate is half the ``off`` server's throughput in a calibration slice (at most
100 req/s, a multiple of 5): latency above capacity only measures queue growth. Each
request scores 10 rows of the generated test set; the load generator shares the machine
with the servers.

    python bench/serving_latency.py [--rounds N]   # table; bench/results/serving_latency.json
"""

import argparse
import contextlib
import csv
import functools
import importlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support

import requests
from modelrail.local.processes import free_port

from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT

ROWS_PER_REQUEST = 10
FIXED_RATE_MAX = 100.0  # req/s, open loop; lower when the server cannot take twice that:
FIXED_RATE_SHARE = 0.5  # the fixed rate is at most this share of the off run's max throughput
FIXED_SECONDS = 6.0  # per round and mode
FIXED_POOL = 16
CLOSED_SECONDS = 4.0  # per round and mode
CLOSED_CLIENTS = 8
ROUNDS = 7
CALIBRATION_SECONDS = 4.0
CLOSED_MAX_REQUESTS = 200_000  # per run, a bound only
WARMUP_REQUESTS = 100
REQUEST_TIMEOUT_S = 5.0
READY_TIMEOUT_S = 60.0
LOG_COST_TARGET_PCT = 5.0
HEADERS = {"Content-Type": "application/json"}


# ---- model ---------------------------------------------------------------------------------
def train_model(work: Path) -> tuple[Path, list[str]]:
    """Prepare, train and export in ``work``; (model dir with scorer.json, feature columns)."""
    shutil.copy(EXAMPLE_MODEL / "params.yaml", work / "params.yaml")
    env = {**os.environ, "PYTHONPATH": f"{EXAMPLE_MODEL / 'src'}:{EXAMPLE_MODEL / 'serving'}"}
    for stage in ("prepare", "train"):
        subprocess.run([sys.executable, "-m", f"ctr_model.{stage}"], cwd=work, env=env,
                       check=True, stdout=subprocess.DEVNULL, timeout=300)
    models = work / "models"
    subprocess.run([sys.executable, "-m", "ctr_serving.export", str(models / "model.pkl"),
                    "--output", str(models / "scorer.json")], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=300)
    scorer = json.loads((models / "scorer.json").read_text())
    return models, [str(name) for name in scorer["model"]["features"]]


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def request_bodies(test_csv: Path, features: list[str], count: int) -> list[bytes]:
    """``count`` /predict bodies of ROWS_PER_REQUEST consecutive test-set rows each."""
    with test_csv.open(newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    bodies = []
    for index in range(count):
        start = (index * ROWS_PER_REQUEST) % (len(records) - ROWS_PER_REQUEST)
        chunk = records[start:start + ROWS_PER_REQUEST]
        rows = [{name: _number(record[name]) for name in features} for record in chunk]
        body = {"rows": rows, "user_id": f"u{chunk[0]['user_id']}"}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


# ---- server --------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    process: "subprocess.Popen[bytes]"
    stdout_bytes: list[int]  # bytes drained from stdout (stdout mode)
    stdout_lines: list[int]


def _drain(stream: IO[bytes], nbytes: list[int], nlines: list[int]) -> None:
    while chunk := os.read(stream.fileno(), 65536):
        nbytes[0] += len(chunk)
        nlines[0] += chunk.count(b"\n")


@contextlib.contextmanager
def serving(model_dir: Path, prediction_log: str, stderr: IO[bytes]) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE_MODEL / "serving"), "PYTHONUNBUFFERED": "1",
           "MODEL_PATH": str(model_dir), "MODEL_NAME": "ctr-ranker", "MODEL_VERSION": "bench",
           "PREDICTION_LOG": prediction_log, "UVICORN_HOST": "127.0.0.1",
           "UVICORN_PORT": str(port), "UVICORN_WORKERS": "1", "UVICORN_ACCESS_LOG": "false"}
    pipe = prediction_log == "stdout"
    process = subprocess.Popen([sys.executable, "-m", "ctr_serving"], env=env,
                               stdout=subprocess.PIPE if pipe else subprocess.DEVNULL,
                               stderr=stderr)
    server = Server(f"http://127.0.0.1:{port}", process, [0], [0])
    drainer = None
    if pipe and process.stdout is not None:
        drainer = threading.Thread(target=_drain, daemon=True,
                                   args=(process.stdout, server.stdout_bytes, server.stdout_lines))
        drainer.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} before ready")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready within {READY_TIMEOUT_S:.0f}s")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if drainer is not None:
            drainer.join(timeout=5)


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def prometheus_value(url: str, name: str) -> float | None:
    text = requests.get(f"{url}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


# ---- load ----------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _session_getter() -> Callable[[], requests.Session]:
    local = threading.local()

    def get() -> requests.Session:
        session: requests.Session | None = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return session

    return get


def warm_up(url: str, bodies: list[bytes]) -> None:
    with requests.Session() as session:
        for index in range(WARMUP_REQUESTS):
            session.post(url, data=bodies[index % len(bodies)], headers=HEADERS,
                         timeout=REQUEST_TIMEOUT_S).raise_for_status()


def open_loop(url: str, bodies: list[bytes], rate: float, seconds: float,
              pool: int) -> dict[str, Any]:
    """Send ``rate * seconds`` requests on a fixed schedule from ``pool`` threads."""
    total = int(rate * seconds)
    session = _session_getter()
    start = time.perf_counter() + 0.1
    give_up = start + seconds + 10.0  # requests still queued then are not sent (counted)

    def fire(index: int, scheduled: float) -> tuple[float, float, str]:
        sent = time.perf_counter()
        if sent > give_up:
            return scheduled, sent, "not_sent"
        try:
            status = session().post(url, data=bodies[index % len(bodies)], headers=HEADERS,
                                    timeout=REQUEST_TIMEOUT_S).status_code
            outcome = "ok" if status == 200 else f"http_{status}"
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        done = time.perf_counter()
        return done - scheduled, done - sent, outcome

    cpu0 = time.process_time()
    with ThreadPoolExecutor(pool, thread_name_prefix="open-loop") as executor:
        futures = []
        for index in range(total):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(executor.submit(fire, index, scheduled))
        results = [f.result(timeout=max(1.0, give_up + REQUEST_TIMEOUT_S - time.perf_counter()))
                   for f in futures]
    end = time.perf_counter()
    ok = [(total_s, service_s) for total_s, service_s, outcome in results if outcome == "ok"]
    errors: dict[str, int] = {}
    for _, _, outcome in results:
        if outcome != "ok":
            errors[outcome] = errors.get(outcome, 0) + 1
    latencies = [t * 1000 for t, _ in ok]
    service = [s * 1000 for _, s in ok]
    return {
        "target_rps": rate, "requests": total, "ok": len(ok), "errors": errors,
        "achieved_rps": round(len(ok) / (end - start), 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p90_ms": round(percentile(latencies, 90), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies, default=float("nan")), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "service_p50_ms": round(percentile(service, 50), 2),
        "service_p99_ms": round(percentile(service, 99), 2),
        "client_cpu_s": round(time.process_time() - cpu0, 2),
    }


def closed_loop(url: str, bodies: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads each sending the next request as soon as the last one answered."""
    counts = [0] * clients
    failures = [0] * clients
    latencies: list[list[float]] = [[] for _ in range(clients)]
    per_client_cap = CLOSED_MAX_REQUESTS // clients
    bounds: dict[str, float] = {}

    def go() -> None:  # runs once, when every client is connected, before any is released
        bounds["start"] = time.perf_counter()
        bounds["stop"] = bounds["start"] + seconds

    barrier = threading.Barrier(clients + 1, action=go)

    def client(slot: int) -> None:
        with requests.Session() as session:
            session.post(url, data=bodies[slot], headers=HEADERS, timeout=REQUEST_TIMEOUT_S)
            barrier.wait(timeout=30)
            index = slot
            while counts[slot] + failures[slot] < per_client_cap:
                sent = time.perf_counter()
                if sent >= bounds["stop"]:
                    break
                try:
                    response = session.post(url, data=bodies[index % len(bodies)],
                                            headers=HEADERS, timeout=REQUEST_TIMEOUT_S)
                    good = response.status_code == 200
                except requests.RequestException:
                    good = False
                if good:
                    counts[slot] += 1
                    latencies[slot].append((time.perf_counter() - sent) * 1000)
                else:
                    failures[slot] += 1
                index += clients

    threads = [threading.Thread(target=client, args=(slot,), daemon=True)
               for slot in range(clients)]
    for thread in threads:
        thread.start()
    cpu0 = time.process_time()
    barrier.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S + 10)
    elapsed = time.perf_counter() - bounds["start"]
    merged = [value for values in latencies for value in values]
    return {
        "clients": clients, "seconds": round(elapsed, 2), "ok": sum(counts),
        "errors": sum(failures), "max_rps": round(sum(counts) / elapsed, 1),
        "p50_ms": round(percentile(merged, 50), 2), "p99_ms": round(percentile(merged, 99), 2),
        "client_cpu_s": round(time.process_time() - cpu0, 2),
    }


# ---- the logging path alone -------------------------------------------------------------------
LOG_PATH_REQUESTS = 5000


def _predlog() -> Any:
    """ctr_serving.predlog from example-model/serving (what the servers run)."""
    serving_dir = str(EXAMPLE_MODEL / "serving")
    if serving_dir not in sys.path:
        sys.path.insert(0, serving_dir)
    return importlib.import_module("ctr_serving.predlog")


@contextlib.contextmanager
def log_sink(mode: str, work: Path) -> Iterator[IO[str]]:
    """The server's sink for ``mode``: unbuffered stdout into a drained pipe, or a file."""
    if mode == "file":
        with (work / "path-only.jsonl").open("a", encoding="utf-8") as handle:
            yield handle
        return
    drain = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    if drain.stdin is None:
        raise RuntimeError("no pipe to the drain process")
    stream = io.TextIOWrapper(drain.stdin, encoding="utf-8", write_through=True)
    try:
        yield stream
    finally:
        stream.close()
        drain.wait(timeout=30)


def logging_cpu_ms(mode: str, bodies: list[bytes], work: Path) -> float:
    """Process CPU ms per request to build, submit, serialise and write its log batch."""
    predlog = _predlog()
    parsed = [json.loads(body) for body in bodies]
    # What the app has at hand whether it logs or not: request id, timestamp, rows, scores.
    stamps = [(str(uuid.uuid4()), datetime.now(UTC).isoformat(timespec="microseconds"))
              for _ in range(LOG_PATH_REQUESTS)]
    with log_sink(mode, work) as sink:
        logger = predlog.PredictionLogger(sink, capacity=10 * LOG_PATH_REQUESTS
                                          * ROWS_PER_REQUEST)
        logger.start()
        started = time.process_time()
        for index, (request_id, timestamp) in enumerate(stamps):
            body = parsed[index % len(parsed)]
            logger.submit(predlog.PredictionBatch(
                timestamp=timestamp, request_id=request_id, model="ctr-ranker",
                version="bench", rows=body["rows"],
                predictions=[0.05 + index % 7 / 100] * len(body["rows"]),
                user_id=body.get("user_id")))
        logger.close(timeout=120)
        return 1000 * (time.process_time() - started) / LOG_PATH_REQUESTS


def measure_logging_path(bodies: list[bytes], work: Path, rounds: int) -> dict[str, Any]:
    """Per logging mode: CPU ms per request over ``rounds`` repetitions (median, range)."""
    samples: dict[str, list[float]] = {"stdout": [], "file": []}
    for _ in range(rounds):
        for mode, values in samples.items():
            values.append(logging_cpu_ms(mode, bodies, work))
    return {mode: spread(values) for mode, values in samples.items()}


# ---- driver --------------------------------------------------------------------------------
def fixed_rate_for(max_rps: float) -> float:
    """The open-loop rate: FIXED_RATE_MAX, or half the measured capacity (multiple of 5)."""
    return max(5.0, min(FIXED_RATE_MAX, 5 * (max_rps * FIXED_RATE_SHARE // 5)))


MODES = ("off", "stdout", "file")


def with_server_cpu(pid: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()``'s result plus the server's CPU use during it (% of one core, ms/request)."""
    cpu0, wall0 = server_cpu_seconds(pid), time.perf_counter()
    result = run()
    cpu = server_cpu_seconds(pid) - cpu0
    result["server_cpu_pct"] = round(100 * cpu / (time.perf_counter() - wall0), 1)
    result["server_cpu_ms_per_req"] = round(1000 * cpu / max(1, result["ok"]), 3)
    return result


@dataclass
class Slices:
    """Per mode, one closed-loop and one open-loop result per round, in round order."""

    closed: dict[str, list[dict[str, Any]]]
    fixed: dict[str, list[dict[str, Any]]]
    rate: float


def measure_rounds(servers: dict[str, Server], bodies: list[bytes], rounds: int) -> Slices:
    """Every round runs every mode back to back, in an order rotated from round to round."""
    off = f"{servers['off'].url}/predict"
    calibration = closed_loop(off, bodies, CLOSED_CLIENTS, CALIBRATION_SECONDS)
    rate = fixed_rate_for(calibration["max_rps"])
    slices = Slices({mode: [] for mode in MODES}, {mode: [] for mode in MODES}, rate)
    for round_index in range(rounds):
        shift = round_index % len(MODES)
        for mode in MODES[shift:] + MODES[:shift]:
            url, pid = f"{servers[mode].url}/predict", servers[mode].process.pid
            slices.closed[mode].append(with_server_cpu(pid, functools.partial(
                closed_loop, url, bodies, CLOSED_CLIENTS, CLOSED_SECONDS)))
            slices.fixed[mode].append(with_server_cpu(pid, functools.partial(
                open_loop, url, bodies, rate, FIXED_SECONDS, FIXED_POOL)))
            time.sleep(0.3)
    return slices


def spread(values: list[float]) -> dict[str, float]:
    """Median and range of per-round values (rounded for the table and the JSON)."""
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4)}


def cpu_cost(runs: list[dict[str, Any]], off: list[dict[str, Any]]) -> dict[str, float]:
    """Per round: extra server CPU per request over the same round's ``off`` server, in %."""
    return spread([100 * (run["server_cpu_ms_per_req"] / base["server_cpu_ms_per_req"] - 1)
                   for run, base in zip(runs, off, strict=True)])


def summarize(slices: Slices, mode: str) -> dict[str, Any]:
    """One mode across rounds; costs are paired with the ``off`` slice of the same round."""
    closed, fixed = slices.closed[mode], slices.fixed[mode]
    off_closed, off_fixed = slices.closed["off"], slices.fixed["off"]
    summary: dict[str, Any] = {
        "prediction_log": mode,
        "max_rps": spread([c["max_rps"] for c in closed]),
        "max_rate_p50_ms": spread([c["p50_ms"] for c in closed]),
        "max_rate_p99_ms": spread([c["p99_ms"] for c in closed]),
        "max_cpu_ms_per_req": spread([c["server_cpu_ms_per_req"] for c in closed]),
        "fixed_rps": spread([f["achieved_rps"] for f in fixed]),
        "fixed_p50_ms": spread([f["p50_ms"] for f in fixed]),
        "fixed_p99_ms": spread([f["p99_ms"] for f in fixed]),
        "fixed_cpu_ms_per_req": spread([f["server_cpu_ms_per_req"] for f in fixed]),
        "errors": sum(c["errors"] for c in closed)
        + sum(sum(f["errors"].values()) for f in fixed),
        "rounds": {"closed": closed, "fixed": fixed},
    }
    if mode != "off":
        summary["throughput_cost_pct"] = spread(
            [100 * (1 - c["max_rps"] / o["max_rps"]) for c, o in zip(closed, off_closed,
                                                                      strict=True)])
        summary["max_cpu_cost_pct"] = cpu_cost(closed, off_closed)
        summary["fixed_cpu_cost_pct"] = cpu_cost(fixed, off_fixed)
    return summary


def measure_all(model_dir: Path, bodies: list[bytes], work: Path,
                rounds: int) -> tuple[list[dict[str, Any]], float]:
    """All three servers up at once; (per-mode summaries, the fixed rate)."""
    log_file = work / "predictions.jsonl"
    targets = {"off": "off", "stdout": "stdout", "file": str(log_file)}
    with contextlib.ExitStack() as stack:
        servers: dict[str, Server] = {}
        for mode in MODES:
            stderr = stack.enter_context((work / f"server-{mode}.stderr").open("wb"))
            servers[mode] = stack.enter_context(serving(model_dir, targets[mode], stderr))
        for mode in MODES:
            warm_up(f"{servers[mode].url}/predict", bodies)
        slices = measure_rounds(servers, bodies, rounds)
        summaries = [summarize(slices, mode) for mode in MODES]
        time.sleep(0.5)  # let the writer threads catch up before reading their counters
        for summary, mode in zip(summaries, MODES, strict=True):
            url = servers[mode].url
            summary["log"] = {
                "lines_written": prometheus_value(
                    url, "modelrail_prediction_log_lines_written_total"),
                "lines_dropped": prometheus_value(
                    url, "modelrail_prediction_log_lines_dropped_total")}
    # servers stopped: the file and the drained pipe are complete
    summaries[1]["log"]["stdout_lines_received"] = servers["stdout"].stdout_lines[0]
    with log_file.open("rb") as fh:
        summaries[2]["log"]["file_lines"] = sum(line.endswith(b"\n") for line in fh)
    return summaries, slices.rate


def _cell(value: dict[str, float], unit: str = "") -> str:
    return f"{value['median']:g}{unit} [{value['min']:g}..{value['max']:g}]"


def print_table(summaries: list[dict[str, Any]], rate: float, rounds: int) -> None:
    print(f"/predict, {ROWS_PER_REQUEST} rows/request, {rounds} rounds, modes interleaved "
          f"(rotating order); per round and mode: {CLOSED_CLIENTS} closed-loop clients for "
          f"{CLOSED_SECONDS:g} s (max rate), then {rate:g} req/s open loop for "
          f"{FIXED_SECONDS:g} s (fixed rate); {os.cpu_count()} CPUs. median [min..max] "
          "over rounds; costs paired with the same round's `off`.")
    columns = [("log", "prediction_log", 6), ("max req/s", "max_rps", 21),
               ("rps cost %", "throughput_cost_pct", 21),
               ("max cpu ms/req", "max_cpu_ms_per_req", 19),
               ("max cpu cost %", "max_cpu_cost_pct", 19),
               ("max p50 ms", "max_rate_p50_ms", 19), ("max p99 ms", "max_rate_p99_ms", 20),
               ("fixed p50 ms", "fixed_p50_ms", 18), ("fixed p99 ms", "fixed_p99_ms", 19),
               ("fixed cpu cost %", "fixed_cpu_cost_pct", 19)]
    header = " ".join(f"{title:>{width}}" for title, _, width in columns)
    print(header)
    print("-" * len(header))
    for summary in summaries:
        cells = [summary[key] if isinstance(summary.get(key), str)
                 else _cell(summary[key]) if key in summary else "-"
                 for _, key, _ in columns]
        print(" ".join(f"{cell:>{width}}" for cell, (_, _, width) in zip(cells, columns,
                                                                       strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="modelrail-serving-bench-"))
    try:
        model_dir, features = train_model(work)
        bodies = request_bodies(work / "data" / "test.csv", features, 500)
        summaries, rate = measure_all(model_dir, bodies, work, args.rounds)
        path = measure_logging_path(bodies, work, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(summaries, rate, args.rounds)
    off_ms = summaries[0]["max_cpu_ms_per_req"]["median"]
    costs = {mode: round(100 * cpu["median"] / (off_ms + cpu["median"]), 2)
             for mode, cpu in path.items()}
    paired = {s["prediction_log"]: s["max_cpu_cost_pct"]["median"] for s in summaries[1:]}
    measured = {s["prediction_log"]: s["throughput_cost_pct"]["median"] for s in summaries[1:]}
    verdict = "PASS" if all(cost < LOG_COST_TARGET_PCT for cost in costs.values()) else "FAIL"
    print(f"\nlogging path alone ({LOG_PATH_REQUESTS} requests x {args.rounds}): "
          + ", ".join(f"{mode} {_cell(cpu)} CPU ms/request" for mode, cpu in path.items())
          + f"; off server {off_ms:g} CPU ms/request at max rate")
    print("logging cost in throughput (its CPU share of a logged request): "
          f"{', '.join(f'{mode} {cost:g}%' for mode, cost in costs.items())} "
          f"(target < {LOG_COST_TARGET_PCT:g}%: {verdict}); live, paired medians: server CPU "
          f"{', '.join(f'{mode} {cost:g}%' for mode, cost in paired.items())}, req/s "
          f"{', '.join(f'{mode} {cost:g}%' for mode, cost in measured.items())}")
    result = {
        "benchmark": "serving /predict latency and throughput, prediction log off/stdout/file",
        "setup": {"rows_per_request": ROWS_PER_REQUEST, "rounds": args.rounds,
                  "fixed_rate_rps": rate,
                  "fixed_rate_rule": f"min({FIXED_RATE_MAX:.0f}, {FIXED_RATE_SHARE:.0%} of the "
                                     "off server's calibration throughput, multiple of 5)",
                  "fixed_seconds_per_round": FIXED_SECONDS, "fixed_pool_threads": FIXED_POOL,
                  "closed_clients": CLOSED_CLIENTS, "closed_seconds_per_round": CLOSED_SECONDS,
                  "uvicorn_workers": 1, "cpus": os.cpu_count(), "features": features,
                  "latency": "open loop, measured from the scheduled send time",
                  "cost": "verdict: logging-path CPU per request (alone) / (off server CPU "
                          "per request at max rate + it); live, paired with off per round: "
                          "server CPU per request and measured req/s, median over rounds"},
        "log_cost_target_pct": LOG_COST_TARGET_PCT, "verdict": verdict,
        "logging_cost_pct": costs, "logging_path_cpu_ms_per_request": path,
        "live_cpu_cost_pct": paired, "live_throughput_cost_pct": measured,
        "modes": summaries,
        "runtime_s": round(time.monotonic() - began, 1),
    }
    out = REPO_ROOT / "bench" / "results" / "serving_latency.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
