"""The monitoring Markdown (job summary, GitHub issue): feature names, the model and the
data paths open no Markdown."""

from modelrail.monitor.drift import Check, MonitorResult
from modelrail.monitor.report import html, markdown

from tests.support.markdown_check import HOSTILE, assert_inert


def result(name: str) -> MonitorResult:
    check = Check(name=name, kind="numeric", test="ks", statistic=0.3, p_value=0.001,
                  adjusted_p_value=0.002, psi=0.4, minor=0.1, major=0.25, severity="major",
                  reference={name: 0.5}, current={name: 0.7})
    return MonitorResult(model=name, reference=f"runs:/{name}", current=name, current_rows=10,
                         alpha=0.05, correction="holm", checks=[check],
                         actions={"minor": "warn", "major": "rollback"})


def test_markdown_with_hostile_names_opens_nothing() -> None:
    assert_inert(markdown(result("price")), markdown(result(HOSTILE)))


def test_the_html_names_breaches_in_plain_words() -> None:
    page = html(result("price"))

    assert "major → action rollback: price (major)" in page
