"""Which workflow `modelrail local` runs for a stage, and the dispatch inputs it sends."""

from pathlib import Path

import pytest
from modelrail.errors import UsageError
from modelrail.local.workflows import dispatch_inputs, find_workflow, read_workflows

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
