"""The gate's verdicts as a JUnit XML report: GitLab shows it in the merge request widget
and the pipeline's Tests tab (`artifacts: reports: junit:`).

GitLab's parser (lib/gitlab/ci/parsers/test/junit.rb, `create_test_case`) reads every
`testcase` under a `testsuite` (itself under `testsuites` or at the root): `classname`,
`name` and `file` name the test, a `failure` child marks it failed and the failure's text
is the output the widget shows. Each gated metric is one testcase; a failed one's text
starts with the verdict's reason (it names the metric, the bound and the candidate's
value), then one line per check; the `message` attribute repeats the reason for JUnit
readers that show attributes.

Metric names and notes come from files a merge request may change, so every string goes
through `xml_text`: characters XML 1.0 cannot hold at all (NUL, most C0 controls, lone
surrogates) are written as `\\xNN`/`\\uNNNN`, and ElementTree escapes the rest.
"""

import posixpath
import re
from xml.etree import ElementTree

from modelrail.gate.evaluate import GateResult, MetricVerdict
from modelrail.plumbing.redact import redact

SUITE = "modelrail-gate"
# XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_text(text: str) -> str:
    """`text` with credentials masked and every character XML 1.0 refuses spelled out."""
    return _NOT_XML_CHAR.sub(_escape_char, redact(text))


def junit_xml(result: GateResult, policy_path: str) -> str:
    """The report as a UTF-8 XML document: one testsuite per gate run, one testcase per
    metric of the policy; `policy_path` is the testcases' `file`."""
    failures = str(len(result.failures()))
    tests = str(len(result.metrics))
    root = ElementTree.Element("testsuites", name=SUITE, tests=tests, failures=failures)
    suite = ElementTree.SubElement(root, "testsuite", name=xml_text(f"{SUITE}: {result.model}"),
                                   tests=tests, failures=failures, errors="0", skipped="0")
    for verdict in result.metrics:
        _testcase(suite, result.model, verdict, posixpath.normpath(policy_path))
    if result.notes:
        ElementTree.SubElement(suite, "system-out").text = xml_text("\n".join(result.notes))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(suite: ElementTree.Element, model: str, verdict: MetricVerdict,
              policy_path: str) -> None:
    case = ElementTree.SubElement(suite, "testcase", classname=xml_text(f"{SUITE}.{model}"),
                                  name=xml_text(verdict.name), file=xml_text(policy_path),
                                  time="0")
    if verdict.passed:
        ElementTree.SubElement(case, "system-out").text = xml_text(verdict.reason)
        return
    failed_checks = [check for check in verdict.checks if not check.passed]
    failure = ElementTree.SubElement(case, "failure", message=xml_text(verdict.reason),
                                     type=failed_checks[0].kind if failed_checks else "no-value")
    failure.text = xml_text("\n".join([verdict.reason,
                                       *(check.detail for check in verdict.checks)]))
