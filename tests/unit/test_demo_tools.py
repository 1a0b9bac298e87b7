"""`python -m demo.run` (and the stages run alone) with Prometheus missing stops before the first
stage with the install script's one message, instead of a FileNotFoundError traceback in
the canary stage after the PR and release stages ran."""

from pathlib import Path

import pytest

import demo.canary
import demo.gitlab
import demo.monitor
import demo.run

STAGES = [demo.run, demo.canary, demo.gitlab, demo.monitor]


@pytest.fixture
def no_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH with only bash and a user that may not install: every tool is missing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bash").symlink_to("/bin/bash")
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")
    (bin_dir / "id").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("MODELRAIL_SYSTEM_ROOT", str(tmp_path / "root"))
    monkeypatch.setattr(demo.run, "WORK", tmp_path / "work")
    return tmp_path


def no_stage(*args: object, **kwargs: object) -> None:
    raise AssertionError("a stage started")


@pytest.mark.parametrize("module", STAGES)
def test_missing_tool_stops_before_the_first_stage(
        no_tools: Path, module: object, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(demo.run, "mlflow_server", no_stage)
    monkeypatch.setattr(demo.canary, "run_canary_cli", no_stage)
    monkeypatch.setattr(demo.gitlab, "mlflow_server", no_stage)
    monkeypatch.setattr(demo.monitor, "MonitorLab", no_stage)
    assert module.main() == 1  # type: ignore[attr-defined]
    out, err = capfd.readouterr()
    assert out == ""
    assert err.count("install-system-packages: `make demo` cannot start: missing prometheus, "
                     "promtool, git, initdb, java, rsync, npm") == 1
    assert ("sudo apt-get install -y --no-install-recommends prometheus git postgresql "
            "openjdk-17-jre-headless rsync npm") in err
    assert "Traceback" not in err
    assert not (no_tools / "work").exists()
