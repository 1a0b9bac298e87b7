"""The GitLab CI/CD components in templates/: a `spec: inputs:` header and the jobs, every
input documented in docs/gitlab.md and used, and inputs reaching shell only through job
`variables:` (as GitHub inputs reach `run:` only through `env:`)."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = sorted((REPO_ROOT / "templates").glob("*/template.yml"))
DOCS = REPO_ROOT / "docs" / "gitlab.md"
_INPUT_USE = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")


def spec_and_jobs(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    spec, jobs = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return spec["spec"], jobs


def documented_inputs() -> set[str]:
    """First-column names of the docs' `| input | default | meaning |` table."""
    names: set[str] = set()
    in_table = False
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.startswith("| input |"):
            in_table = True
        elif in_table and line.startswith("|"):
            names.update(re.findall(r"`([\w-]+)`", line.split("|")[1]))
        elif in_table:
            break
    return names


def test_there_is_a_component() -> None:
    assert [path.parent.name for path in COMPONENTS] == ["mr-check"]


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.parent.name)
def test_every_input_is_documented_and_used(path: Path) -> None:
    spec, _ = spec_and_jobs(path)
    declared = set(spec["inputs"])
    used = set(_INPUT_USE.findall(path.read_text(encoding="utf-8")))
    assert used == declared
    assert documented_inputs() == declared


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.parent.name)
def test_inputs_reach_shell_only_through_variables(path: Path) -> None:
    _, jobs = spec_and_jobs(path)
    for name, job in jobs.items():
        for key in ("script", "before_script", "after_script"):
            for line in job.get(key, []):
                assert "$[[" not in line, f"{name}.{key} interpolates an input into shell"


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.parent.name)
def test_scripts_the_jobs_run_are_in_this_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for script in re.findall(r'\$MODELRAIL_SOURCE/([\w./-]+)"', text):
        assert (REPO_ROOT / script).is_file(), script
