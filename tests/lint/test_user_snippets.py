"""The READMEs' and docs' code blocks are what users copy: they never show a
self-repository reference (`uses: $/...`). In a caller's workflow `$/` means the caller's
own repository, and GitHub Enterprise Server does not resolve it at all; users write
`modelrail/modelrail/actions/<name>@<ref>` (only modelrail's own reusable workflows use
`$/`, to run their actions from the same commit)."""

import re
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

SELF_REF = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?\$/")
FENCE = re.compile(r"\s*(`{3,}|~{3,})")


def user_documents() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted(REPO_ROOT.glob("actions/*/README.md")),
            *sorted(REPO_ROOT.glob("docs/*.md"))]


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each line inside a fenced code block."""
    found, fence = [], ""
    for number, line in enumerate(text.splitlines(), start=1):
        marker = FENCE.match(line)
        if not fence and marker:
            fence = marker.group(1)
        elif fence and line.strip().startswith(fence):
            fence = ""
        elif fence:
            found.append((number, line))
    return found


def self_refs(text: str) -> list[int]:
    """Line numbers of `uses: $/...` inside code blocks."""
    return [number for number, line in code_lines(text) if SELF_REF.match(line)]


@pytest.mark.parametrize("document", user_documents(),
                         ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_no_snippet_shows_a_self_repository_reference(document: Path) -> None:
    lines = self_refs(document.read_text(encoding="utf-8"))
    assert not lines, (f"{document.relative_to(REPO_ROOT)} lines {lines}: `uses: $/...` "
                       "in a user's workflow is the user's own repository; write "
                       "modelrail/modelrail/actions/<name>@v1")


def test_the_check_finds_one() -> None:
    text = "intro\n\n```yaml\nsteps:\n  - uses: $/actions/monitor\n```\n`uses: $/x` prose\n"
    assert self_refs(text) == [5]
    assert self_refs("```yaml\n- uses: modelrail/modelrail/actions/monitor@v1\n```\n") == []
