"""The warehouse and engine inputs of actions/monitor, actions/shadow-analyze and
actions/ab-test (scripts/engine-inputs.sh), run with a recording `modelrail` as
`$MODELRAIL`: the flags each combination sends, and the DSN only ever in the environment
variable that `--postgres-dsn-env` names."""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT

DSN = "host=db.internal port=5432 user=reader password=pg-s3cr3t dbname=logs"
# Records the arguments and the value of the variable --postgres-dsn-env names.
FAKE_MODELRAIL = """#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
named = args[args.index("--postgres-dsn-env") + 1] if "--postgres-dsn-env" in args else None
with open(os.environ["CALLS"], "a") as calls:
    calls.write(json.dumps({"args": args, "dsn": os.environ.get(named or "")}) + "\\n")
"""


@dataclass(frozen=True)
class Action:
    name: str
    script: str
    inputs: dict[str, str]  # every input the action passes (table names set)
    files: dict[str, str]  # the file inputs of one run, and the flags they become
    file_flags: list[str]
    table_flags: list[str]  # what the table names become with a DSN

    def __str__(self) -> str:
        return self.name


COMMON = {"POSTGRES_DSN": "", "ENGINE": "duckdb", "SPARK_MASTER": "", "CONFIG": "m.yaml",
          "REPORT_DIR": ""}
ACTIONS = [
    Action("monitor", "monitor.sh",
           {**COMMON, "ISSUE": "false", "MARKDOWN": "", "REFERENCE": "ref.csv", "CURRENT": "",
            "EVENTS": "", "CURRENT_TABLE": "served", "EVENTS_TABLE": "clicks",
            "INPUT_TRACKING_URI": "", "INPUT_TRACKING_TOKEN": ""},
           {"CURRENT": "now.parquet", "EVENTS": "clicks.parquet"},
           ["--current", "now.parquet", "--events", "clicks.parquet"],
           ["--current-table", "served", "--events-table", "clicks"]),
    Action("shadow-analyze", "analyze.sh",
           {**COMMON, "PREDICTIONS": "", "PREDICTIONS_TABLE": "router_log", "VERSION": "",
            "INPUT_PROMETHEUS_URL": "", "INPUT_PROMETHEUS_TOKEN": ""},
           {"PREDICTIONS": "lines.parquet"}, ["--predictions", "lines.parquet"],
           ["--predictions-table", "router_log"]),
    Action("ab-test", "ab-test.sh",
           {**COMMON, "PREDICTIONS": "", "EVENTS": "", "STATS": "",
            "PREDICTIONS_TABLE": "predictions", "EVENTS_TABLE": "events",
            "ATTRIBUTION_WINDOW": "30m", "FAIL_ON_NO_SHIP": "false", "LOOKS": ""},
           {"PREDICTIONS": "p.parquet", "EVENTS": "e.parquet"},
           ["--predictions", "p.parquet", "--events", "e.parquet"],
           ["--predictions-table", "predictions", "--events-table", "events"]),
]


def run_action(tmp_path: Path, action: Action, **env: str) -> tuple[
        subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    fake = tmp_path / "modelrail"
    fake.write_text(FAKE_MODELRAIL)
    fake.chmod(0o755)
    calls = tmp_path / "calls.jsonl"
    folder = REPO_ROOT / "actions" / action.name
    process_env = {"PATH": os.environ["PATH"], "MODELRAIL": str(fake), "CALLS": str(calls),
                   "GITHUB_ACTION_PATH": str(folder), "RUNNER_TEMP": str(tmp_path),
                   "GITHUB_OUTPUT": str(tmp_path / "output"), **action.inputs, **env}
    done = subprocess.run(["bash", str(folder / action.script)], env=process_env,
                          capture_output=True, text=True, timeout=60, check=False)
    recorded = [json.loads(line) for line in calls.read_text().splitlines()] \
        if calls.exists() else []
    return done, recorded


def after(args: list[str], first: str) -> list[str]:
    """`args` from `first` on, without the --version or --looks a run may add after."""
    return args[args.index(first):]


@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_a_dsn_reaches_modelrail_only_through_the_variable_it_names(
        tmp_path: Path, action: Action) -> None:
    done, calls = run_action(tmp_path, action, POSTGRES_DSN=DSN)

    assert done.returncode == 0, done.stderr
    (call,) = calls
    assert after(call["args"], action.table_flags[0]) == [
        *action.table_flags, "--postgres-dsn-env", "POSTGRES_DSN"]
    assert call["dsn"] == DSN
    assert not any("pg-s3cr3t" in arg for arg in call["args"])
    assert "pg-s3cr3t" not in done.stdout + done.stderr + (tmp_path / "output").read_text()


@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_files_go_to_the_engine_named(tmp_path: Path, action: Action) -> None:
    done, calls = run_action(tmp_path, action, ENGINE="spark", SPARK_MASTER="local[2]",
                             **action.files)

    assert done.returncode == 0, done.stderr
    (call,) = calls
    assert after(call["args"], action.file_flags[0]) == [
        *action.file_flags, "--engine", "spark", "--spark-master", "local[2]"]


@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_duckdb_the_default_needs_no_flag(tmp_path: Path, action: Action) -> None:
    done, calls = run_action(tmp_path, action, **action.files)

    assert done.returncode == 0, done.stderr
    (call,) = calls
    assert after(call["args"], action.file_flags[0]) == action.file_flags


@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_files_and_a_dsn_together_stop_before_modelrail(tmp_path: Path, action: Action) -> None:
    done, calls = run_action(tmp_path, action, POSTGRES_DSN=DSN, **action.files)

    assert done.returncode == 2
    assert calls == []
    assert "postgres-dsn" in done.stdout
    assert "pg-s3cr3t" not in done.stdout + done.stderr


@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_no_log_at_all_names_the_inputs(tmp_path: Path, action: Action) -> None:
    done, calls = run_action(tmp_path, action)

    assert done.returncode == 2
    assert calls == []
    assert "postgres-dsn" in done.stdout
