"""Whatever metric names, values and notes a policy and a metrics file hold, the gate's
JUnit report is well-formed XML with one testcase per metric, in order, each failed one
carrying a failure (GitLab drops a report it cannot parse, and the gate with it)."""

from xml.etree import ElementTree

from hypothesis import given, settings
from hypothesis import strategies as st
from modelrail.gate.evaluate import Check, GateResult, MetricVerdict
from modelrail.gate.junit import junit_xml

from tests.property.strategies import FLOATS, ODD_TEXT, examples

# Every code point, lone surrogates and C0 controls included.
TEXT = st.text(st.characters(exclude_categories=()), max_size=20) | st.sampled_from(ODD_TEXT)
VALUES = st.none() | FLOATS
CHECKS = st.builds(Check, kind=st.sampled_from(["threshold", "min_absolute_change"]),
                   required=FLOATS, passed=st.booleans(), detail=TEXT)
VERDICTS = st.builds(MetricVerdict, name=TEXT, candidate=VALUES, champion=VALUES,
                     greater_is_better=st.booleans(), passed=st.booleans(), reason=TEXT,
                     checks=st.lists(CHECKS, max_size=3))


@settings(max_examples=examples(300))
@given(model=TEXT, verdicts=st.lists(VERDICTS, max_size=6), notes=st.lists(TEXT, max_size=3),
       policy=TEXT)
def test_any_verdicts_give_well_formed_junit(model: str, verdicts: list[MetricVerdict],
                                             notes: list[str], policy: str) -> None:
    result = GateResult(model, all(v.passed for v in verdicts), None, verdicts, notes)

    document = junit_xml(result, policy or ".").encode("utf-8")
    root = ElementTree.fromstring(document)  # noqa: S314 - modelrail's own output

    cases = list(root.iter("testcase"))
    assert len(cases) == len(verdicts)
    for case, verdict in zip(cases, verdicts, strict=True):
        assert (case.find("failure") is None) == verdict.passed
    assert root.get("failures") == str(sum(not v.passed for v in verdicts))
