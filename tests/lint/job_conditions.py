"""Fail-closed status checks: every `needs.<job>.result` in a workflow must be compared
with `== 'success'` or `== 'skipped'`.

`needs.shadow.result != 'failure'` lets a cancelled (or timed-out) job through, and so do
`!= 'cancelled'`, `contains(...)` over results and a negated group; a workflow that gates a
promotion on another job must name the outcomes it accepts, never the ones it refuses.
Comparisons may be combined with `||` and `&&`. And a job whose `if:` replaces the
implicit `success()` with `always()`, `!cancelled()` or `failure()` must check the result of
every job it needs (in that condition, or in the expressions it hands its steps), or it
would run after any of them failed unnoticed.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

# `needs.<id>.result`, `needs.*.result` and `needs['id'].result` (any spacing).
_RESULT = re.compile(
    r"needs\s*(?:\.\s*(?:[\w-]+|\*)|\[\s*'[^']*'\s*\])\s*\.\s*result\b", re.IGNORECASE)
_ACCEPTED = r"'(?:success|skipped)'"
_AFTER = re.compile(r"\s*==\s*" + _ACCEPTED, re.IGNORECASE)
_BEFORE = re.compile(_ACCEPTED + r"\s*==\s*$", re.IGNORECASE)
# Status functions that make a job run although a job it needs did not succeed.
_STATUS_OVERRIDE = re.compile(r"\b(?:always|cancelled|failure)\s*\(", re.IGNORECASE)
# A bare `needs` (`toJSON(needs)`, `contains(needs.*.result, ...)` is caught above).
_WHOLE_NEEDS = re.compile(r"\bneeds\b(?!\s*[.\[])", re.IGNORECASE)


FAIL_OPEN = "is not fail-closed; compare each needs.<job>.result with == 'success' or == 'skipped'"


@dataclass(frozen=True)
class Offence:
    where: str  # file and YAML path
    expression: str
    reason: str = FAIL_OPEN

    def __str__(self) -> str:
        return f"{self.where}: `{self.expression}` {self.reason}"


def _negated(expression: str, position: int) -> bool:
    """Whether the text at `position` sits inside a `!( ... )` group, at any depth."""
    depth = 0
    for index in range(position - 1, -1, -1):
        char = expression[index]
        if char == ")":
            depth += 1
        elif char == "(" and depth > 0:
            depth -= 1
        elif char == "(" and expression[:index].rstrip().endswith("!"):
            return True
    return False


def _is_fail_closed(expression: str, match: re.Match[str]) -> bool:
    compared = bool(_AFTER.match(expression, match.end())
                    or _BEFORE.search(expression[:match.start()]))
    return compared and not _negated(expression, match.start())


def offending(expression: str) -> bool:
    """True when `expression` reads a job result other than fail-closed."""
    return (any(not _is_fail_closed(expression, m) for m in _RESULT.finditer(expression))
            or bool(_WHOLE_NEEDS.search(_expressions_only(expression))))


def _expressions_only(text: str) -> str:
    """The parts of a value that GitHub evaluates: `${{ }}` blocks, or all of an `if:`."""
    blocks = re.findall(r"\$\{\{(.*?)\}\}", text, re.DOTALL)
    return " ".join(blocks) if blocks else text


def _strings(node: object, path: str) -> Iterator[tuple[str, str, str]]:
    """(yaml path, key, value) for every string in a parsed workflow."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield f"{path}.{key}", str(key), value
            else:
                yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str):
                yield f"{path}[{index}]", "", item
            else:
                yield from _strings(item, f"{path}[{index}]")


def check_workflow(text: str, name: str) -> list[Offence]:
    """Every condition or expression of one workflow that reads job results fail-open."""
    found = []
    for where, key, value in _strings(yaml.safe_load(text), name):
        if key != "if" and "${{" not in value:
            continue  # plain text (a `run:` script, a description) is not evaluated
        if offending(_expressions_only(value) if key != "if" else value):
            found.append(Offence(where, " ".join(value.split())))
    jobs = (yaml.safe_load(text) or {}).get("jobs") or {}
    for job_id, job in jobs.items():
        found += _unchecked_needs(str(job_id), job, name)
    return found


def _unchecked_needs(job_id: str, job: object, name: str) -> list[Offence]:
    """A job that overrides `success()` but leaves some needed job's result unread, in its
    condition and in the expressions it hands its steps (a report job that runs after a
    failure on purpose reads each result there, and fails unless all succeeded)."""
    if not isinstance(job, dict) or not isinstance(job.get("if"), str):
        return []
    condition = job["if"]
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else list(needs)
    if not needs or not _STATUS_OVERRIDE.search(condition):
        return []
    evaluated = [condition] + [_expressions_only(value) for _, key, value in _strings(job, "")
                               if key != "if" and "${{" in value]
    read = {m.group(0).split(".")[1].strip()
            for text in evaluated for m in _RESULT.finditer(text)}
    missing = [need for need in needs if need not in read]
    return [Offence(f"{name}.jobs.{job_id}.if", " ".join(condition.split()),
                    f"runs whatever `{need}` did: add needs.{need}.result == 'success'")
            for need in missing]


def check_files(paths: list[Path], root: Path) -> list[Offence]:
    return [offence for path in paths
            for offence in check_workflow(path.read_text(), str(path.relative_to(root)))]
