"""The live canary lab itself: real servers, real Prometheus, traffic split by the weight."""

import time
from pathlib import Path

import pytest
import requests
from modelrail.rollouts.driver import RolloutDriver
from modelrail.rollouts.kube import connect

from tests.support.labs.canary import Side, canary_lab
from tests.support.services.prometheus import prometheus_available
from tests.support.standins.rollouts import RolloutsStandIn

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not prometheus_available(), reason="needs prometheus")]

STABLE = Side("ghcr.io/acme/ctr-ranker:1", version="1")
FAULTY = Side("ghcr.io/acme/ctr-ranker:2", version="2", faulty=True)


def _query(url: str, promql: str) -> dict[str, float]:
    answer = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    return {r["metric"].get("version", ""): float(r["value"][1])
            for r in answer["data"]["result"]}


def test_traffic_follows_the_weight_and_the_faulty_canary_is_miscalibrated(tmp_path: Path) -> None:
    with RolloutsStandIn() as standin, canary_lab(tmp_path, standin, stable=STABLE,
                                                  canary=FAULTY, rate=20) as lab:
        time.sleep(2)
        before = lab.counts()
        assert set(before) <= {("1", 200)}, before  # weight 100 on the stable revision

        driver = RolloutDriver(connect(str(standin.write_kubeconfig(tmp_path / "kc"))).api,
                               lab.rollout, lab.namespace)
        driver.set_image(FAULTY.image)
        standin.settle()  # the controller reaches the first pause
        driver.promote()  # past the first pause: 25 %
        standin.settle()
        assert standin.weight(lab.rollout) == 25
        time.sleep(8)

        counts = lab.counts()
        stable = sum(n for (v, _), n in counts.items() if v == "1") - before.get(("1", 200), 0)
        canary = sum(n for (v, _), n in counts.items() if v == "2")
        assert canary / (canary + stable) == pytest.approx(0.25, abs=0.03)
        assert set(counts) == {("1", 200), ("2", 200)}

        seen = _query(lab.prometheus_url,
                      'sum by (version) (modelrail_requests_total{handler="/predict"})')
        assert set(seen) == {"1", "2"}
        means = _query(lab.prometheus_url, "sum by (version) (modelrail_prediction_score_sum)"
                       " / sum by (version) (modelrail_prediction_score_count)")
        assert means["1"] < 0.15
        assert means["2"] > 0.3  # the faulty model is miscalibrated

        driver.abort()
        time.sleep(1.5)
        after = lab.counts()
        time.sleep(2)
        assert lab.counts().get(("2", 200), 0) == after.get(("2", 200), 0)  # back to stable
