"""Which workflow `modelrail local` runs for a stage, and the dispatch inputs it sends."""

import re
from pathlib import Path

import pytest
from modelrail.errors import UsageError
from modelrail.local.act import STANDIN_ACTIONS, STANDINS, standin_pins
from modelrail.local.workflows import dispatch_inputs, find_workflow, read_workflows

from tests.support.paths import REPO_ROOT

PROMOTE = """\
name: Promote
on:
  workflow_dispatch:
    inputs:
      environment: {type: choice, options: [staging, prod], required: true}
      reason: {type: string, required: true}
      rollback: {type: boolean, default: false}
      note: {type: string}
jobs:
  promote:
    uses: modelrail/modelrail/.github/workflows/promote.yml@v1
"""
PR = """\
on: [pull_request]
jobs:
  check: {uses: modelrail/modelrail/.github/workflows/pr-test.yml@v1}
"""


def repo_with(tmp_path: Path, **workflows: str) -> Path:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    for name, text in workflows.items():
        (folder / f"{name}.yml").write_text(text)
    return tmp_path


def test_a_stage_workflow_is_found_by_its_trigger_and_the_modelrail_workflow_it_calls(
        tmp_path: Path) -> None:
    repo = repo_with(tmp_path, ship=PROMOTE, checks=PR, lint="on: push\njobs: {}\n")
    assert find_workflow(repo, "pull_request", "pr-test.yml").path == \
        Path(".github/workflows/checks.yml")
    assert find_workflow(repo, "workflow_dispatch", "promote.yml").path.name == "ship.yml"


def test_no_matching_workflow_names_the_event_and_the_modelrail_workflow(
        tmp_path: Path) -> None:
    repo = repo_with(tmp_path, checks=PR)
    with pytest.raises(UsageError, match=r"runs on push and calls .*register-model.yml"):
        find_workflow(repo, "push", "register-model.yml")


def test_two_candidates_ask_for_workflow_and_a_wrong_name_lists_what_exists(
        tmp_path: Path) -> None:
    repo = repo_with(tmp_path, a=PR, b=PR)
    with pytest.raises(UsageError, match=r"several workflows .*a.yml, .*b.yml.*--workflow"):
        find_workflow(repo, "pull_request", "pr-test.yml")
    with pytest.raises(UsageError, match=r"--workflow .github/workflows/c.yml: no such .*a.yml"):
        find_workflow(repo, "pull_request", "pr-test.yml", ".github/workflows/c.yml")


def test_dispatch_fills_defaults_as_github_does(tmp_path: Path) -> None:
    workflow = read_workflows(repo_with(tmp_path, ship=PROMOTE))[0]
    assert dispatch_inputs(workflow, {"environment": "prod", "reason": "go"}) == {
        "environment": "prod", "reason": "go", "rollback": "false", "note": ""}


@pytest.mark.parametrize(("given", "message"), [
    ({"environment": "canary", "reason": "x"}, "must be one of staging, prod, not 'canary'"),
    ({"environment": "prod"}, "input 'reason' is required .* --input reason=VALUE"),
    ({"environment": "prod", "reason": "x", "rollback": "yes"}, "a boolean: true or false"),
    ({"environment": "prod", "reason": "x", "rolback": "true"},
     r"'rolback' is not declared .*did you mean rollback\? \(declared: environment, reason"),
])
def test_dispatch_refuses_what_github_would_refuse_naming_the_input(
        tmp_path: Path, given: dict[str, str], message: str) -> None:
    workflow = read_workflows(repo_with(tmp_path, ship=PROMOTE))[0]
    with pytest.raises(UsageError, match=message):
        dispatch_inputs(workflow, given)


def test_a_workflow_without_workflow_dispatch_cannot_be_dispatched(tmp_path: Path) -> None:
    workflow = read_workflows(repo_with(tmp_path, checks=PR))[0]
    with pytest.raises(UsageError, match="does not run on workflow_dispatch"):
        dispatch_inputs(workflow, {})


def test_a_broken_workflow_file_is_named(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, broken="on: [push\n")
    with pytest.raises(UsageError, match=r"broken\.yml"):
        read_workflows(repo)


def test_a_stood_in_action_is_mapped_at_whatever_ref_a_workflow_pins(tmp_path: Path) -> None:
    """A Dependabot bump of a pinned SHA keeps its stand-in; the repository's own
    composite actions are read too, and actions without a stand-in are left to act."""
    repo = repo_with(tmp_path, ci="jobs:\n  a:\n    steps:\n"
                     "      - uses: actions/setup-python@" + "1" * 40 + " # v9\n"
                     "      - uses: 'actions/cache/restore@v5'\n"
                     "      - uses: actions/checkout@" + "2" * 40 + "\n")
    (tmp_path / ".github" / "actions" / "x").mkdir(parents=True)
    (tmp_path / ".github" / "actions" / "x" / "action.yml").write_text(
        "runs:\n  steps:\n    - uses: docker/login-action@" + "3" * 40 + "\n")

    pins = standin_pins(repo)

    assert pins == {f"actions/setup-python@{'1' * 40}": STANDINS / "setup-python",
                    "actions/cache@v5": STANDINS / "cache",
                    f"docker/login-action@{'3' * 40}": STANDINS / "login"}


def test_every_action_modelrail_pins_by_sha_has_a_stand_in_or_needs_none() -> None:
    """What the e2e suite runs offline: a new third-party action needs a stand-in."""
    pinned = {match.group(1) for path in REPO_ROOT.glob("**/*.yml")
              if not {".venv", ".demo", "node_modules"} & set(path.parts)
              for match in re.finditer(r"uses:\s*([\w.-]+/[\w.-]+)[^@\s]*@[0-9a-f]{40}",
                                       path.read_text())}
    assert pinned - set(STANDIN_ACTIONS) == {"actions/checkout"}
