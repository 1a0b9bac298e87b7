"""Serving latency and throughput of the example model's POST /predict, prediction log off vs on.

Trains the example model once with the pipeline's own stages (``ctr_model.prepare`` and
``ctr_model.train``, what ``dvc repro`` runs, on a temp copy of params.yaml), then starts the
real server (``python -m ctr_serving``: uvicorn, one worker, access log off as in the image,
127.0.0.1 on a free port) for each prediction-log mode: ``off``, ``stdout`` (a pipe the bench
drains) and ``file`` (a temp file). Against each it runs

- a closed-loop run with a fixed number of clients sending back to back (max throughput;
  the three servers run side by side and the closed loop alternates between them in rounds,
  so drift of the shared machine does not land on one mode), and
- an open-loop load at a fixed rate (requests are sent on schedule whatever the server does;
  latency counts from the scheduled send time, so queueing is not hidden). The rate is
  100 req/s, or half the max throughput of the ``off`` run when that is lower (latency above
  capacity only measures queue growth); every mode gets the same rate.

Each request scores 10 rows taken from the generated test set (the model's feature columns).
The load generator shares the machine with the server; its CPU use is reported too.

    python bench/serving_latency.py      # prints a table, writes bench/results/serving_latency.json
"""

import contextlib
import csv
import functools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "example-model"

ROWS_PER_REQUEST = 10
FIXED_RATE_MAX = 100.0  # req/s, open loop; lower when the server cannot take twice that:
FIXED_RATE_SHARE = 0.5  # the fixed rate is at most this share of the off run's max throughput
FIXED_SECONDS = 20.0
FIXED_POOL = 16
CLOSED_SECONDS = 15.0
CLOSED_CLIENTS = 8
CLOSED_ROUNDS = 3  # the closed-loop time per mode is split into rounds, modes alternating
CLOSED_MAX_REQUESTS = 200_000  # per run, a bound only
WARMUP_REQUESTS = 100
REQUEST_TIMEOUT_S = 5.0
READY_TIMEOUT_S = 60.0
LOG_COST_TARGET_PCT = 5.0
HEADERS = {"Content-Type": "application/json"}


# ---- model ---------------------------------------------------------------------------------
def train_model(work: Path) -> tuple[Path, list[str]]:
    """Run the prepare and train stages in ``work``; (model dir, the model's feature columns)."""
    shutil.copy(EXAMPLE / "params.yaml", work / "params.yaml")
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE / "src")}
    for stage in ("prepare", "train"):
        subprocess.run([sys.executable, "-m", f"ctr_model.{stage}"], cwd=work, env=env,
                       check=True, stdout=subprocess.DEVNULL, timeout=300)
    probe = ("import json, sys, joblib; "
             "print(json.dumps(list(joblib.load(sys.argv[1]).feature_names_in_)))")
    out = subprocess.run([sys.executable, "-c", probe, str(work / "models" / "model.pkl")],
                         env=env, check=True, capture_output=True, text=True, timeout=60)
    return work / "models", list(json.loads(out.stdout))


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drain(stream: IO[bytes], nbytes: list[int], nlines: list[int]) -> None:
    while chunk := os.read(stream.fileno(), 65536):
        nbytes[0] += len(chunk)
        nlines[0] += chunk.count(b"\n")


@contextlib.contextmanager
def serving(model_dir: Path, prediction_log: str, stderr: IO[bytes]) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE / "serving"), "PYTHONUNBUFFERED": "1",
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


# ---- driver --------------------------------------------------------------------------------
def fixed_rate_for(max_rps: float) -> float:
    """The open-loop rate: FIXED_RATE_MAX, or half the measured capacity (multiple of 5)."""
    return max(5.0, min(FIXED_RATE_MAX, 5 * (max_rps * FIXED_RATE_SHARE // 5)))


MODES = ("off", "stdout", "file")


def cpu_pct(pid: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()``'s result plus the server's CPU use during it (% of one core)."""
    cpu0, wall0 = server_cpu_seconds(pid), time.perf_counter()
    result = run()
    result["server_cpu_pct"] = round(100 * (server_cpu_seconds(pid) - cpu0)
                                     / (time.perf_counter() - wall0), 1)
    return result


def measure_all(model_dir: Path, bodies: list[bytes], work: Path) -> list[dict[str, Any]]:
    """All three servers up at once; the closed loop alternates between them in rounds (so
    drift of the shared machine hits every mode alike), then the open loop runs per mode."""
    log_file = work / "predictions.jsonl"
    targets = {"off": "off", "stdout": "stdout", "file": str(log_file)}
    runs: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        servers: dict[str, Server] = {}
        for mode in MODES:
            stderr = stack.enter_context((work / f"server-{mode}.stderr").open("wb"))
            servers[mode] = stack.enter_context(serving(model_dir, targets[mode], stderr))
        for mode in MODES:
            warm_up(f"{servers[mode].url}/predict", bodies)
        slices: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for round_index in range(CLOSED_ROUNDS):
            shift = round_index % len(MODES)
            for mode in MODES[shift:] + MODES[:shift]:
                url, pid = f"{servers[mode].url}/predict", servers[mode].process.pid
                slices[mode].append(cpu_pct(pid, functools.partial(
                    closed_loop, url, bodies, CLOSED_CLIENTS, CLOSED_SECONDS / CLOSED_ROUNDS)))
                time.sleep(0.5)
        for mode in MODES:
            parts = slices[mode]
            seconds = sum(p["seconds"] for p in parts)
            ok = sum(p["ok"] for p in parts)
            runs[mode] = {"prediction_log": mode, "closed_loop": {
                "clients": CLOSED_CLIENTS, "seconds": round(seconds, 2), "ok": ok,
                "errors": sum(p["errors"] for p in parts),
                "max_rps": round(ok / seconds, 1),
                "rounds_rps": [p["max_rps"] for p in parts],
                "p50_ms": round(statistics.median(p["p50_ms"] for p in parts), 2),
                "p99_ms": round(max(p["p99_ms"] for p in parts), 2),
                "server_cpu_pct": round(statistics.fmean(p["server_cpu_pct"] for p in parts), 1),
                "client_cpu_s": round(sum(p["client_cpu_s"] for p in parts), 2)}}
        rate = fixed_rate_for(runs["off"]["closed_loop"]["max_rps"])
        for mode in MODES:
            url, pid = f"{servers[mode].url}/predict", servers[mode].process.pid
            runs[mode]["fixed_rate"] = cpu_pct(pid, functools.partial(
                open_loop, url, bodies, rate, FIXED_SECONDS, FIXED_POOL))
        time.sleep(0.5)  # let the writer threads catch up before reading their counters
        for mode in MODES:
            url = servers[mode].url
            runs[mode]["log"] = {
                "lines_written": prometheus_value(
                    url, "modelrail_prediction_log_lines_written_total"),
                "lines_dropped": prometheus_value(
                    url, "modelrail_prediction_log_lines_dropped_total")}
    # servers stopped: the file and the drained pipe are complete
    runs["stdout"]["log"]["stdout_lines_received"] = servers["stdout"].stdout_lines[0]
    runs["stdout"]["log"]["stdout_mb"] = round(servers["stdout"].stdout_bytes[0] / 1e6, 1)
    with log_file.open("rb") as fh:
        runs["file"]["log"]["file_lines"] = sum(line.endswith(b"\n") for line in fh)
    runs["file"]["log"]["file_mb"] = round(log_file.stat().st_size / 1e6, 1)
    return [runs[mode] for mode in MODES]


def main() -> None:
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="modelrail-serving-bench-"))
    try:
        model_dir, features = train_model(work)
        bodies = request_bodies(work / "data" / "test.csv", features, 500)
        runs = measure_all(model_dir, bodies, work)
        rate = runs[0]["fixed_rate"]["target_rps"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = runs[0]["closed_loop"]["max_rps"]
    rows = []
    for run in runs:
        fixed, closed = run["fixed_rate"], run["closed_loop"]
        cost = None if run is runs[0] else round(100 * (1 - closed["max_rps"] / base), 1)
        run["throughput_cost_pct"] = cost
        rows.append({
            "log": run["prediction_log"], "rate_rps": fixed["achieved_rps"],
            "p50_ms": fixed["p50_ms"], "p90_ms": fixed["p90_ms"], "p99_ms": fixed["p99_ms"],
            "errors": sum(fixed["errors"].values()) + closed["errors"],
            "max_rps": closed["max_rps"], "cost_%": "-" if cost is None else cost,
            "srv_cpu_%": closed["server_cpu_pct"],
            "log_lines": "-" if run["log"]["lines_written"] is None
            else int(run["log"]["lines_written"]),
        })
    columns = [("log", 6), ("rate_rps", 8), ("p50_ms", 7), ("p90_ms", 7), ("p99_ms", 7),
               ("errors", 6), ("max_rps", 7), ("cost_%", 6), ("srv_cpu_%", 9), ("log_lines", 9)]
    print(f"/predict, {ROWS_PER_REQUEST} rows/request; fixed rate {rate:.0f} req/s for "
          f"{FIXED_SECONDS:.0f} s (open loop, {FIXED_POOL} threads); max throughput: "
          f"{CLOSED_CLIENTS} closed-loop clients, {CLOSED_SECONDS:.0f} s per mode in "
          f"{CLOSED_ROUNDS} alternating rounds; {os.cpu_count()} CPUs")
    header = " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for r in rows:
        print(" ".join(f"{r[name]!s:>{width}}" for name, width in columns))
    costs = [run["throughput_cost_pct"] for run in runs[1:]]
    verdict = "PASS" if all(c < LOG_COST_TARGET_PCT for c in costs) else "FAIL"
    print(f"\nlogging throughput cost vs off: {', '.join(f'{c}%' for c in costs)} "
          f"(target < {LOG_COST_TARGET_PCT:.0f}%: {verdict})")
    result = {
        "benchmark": "serving /predict latency and throughput, prediction log off/stdout/file",
        "setup": {"rows_per_request": ROWS_PER_REQUEST, "fixed_rate_rps": rate,
                  "fixed_rate_rule": f"min({FIXED_RATE_MAX:.0f}, {FIXED_RATE_SHARE:.0%} of the "
                                     "off run's max throughput, multiple of 5) req/s",
                  "fixed_seconds": FIXED_SECONDS, "fixed_pool_threads": FIXED_POOL,
                  "closed_clients": CLOSED_CLIENTS, "closed_seconds": CLOSED_SECONDS,
                  "closed_rounds": CLOSED_ROUNDS,
                  "uvicorn_workers": 1, "cpus": os.cpu_count(), "features": features,
                  "latency": "open loop, measured from the scheduled send time"},
        "log_cost_target_pct": LOG_COST_TARGET_PCT, "verdict": verdict,
        "rows": rows, "runs": runs, "runtime_s": round(time.monotonic() - began, 1),
    }
    out = REPO_ROOT / "bench" / "results" / "serving_latency.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
