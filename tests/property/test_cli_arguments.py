"""Property: every `modelrail` command, given any mix of its real flags (and junk) with
any values, returns an exit code of the contract (0-4) and never shows a traceback.

argparse's own exits count (SystemExit 2 for a bad flag, 0 for --help/--version). No
network: every service URL points at a closed port on 127.0.0.1 and retries are cut to
one quick attempt, so a command that gets far enough fails closed with exit 3. The
commands run in a scratch folder that holds the files the values may name.
"""

import argparse
import contextlib
import io
import json
import os
import socket
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from modelrail.cli.main import build_parser, main

from tests.property.strategies import (
    ODD_TEXT,
    example_policy_text,
    examples,
    mutated,
    trees,
)
from tests.support.builders.ab_documents import POLICY as AB_POLICY
from tests.support.builders.ab_documents import stats
from tests.support.standins.rollouts import RolloutsStandIn

CONTRACT = {0, 1, 2, 3, 4}


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    flags: tuple[str, ...]


def commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> list[Command]:
    """Every leaf command of the parser with its option strings (`canary run`: its flags)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [Command(words, tuple(o for a in parser._actions for o in a.option_strings))]
    return [command for group in groups for name, sub in group.choices.items()
            for command in commands(sub, (*words, name))]


COMMANDS = commands(build_parser())
FILES = {
    "modelrail.yaml": example_policy_text(),
    "ab.yaml": AB_POLICY,
    "broken.yaml": "model: m\nmodel: n\n",
    "bomb.yaml": "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"b{i}: &b{i} [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 10)}]\n"
        for i in range(7)),
    "metrics.json": json.dumps({"roc_auc": 0.8, "log_loss": 0.2}),
    "metrics.yaml": "roc_auc: 0.5\nlog_loss: .nan\n",
    "huge.json": '{"roc_auc": ' + "9" * 400 + "}",
    "garbage.json": "{",
    "empty.json": "",
    "stats.json": json.dumps(stats()),
    "predictions.jsonl": "".join(json.dumps({
        "timestamp": "2026-01-01T12:00:00+00:00", "request_id": "r1", "row": 0,
        "user_id": "u1", "experiment": "ranker-v2", "variant": "treatment",
        "model": "ctr-ranker", "version": version, "prediction": 0.07,
        "features": {"position": 1}, **extra}) + "\n"
        for version, extra in (("3", {}), ("4", {"shadow": True, "shadow_of": "r1"}))),
    "events.jsonl": json.dumps({"timestamp": "2026-01-01T12:00:07+00:00", "user_id": "u1",
                                "type": "click", "request_id": "r1", "value": 1.0}) + "\n",
    "reference.csv": "position,prediction\n1,0.1\n2,0.2\n",
    "issue.md": "# drift\n",
    "params.yaml": "train: {C: 1.0}\n",
    "dvc.lock": "schema: '2.0'\nstages: {train: {cmd: x, outs: [{path: m, md5: a}]}}\n",
}
PATHS = (*FILES, "kubeconfig", "missing.json", "out.json", "report.html", "reports", "dir/out.json",
         "/dev/null", "/nonexistent/x.json", ".")
WORDS = ("m", "ctr-ranker", "prod", "staging", "canary", "champion", "1", "2", "0", "-1",
         "1e400", "nan", "10,25,50,100", "100,10", "ghcr.io/acme/ranker:1",
         "ghcr.io/acme/ranker@sha256:" + "a" * 64, "sha256:" + "b" * 64, "acme/repo", "a/b",
         "models:/ctr-ranker@champion", "runs:/abc/reference.csv", "ctr-ranker@champion",
         "Healthy", "Paused", "completed", "5m", "30s", "--", "-", "DSN_VAR", "ml", "server",
         "\udcff", "caf\udce9.json")
VALUES = st.one_of(
    st.sampled_from(PATHS), st.sampled_from(WORDS), st.sampled_from(ODD_TEXT),
    # argv holds no NUL, and its only surrogates are undecodable bytes (U+DC80-U+DCFF)
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="/\x00"),
            max_size=12),
    st.integers(-(10**30), 10**30).map(str),
).filter(lambda v: ("\x00" not in v and not v.startswith("/")) or v in PATHS)
JUNK_FLAGS = ("--help", "-h", "--nope", "--json", "--config", "--version", "-x", "--")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """A scratch folder with the files, and an environment with no reachable service."""
    with tempfile.TemporaryDirectory(prefix="modelrail-cli-property-") as name:
        folder = Path(name)
        for file_name, text in FILES.items():
            (folder / file_name).write_text(text, encoding="utf-8")
        closed = f"http://127.0.0.1:{closed_port()}"
        (folder / "kubeconfig").write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "k", "cluster": {"server": closed}}],
            "users": [{"name": "u", "user": {"token": "kube-token"}}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}),
            encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder), "LANG": "C.UTF-8",
               "MLFLOW_TRACKING_URI": closed, "PROMETHEUS_URL": closed,
               "GITHUB_API_URL": closed, "GITHUB_TOKEN": "gh-token-for-tests",
               "GITHUB_REPOSITORY": "acme/repo", "GITHUB_SHA": "c" * 40,
               "KUBECONFIG": str(folder / "kubeconfig"),
               "GITHUB_OUTPUT": str(folder / "github_output"),
               "GITHUB_STEP_SUMMARY": str(folder / "step_summary"),
               "MODELRAIL_RETRY_ATTEMPTS": "1", "MODELRAIL_RETRY_BASE_DELAY": "0",
               # --postgres-dsn-env DSN_VAR: a PostgreSQL that is not there (exit 3)
               "DSN_VAR": f"host=127.0.0.1 port={closed_port()} user=u password=pw dbname=x",
               "MODELRAIL_HTTP_TIMEOUT": "2", "NO_PROXY": "*"}
        with mock.patch.dict(os.environ, env, clear=True), contextlib.chdir(folder):
            assert run(["gate", "--candidate", "metrics.json", "--json", "gate.json"])[0] == 0
            yield folder


def run(argv: Sequence[str]) -> tuple[int, str]:
    """main(argv) in-process: its exit code and everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: object = main(list(argv))
        except SystemExit as exit_:
            code = 0 if exit_.code is None else exit_.code
    return (code if isinstance(code, int) else -1), out.getvalue() + err.getvalue()


def check(argv: Sequence[str]) -> None:
    code, printed = run(argv)
    assert code in CONTRACT, (argv, code, printed[-2000:])
    assert "Traceback" not in printed, (argv, printed[-2000:])


BASE = {
    "gate": ["--candidate", "metrics.json"],
    "pr-report": ["--gate", "gate.json", "--model", "ctr-ranker", "--pr", "1"],
    "register": ["--run-id", "abc"],
    "promote": ["--to", "staging", "--version", "1"],
    "rollback": ["--env", "prod"],
    "image-meta": ["--version", "1", "--image", "ghcr.io/acme/ranker"],
    "image-digest": ["--version", "1", "--digest", "sha256:" + "b" * 64,
                     "--image", "ghcr.io/acme/ranker"],
    "rollout set-image": ["--image", "ghcr.io/acme/ranker:2"],
    "rollout wait": ["--until", "Healthy", "--timeout", "1", "--interval", "0.1"],
    "ab analyze": ["--config", "ab.yaml", "--stats", "stats.json"],
    "analyze": ["--canary", "3", "--baseline", "2"],
    "monitor": ["--reference", "reference.csv", "--current", "predictions.jsonl",
                "--events", "events.jsonl"],
    "monitor-issue": ["--markdown", "issue.md"],
    "shadow analyze": ["--predictions", "predictions.jsonl", "--version", "4"],
    "canary run": ["--image", "ghcr.io/acme/ranker:2", "--version", "3"],
}
"""Flags that get each command past argparse, so the draws reach the command itself."""


@st.composite
def argvs(draw: st.DrawFn, among: Sequence[Command] = tuple(COMMANDS),
          extra: Sequence[str] = ()) -> list[str]:
    """A command, usually with its BASE flags and `extra`, then up to six drawn flags (a
    later one overrides an earlier one), each usually with a drawn value."""
    command = draw(st.sampled_from(among), label="command")
    argv = list(command.words)
    if draw(st.integers(0, 4), label="with base") > 0:
        argv += [*BASE.get(" ".join(command.words), []), *extra]
    flags = [f for f in command.flags if f not in ("-h", "--help")]
    for _ in range(draw(st.integers(0, 6), label="flags")):
        junk = draw(st.integers(0, 15), label="junk flag") == 0 or not flags
        argv.append(draw(st.sampled_from(JUNK_FLAGS if junk else flags), label="flag"))
        if draw(st.integers(0, 5), label="with value") > 0:
            argv.append(draw(VALUES, label="value"))
    return argv


def test_every_command_is_drawn() -> None:
    assert {" ".join(c.words) for c in COMMANDS} >= {
        "gate", "pr-report", "register", "promote", "rollback", "image-meta", "image-digest",
        "rollout status", "rollout wait", "ab analyze", "analyze", "analysis export-argo",
        "monitor", "monitor-issue", "shadow analyze", "canary run", "version"}


@settings(max_examples=examples(800))
@given(argv=argvs())
def test_any_arguments(workspace: Path, argv: list[str]) -> None:
    check(argv)


@settings(max_examples=examples(40))
@given(argv=st.lists(VALUES | st.sampled_from(JUNK_FLAGS), max_size=5))
def test_any_words(workspace: Path, argv: list[str]) -> None:
    check(argv)


@settings(max_examples=examples(150))
@given(st.data())
def test_gate_with_any_edit_of_a_metrics_file(workspace: Path, data: st.DataObject) -> None:
    document = mutated(data, {"roc_auc": 0.8, "log_loss": 0.2, "eval": {"loss": 0.1}},
                       trees(max_leaves=6))
    suffix = data.draw(st.sampled_from([".json", ".yaml"]), label="suffix")
    path = workspace / f"drawn{suffix}"
    try:
        text = json.dumps(document) if suffix == ".json" else yaml.safe_dump(document)
    except (TypeError, ValueError, yaml.YAMLError):
        return
    path.write_text(text, encoding="utf-8")
    check(["gate", "--candidate", path.name, "--champion", "metrics.json", "--no-summary"])


@settings(max_examples=examples(150))
@given(st.data())
def test_ab_analyze_with_any_edit_of_a_statistics_file(workspace: Path,
                                                       data: st.DataObject) -> None:
    document = mutated(data, stats(), trees(max_leaves=6))
    try:
        text = json.dumps(document)
    except (TypeError, ValueError):
        return
    (workspace / "drawn-stats.json").write_text(text, encoding="utf-8")
    check(["ab", "analyze", "--config", "ab.yaml", "--stats", "drawn-stats.json", "--no-summary",
           "--json", "ab.json"])


ROLLOUT_COMMANDS = tuple(c for c in COMMANDS if c.words[0] == "rollout"
                         and c.words[-1] != "wait")  # wait may sleep as long as drawn


@pytest.fixture(scope="module")
def standin(workspace: Path) -> Iterator[Path]:
    """A live Rollouts stand-in holding the example's rollout; its kubeconfig's path."""
    with RolloutsStandIn() as server:
        server.add_rollout("ctr-ranker", namespace="ml", image="ghcr.io/acme/ranker:1")
        yield server.write_kubeconfig(workspace / "standin.kubeconfig")


@settings(max_examples=examples(200))
@given(data=st.data())
def test_rollout_commands_against_a_live_rollout(standin: Path, data: st.DataObject) -> None:
    """Drawn arguments reach a real (stand-in) API: reads and writes of a live object."""
    check(data.draw(argvs(ROLLOUT_COMMANDS, ("--kubeconfig", standin.name)), label="argv"))
