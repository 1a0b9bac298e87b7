"""A live canary lab: two real model servers, a real Prometheus scraping them every second,
and live traffic split by the Argo Rollouts stand-in's current weight, or, with
`backend="istio"`, by the weights of the VirtualService route the stand-in's istiod last
pushed (`RolloutsStandIn.istio_traffic`: a stable and a canary Deployment behind the
route's two subsets, each subset's requests going to the image its pods serve), or, with
`backend="kserve"` and a `KServeStandIn`, by the traffic Knative resolved for the
InferenceService (`KServeStandIn.split`: percent per image, each revision's requests
going to the server of the image it runs).

    from tests.support.labs.canary import Side, canary_lab, lab_policy, run_canary_cli
    from tests.support.standins.rollouts import Mirror, RolloutsStandIn

if TYPE_CHECKING:  # the demo and bench import this module without pytest's fixtures
    import pytest

    with RolloutsStandIn() as standin, canary_lab(
            tmp_path, standin, rollout="ctr-ranker",
            stable=Side("ghcr.io/acme/ctr-ranker:v1", version="1"),
            canary=Side("ghcr.io/acme/ctr-ranker:v2", version="2", faulty=True),
            rate=20) as lab:
        lab.prometheus_url      # http://127.0.0.1:PORT, both servers already scraped
        ...                     # drive the rollout (`modelrail canary run`, the act e2e)
        lab.counts()            # {(version, HTTP status): requests} answered so far

    Path("modelrail.yaml").write_text(lab_policy(steps=(10, 50, 100), step_seconds=15))

    # or all in one: a fresh stand-in and lab, `python -m modelrail canary run` on it
    outcome = run_canary_cli(work, stable, canary, step_seconds=10)
    outcome.exit_code, outcome.result["steps"], outcome.weight   # the demo, bench/canary_live

What runs (all on 127.0.0.1, free ports, everything stopped on exit, logs under `root`):

- one `python -m ctr_serving` process per side (the example model's real serving app, as
  in its image), `MODEL_VERSION` set to the side's version, so every metric it exposes
  carries `version="<version>"`;
- the Debian `prometheus`, scraping both `/metrics` every `scrape_interval` seconds
  (tests/support/services/prometheus.py `live_prometheus`); the lab is entered once both targets
  are up;
- a traffic thread sending `rate` POST /predict requests a second in total (open loop, one
  row each). Each request asks the stand-in `traffic(rollout, namespace)` and goes to the
  server whose image is the canary image for `canary_weight`% of requests and to the
  stable image's server otherwise (a deterministic accumulator, so the shares are exact
  and the same on every run). After a full promotion the canary image is the stable one
  and gets everything; after an abort the weight is 0. A request for an image that no
  side serves is counted under version "unrouted";
- a mirror (Argo Rollouts' `setMirrorRoute`, written into the stand-in's Istio
  VirtualService): while a route mirrors, a copy of its `mirrorPercentage` of the requests
  it matches, as Istio does (`traffic().mirrored`: the first route whose `match` takes a
  POST /predict with the lab's headers, `REQUEST_HEADERS`, decides; same deterministic
  accumulator), is posted to the canary image's server as well, from the
  pool, after the user's request was routed; the copy's answer is dropped and counted
  apart (`mirrored()`), so `counts()` stays what users were answered by. Prometheus then
  sees the canary's metrics from mirrored copies only. `max_weight()` is the highest
  canary weight any user request was split by while a new revision was rolling out.

With `mirror=Mirror(...)` the rollout is seeded with the mirror phase's steps and its
managed route, and `lab_policy(mirror=...)` writes the matching `rollout.mirror`.

The rollout is added to the stand-in with the stable image and `weights` unless it
exists already. A side is selected by its image: set the Rollout's image to
`canary.image` (e.g. `modelrail canary run --image <canary.image>`) to start the canary.
With `v<N>` image tags, as `modelrail image-meta` tags builds, `canary run` reads the
baseline version off the stable image.

Why a faulty canary is bad - for real, with no test switch in the serving app: both sides
serve a `scorer.json` made the way the image makes it: the example model's own training
code (`ctr_model.prepare.generate` + `ctr_model.train.build_model`, what `dvc repro` runs,
on a small data set) and the image's exporter (`python -m ctr_serving.export`). The faulty
model differs in one training parameter, `class_weight: balanced` (a params.yaml option,
a classic mistake for a rare-click problem): it ranks about as well but is miscalibrated,
predicting a mean CTR of ~0.43 instead of ~0.08 (median score 0.43 vs 0.06, measured on
the lab's rows). The serving app answers 200 with wrong probabilities; the judge sees it
in `modelrail_prediction_score_bucket` (the score histogram every server exports). To
catch it within a short step, compare that histogram at an upper quantile (the judge
counts requests beyond the baseline's quantile, a test that is strongest in the tail):
`lab_policy(steps=..., step_seconds=...)` returns a modelrail.yaml that does, with an
error-rate counter, a p99 latency histogram and an error-rate SLO beside it (a gauge
compare at `step: 30s` needs minutes of samples). Error counts and latency are the same on
both sides (the scorer does the same work), so those metrics pass.
"""

import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import requests
from modelrail.cli.main import main

from tests.support.labs.example_apps import example_app
from tests.support.paths import EXAMPLE_MODEL
from tests.support.services.prometheus import live_prometheus
from tests.support.standins import kserve
from tests.support.standins.kserve import KServeStandIn
from tests.support.standins.rollouts import Mirror, RolloutsStandIn, Traffic

if TYPE_CHECKING:  # the demo and bench import this module without pytest's fixtures
    import pytest

MODEL_NAME = "ctr-ranker"
UNROUTED = "unrouted"
REQUEST_TIMEOUT_S = 5.0
REQUEST_HEADERS = {"content-type": "application/json", "x-lab-client": "traffic"}
Backend = Literal["argo", "istio", "kserve"]
LabStandIn = RolloutsStandIn | KServeStandIn  # KServeStandIn with backend kserve only

# Runs with the example model's sources on PYTHONPATH: the pipeline's own data generator
# and model builder, on a small data set (a second or two of training). The faulty model
# differs in one training parameter, `class_weight: balanced` (a params.yaml option).
_TRAIN = """
import sys
from pathlib import Path
import joblib
from ctr_model.common import ALL_FEATURES, LABEL
from ctr_model.prepare import PrepareConfig, generate
from ctr_model.train import build_model

out = Path(sys.argv[1])
train, test = generate(PrepareConfig(seed=11, n_users=400, n_items=120, n_impressions=6000,
                                     test_fraction=0.2))
features = list(ALL_FEATURES)
for name, class_weight in (("good", None), ("faulty", "balanced")):
    model = build_model({"C": 1.0, "max_iter": 300, "features": features,
                         "class_weight": class_weight})
    model.fit(train[features], train[LABEL])
    (out / name).mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / name / "model.pkl")
(out / "rows.json").write_text(test[features].head(500).to_json(orient="records"))
"""


# Counts over one 15 s step: at 10 % of 20 req/s the canary serves ~30 requests, so
# min_samples is low; the score histogram is compared at p90, where the test has power.
_ANALYSIS = """\
analysis:
  false_rollback_rate: 0.01
  metrics:
    error_rate:
      kind: compare
      data: counter
      query: 'sum(increase(modelrail_requests_total{version="{{version}}",
        code=~"5.."}[{{window}}]))'
      total: 'sum(increase(modelrail_requests_total{version="{{version}}"}[{{window}}]))'
      direction: increase
      critical: true
      min_samples: 15
    latency_p99:
      kind: compare
      data: histogram
      query: 'sum by (le) (increase(
        modelrail_request_duration_seconds_bucket{version="{{version}}"}[{{window}}]))'
      quantile: 0.99
      direction: increase
      allowed_ratio: 3
      min_samples: 15
    prediction_p90:
      kind: compare
      data: histogram
      query: 'sum by (le) (increase(
        modelrail_prediction_score_bucket{version="{{version}}"}[{{window}}]))'
      quantile: 0.9
      direction: either
      allowed_ratio: 1.5
      min_samples: 15
    error_rate_slo:
      kind: threshold
      query: 'sum(rate(modelrail_requests_total{version="{{version}}",
        code=~"5.."}[{{window}}])) or vector(0)'
      max: 0.05
"""


def lab_policy(*, steps: Sequence[int] = (10, 25, 50, 100), step_seconds: float = 15.0,
               rollout: str = MODEL_NAME, namespace: str = "default",
               mirror: Mirror | None = None, backend: Backend = "argo") -> str:
    """A modelrail.yaml (rollout + analysis) that judges the lab's canary within short
    steps: error rate (counter), p99 latency and p90 score (histograms), an error SLO.
    With backend istio, the route `add_istio_app` makes (the mirror is on it); with
    kserve, the predictor container `add_inference_service` makes (and no mirror)."""
    istio = backend == "istio"
    route = "" if istio or mirror is None else f"route: {mirror.route}, "
    mirrored = "" if mirror is None else (
        f", mirror: {{{route}percentage: {mirror.percentage}, scale: {mirror.scale}}}")
    routed = {"istio": ", backend: istio, istio: {route: primary}",
              "kserve": ", backend: kserve"}.get(backend, "")
    container = kserve.CONTAINER if backend == "kserve" else "server"
    return (f"model: {MODEL_NAME}\nrollout: {{name: {rollout}, namespace: {namespace}, "
            f"container: {container}, steps: {list(steps)}, step_seconds: {step_seconds:g}"
            f"{mirrored}{routed}}}\n" + _ANALYSIS)


@dataclass(frozen=True)
class Side:
    """One side of the rollout: the image the Rollout names, the model version its server
    reports, and whether its artifact is the faulty one."""

    image: str
    version: str
    faulty: bool = False  # serve the miscalibrated model (see the module docstring)


# The sides the canary tests roll out: v1 serves, v2 is a good candidate, v3 the
# miscalibrated one.
STABLE = Side("ghcr.io/acme/ctr-ranker:v1", version="1")
GOOD = Side("ghcr.io/acme/ctr-ranker:v2", version="2")
FAULTY = Side("ghcr.io/acme/ctr-ranker:v3", version="3", faulty=True)


def run_canary(lab: "CanaryLab", standin: LabStandIn, canary: Side, tmp_path: Path,
               policy: str, *extra: str) -> int:
    """`modelrail canary run` of `canary` in this process, under `policy` (modelrail.yaml
    text) written to `tmp_path`, its --json document at `tmp_path`/out.json."""
    config = tmp_path / "modelrail.yaml"
    config.write_text(policy, encoding="utf-8")
    return main(["canary", "run", "--config", str(config), "--image", canary.image,
                 "--version", canary.version,
                 "--kubeconfig", str(standin.write_kubeconfig(tmp_path / "kubeconfig")),
                 "--prometheus-url", lab.prometheus_url,
                 "--json", str(tmp_path / "out.json"), *extra])


def canary_json(tmp_path: Path) -> dict[str, Any]:
    """The --json document `run_canary` wrote."""
    result: dict[str, Any] = json.loads((tmp_path / "out.json").read_text())
    return result


def train_artifacts(root: Path) -> Path:
    """`good/scorer.json`, `faulty/scorer.json` and `rows.json` (test rows) under `root`:
    trained by the example model's code, exported by the serving image's exporter."""
    root.mkdir(parents=True, exist_ok=True)
    _python(["-c", _TRAIN, str(root)], EXAMPLE_MODEL / "src")
    for name in ("good", "faulty"):
        _python(["-m", "ctr_serving.export", str(root / name / "model.pkl"),
                 "--output", str(root / name / "scorer.json")], EXAMPLE_MODEL / "serving")
    return root


def _python(args: list[str], path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(path)}
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")


@contextlib.contextmanager
def model_server(root: Path, artifact: Path, version: str) -> Iterator[str]:
    """The real serving app (`python -m ctr_serving`) on a free port; yields its URL."""
    env = {"MODEL_PATH": str(artifact), "MODEL_NAME": MODEL_NAME, "MODEL_VERSION": version,
           "PREDICTION_LOG": "off"}
    with example_app("ctr_serving", env, root / f"serving-{version}.log") as url:
        yield url


class _Share:
    """Exact, deterministic shares: `take(percent)` is True percent/100 of the calls."""

    def __init__(self) -> None:
        self._level = 0.0

    def take(self, percent: float) -> bool:
        self._level += percent
        if self._level >= 100.0:
            self._level -= 100.0
            return True
        return False


class TrafficThread:
    """Open-loop /predict traffic at `rate` requests/s, split as `split()` says now."""

    def __init__(self, split: Callable[[], Traffic], servers: dict[str, tuple[str, str]],
                 rows: Sequence[dict[str, Any]], rate: float) -> None:
        self._split = split
        self._servers = servers  # image -> (version, URL)
        self._rows, self._rate = list(rows), rate
        self._canary, self._mirror = _Share(), _Share()
        self._counts: Counter[tuple[str, int]] = Counter()
        self._mirrored: Counter[tuple[str, int]] = Counter()
        self._max_weight = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lab-traffic")
        self._thread = threading.Thread(target=self._run, name="lab-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def counts(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._counts)

    def mirrored(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._mirrored)

    def max_weight(self) -> int:
        with self._lock:
            return self._max_weight

    def split(self) -> Traffic:
        """How the next request would be split."""
        return self._split()

    def _run(self) -> None:
        period, sent = 1.0 / self._rate, 0
        started = time.monotonic()
        while not self._stopped.is_set():
            self._send(sent)
            sent += 1
            delay = started + sent * period - time.monotonic()
            if delay > 0:
                self._stopped.wait(delay)

    def _send(self, index: int) -> None:
        try:
            split = self._split()
        except KeyError:  # the rollout was removed: nothing to route
            self._count(UNROUTED, 0)
            return
        if split.canary_image != split.stable_image:  # a canary is on its way
            with self._lock:
                self._max_weight = max(self._max_weight, split.canary_weight)
        image = split.canary_image if self._canary.take(split.canary_weight) \
            else split.stable_image
        target = self._servers.get(image)
        if target is None:
            self._count(UNROUTED, 0)
            return
        version, url = target
        body = {"rows": [self._rows[index % len(self._rows)]], "user_id": f"u{index}"}
        self._pool.submit(self._post, version, url, body, self._counts)
        shadow = self._servers.get(split.canary_image)
        share = split.mirrored("POST", "/predict", REQUEST_HEADERS)
        if share and self._mirror.take(share) and shadow is not None:
            self._pool.submit(self._post, shadow[0], shadow[1], body, self._mirrored)

    def _post(self, version: str, url: str, body: dict[str, Any],
              counter: Counter[tuple[str, int]]) -> None:
        """Post one request; its answer is counted in `counter` (and otherwise dropped)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            code = session.post(f"{url}/predict", json=body, headers=REQUEST_HEADERS,
                                timeout=REQUEST_TIMEOUT_S) \
                .status_code
        except requests.RequestException:
            code = 0
        with self._lock:
            counter[(version, code)] += 1

    def _count(self, version: str, code: int) -> None:
        with self._lock:
            self._counts[(version, code)] += 1


@dataclass(frozen=True)
class CanaryLab:
    """What a running lab offers; see the module docstring."""

    prometheus_url: str
    rollout: str
    namespace: str
    stable: Side
    canary: Side
    server_urls: dict[str, str]  # version -> serving URL
    root: Path
    _traffic: TrafficThread

    def counts(self) -> dict[tuple[str, int], int]:
        """Requests answered so far by (version, HTTP status); status 0 = no answer."""
        return self._traffic.counts()

    def mirrored(self) -> dict[tuple[str, int], int]:
        """Mirrored copies answered (and dropped) so far by (version, HTTP status)."""
        return self._traffic.mirrored()

    def max_weight(self) -> int:
        """The highest canary weight a user request was split by so far, while the canary
        image differed from the stable one."""
        return self._traffic.max_weight()

    def traffic(self) -> Traffic:
        """The split the traffic follows now, whatever the backend: the stable and canary
        images and the canary's weight (0 after a promotion, as `run_canary_cli` says)."""
        return self._traffic.split()


def _warm_up(url: str, rows: Sequence[dict[str, Any]], count: int = 5) -> None:
    """A few requests before the traffic starts, as a readiness warm-up would send: the
    first requests to a fresh process are slow, and that start-up cost is not what the
    lab compares (they are counted in its metrics, long before any analysis window)."""
    with requests.Session() as session:
        for row in rows[:count]:
            session.post(f"{url}/predict", json={"rows": [row]}, timeout=REQUEST_TIMEOUT_S) \
                .raise_for_status()


def _wait_for_targets(prometheus_url: str, count: int, timeout: float = 60.0) -> None:
    """Until Prometheus has scraped `count` targets successfully."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, KeyError, IndexError, ValueError):
            answer = requests.get(f"{prometheus_url}/api/v1/query",
                                  params={"query": "sum(up)"}, timeout=2).json()
            if float(answer["data"]["result"][0]["value"][1]) >= count:
                return
        time.sleep(0.5)
    raise TimeoutError(f"Prometheus did not scrape {count} targets within {timeout:.0f}s")


def kserve_traffic(standin: KServeStandIn, name: str, namespace: str,
                   stable_image: str) -> Traffic:
    """The InferenceService's split as the lab routes it: the image other than
    `stable_image` with the largest share is the canary; one serving everything is both
    (rolled out, as after an Argo promotion: canary weight 0)."""
    shares = standin.split(name, namespace).percent_by_image
    others = {image: share for image, share in shares.items() if image != stable_image}
    if not others:
        return Traffic(stable_image, stable_image, 0)
    canary, weight = max(others.items(), key=lambda item: item[1])
    if weight == 100:
        return Traffic(canary, canary, 0)
    return Traffic(stable_image, canary, weight)


def _seed(standin: LabStandIn, backend: Backend, rollout: str, namespace: str,
          image: str, weights: Sequence[int], mirror: Mirror | None
          ) -> Callable[[], Traffic]:
    """Add the Rollout (the Istio app, the InferenceService) unless it exists; how to
    split the traffic."""
    if isinstance(standin, KServeStandIn) != (backend == "kserve"):
        raise ValueError("a KServeStandIn goes with backend kserve, and only with it")
    try:
        if isinstance(standin, KServeStandIn):
            standin.inference_service(rollout, namespace)
        elif backend == "istio":
            standin.get("virtualservices", namespace, rollout)
        else:
            standin.rollout(rollout, namespace)
    except KeyError:
        if isinstance(standin, KServeStandIn):
            standin.add_inference_service(rollout, namespace, image=image)
        elif backend == "istio":
            standin.add_istio_app(rollout, namespace, image=image)
        else:
            standin.add_rollout(rollout, namespace, image=image, weights=weights,
                                mirror=mirror)
    return _splitter(standin, backend, rollout, namespace, image)


def _splitter(standin: LabStandIn, backend: Backend, rollout: str, namespace: str,
              stable_image: str) -> Callable[[], Traffic]:
    """How the traffic is split now, per the backend."""
    if isinstance(standin, KServeStandIn):
        return lambda: kserve_traffic(standin, rollout, namespace, stable_image)
    if backend == "istio":
        return lambda: standin.istio_traffic(rollout, namespace)
    return lambda: standin.traffic(rollout, namespace)


@contextlib.contextmanager
def canary_lab(root: Path, standin: LabStandIn, *, rollout: str = MODEL_NAME,
               namespace: str = "default", stable: Side, canary: Side, rate: float = 20.0,
               scrape_interval: float = 1.0, weights: Sequence[int] = (10, 25, 50, 100),
               mirror: Mirror | None = None, backend: Backend = "argo",
               artifacts: Path | None = None) -> Iterator[CanaryLab]:
    """Start the lab (see the module docstring); everything is stopped on exit. With
    backend istio, `rollout` names the app `add_istio_app` seeds, with kserve (and a
    KServeStandIn) the InferenceService `add_inference_service` seeds (weights and mirror
    are then the policy's alone). `artifacts`: what `train_artifacts` wrote for an earlier
    lab (the training is deterministic, so labs may share it); else trained under
    `root`."""
    if stable.image == canary.image or stable.version == canary.version:
        raise ValueError("stable and canary need different images and versions")
    root.mkdir(parents=True, exist_ok=True)
    artifacts = artifacts or train_artifacts(root / "artifacts")
    rows: list[dict[str, Any]] = json.loads((artifacts / "rows.json").read_text())
    random.Random(7).shuffle(rows)  # noqa: S311 - a fixed traffic order, not security
    with contextlib.ExitStack() as stack:
        urls = {side.version: stack.enter_context(model_server(
            root, artifacts / ("faulty" if side.faulty else "good"), side.version))
            for side in (stable, canary)}
        for url in urls.values():
            _warm_up(url, rows)
        targets = [url.removeprefix("http://") for url in urls.values()]
        prometheus = stack.enter_context(
            live_prometheus(root / "prometheus", targets, scrape_interval))
        _wait_for_targets(prometheus.url, len(targets))
        split = _seed(standin, backend, rollout, namespace, stable.image, weights, mirror)
        traffic = TrafficThread(split, {side.image: (side.version, urls[side.version])
                                        for side in (stable, canary)}, rows, rate)
        traffic.start()
        stack.callback(traffic.stop)
        yield CanaryLab(prometheus_url=prometheus.url, rollout=rollout, namespace=namespace,
                        stable=stable, canary=canary, server_urls=urls, root=root,
                        _traffic=traffic)


def runner_env(tmp_path: Path, monkeypatch: "pytest.MonkeyPatch") -> None:
    """A runner's files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY under `tmp_path`), short
    retries, and none of the caller's cluster or Prometheus settings."""
    for name in ("KUBECONFIG", "KUBECONFIG_DATA", "PROMETHEUS_URL", "PROMETHEUS_TOKEN",
                 "PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "github_summary"))
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.1")


@dataclass(frozen=True)
class CanaryOutcome:
    """One `modelrail canary run` against a fresh lab: its exit code, its --json result,
    the stand-in's canary weight afterwards and how long the run took."""

    exit_code: int
    result: dict[str, Any]
    weight: int
    seconds: float


def run_canary_cli(work: Path, stable: Side, canary: Side, *,
                   steps: Sequence[int] = (10, 25, 50, 100), step_seconds: float = 10.0,
                   mirror: Mirror | None = None, quiet: bool = False,
                   backend: Backend = "argo") -> CanaryOutcome:
    """A fresh stand-in and lab, then `python -m modelrail canary run` on `canary.image`
    (report and its OpenMetrics canary.om in `work`/report, result in `work`/canary.json);
    with `mirror`, a mirror phase first; output shown unless quiet. `weight`: the
    canary's share afterwards (with istio, the canary subset's: 0 after a promotion, the
    stable subset then serving the canary's image; with kserve, as `kserve_traffic` says:
    0 after a promotion too)."""
    work.mkdir(parents=True, exist_ok=True)
    policy = work / "modelrail.yaml"
    policy.write_text(lab_policy(steps=steps, step_seconds=step_seconds, mirror=mirror,
                                 backend=backend), encoding="utf-8")
    standin: LabStandIn = KServeStandIn() if backend == "kserve" else RolloutsStandIn()
    with standin, canary_lab(work / "lab", standin, stable=stable, canary=canary,
                             weights=steps, mirror=mirror, backend=backend) as lab:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "modelrail", "canary", "run", "--config", str(policy),
             "--image", canary.image, "--version", canary.version,
             "--kubeconfig", str(standin.write_kubeconfig(work / "kubeconfig")),
             "--prometheus-url", lab.prometheus_url, "--json", str(work / "canary.json"),
             "--report-dir", str(work / "report"), "--no-summary",
             "--openmetrics", str(work / "report" / "canary.om")],
            check=False, timeout=900, stdout=subprocess.DEVNULL if quiet else None,
            stderr=subprocess.DEVNULL if quiet else None)
        seconds = time.monotonic() - started
        split = _splitter(standin, backend, lab.rollout, lab.namespace, stable.image)
        weight = split().canary_weight
    result: dict[str, Any] = json.loads((work / "canary.json").read_text(encoding="utf-8"))
    return CanaryOutcome(done.returncode, result, weight, seconds)
