"""`--pushgateway`: a canary's gauges PUT to the real Pushgateway (Debian
prometheus-pushgateway), read back from its /metrics with the grouping key on every
sample; a second push replaces the group, as PUT means."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from modelrail.canary.openmetrics import canary_gauges
from modelrail.plumbing.pushgateway import push

from tests.support.markdown_check import HOSTILE
from tests.support.services.pushgateway import pushgateway, pushgateway_available
from tests.unit.canary.test_openmetrics import ANALYSIS, WHERE, canary

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not pushgateway_available(),
                                 reason="needs prometheus-pushgateway")]
GROUP = {"rollout": "ctr-ranker", "namespace": "ml"}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    """A gateway of its own for each test (it starts in well under a second)."""
    with pushgateway(tmp_path) as url:
        yield url


def _samples(gateway: str, family: str) -> list[str]:
    text = requests.get(f"{gateway}/metrics", timeout=10).text
    return [line for line in text.split("\n") if line.startswith(family + "{")]


def test_the_pushed_verdicts_are_served_with_the_grouping_key(gateway: str) -> None:
    shown = push(gateway, "modelrail-canary", GROUP, canary_gauges(canary(), ANALYSIS, WHERE))

    assert shown == f"{gateway}/metrics/job/modelrail-canary/rollout/ctr-ranker/namespace/ml"
    verdicts = _samples(gateway, "modelrail_canary_verdict")
    assert len(verdicts) == 4  # 2 looks x 2 metrics
    failed = [line for line in verdicts if 'step="2"' in line and 'metric="error_rate"' in line]
    assert len(failed) == 1
    assert 'job="modelrail-canary"' in failed[0]
    assert 'verdict="fail"' in failed[0]
    assert failed[0].endswith("} -1")  # no timestamp: the gateway stamps the push
    assert len(_samples(gateway, "modelrail_canary_step_verdict")) == 3


def test_a_second_push_replaces_the_group(gateway: str) -> None:
    push(gateway, "modelrail-canary", GROUP, canary_gauges(canary("7"), ANALYSIS, WHERE))
    push(gateway, "modelrail-canary", GROUP, canary_gauges(canary("8"), ANALYSIS, WHERE))

    versions = {line.split('version="')[1].split('"')[0]
                for line in _samples(gateway, "modelrail_canary_step_verdict")}
    assert versions == {"8"}


def test_hostile_label_values_and_an_unusual_rollout_name_arrive_intact(gateway: str) -> None:
    group = {"rollout": "a/b c", "namespace": "ml"}
    shown = push(gateway, "modelrail-canary", group,
                 canary_gauges(canary(HOSTILE), ANALYSIS, WHERE))

    assert "/rollout@base64/" in shown
    lines = requests.get(f"{gateway}/metrics", timeout=10).text
    assert 'rollout="a/b c"' in lines
    assert "Quality gate passed ✅\\n@acme/admins" in lines


def test_the_group_is_in_the_gateways_api(gateway: str) -> None:
    push(gateway, "modelrail-canary", GROUP, canary_gauges(canary(), ANALYSIS, WHERE))
    groups = requests.get(f"{gateway}/api/v1/metrics", timeout=10).json()["data"]

    labels = [group["labels"] for group in groups]
    assert {"job": "modelrail-canary", **GROUP} in labels
