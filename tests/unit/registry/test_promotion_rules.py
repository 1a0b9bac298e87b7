"""Promotion rules that need no registry: flags, environment order, records, actor."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from modelrail.config import load_config
from modelrail.errors import ExitCode, UsageError
from modelrail.registry.client import VersionInfo
from modelrail.registry.promotion import (
    Actor,
    Environments,
    Outcome,
    _check_flags,
    environment_state,
    origin_of,
    previous_of,
)


@pytest.fixture
def envs(tmp_path: Path) -> Environments:
    path = tmp_path / "modelrail.yaml"
    path.write_text("model: ranker\nregistry: {layout: models}\n", encoding="utf-8")
    return Environments.from_config(load_config(path))


def refused(envs: Environments, to: str, **flags: object) -> str:
    arguments: dict[str, object] = {"version": None, "from_env": None, "force": False,
                                    "reason": None, **flags}
    with pytest.raises(UsageError) as caught:
        _check_flags(envs, to, **arguments)  # type: ignore[arg-type]
    assert caught.value.exit_code == ExitCode.USAGE
    return str(caught.value)


def test_unknown_environment_lists_the_configured_ones(envs: Environments) -> None:
    message = refused(envs, "qa", version=1)
    assert "--to: unknown environment 'qa'" in message
    assert "dev, staging, canary, prod" in message
    assert "modelrail.yaml" in message


def test_next_environment_is_allowed(envs: Environments) -> None:
    _check_flags(envs, "staging", version=None, from_env="dev", force=False, reason=None)
    _check_flags(envs, "dev", version=3, from_env=None, force=False, reason=None)


def test_skipping_needs_force_and_reason(envs: Environments) -> None:
    message = refused(envs, "prod", from_env="staging")
    assert "skips canary" in message
    assert "--force" in message
    assert "--reason" in message
    assert "--reason" in refused(envs, "prod", from_env="staging", force=True)
    assert "--reason" in refused(envs, "prod", from_env="staging", force=True, reason="  ")
    _check_flags(envs, "prod", version=None, from_env="staging", force=True, reason="hotfix")


def test_force_without_reason_is_refused_even_without_a_skip(envs: Environments) -> None:
    assert "--force needs --reason" in refused(envs, "staging", from_env="dev", force=True)


@pytest.mark.parametrize(("from_env", "to"), [("prod", "canary"), ("staging", "staging")])
def test_backwards_is_a_rollback(envs: Environments, from_env: str, to: str) -> None:
    assert "modelrail rollback" in refused(envs, to, from_env=from_env)


def test_exactly_one_source(envs: Environments) -> None:
    assert "exactly one" in refused(envs, "staging")
    assert "exactly one" in refused(envs, "staging", version=1, from_env="dev")
    assert ">= 1" in refused(envs, "dev", version=0)


def test_unknown_from_environment(envs: Environments) -> None:
    assert "--from: unknown environment 'qa'" in refused(envs, "prod", from_env="qa")


def test_models_layout_names(envs: Environments) -> None:
    assert envs.model_for("canary") == "canary.ranker"
    assert envs.alias_for("prod") == "champion"
    assert envs.registered_model == "dev.ranker"


def test_origin_and_previous_version_from_tags() -> None:
    copy = VersionInfo("prod.ranker", 2, {"origin_version": "7", "previous_version.prod": "1"})
    assert origin_of(copy) == 7
    assert previous_of(copy, "prod") == 1
    assert previous_of(copy, "canary") is None
    registered = VersionInfo("ranker", 5, {"previous_version.prod": "none"})
    assert origin_of(registered) == 5
    assert previous_of(registered, "prod") is None


def test_actor_from_github_or_local_user() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    actor = Actor.from_env({"GITHUB_ACTOR": "octocat", "USER": "runner",
                            "GITHUB_SERVER_URL": "https://github.com",
                            "GITHUB_REPOSITORY": "a/b", "GITHUB_RUN_ID": "9"}, moment)
    assert actor == Actor("octocat", "2026-03-04T03:06:07Z",
                          "https://github.com/a/b/actions/runs/9")
    assert Actor.from_env({"USER": "alice"}).name == "alice"
    assert Actor.from_env({}).name == "unknown"
    stamp = datetime.strptime(Actor.from_env({}).at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=1)


def test_actor_on_gitlab_is_the_user_who_ran_the_job_in_that_pipeline() -> None:
    actor = Actor.from_env({"GITLAB_USER_LOGIN": "release-manager", "USER": "gitlab-runner",
                            "CI_PIPELINE_URL": "https://gitlab.example.com/a/b/-/pipelines/7"})
    assert (actor.name, actor.run_url) == ("release-manager",
                                           "https://gitlab.example.com/a/b/-/pipelines/7")


def test_outcome_json_and_uri() -> None:
    outcome = Outcome("promote", "prod", "ranker", "champion", 4, changed=True,
                      previous_version=None, message="m")
    assert outcome.model_uri == "models:/ranker@champion"
    payload = outcome.to_json()
    assert payload["model_uri"] == "models:/ranker@champion"
    assert payload["previous_version"] is None
    assert payload["changed"] is True


# -- what a promotion that moves nothing says ----------------------------------------------

ENV_NAMES = ("dev", "staging", "canary", "prod")


def test_the_state_names_every_environment_and_the_release_waiting() -> None:
    held = {"dev": 5, "staging": 5, "canary": 3, "prod": 3}

    state = environment_state(ENV_NAMES, held, "prod")

    assert state == ("Held now: dev → release 5, staging → release 5, canary → release 3, "
                     "prod → release 3; release 5 waits in staging "
                     "(next: promote it to canary).")


def test_the_state_says_when_nothing_newer_waits() -> None:
    held = {"dev": 2, "staging": None, "canary": None, "prod": 2}

    state = environment_state(ENV_NAMES, held, "prod")

    assert "staging → none" in state
    assert state.endswith("no newer release waits before prod.")


def test_any_release_waits_before_an_empty_environment() -> None:
    held = {"dev": 1, "staging": None, "canary": None, "prod": None}

    assert environment_state(ENV_NAMES, held, "canary").endswith(
        "release 1 waits in dev (next: promote it to staging).")
