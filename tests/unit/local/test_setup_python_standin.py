"""The setup-python stand-in behaves as actions/setup-python v7.0.0 does (src/find-python.ts):
`update-environment: false` changes nothing in the job and only names the tool cache's
Python in its outputs; the default puts the job's interpreter on PATH; a version this
machine lacks is refused, by name. Its `run:` script is run here with bash, as act runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from modelrail.local.act import STANDINS, toolcache_python

ACTION = yaml.safe_load((STANDINS / "setup-python" / "action.yml").read_text())
(STEP,) = ACTION["runs"]["steps"]
MACHINE = ".".join(map(str, sys.version_info[:3]))


def setup_python(tmp_path: Path, version: str, update_environment: str,
                 toolcache: str = str(toolcache_python()),
                 ) -> tuple[subprocess.CompletedProcess[str], list[str], dict[str, str]]:
    """The stand-in's result, the GITHUB_PATH lines it wrote and its outputs."""
    files = {name: tmp_path / name for name in ("GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_ENV")}
    for path in files.values():
        path.touch()
    job_python = tmp_path / "job-python" / "bin" / "python"  # what the test would prepare
    job_python.parent.mkdir(parents=True)
    job_python.symlink_to(toolcache_python())
    env = {**os.environ, **{name: str(path) for name, path in files.items()},
           "REQUESTED": version, "UPDATE_ENVIRONMENT": update_environment,
           "MODELRAIL_LOCAL_TOOLCACHE_PYTHON": toolcache,
           "MODELRAIL_LOCAL_PYTHON_ENV": str(tmp_path / "job-python")}
    done = subprocess.run(["bash", "-c", STEP["run"]], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert files["GITHUB_ENV"].read_text() == ""
    outputs = dict(line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().split())
    return done, files["GITHUB_PATH"].read_text().splitlines(), outputs


def test_the_inputs_and_outputs_are_upstream_s() -> None:
    assert set(ACTION["inputs"]) == {"python-version", "update-environment"}
    assert ACTION["inputs"]["update-environment"]["default"] == "true"
    assert set(ACTION["outputs"]) == {"python-version", "python-path", "cache-hit"}


@pytest.mark.parametrize("version", [MACHINE, MACHINE.rsplit(".", 1)[0]])
def test_update_environment_false_only_reports_the_tool_cache_python(
    tmp_path: Path, version: str,
) -> None:
    done, path, outputs = setup_python(tmp_path, version, "false")

    assert done.returncode == 0, done.stdout + done.stderr
    assert path == []
    assert outputs == {"python-version": MACHINE, "python-path": str(toolcache_python())}


def test_the_tool_cache_python_of_the_requested_version_is_handed_out(tmp_path: Path) -> None:
    """An interpreter that does not run, or is of another version, is passed over."""
    other = tmp_path / "python3.99"
    other.write_text("#!/usr/bin/env bash\necho 3.99.0\n")
    other.chmod(0o755)
    toolcache = f"{tmp_path / 'missing'}:{other}:{toolcache_python()}"

    done, _, outputs = setup_python(tmp_path, MACHINE, "false", toolcache)

    assert done.returncode == 0, done.stdout + done.stderr
    assert outputs["python-path"] == str(toolcache_python())


def test_by_default_the_job_s_python_goes_on_path(tmp_path: Path) -> None:
    done, path, outputs = setup_python(tmp_path, "", "true")

    assert done.returncode == 0, done.stdout + done.stderr
    assert path == [str(tmp_path / "job-python" / "bin")]
    assert outputs["python-path"] == str(tmp_path / "job-python" / "bin" / "python")


@pytest.mark.parametrize("update_environment", ["true", "false"])
def test_a_version_the_machine_lacks_is_refused_by_name(
    tmp_path: Path, update_environment: str,
) -> None:
    done, path, outputs = setup_python(tmp_path, "3.10", update_environment)

    assert done.returncode == 1
    assert f"this machine has only Python {MACHINE} (" in done.stdout
    assert "the workflow asked for 3.10" in done.stdout
    assert (path, outputs) == ([], {})


def test_update_environment_must_be_a_boolean(tmp_path: Path) -> None:
    done, _, outputs = setup_python(tmp_path, "", "no")

    assert done.returncode == 1
    assert "update-environment must be true or false, not 'no'" in done.stdout
    assert outputs == {}
