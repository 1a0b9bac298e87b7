"""modelrail runs on a Python of its own, never the caller's: every action that installs it
sets up Python 3.11+ with actions/setup-python `update-environment: false` and hands its
`python-path` to install-modelrail.sh, and every step runs the CLI by the absolute path the
install step reports (`"$MODELRAIL"`), never `modelrail`, `pip` or `python -m pip/venv`
from the job's PATH, which the caller's setup-python (any version) decides.

The model's own steps in the reusable workflows (pip install of its requirements, tests,
dvc) use the caller's interpreter on purpose; only `modelrail` is checked there.
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT

ACTIONS = sorted([REPO_ROOT / "action.yml", *(REPO_ROOT / "actions").glob("*/action.yml")])
WORKFLOWS = sorted(path for path in (REPO_ROOT / ".github" / "workflows").glob("*.yml")
                   if "workflow_call" in yaml.safe_load(path.read_text())[True])  # `on:`
SETUP_PYTHON = "actions/setup-python@"
# A command at the start of a shell command: line start, after ; & | ( ! $( or a keyword.
_COMMAND_START = r"(?:^|[;&|(!]|\$\(|\b(?:then|do|else|exec|time)\b)\s*"
FROM_PATH = {
    "modelrail": re.compile(_COMMAND_START + r"modelrail(?=\s|$)", re.M),
    "pip": re.compile(_COMMAND_START + r"(?:pip3?(?=\s|$)|python3?\s+-m\s+(?:pip|venv|uv)\b)",
                      re.M),
}
_SCRIPT = re.compile(r"\$GITHUB_ACTION_PATH/([\w./-]+\.sh)")
_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$")


def shell(text: str) -> str:
    """The text without comments (a `#` at a line's start or after a blank)."""
    return re.sub(r"(?:^|\s)#.*$", "", text, flags=re.M)


def commands_from_path(text: str, *names: str) -> list[str]:
    """Each line of `text` that runs one of `names` ("modelrail", "pip") from PATH."""
    code = shell(text)
    return [line.strip() for name in names for line in code.splitlines()
            if FROM_PATH[name].search(line)]


def step_code(step: dict[str, Any], action_dir: Path) -> str:
    """A step's `run:` and every script it runs or sources from $GITHUB_ACTION_PATH, and
    theirs in turn."""
    code, seen = str(step.get("run", "")), set()
    pending = _SCRIPT.findall(code)
    while pending:
        script = (action_dir / pending.pop()).resolve()
        if script not in seen:
            seen.add(script)
            text = script.read_text()
            code += "\n" + text
            pending += _SCRIPT.findall(text)
    return code


def output_of(value: object) -> tuple[str, str] | None:
    """("step id", "output") for a `${{ steps.ID.outputs.NAME }}` value."""
    match = _OUTPUT.match(str(value).strip())
    return (match[1], match[2]) if match else None


def problems(action: dict[str, Any], action_dir: Path) -> list[str]:
    """What lets the action's modelrail run on, or install into, the caller's Python."""
    found: list[str] = []
    steps = action["runs"]["steps"]
    own_python: set[str] = set()
    install = ""
    for index, step in enumerate(steps):
        name = step.get("name") or step.get("id") or f"step {index + 1}"
        uses = str(step.get("uses", ""))
        if uses.startswith(SETUP_PYTHON):
            given = step.get("with", {})
            version = str(given.get("python-version", ""))
            if str(given.get("update-environment", "true")).lower() != "false":
                found.append(f"{name}: setup-python without update-environment: false "
                             f"changes the caller's python")
            elif not re.fullmatch(r"3\.(1[1-9]|[2-9]\d)(\.\d+)?", version):
                found.append(f"{name}: python-version {version!r} is not a pinned 3.11+")
            else:
                own_python.add(str(step.get("id")))
        code = step_code(step, action_dir)
        env = step.get("env", {})
        found += [f"{name}: runs from PATH: {line}"
                  for line in commands_from_path(code, "modelrail", "pip")]
        if "install-modelrail.sh" in code:
            source = output_of(env.get("MODELRAIL_PYTHON"))
            if source is None or source[1] != "python-path" or source[0] not in own_python:
                found.append(f"{name}: MODELRAIL_PYTHON must be the python-path of an "
                             f"earlier setup-python step (update-environment: false)")
            install = str(step.get("id"))
        elif re.search(r"\$\{?MODELRAIL(?!\w)", code):
            source = output_of(env.get("MODELRAIL"))
            if source != (install, "modelrail"):
                found.append(f"{name}: MODELRAIL must be the install step's `modelrail` output")
    return found


@pytest.mark.parametrize("path", ACTIONS, ids=lambda path: path.parent.name)
def test_every_action_runs_modelrail_on_its_own_python(path: Path) -> None:
    action = yaml.safe_load(path.read_text())
    assert problems(action, path.parent) == []


def test_every_installing_action_is_checked() -> None:
    installing = [path for path in ACTIONS if "install-modelrail.sh" in path.read_text()]
    assert len(installing) >= 12  # the top-level action and 11 under actions/


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_no_reusable_workflow_runs_modelrail_from_path(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    offending = [line for job in workflow["jobs"].values()
                 for step in job.get("steps", [])
                 for line in commands_from_path(str(step.get("run", "")), "modelrail")]
    assert offending == []


def test_seven_reusable_workflows_are_checked() -> None:
    assert len(WORKFLOWS) == 7


@pytest.mark.parametrize("line", [
    "modelrail gate --json x", 'exec modelrail "${args[@]}"', "x=$(modelrail version)",
    "if true; then modelrail promote; fi", "pip install -r requirements.txt",
    "python -m pip install uv", "python3 -m venv /tmp/v",
])
def test_a_command_from_path_is_caught(line: str) -> None:
    assert commands_from_path(line, "modelrail", "pip") == [line]


@pytest.mark.parametrize("line", [
    '"$MODELRAIL" gate', 'prepare_report_dir modelrail-ab-test', '# modelrail gate',
    'report="${RUNNER_TEMP:-/tmp}/modelrail-gate.json"', '"$venv/bin/python" -m pip install',
    'python3 -c "import socket"', 'echo "modelrail $version"',
])
def test_the_cli_by_path_and_other_mentions_pass(line: str) -> None:
    assert commands_from_path(line, "modelrail", "pip") == []


def install_action(setup: dict[str, Any], python: str, cli: str) -> dict[str, Any]:
    return {"runs": {"steps": [
        {"id": "python", "uses": SETUP_PYTHON + "sha", "with": setup},
        {"id": "install", "run": "scripts/install-modelrail.sh mlflow",
         "env": {"MODELRAIL_PYTHON": python}},
        {"name": "Gate", "run": '"$MODELRAIL" gate', "env": {"MODELRAIL": cli}},
    ]}}


@pytest.mark.parametrize(("setup", "python", "cli", "problem"), [
    ({"python-version": "3.11"}, "${{ steps.python.outputs.python-path }}",
     "${{ steps.install.outputs.modelrail }}", "without update-environment: false"),
    ({"python-version": "3.10", "update-environment": False},
     "${{ steps.python.outputs.python-path }}", "${{ steps.install.outputs.modelrail }}",
     "'3.10' is not a pinned 3.11+"),
    ({"python-version": "3.11", "update-environment": False}, "",
     "${{ steps.install.outputs.modelrail }}", "MODELRAIL_PYTHON must be"),
    ({"python-version": "3.11", "update-environment": False},
     "${{ steps.python.outputs.python-path }}", "modelrail", "MODELRAIL must be"),
])
def test_an_action_on_the_callers_python_is_caught(
    setup: dict[str, Any], python: str, cli: str, problem: str, tmp_path: Path,
) -> None:
    found = problems(install_action(setup, python, cli), tmp_path)
    assert found
    assert problem in found[0]


def test_a_well_formed_action_passes(tmp_path: Path) -> None:
    action = install_action({"python-version": "3.11", "update-environment": False},
                            "${{ steps.python.outputs.python-path }}",
                            "${{ steps.install.outputs.modelrail }}")
    assert problems(action, tmp_path) == []
