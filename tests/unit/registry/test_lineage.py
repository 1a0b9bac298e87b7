"""Lineage collection: pure functions over files and an environment mapping."""

import json
import subprocess
from pathlib import Path

import pytest
from modelrail.errors import ExitCode, UsageError
from modelrail.registry.lineage import (
    Lineage,
    collect_lineage,
    dvc_lock_lineage,
    flatten_params,
    gate_status,
    load_params,
    pull_request_from_env,
    pull_request_number,
    resolve_git_sha,
    tag_key,
    workflow_run_url,
)

SHA = "0123456789abcdef0123456789abcdef01234567"

LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python prepare.py
    deps:
    - path: src/prepare.py
      hash: md5
      md5: 1bfb9ab241af37c91ca42546a38c8ec6
      size: 7190
    params:
      params.yaml:
        prepare: {seed: 1}
    outs:
    - path: data
      hash: md5
      md5: e782481e8c3d5265a3601d3be04d792a.dir
      size: 1301965
      nfiles: 2
  train:
    cmd: python train.py
    deps:
    - path: data/train.csv
      hash: md5
      md5: d080a8376dd46d34426e2cf34b7af4a0
    - path: src/prepare.py
      hash: md5
      md5: 1bfb9ab241af37c91ca42546a38c8ec6
    outs:
    - path: models/model.pkl
      hash: md5
      md5: 3e83f982e346543d4cf2980e6c33090e
"""

# The same facts, stages and entries in another order and another YAML style.
LOCK_REORDERED = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    outs: [{path: models/model.pkl, md5: 3e83f982e346543d4cf2980e6c33090e, hash: md5}]
    deps:
    - {path: src/prepare.py, md5: 1bfb9ab241af37c91ca42546a38c8ec6, hash: md5}
    - {path: data/train.csv, md5: d080a8376dd46d34426e2cf34b7af4a0, hash: md5}
  prepare:
    cmd: python prepare.py
    outs: [{path: data, md5: e782481e8c3d5265a3601d3be04d792a.dir, hash: md5, nfiles: 2}]
    deps: [{path: src/prepare.py, md5: 1bfb9ab241af37c91ca42546a38c8ec6, hash: md5}]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- dvc.lock ----------------------------------------------------------------------------

def test_dvc_digest_ignores_order_and_formatting(tmp_path: Path) -> None:
    one = dvc_lock_lineage(write(tmp_path / "a.lock", LOCK))
    two = dvc_lock_lineage(write(tmp_path / "b.lock", LOCK_REORDERED))

    assert one.digest == two.digest
    assert len(one.digest) == 64
    assert dict(one.outs) == {
        "data": "e782481e8c3d5265a3601d3be04d792a.dir",
        "models/model.pkl": "3e83f982e346543d4cf2980e6c33090e",
    }


@pytest.mark.parametrize("old", ["d080a8376dd46d34426e2cf34b7af4a0",  # a dep
                                 "e782481e8c3d5265a3601d3be04d792a.dir"])  # an out
def test_dvc_digest_changes_when_any_md5_changes(tmp_path: Path, old: str) -> None:
    before = dvc_lock_lineage(write(tmp_path / "a.lock", LOCK)).digest
    after = dvc_lock_lineage(write(tmp_path / "b.lock", LOCK.replace(old, "f" * 32))).digest
    assert before != after


def test_dvc_digest_changes_when_a_path_changes(tmp_path: Path) -> None:
    before = dvc_lock_lineage(write(tmp_path / "a.lock", LOCK)).digest
    after = dvc_lock_lineage(
        write(tmp_path / "b.lock", LOCK.replace("data/train.csv", "data/train2.csv"))).digest
    assert before != after


def test_dvc_digest_of_the_example_model(repo_root: Path) -> None:
    lineage = dvc_lock_lineage(repo_root / "example-model" / "dvc.lock")
    assert lineage.outs["models"] == "2f50919531354e26167e50ac0272575a.dir"
    assert set(lineage.outs) == {"data", "models", "metrics.json", "plots/calibration.json",
                                 "plots/roc.json"}


def test_dvc_lock_schema_1_without_wrapper(tmp_path: Path) -> None:
    old = "train:\n  cmd: x\n  deps:\n  - path: a\n    md5: aa\n  outs:\n  - path: b\n    md5: bb\n"
    lineage = dvc_lock_lineage(write(tmp_path / "dvc.lock", old))
    assert dict(lineage.outs) == {"b": "bb"}


@pytest.mark.parametrize(("text", "expected"), [
    ("[1, 2]", "expected a dvc.lock mapping"),
    ("schema: '2.0'\nstages: []\n", "no stages found"),
    ("schema: '2.0'\nstages: {train: {deps: [{md5: x}]}}\n", "without a path"),
    ("schema: '2.0'\nstages: {train: {cmd: x}}\n", "records no deps or outs"),
    ("schema: '2.0'\nstages: {train: [\n", "not valid YAML"),
])
def test_dvc_lock_errors_name_the_flag_and_file(tmp_path: Path, text: str,
                                                expected: str) -> None:
    path = write(tmp_path / "dvc.lock", text)
    with pytest.raises(UsageError) as caught:
        dvc_lock_lineage(path)
    assert f"--dvc-lock {path}" in str(caught.value)
    assert expected in str(caught.value)


def test_missing_dvc_lock(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"dvc\.lock not found"):
        dvc_lock_lineage(tmp_path / "nope.lock")


# -- params ------------------------------------------------------------------------------

def test_params_flatten_to_dotted_yaml_spellings() -> None:
    params = {"prepare": {"seed": 20240611, "test_fraction": 0.2},
              "train": {"C": 1.0, "class_weight": None, "fit_intercept": True,
                        "features": ["position", "device"], "grid": [[1, 2], [3]],
                        "nested": {"deep": {"x": "y"}}}}
    assert flatten_params(params) == {
        "prepare.seed": "20240611",
        "prepare.test_fraction": "0.2",
        "train.C": "1.0",
        "train.class_weight": "null",
        "train.fit_intercept": "true",
        "train.features": "position,device",
        "train.grid": "[[1, 2], [3]]",
        "train.nested.deep.x": "y",
    }


def test_load_params_of_the_example_model(repo_root: Path) -> None:
    params = load_params(repo_root / "example-model" / "params.yaml")
    assert params["train.max_iter"] == "500"
    assert params["train.features"].startswith("position,category,")


def test_params_file_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--params .*expected a mapping"):
        load_params(write(tmp_path / "params.yaml", "- a\n- b\n"))


# -- CI run, PR, git ---------------------------------------------------------------------

def test_params_and_dvc_lock_use_the_strict_loader(tmp_path: Path) -> None:
    """Issue 15, case 4: a key written twice is refused, not silently the last one."""
    params = write(tmp_path / "params.yaml", "train:\n  C: 1.0\n  C: 9.0\n")
    with pytest.raises(UsageError, match=r"^--params .*: not valid YAML: key 'C' appears"):
        load_params(params)
    lock = write(tmp_path / "dvc.lock", "schema: '2.0'\nstages: {}\nstages: {}\n")
    with pytest.raises(UsageError, match=r"^--dvc-lock .*: not valid YAML: key 'stages'"):
        dvc_lock_lineage(lock)


def test_workflow_run_url_with_and_without_attempt() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/ranker",
           "GITHUB_RUN_ID": "123"}
    assert workflow_run_url(env) == "https://github.com/acme/ranker/actions/runs/123"
    assert workflow_run_url({**env, "GITHUB_RUN_ATTEMPT": "2"}) == \
        "https://github.com/acme/ranker/actions/runs/123/attempts/2"
    assert workflow_run_url({**env, "GITHUB_SERVER_URL": "https://ghe.acme.io/"}) == \
        "https://ghe.acme.io/acme/ranker/actions/runs/123"
    assert workflow_run_url({k: v for k, v in env.items() if k != "GITHUB_RUN_ID"}) is None


@pytest.mark.parametrize(("event_name", "event", "expected"), [
    ("pull_request", {"number": 7, "pull_request": {"number": 7}}, 7),
    ("pull_request_target", {"pull_request": {"number": 8}}, 8),
    ("merge_group", {"merge_group": {"head_ref": f"refs/heads/gh-readonly-queue/main/pr-42-{SHA}"}},
     42),
    ("push", {"head_commit": {"message": "Merge pull request #15 from acme/x\n\nbody"}}, 15),
    ("push", {"head_commit": {"message": "Tune C (#16)\n\n* squashed"}}, 16),
    ("push", {"head_commit": {"message": "Direct push to main"}}, None),
    ("push", {"head_commit": None}, None),
    ("workflow_dispatch", {"inputs": {}}, None),
    ("pull_request", {"number": True}, None),
])
def test_pull_request_number(event_name: str, event: dict[str, object],
                             expected: int | None) -> None:
    assert pull_request_number(event_name, event) == expected


def test_pull_request_from_the_event_file(tmp_path: Path) -> None:
    path = write(tmp_path / "event.json", json.dumps({"number": 31}))
    env = {"GITHUB_EVENT_PATH": str(path), "GITHUB_EVENT_NAME": "pull_request"}
    assert pull_request_from_env(env) == 31
    assert pull_request_from_env({}) is None
    write(path, "{not json")
    with pytest.raises(UsageError, match="GITHUB_EVENT_PATH"):
        pull_request_from_env(env)


def test_git_sha_prefers_github_sha(tmp_path: Path) -> None:
    assert resolve_git_sha({"GITHUB_SHA": SHA.upper()}, tmp_path) == SHA


def test_git_sha_rejects_garbage(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a git commit sha"):
        resolve_git_sha({"GITHUB_SHA": "main; rm -rf /"}, tmp_path)


def test_git_sha_from_the_checkout(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
                              cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "first")
    assert resolve_git_sha({}, tmp_path) == git("rev-parse", "HEAD")


def test_no_git_sha_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_git_sha({}, tmp_path)
    assert caught.value.exit_code == ExitCode.USAGE
    assert "neither GITHUB_SHA nor CI_COMMIT_SHA is set" in str(caught.value)


# -- gate report, tag keys, the whole ----------------------------------------------------

def test_gate_status(tmp_path: Path) -> None:
    assert gate_status(write(tmp_path / "g.json", '{"passed": true, "metrics": []}')) == "passed"
    assert gate_status(write(tmp_path / "g.json", '{"passed": false}')) == "failed"
    with pytest.raises(UsageError, match="no true/false"):
        gate_status(write(tmp_path / "g.json", '{"passed": "yes"}'))
    assert gate_status(write(tmp_path / "g.json",
                             '{"kind": "gate", "schema_version": 1, "passed": true}')) == "passed"
    with pytest.raises(UsageError, match=r"--gate-report .*: schema_version 2 is not understood"):
        gate_status(write(tmp_path / "g.json", '{"schema_version": 2, "passed": true}'))
    with pytest.raises(UsageError, match=r"--gate-report .*not found"):
        gate_status(tmp_path / "missing.json")


def test_tag_keys_only_use_characters_mlflow_accepts() -> None:
    assert tag_key("param.", "train.C") == "param.train.C"
    assert tag_key("dvc.out.", "plots/roc.json") == "dvc.out.plots/roc.json"
    assert tag_key("metric.", "auc@k=5") == "metric.auc_k_5"
    assert tag_key("dvc.out.", "data/../x") == "dvc.out.data/_/x"
    assert tag_key("dvc.out.", "data//x/.") == "dvc.out.data/_/x/_"
    assert len(tag_key("param.", "x" * 400)) == 250


def test_lineage_tags_and_description(tmp_path: Path) -> None:
    lock = write(tmp_path / "dvc.lock", LOCK)
    params = write(tmp_path / "params.yaml", "train: {C: 0.5}\n")
    gate = write(tmp_path / "gate.json", '{"passed": true}')
    event = write(tmp_path / "event.json", json.dumps({"number": 9}))
    env = {"GITHUB_SHA": SHA, "GITHUB_REF": "refs/pull/9/merge",
           "GITHUB_EVENT_PATH": str(event), "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/ranker",
           "GITHUB_RUN_ID": "5", "GITHUB_RUN_ATTEMPT": "1"}

    lineage = collect_lineage(env, tmp_path, gate_report=gate,
                              metrics={"roc_auc": 0.76068, "n_test": 6000.0},
                              params=params, dvc_lock=lock)
    tags = lineage.tags()

    assert tags["git_sha"] == SHA
    assert tags["git_ref"] == "refs/pull/9/merge"
    assert tags["pr_number"] == "9"
    assert tags["workflow_run_url"] == "https://github.com/acme/ranker/actions/runs/5/attempts/1"
    assert tags["dvc_data_hash"] == dvc_lock_lineage(lock).digest
    assert tags["dvc.out.models/model.pkl"] == "3e83f982e346543d4cf2980e6c33090e"
    assert tags["param.train.C"] == "0.5"
    assert tags["metric.roc_auc"] == "0.76068"
    assert tags["metric.n_test"] == "6000"
    assert tags["validation_status"] == "passed"
    assert "image_digest" not in tags  # build-image sets it later
    description = lineage.description(["roc_auc"])
    assert description.startswith(f"git {SHA[:12]} on refs/pull/9/merge; PR #9; "
                                  "quality gate passed; roc_auc=0.7607")


def test_unvalidated_and_flag_pr_override(tmp_path: Path) -> None:
    lineage = collect_lineage({"GITHUB_SHA": SHA}, tmp_path, pr_number=12)
    assert lineage.tags() == {"git_sha": SHA, "validation_status": "unvalidated",
                              "pr_number": "12"}
    assert "not validated" in lineage.description()


def test_run_data_fills_only_what_files_did_not() -> None:
    lineage = Lineage(git_sha=SHA, metrics={"auc": 0.9})
    filled = lineage.with_run_data({"C": "1"}, {"auc": 0.1, "loss": 0.2})
    assert dict(filled.metrics) == {"auc": 0.9}
    assert dict(filled.params) == {"C": "1"}


def test_gitlab_pipeline_lineage() -> None:
    """On GitLab the commit, ref, pipeline, project and merge request come from its
    predefined variables; the tags are named as on GitHub."""
    env = {"CI_COMMIT_SHA": SHA.upper(), "CI_COMMIT_BRANCH": "main",
           "CI_PIPELINE_URL": "https://gitlab.example.com/acme/ranker/-/pipelines/77",
           "CI_PROJECT_URL": "https://gitlab.example.com/acme/ranker",
           "CI_COMMIT_MESSAGE": "Merge branch 'fix' into 'main'\n\nFix\n\n"
                                "See merge request acme/ranker!12\n"}

    tags = collect_lineage(env, Path("/nonexistent")).tags()

    assert tags["git_sha"] == SHA
    assert tags["git_ref"] == "refs/heads/main"
    assert tags["workflow_run_url"] == "https://gitlab.example.com/acme/ranker/-/pipelines/77"
    assert tags["project_url"] == "https://gitlab.example.com/acme/ranker"
    assert tags["pr_number"] == "12"


@pytest.mark.parametrize(("extra", "ref", "iid"), [
    ({"CI_COMMIT_TAG": "v3"}, "refs/tags/v3", None),
    ({"CI_MERGE_REQUEST_REF_PATH": "refs/merge-requests/5/head", "CI_MERGE_REQUEST_IID": "5"},
     "refs/merge-requests/5/head", 5),
    ({"CI_COMMIT_BRANCH": "main", "CI_COMMIT_MESSAGE": "A squash (no reference)"},
     "refs/heads/main", None),
])
def test_gitlab_refs_and_merge_requests(extra: dict[str, str], ref: str, iid: int | None) -> None:
    lineage = collect_lineage({"CI_COMMIT_SHA": SHA, **extra}, Path("/nonexistent"))
    assert (lineage.git_ref, lineage.pr_number) == (ref, iid)


def test_a_bad_gitlab_sha_names_its_variable() -> None:
    with pytest.raises(UsageError, match=r"^CI_COMMIT_SHA: 'nope' is not a git commit sha"):
        resolve_git_sha({"CI_COMMIT_SHA": "nope"}, Path("/nonexistent"))


def test_project_url_on_github() -> None:
    env = {"GITHUB_SHA": SHA, "GITHUB_SERVER_URL": "https://github.com/",
           "GITHUB_REPOSITORY": "acme/ranker"}
    assert collect_lineage(env, Path("/nonexistent")).tags()["project_url"] == \
        "https://github.com/acme/ranker"
