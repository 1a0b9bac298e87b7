"""The hash-locked requirements/*.txt match pyproject.toml, every action's extras have one,
and uv's version is named in one place (pyproject's dev extra, compiled into uv.txt)."""

import copy
import re
from pathlib import Path

import lock_requirements as locks
import pytest
import yaml

from tests.support.paths import REPO_ROOT

INSTALL_CALL = re.compile(r'install-modelrail\.sh"\s+(?P<arg>"[^"]*"|\S+)')


def test_every_lock_matches_pyproject() -> None:
    assert locks.stale(locks.pyproject()) == []


def test_a_bumped_pin_makes_its_locks_stale() -> None:
    bumped = copy.deepcopy(locks.pyproject())
    bumped["project"]["optional-dependencies"]["mlflow"] = ["mlflow-skinny==3.18.0"]

    problems = locks.stale(bumped)

    assert "mlflow: mlflow-skinny==3.18.0 is not in mlflow.txt" in problems
    assert "kubernetes+mlflow: compiled from other pyproject lists than today's" in problems
    assert not any(problem.startswith(("core:", "ab:", "uv:")) for problem in problems)


def test_a_missing_lock_is_named(tmp_path: Path) -> None:
    problems = locks.stale(locks.pyproject(), lock_dir=tmp_path)

    assert "core: core.txt is missing" in problems


def extras_requested(action: Path) -> set[str]:
    """Each extras argument the action passes to install-modelrail.sh, `$EXTRAS` expanded to
    each value the step's `EXTRAS` expression can choose."""
    requested = set()
    for step in yaml.safe_load(action.read_text())["runs"]["steps"]:
        match = INSTALL_CALL.search(step.get("run", ""))
        if not match:
            continue
        arg = match["arg"].strip('"')
        if arg == "$EXTRAS":
            requested |= set(re.findall(r"(?:&&|\|\|)\s*'([^']*)'", step["env"]["EXTRAS"]))
        else:
            requested.add(arg)
    return requested


@pytest.mark.parametrize("action", sorted((REPO_ROOT / "actions").glob("*/action.yml")),
                         ids=lambda path: path.parent.name)
def test_every_extras_an_action_installs_is_locked(action: Path) -> None:
    for extras in extras_requested(action):
        name = locks.lock_name([extra for extra in extras.split(",") if extra])
        assert locks.lock_path(name).is_file(), f"{action.parent.name}: no lock for {extras!r}"


def test_every_install_call_is_read() -> None:
    actions = sorted((REPO_ROOT / "actions").glob("*/action.yml"))
    calling = [action for action in actions if "install-modelrail.sh" in action.read_text()]
    assert len(calling) >= 10
    assert [action.parent.name for action in calling if not extras_requested(action)] == []


def test_uv_version_is_named_only_in_pyproject_and_its_lock() -> None:
    dev = locks.pyproject()["project"]["optional-dependencies"]["dev"]
    (pin,) = [requirement for requirement in dev if requirement.startswith("uv==")]
    assert re.search(rf"^{re.escape(pin)} \\$", locks.lock_path("uv").read_text(), re.M)
    installers = [REPO_ROOT / "Makefile", REPO_ROOT / "scripts" / "install-modelrail.sh",
                  *(REPO_ROOT / "bench").glob("*.py"),
                  *(REPO_ROOT / "actions").glob("*/action.yml")]
    naming_a_version = [path.name for path in installers
                        if re.search(r"\buv\s*==|UV_VERSION", path.read_text())]
    assert naming_a_version == []
