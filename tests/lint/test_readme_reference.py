"""The reference tables in the READMEs list exactly the inputs, outputs and secrets of the
YAML they document, so a new input (or a renamed output) cannot ship undocumented.

Where each reference lives:

- reusable workflow `.github/workflows/<file>` → README.md, heading `` `<file>` reference``;
- root `action.yml` → README.md, heading `` `action.yml` reference``;
- `actions/<name>/action.yml` → `actions/<name>/README.md`, heading `Reference`.

Under the heading (up to the next heading of the same or a higher level), every Markdown
table whose first header cell is `input`, `output` or `secret` lists names, backquoted, in
its first column (one cell may name several).
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
KINDS = ("input", "output", "secret")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Reference:
    """One YAML file, and where its reference tables are."""

    yaml_path: Path
    readme: Path
    heading: str

    def __str__(self) -> str:
        return str(self.yaml_path.relative_to(REPO_ROOT))


def _workflow_call(path: Path) -> dict[str, Any] | None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    if isinstance(triggers, dict) and "workflow_call" in triggers:
        return triggers["workflow_call"] or {}
    return None


def _references() -> list[Reference]:
    readme = REPO_ROOT / "README.md"
    found = [Reference(path, readme, f"`{path.name}` reference")
             for path in sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
             if _workflow_call(path) is not None]
    found.append(Reference(REPO_ROOT / "action.yml", readme, "`action.yml` reference"))
    found += [Reference(path, path.parent / "README.md", "Reference")
              for path in sorted((REPO_ROOT / "actions").glob("*/action.yml"))]
    return found


def declared(reference: Reference) -> dict[str, set[str]]:
    """Names per kind in the YAML: `inputs`, `outputs` and, for workflows, `secrets`."""
    call = _workflow_call(reference.yaml_path)
    section = call if call is not None else \
        yaml.safe_load(reference.yaml_path.read_text(encoding="utf-8"))
    assert isinstance(section, dict)
    return {kind: set(section.get(f"{kind}s") or {}) for kind in KINDS}


def section_lines(text: str, heading: str) -> list[str] | None:
    """The lines under `heading`, outside code fences, up to the next heading of its level
    or higher; None without that heading."""
    lines, level, inside, fenced = [], 0, False, False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match and inside and len(match.group(1)) <= level:
            break
        if match and match.group(2) == heading:
            inside, level = True, len(match.group(1))
            continue
        if inside and not fenced:
            lines.append(line)
    return lines if inside else None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in _CELL_SPLIT.split(line.strip().strip("|"))]


def documented(lines: list[str]) -> dict[str, set[str]]:
    """Names per kind in the section's input/output/secret tables."""
    names: dict[str, set[str]] = {kind: set() for kind in KINDS}
    kind: str | None = None
    rows = 0
    for line in lines:
        if not line.lstrip().startswith("|"):
            kind, rows = None, 0
            continue
        rows += 1
        first = _cells(line)[0]
        if rows == 1:
            kind = first.lower() if first.lower() in KINDS else None
        elif rows > 2 and kind is not None:
            names[kind].update(re.findall(r"`([^`]+)`", first))
    return names


REFERENCES = _references()


@pytest.mark.parametrize("reference", REFERENCES, ids=[str(r) for r in REFERENCES])
def test_reference_tables_match_the_yaml(reference: Reference) -> None:
    text = reference.readme.read_text(encoding="utf-8")
    where = str(reference.readme.relative_to(REPO_ROOT))
    lines = section_lines(text, reference.heading)
    assert lines is not None, f"{reference}: no heading {reference.heading!r} in {where}"
    tables = documented(lines)
    problems = []
    for kind, names in declared(reference).items():
        missing, extra = names - tables[kind], tables[kind] - names
        if missing:
            problems.append(f"{kind}s missing from the table: {sorted(missing)}")
        if extra:
            problems.append(f"{kind}s in the table but not in the YAML: {sorted(extra)}")
    assert not problems, f"{reference} vs {where}, {reference.heading!r}:\n  " + \
        "\n  ".join(problems)


def test_every_workflow_and_action_is_checked() -> None:
    assert any(r.yaml_path.name == "pr-test.yml" for r in REFERENCES)
    assert len([r for r in REFERENCES if r.heading == "Reference"]) == \
        len(list((REPO_ROOT / "actions").glob("*/action.yml")))


def test_tables_are_read_as_intended() -> None:
    text = """
### `x.yml` reference

| input | default | meaning |
|---|---|---|
| `a`, `b` / `c` | `""` | the `d` in a meaning is not a name |

```yaml
# not a heading
```

| output | meaning |
|---|---|
| `e` | `f\\|g` |

| check | meaning |
|---|---|
| `h` | other tables are ignored |

## Next
| secret | used for |
|---|---|
| `i` | outside the section |
"""
    assert section_lines(text, "`y.yml` reference") is None
    lines = section_lines(text, "`x.yml` reference")
    assert lines is not None
    tables = documented(lines)
    assert tables == {"input": {"a", "b", "c"}, "output": {"e"}, "secret": set()}
