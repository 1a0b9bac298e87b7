"""The gate's failed metrics as a GitLab Code Quality report, shown in the MR widget.

GitLab reads a JSON array of Code Climate issues (`artifacts: reports: codequality:`, the
"Code Quality report format" in its docs) and needs, per issue: `description`,
`check_name`, `fingerprint` (the same issue keeps the same one across pipelines, which is
how the widget tells new findings from resolved ones), `severity` (info, minor, major,
critical or blocker) and `location.path` with `location.lines.begin`. Each metric that
failed is one `major` issue placed on the line of the policy that sets its rule.
"""

import hashlib
import json
import posixpath
import re
from typing import Any

from modelrail.gate.evaluate import GateResult, MetricVerdict

CHECK_PREFIX = "modelrail-gate"
SEVERITY = "major"


def policy_line(policy_text: str, metric: str) -> int:
    """The 1-based line where the policy names `metric` as a key; 1 when not found."""
    key = re.compile(rf"^\s*['\"]?{re.escape(metric)}['\"]?\s*:")
    for number, line in enumerate(policy_text.splitlines(), start=1):
        if key.match(line):
            return number
    return 1


def code_quality_issues(result: GateResult, policy_path: str,
                        policy_text: str) -> list[dict[str, Any]]:
    """One issue per failed metric; `policy_path` is relative to the repository root, as
    the widget matches it (`./modelrail.yaml` is written `modelrail.yaml`)."""
    path = posixpath.normpath(policy_path)
    return [_issue(result.model, verdict, path, policy_text) for verdict in result.failures()]


def _issue(model: str, verdict: MetricVerdict, policy_path: str,
           policy_text: str) -> dict[str, Any]:
    # The verdict's wording carries the values, which change with every run; the
    # fingerprint names only what failed, so a fixed metric shows as resolved.
    identity = f"{CHECK_PREFIX}\0{model}\0{policy_path}\0{verdict.name}"
    return {
        "type": "issue",
        "description": f"Quality gate ({model}): {verdict.reason}",
        "check_name": f"{CHECK_PREFIX}/{verdict.name}",
        "categories": ["Bug Risk"],
        "fingerprint": hashlib.sha256(identity.encode()).hexdigest(),
        "severity": SEVERITY,
        "location": {"path": policy_path,
                     "lines": {"begin": policy_line(policy_text, verdict.name)}},
    }


def code_quality_json(issues: list[dict[str, Any]]) -> str:
    """The report is a bare JSON array, as GitLab reads it (no modelrail envelope)."""
    return json.dumps(issues, indent=2, allow_nan=False) + "\n"
