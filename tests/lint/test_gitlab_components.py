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


def documented_inputs(component: str) -> set[str]:
    """First-column names of the `| input | default | meaning |` table that follows the
    component's first `include: component:` example in the docs."""
    names: set[str] = set()
    in_table = False
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = next(number for number, line in enumerate(lines)
                 if line.strip().endswith(f"/modelrail/modelrail/{component}@v1"))
    for line in lines[start:]:
        if line.startswith("| input |"):
            in_table = True
        elif in_table and line.startswith("|"):
            names.update(re.findall(r"`([\w-]+)`", line.split("|")[1]))
        elif in_table:
            break
    return names


def test_there_are_the_components() -> None:
    assert {"mr-check", "register", "promote", "canary"} <= {path.parent.name
                                                            for path in COMPONENTS}


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.parent.name)
def test_every_input_is_documented_and_used(path: Path) -> None:
    spec, _ = spec_and_jobs(path)
    declared = set(spec["inputs"])
    used = set(_INPUT_USE.findall(path.read_text(encoding="utf-8")))
    assert used == declared
    assert documented_inputs(path.parent.name) == declared


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


def component_jobs(name: str) -> dict[str, Any]:
    _, jobs = spec_and_jobs(REPO_ROOT / "templates" / name / "template.yml")
    return jobs


@pytest.mark.parametrize("component", ["register", "promote"])
def test_release_jobs_run_on_the_default_branch_and_never_for_a_merge_request(
    component: str,
) -> None:
    """These jobs hold the MLflow write credentials: no merge request's code reaches them."""
    for name, job in component_jobs(component).items():
        never, branch = job["rules"]
        assert never == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"',
                         "when": "never"}, name
        assert branch["if"] == "$CI_COMMIT_BRANCH && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"


def test_each_promotion_runs_in_its_environment_one_at_a_time() -> None:
    jobs = component_jobs("promote")
    tiers = {"dev": "development", "staging": "staging", "prod": "production"}
    assert set(jobs) == {f"modelrail-promote-{env}" for env in tiers}
    for env, tier in tiers.items():
        job = jobs[f"modelrail-promote-{env}"]
        assert job["environment"] == {"name": env, "deployment_tier": tier}
        assert job["resource_group"] == f"modelrail-$[[ inputs.model ]]-{env}"
        assert job["variables"]["MODELRAIL_TO"] == env
    assert jobs["modelrail-promote-dev"]["rules"][1]["when"] == "$[[ inputs.dev-when ]]"
    for env in ("staging", "prod"):
        assert jobs[f"modelrail-promote-{env}"]["rules"][1]["when"] == "manual"
        assert jobs[f"modelrail-promote-{env}"]["variables"]["MODELRAIL_VERSION"] == ""


def test_the_canary_job_never_runs_where_the_cluster_credentials_must_not_go() -> None:
    job = component_jobs("canary")["modelrail-canary"]
    guards = [(rule.get("if"), rule.get("when")) for rule in job["rules"]]
    assert guards == [('$CI_PIPELINE_SOURCE == "merge_request_event"', "never"),
                      ('$CI_COMMIT_REF_PROTECTED != "true"', "never"),
                      ("$CI_COMMIT_BRANCH && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
                       "$[[ inputs.when ]]")]
    assert (job["allow_failure"], job["interruptible"]) == (False, False)
    assert job["environment"] == {"name": "$[[ inputs.environment ]]",
                                  "deployment_tier": "production"}
    # the clean-up runs for failed and cancelled jobs alike: in after_script, not in a job
    # with `when: on_failure` (which GitLab skips after a cancelled job)
    assert any("canary-cleanup.sh" in line for line in job["after_script"])
    assert job["artifacts"]["when"] == "always"
