"""Where a model version came from: git, the CI run, DVC data, params, metrics, the gate.

The CI run is GitHub Actions' (GITHUB_* variables) or GitLab CI/CD's (CI_* predefined
variables: CI_COMMIT_SHA, CI_COMMIT_BRANCH/CI_COMMIT_TAG, CI_PIPELINE_URL, CI_PROJECT_URL,
CI_MERGE_REQUEST_IID, CI_COMMIT_MESSAGE); the tags are the same on both.

Each source is read by a small pure function over a path or an environment mapping, so
each can be tested alone; `Lineage.tags()` turns the result into the model version tags
`modelrail register` writes. The tag names and values: docs/mlflow.md.
"""

import hashlib
import json
import math
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from modelrail.errors import UsageError
from modelrail.plumbing.documents import check_version
from modelrail.plumbing.textfile import MB, read_json, read_yaml

EVENT_LIMIT = 25 * MB
"""GitHub caps a webhook payload at 25 MB."""

GIT_SHA = "git_sha"
GIT_REF = "git_ref"
PR_NUMBER = "pr_number"
WORKFLOW_RUN_URL = "workflow_run_url"
PROJECT_URL = "project_url"
DVC_DATA_HASH = "dvc_data_hash"
DVC_OUT_PREFIX = "dvc.out."
PARAM_PREFIX = "param."
METRIC_PREFIX = "metric."
VALIDATION_STATUS = "validation_status"
IMAGE_DIGEST = "image_digest"  # written by build-image once the serving image is pushed

ValidationStatus = Literal["passed", "failed", "unvalidated"]

MAX_TAG_VALUE = 5000  # MLflow allows more; a tag is a label, not a store
_MAX_TAG_KEY = 250
_SHA = re.compile(r"[0-9a-f]{7,64}")
_TAG_KEY_UNSAFE = re.compile(r"[^\w.\- /:]")
_MERGE_QUEUE_REF = re.compile(r"/pr-(\d+)-[0-9a-f]+$")
_MERGE_COMMIT = re.compile(r"^Merge pull request #(\d+)\b")
_SQUASH_COMMIT = re.compile(r"\(#(\d+)\)\s*$")
# The last line of GitLab's default merge commit template: "See merge request group/proj!42".
_GITLAB_MERGE_COMMIT = re.compile(r"^See merge request \S+!(\d+)\s*$", re.MULTILINE)


# -- git and the CI run ------------------------------------------------------------------

def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None


def resolve_git_sha(env: Mapping[str, str], cwd: Path) -> str:
    """`GITHUB_SHA` or `CI_COMMIT_SHA`, else `git rev-parse HEAD` in `cwd`; a UsageError
    when none works."""
    variable = next((name for name in ("GITHUB_SHA", "CI_COMMIT_SHA")
                     if env.get(name, "").strip()), None)
    sha = env[variable].strip() if variable else _git(["rev-parse", "HEAD"], cwd)
    if not sha:
        raise UsageError("cannot tell which commit this model was built from: neither "
                         "GITHUB_SHA nor CI_COMMIT_SHA is set and `git rev-parse HEAD` failed "
                         f"in {cwd} (run inside the model's git checkout)")
    sha = sha.lower()
    if not _SHA.fullmatch(sha):
        raise UsageError(f"{variable or 'git rev-parse HEAD'}: {sha!r} is not a git commit sha")
    return sha


def commit_time(sha: str, cwd: Path) -> str | None:
    """The committer date of `sha` (ISO 8601), when `cwd` is a checkout that has it."""
    return _git(["show", "-s", "--format=%cI", sha, "--"], cwd)


def resolve_git_ref(env: Mapping[str, str], cwd: Path) -> str | None:
    """`GITHUB_REF` (refs/heads/main, refs/pull/7/merge…), GitLab's tag or branch as a ref,
    else the checked-out branch."""
    return (env.get("GITHUB_REF", "").strip() or _gitlab_ref(env)
            or _git(["symbolic-ref", "-q", "HEAD"], cwd))


def _gitlab_ref(env: Mapping[str, str]) -> str | None:
    """refs/tags/CI_COMMIT_TAG, refs/heads/CI_COMMIT_BRANCH, or the merge request's ref
    (CI_MERGE_REQUEST_REF_PATH, refs/merge-requests/N/head): GitLab sets one per pipeline."""
    if tag := env.get("CI_COMMIT_TAG", "").strip():
        return f"refs/tags/{tag}"
    if branch := env.get("CI_COMMIT_BRANCH", "").strip():
        return f"refs/heads/{branch}"
    return env.get("CI_MERGE_REQUEST_REF_PATH", "").strip() or None


def project_url(env: Mapping[str, str]) -> str | None:
    """The repository's page: GitLab's CI_PROJECT_URL, or GitHub's SERVER/REPOSITORY."""
    if url := env.get("CI_PROJECT_URL", "").strip():
        return url
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY", "")
    return f"{server}/{repository}" if server and repository else None


def workflow_run_url(env: Mapping[str, str]) -> str | None:
    """The Actions run page, SERVER/REPOSITORY/actions/runs/RUN_ID[/attempts/N], or on
    GitLab the pipeline's page (CI_PIPELINE_URL)."""
    if url := env.get("CI_PIPELINE_URL", "").strip():
        return url
    server = env.get("GITHUB_SERVER_URL", "").rstrip("/")
    repository = env.get("GITHUB_REPOSITORY", "")
    run_id = env.get("GITHUB_RUN_ID", "")
    if not (server and repository and run_id):
        return None
    url = f"{server}/{repository}/actions/runs/{run_id}"
    attempt = env.get("GITHUB_RUN_ATTEMPT", "")
    return f"{url}/attempts/{attempt}" if attempt else url


def pull_request_number(event_name: str, event: Mapping[str, object]) -> int | None:
    """The PR behind an event, when the event says so.

    pull_request(_target): the payload's `number`; merge_group: the queue branch
    `gh-readonly-queue/<base>/pr-<N>-<sha>`; push: a merge commit's
    "Merge pull request #N" or a squash commit's trailing "(#N)".
    """
    if event_name.startswith("pull_request"):
        number = event.get("number")
        pull_request = event.get("pull_request")
        if number is None and isinstance(pull_request, Mapping):
            number = pull_request.get("number")
        return number if isinstance(number, int) and not isinstance(number, bool) else None
    if event_name == "merge_group":
        group = event.get("merge_group")
        ref = group.get("head_ref") if isinstance(group, Mapping) else None
        match = _MERGE_QUEUE_REF.search(ref) if isinstance(ref, str) else None
        return int(match.group(1)) if match else None
    if event_name == "push":
        commit = event.get("head_commit")
        message = commit.get("message") if isinstance(commit, Mapping) else None
        if not isinstance(message, str) or not message:
            return None
        subject = message.splitlines()[0]
        match = _MERGE_COMMIT.match(subject) or _SQUASH_COMMIT.search(subject)
        return int(match.group(1)) if match else None
    return None


def pull_request_from_env(env: Mapping[str, str]) -> int | None:
    """`pull_request_number` for the event in GITHUB_EVENT_NAME / GITHUB_EVENT_PATH; on
    GitLab the merge request's IID, or the one a merge commit's message names."""
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return merge_request_iid(env)
    event = read_json(Path(path), "event payload", f"GITHUB_EVENT_PATH {path}",
                      limit=EVENT_LIMIT)
    if not isinstance(event, Mapping):
        return None
    return pull_request_number(env.get("GITHUB_EVENT_NAME", ""), event)


def merge_request_iid(env: Mapping[str, str]) -> int | None:
    """CI_MERGE_REQUEST_IID (merge request pipelines), else the `See merge request
    group/project!N` line GitLab's default merge commit message ends with."""
    iid = env.get("CI_MERGE_REQUEST_IID", "").strip()
    if iid.isdigit():
        return int(iid)
    match = _GITLAB_MERGE_COMMIT.search(env.get("CI_COMMIT_MESSAGE", ""))
    return int(match.group(1)) if match else None


# -- DVC, params, metrics, gate ----------------------------------------------------------

@dataclass(frozen=True)
class DvcLineage:
    digest: str
    outs: Mapping[str, str]


def _entry_hash(entry: Mapping[str, object]) -> str:
    for key in ("md5", "etag", "checksum"):
        value = entry.get(key)
        if isinstance(value, str) and value:
            return value
    return "-"


def dvc_lock_lineage(path: Path) -> DvcLineage:
    """A stable digest of every dep and out recorded in dvc.lock, and each out's md5.

    The digest is sha256 over the sorted, de-duplicated `path<TAB>md5` lines, so it
    ignores stage order and formatting and changes when any tracked file changes.
    """
    data = read_yaml(path, "dvc.lock", f"--dvc-lock {path}")
    if not isinstance(data, Mapping):
        raise UsageError(f"--dvc-lock {path}: expected a dvc.lock mapping")
    stages = data.get("stages") if "schema" in data else data  # schema 1 had no wrapper
    if not isinstance(stages, Mapping):
        raise UsageError(f"--dvc-lock {path}: no stages found")
    lines: set[str] = set()
    outs: dict[str, str] = {}
    for stage_name, stage in stages.items():
        if not isinstance(stage, Mapping):
            raise UsageError(f"--dvc-lock {path}: stage {stage_name!r} is not a mapping")
        for kind in ("deps", "outs"):
            entries = stage.get(kind) or []
            if not isinstance(entries, list):
                raise UsageError(f"--dvc-lock {path}: {stage_name}.{kind} is not a list")
            for entry in entries:
                if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
                    raise UsageError(f"--dvc-lock {path}: {stage_name}.{kind} has an entry "
                                     "without a path")
                file_hash = _entry_hash(entry)
                lines.add(f"{entry['path']}\t{file_hash}")
                if kind == "outs":
                    outs[str(entry["path"])] = file_hash
    if not lines:
        raise UsageError(f"--dvc-lock {path}: records no deps or outs")
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
    return DvcLineage(digest=digest, outs=dict(sorted(outs.items())))


def _param_value(value: object) -> str:
    """A params.yaml leaf as YAML would spell it: true/false/null, lists as a,b,c; the
    example model's MLflow params use the same spelling (a copy in its log_mlflow.py)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return ",".join(_param_value(v) for v in value)
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def flatten_params(data: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """`{"train": {"C": 1.0}}` → `{"train.C": "1.0"}`."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = _param_value(value)
    return flat


def load_params(path: Path) -> dict[str, str]:
    data = read_yaml(path, "params file", f"--params {path}")
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise UsageError(f"--params {path}: expected a mapping of parameters")
    return flatten_params(data)


def gate_status(path: Path) -> ValidationStatus:
    """`passed` or `failed` from the top-level "passed" of `modelrail gate --json`."""
    label = f"--gate-report {path}"
    data = read_json(path, "gate report", label)
    report: Mapping[str, object] = data if isinstance(data, Mapping) else {}
    check_version(report, "gate", label)
    passed = report.get("passed")
    if not isinstance(passed, bool):
        raise UsageError(f"--gate-report {path}: not a `modelrail gate --json` report "
                         "(no true/false \"passed\")")
    return "passed" if passed else "failed"


def format_number(value: float) -> str:
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def tag_key(prefix: str, name: str) -> str:
    """`prefix + name`, with characters MLflow refuses in a tag key replaced by '_'."""
    key = prefix + _TAG_KEY_UNSAFE.sub("_", name)
    key = "/".join(part if part not in ("", ".", "..") else "_" for part in key.split("/"))
    return key[:_MAX_TAG_KEY]


def clip(value: str) -> str:
    return value if len(value) <= MAX_TAG_VALUE else value[: MAX_TAG_VALUE - 1] + "…"


# -- all together ------------------------------------------------------------------------

@dataclass(frozen=True)
class Lineage:
    git_sha: str
    git_ref: str | None = None
    pr_number: int | None = None
    workflow_run_url: str | None = None
    project_url: str | None = None
    dvc: DvcLineage | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    validation_status: ValidationStatus = "unvalidated"

    def with_run_data(self, params: Mapping[str, str],
                      metrics: Mapping[str, float]) -> "Lineage":
        """Fill params/metrics from the MLflow run when no file was given."""
        return Lineage(
            git_sha=self.git_sha, git_ref=self.git_ref, pr_number=self.pr_number,
            workflow_run_url=self.workflow_run_url, project_url=self.project_url, dvc=self.dvc,
            params=self.params or dict(params), metrics=self.metrics or dict(metrics),
            validation_status=self.validation_status,
        )

    def tags(self) -> dict[str, str]:
        tags = {GIT_SHA: self.git_sha, VALIDATION_STATUS: self.validation_status}
        if self.git_ref:
            tags[GIT_REF] = self.git_ref
        if self.pr_number is not None:
            tags[PR_NUMBER] = str(self.pr_number)
        if self.workflow_run_url:
            tags[WORKFLOW_RUN_URL] = self.workflow_run_url
        if self.project_url:
            tags[PROJECT_URL] = self.project_url
        if self.dvc is not None:
            tags[DVC_DATA_HASH] = self.dvc.digest
            tags.update({tag_key(DVC_OUT_PREFIX, p): h for p, h in self.dvc.outs.items()})
        tags.update({tag_key(PARAM_PREFIX, k): clip(v) for k, v in self.params.items()})
        tags.update({tag_key(METRIC_PREFIX, k): format_number(v)
                     for k, v in self.metrics.items()})
        return tags

    def description(self, headline: Sequence[str] = ()) -> str:
        """One line for the registry UI: commit, ref, PR, gate result, key metrics."""
        parts = [f"git {self.git_sha[:12]}" + (f" on {self.git_ref}" if self.git_ref else "")]
        if self.pr_number is not None:
            parts.append(f"PR #{self.pr_number}")
        parts.append({"passed": "quality gate passed", "failed": "quality gate FAILED",
                      "unvalidated": "not validated by the quality gate"}
                     [self.validation_status])
        names = [n for n in headline if n in self.metrics] or list(self.metrics)[:3]
        if names:
            parts.append(", ".join(f"{n}={self.metrics[n]:.4g}" for n in names))
        if self.workflow_run_url:
            parts.append(f"built by {self.workflow_run_url}")
        return "; ".join(parts)


def collect_lineage(
    env: Mapping[str, str],
    cwd: Path,
    *,
    gate_report: Path | None = None,
    metrics: Mapping[str, float] | None = None,
    params: Path | None = None,
    dvc_lock: Path | None = None,
    pr_number: int | None = None,
) -> Lineage:
    """Everything known about the build from the environment and the given files."""
    return Lineage(
        git_sha=resolve_git_sha(env, cwd),
        git_ref=resolve_git_ref(env, cwd),
        pr_number=pr_number if pr_number is not None else pull_request_from_env(env),
        workflow_run_url=workflow_run_url(env),
        project_url=project_url(env),
        dvc=dvc_lock_lineage(dvc_lock) if dvc_lock is not None else None,
        params=load_params(params) if params is not None else {},
        metrics=dict(metrics or {}),
        validation_status=gate_status(gate_report) if gate_report is not None
        else "unvalidated",
    )
