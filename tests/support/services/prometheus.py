"""A real Prometheus with a known history, for exact and repeatable analysis cases.

`History` writes OpenMetrics text (counters, classic histograms, gauges, every 15 s);
`prometheus_server` turns it into TSDB blocks with `promtool tsdb create-blocks-from
openmetrics`, starts the Debian `prometheus` on a free loopback port with a config that
scrapes nothing, waits for /-/ready and stops it afterwards.

Time quirks: blocks older than the retention (15 days by default) are deleted when the
server starts, and promtool cuts blocks at 2 h boundaries, so a history is written to end
a few minutes before now and tests query it with an explicit evaluation time (`--time`),
never "now". Counters here grow linearly, so increase() over any window is exact
whether or not Prometheus extrapolates to the window's edges.

`live_prometheus` is the other mode: an empty TSDB and live scraping of running servers
(the canary lab, tests/support/labs/canary.py).
"""

import contextlib
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from modelrail.local.processes import free_port, stop, wait_for_http
from modelrail.plumbing.openmetrics import escape, number_text

SCRAPE_INTERVAL = 15
_CONFIG = "global:\n  scrape_interval: 15s\n"  # no scrape_configs: history only


def prometheus_available() -> bool:
    return shutil.which("prometheus") is not None and shutil.which("promtool") is not None


def history_end(minutes_ago: int = 5) -> int:
    """A whole minute a few minutes before now: where a history should end."""
    return (int(time.time()) // 60 - minutes_ago) * 60


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{key}="{escape(value)}"'
                          for key, value in sorted(labels.items())) + "}"


@dataclass
class History:
    """Samples every SCRAPE_INTERVAL seconds over (end - duration, end]."""

    end: int
    duration: int
    _families: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def steps(self) -> list[int]:
        """The sample timestamps, oldest first."""
        count = self.duration // SCRAPE_INTERVAL
        return [self.end - (count - i) * SCRAPE_INTERVAL for i in range(count + 1)]

    def counter(self, family: str, labels: Mapping[str, str], per_second: float) -> None:
        """A counter growing by exactly `per_second` x 15 every scrape."""
        lines = self._family(family, "counter")
        for i, ts in enumerate(self.steps()):
            lines.append(f"{family}_total{_labels(labels)} "
                         f"{number_text(i * per_second * SCRAPE_INTERVAL)} {ts}")

    def histogram(self, family: str, labels: Mapping[str, str], per_second: float,
                  cdf: Mapping[float, float]) -> None:
        """A classic histogram: per_second observations a second, a fraction cdf[le] of
        them <= le (the +Inf bucket is added), mean observation 0.1."""
        lines = self._family(family, "histogram")
        bounds = [*sorted(cdf), math.inf]
        for i, ts in enumerate(self.steps()):
            observed = i * per_second * SCRAPE_INTERVAL
            for le in bounds:
                share = 1.0 if math.isinf(le) else cdf[le]
                lines.append(f"{family}_bucket{_labels({**labels, 'le': number_text(le)})} "
                             f"{number_text(observed * share)} {ts}")
            lines.append(f"{family}_count{_labels(labels)} {number_text(observed)} {ts}")
            lines.append(f"{family}_sum{_labels(labels)} {number_text(observed * 0.1)} {ts}")

    def gauge(self, family: str, labels: Mapping[str, str],
              value: Callable[[int], float]) -> None:
        """A gauge whose i-th sample is value(i)."""
        lines = self._family(family, "gauge")
        for i, ts in enumerate(self.steps()):
            lines.append(f"{family}{_labels(labels)} {number_text(value(i))} {ts}")

    def text(self) -> str:
        out = []
        for family, (kind, lines) in self._families.items():
            out += [f"# TYPE {family} {kind}", *lines]
        return "\n".join([*out, "# EOF"]) + "\n"

    def _family(self, family: str, kind: str) -> list[str]:
        if family not in self._families:
            self._families[family] = (kind, [])
        known, lines = self._families[family]
        if known != kind:
            raise ValueError(f"{family} is a {known}, not a {kind}")
        return lines


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen[bytes]
    root: Path


def load_history(history: History, root: Path, extra: Sequence[str] = ()) -> Path:
    """Write the history (and each `extra` OpenMetrics text) as OpenMetrics and convert it
    to TSDB blocks; the data dir."""
    data = root / "data"
    for number, text in enumerate([history.text(), *extra]):
        source = root / f"history-{number}.om"
        source.write_text(text, encoding="utf-8")
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source),
                        str(data)], check=True, capture_output=True, timeout=120)
    return data


@contextlib.contextmanager
def prometheus_server(root: Path, history: History,
                      extra: Sequence[str] = ()) -> Iterator[PrometheusServer]:
    """The real `prometheus` serving `history` and `extra` (OpenMetrics texts), on a free
    loopback port."""
    root.mkdir(parents=True, exist_ok=True)
    with _serve(root, load_history(history, root, extra), _CONFIG) as server:
        yield server


@contextlib.contextmanager
def live_prometheus(root: Path, targets: Sequence[str],
                    scrape_interval: float = 1.0) -> Iterator[PrometheusServer]:
    """The real `prometheus` scraping `targets` (host:port, /metrics) every
    `scrape_interval` seconds, on a free loopback port, with an empty TSDB."""
    root.mkdir(parents=True, exist_ok=True)
    interval = f"{max(1, round(scrape_interval * 1000))}ms"
    config = yaml.safe_dump({
        "global": {"scrape_interval": interval, "scrape_timeout": interval,
                   "evaluation_interval": interval},
        "scrape_configs": [{"job_name": "live", "static_configs": [{"targets": list(targets)}]}],
    })
    with _serve(root, root / "data", config) as server:
        yield server


@contextlib.contextmanager
def _serve(root: Path, data: Path, config_text: str) -> Iterator[PrometheusServer]:
    config = root / "prometheus.yml"
    config.write_text(config_text, encoding="utf-8")
    port, log = free_port(), root / "prometheus.log"
    command = ["prometheus", f"--storage.tsdb.path={data}", f"--config.file={config}",
               f"--web.listen-address=127.0.0.1:{port}"]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=root,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/-/ready", timeout=60, process=process, log=log)
        yield PrometheusServer(url=url, process=process, root=root)
    finally:
        stop(process)
