"""README headings say what exists: a section whose text names a reusable workflow that
exists is not titled as if it had none ("CLI only, no workflow yet"), and nothing is
called a next stage or a building block still to come."""

import re

from tests.support.paths import REPO_ROOT

STALE = re.compile(r"no workflow|CLI only|next stages?|not yet built|coming soon", re.I)


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of each `##` section."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def stale_headings(text: str, workflows: set[str]) -> list[str]:
    """Headings that read as stale: stale words, and a body naming an existing workflow."""
    return [heading for heading, body in sections(text)
            if STALE.search(heading) and any(f"`{name}`" in body for name in workflows)]


def test_no_readme_heading_denies_an_existing_workflow() -> None:
    workflows = {path.name for path in (REPO_ROOT / ".github" / "workflows").glob("*.yml")}
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert stale_headings(text, workflows) == []


def test_the_check_finds_one() -> None:
    text = "## Building blocks (CLI only, no workflow yet)\n\nruns in `canary.yml`\n## B\n"
    assert stale_headings(text, {"canary.yml"}) == ["Building blocks (CLI only, no workflow yet)"]
    assert stale_headings(text, {"other.yml"}) == []


def test_sections_of_this_readme_are_found() -> None:
    headings = [heading for heading, _ in sections(
        (REPO_ROOT / "README.md").read_text(encoding="utf-8"))]
    assert "The two commands" in headings
