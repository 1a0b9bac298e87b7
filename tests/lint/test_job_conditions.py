"""Status checks between jobs are fail-closed in every workflow (this repository's and
example-model's): a job result is only ever compared with `== 'success'` / `== 'skipped'`."""

import pytest

from tests.lint.job_conditions import check_files, check_workflow, offending
from tests.support.paths import EXAMPLE_MODEL, REPO_ROOT

WORKFLOWS = sorted([*REPO_ROOT.glob(".github/workflows/*.yml"),
                    *EXAMPLE_MODEL.glob(".github/workflows/*.yml")])


def test_every_workflow_checks_job_results_fail_closed() -> None:
    assert len(WORKFLOWS) >= 10
    assert [str(offence) for offence in check_files(WORKFLOWS, REPO_ROOT)] == []


@pytest.mark.parametrize("expression", [
    "${{ !cancelled() && needs.shadow.result != 'failure' }}",  # promote.yml before the fix
    "needs.shadow.result != 'cancelled'",
    "always() && needs.build.result",
    "!contains(needs.*.result, 'failure')",
    "contains(fromJSON('[\"success\", \"skipped\"]'), needs.shadow.result)",
    "!(needs.shadow.result == 'failure')",
    "!(needs.a.result == 'success' || needs.a.result == 'skipped')",
    "!(inputs.x && (needs.a.result == 'success'))",
    "needs.shadow.result == 'failure' || needs.shadow.result == 'success'",
    "needs['shadow'].result != 'failure'",
    "!contains(toJSON(needs), 'failure')",
    "needs.shadow.result != 'Failure' && needs.shadow.result != 'cancelled'",
])
def test_fail_open_conditions_are_caught(expression: str) -> None:
    assert offending(expression)


@pytest.mark.parametrize("expression", [
    "${{ !cancelled() && (needs.shadow.result == 'success' || needs.shadow.result == 'skipped') }}",
    "!cancelled() && needs.promote.result == 'success' && inputs.image != ''",
    "'success' == needs.promote.result",
    "needs.canary.outputs.result == 'promoted'",
    "needs.register.outputs.gate-passed == 'true'",
    "inputs.require-shadow && !inputs.rollback",
    "!cancelled() && needs.a.result == 'SUCCESS'",
])
def test_fail_closed_conditions_pass(expression: str) -> None:
    assert not offending(expression)


def test_the_checker_names_the_job_and_the_condition() -> None:
    workflow = """
on: workflow_call
jobs:
  shadow: {runs-on: ubuntu-latest, steps: [{run: "true"}]}
  promote:
    needs: shadow
    if: ${{ !cancelled() && needs.shadow.result != 'failure' }}
    runs-on: ubuntu-latest
    steps:
      - run: echo "needs.shadow.result != 'failure' in a script is only text"
"""
    (offence,) = check_workflow(workflow, "promote.yml")
    assert offence.where == "promote.yml.jobs.promote.if"
    assert "needs.shadow.result != 'failure'" in str(offence)
    assert "== 'success' or == 'skipped'" in str(offence)


def test_results_passed_on_as_data_are_checked_too() -> None:
    workflow = """
on: workflow_call
jobs:
  report:
    runs-on: ubuntu-latest
    steps:
      - uses: ./actions/report
        with:
          ok: ${{ needs.gate.result != 'failure' }}
"""
    (offence,) = check_workflow(workflow, "report.yml")
    assert offence.where == "report.yml.jobs.report.steps[0].with.ok"


def test_a_job_that_overrides_success_must_read_every_needed_result() -> None:
    workflow = """
on: workflow_call
jobs:
  promote: {runs-on: ubuntu-latest, steps: [{run: "true"}]}
  canary: {runs-on: ubuntu-latest, steps: [{run: "true"}]}
  champion:
    needs: [promote, canary]
    if: ${{ !cancelled() && needs.canary.result == 'success' }}
    runs-on: ubuntu-latest
    steps: [{run: "true"}]
  plain:
    needs: [promote, canary]
    if: inputs.to == 'canary'
    runs-on: ubuntu-latest
    steps: [{run: "true"}]
"""
    (offence,) = check_workflow(workflow, "promote.yml")
    assert offence.where == "promote.yml.jobs.champion.if"
    assert "add needs.promote.result == 'success'" in str(offence)


def test_a_job_that_runs_after_a_failure_must_read_every_result_it_needs() -> None:
    workflow = """
on: workflow_call
jobs:
  test: {runs-on: ubuntu-latest, steps: [{run: "true"}]}
  gate: {runs-on: ubuntu-latest, steps: [{run: "true"}]}
  report:
    needs: [test, gate]
    if: ${{ !cancelled() }}
    runs-on: ubuntu-latest
    steps:
      - run: echo "needs.test.result == 'success' in a script is only text"
      - uses: ./actions/report
        with:
          jobs: |
            gate=${{ needs.gate.result == 'success' }}
"""
    (offence,) = check_workflow(workflow, "pr.yml")
    assert offence.where == "pr.yml.jobs.report.if"
    assert "runs whatever `test` did" in str(offence)


def test_results_handed_to_the_steps_count_as_read() -> None:
    workflow = """
on: workflow_call
jobs:
  test: {runs-on: ubuntu-latest, steps: [{run: "true"}]}
  report:
    needs: test
    if: ${{ !cancelled() }}
    runs-on: ubuntu-latest
    steps:
      - uses: ./actions/report
        with:
          jobs: "tests=${{ needs.test.result == 'success' }}"
"""
    assert check_workflow(workflow, "pr.yml") == []
