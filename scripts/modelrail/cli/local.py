"""`modelrail local pr|release|promote`: a model repository's own workflows run on this
machine with act, against a local MLflow server and a GitHub API stand-in (docs/local.md)."""

import argparse
import os
import subprocess
from pathlib import Path

from modelrail.cli.common import say
from modelrail.errors import ExitCode, UsageError
from modelrail.local.act import ActRun, git
from modelrail.local.session import Options, check_repository, local_session
from modelrail.local.workflows import dispatch_inputs, find_workflow

# pr-test.yml's job that judges the candidate: a green run without it judged nothing.
GATE_JOB = "Gate against the champion"


def add_local_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    local = commands.add_parser(
        "local", help="run your repository's workflows on this machine (act, local MLflow)")
    stages = local.add_subparsers(dest="stage", required=True, metavar="STAGE")
    shared = _shared_flags()
    pr = stages.add_parser("pr", parents=[shared],
                           help="the PR check: the checked-out commit as a pull request")
    pr.add_argument("--base", default="main", metavar="REF",
                    help="the PR's base branch or commit (default: main)")
    pr.add_argument("--number", type=int, default=1, help="the PR's number (default: 1)")
    pr.set_defaults(handler=cmd_local_pr)
    release = stages.add_parser("release", parents=[shared],
                                help="the release: a push of the checked-out commit to main")
    release.set_defaults(handler=cmd_local_release)
    promote = stages.add_parser("promote", parents=[shared],
                                help="the Promote workflow, dispatched with its inputs")
    promote.add_argument("environment", nargs="?",
                         help="the target environment (the `environment` input)")
    promote.add_argument("--reason", help="why (the `reason` input)")
    promote.add_argument("--input", action="append", default=[], metavar="NAME=VALUE",
                         help="any other input the workflow declares (repeatable)")
    promote.set_defaults(handler=cmd_local_promote)


def _shared_flags() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--repo", default=".", metavar="DIR",
                        help="the model repository (default: the current folder)")
    shared.add_argument("--workflow", metavar="PATH",
                        help="the workflow file to run (default: the one that calls this "
                             "stage's modelrail workflow)")
    shared.add_argument("--state-dir", metavar="DIR",
                        help="MLflow store, logs and artifacts (default: "
                             "~/.cache/modelrail-local/<repo>-<hash>)")
    shared.add_argument("--repository", metavar="OWNER/NAME",
                        help="GITHUB_REPOSITORY of the runs (default: from the origin remote)")
    shared.add_argument("--dvc-remote", default="", metavar="NAME",
                        help="the DVC remote the workflows use, as named in .dvc/config "
                             "(default: none)")
    shared.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                        help="a repository variable (vars.NAME) (repeatable)")
    shared.add_argument("--secret", action="append", default=[], metavar="NAME",
                        help="a secret (secrets.NAME) taken from the environment variable "
                             "NAME, so its value is never on a command line (repeatable)")
    shared.add_argument("--runner", action="append", default=[], metavar="LABEL",
                        help="a runs-on label of your jobs to run on this machine "
                             "(ubuntu-latest always does) (repeatable)")
    return shared


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise UsageError(f"{flag} {value!r}: expected NAME=VALUE")
        pairs[name] = text
    return pairs


def _secrets(names: list[str]) -> dict[str, str]:
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise UsageError(f"--secret {missing[0]}: no environment variable {missing[0]} "
                         f"holds its value")
    return {name: os.environ[name] for name in names}


def _options(args: argparse.Namespace) -> Options:
    return Options(Path(args.repo), Path(args.state_dir) if args.state_dir else None,
                   args.repository or "", args.dvc_remote, _pairs(args.var, "--var"),
                   _secrets(args.secret), tuple(args.runner))


def cmd_local_pr(args: argparse.Namespace) -> ExitCode:
    repo = check_repository(Path(args.repo))
    if args.number < 1:
        raise UsageError(f"--number {args.number}: a PR number is 1 or more")
    workflow = find_workflow(repo, "pull_request", "pr-test.yml", args.workflow)
    base = _commit(repo, args.base, "--base")
    with local_session(_options(args)) as session:
        say(f"PR #{args.number}: {_describe(repo)} against {args.base} ({base[:12]}), "
            f"{workflow.path}")
        run = session.workbench.pull_request(repo, str(workflow.path), base,
                                             args.number)
        comments = session.github.comments(session.workbench.repository, args.number)
        verdict = _report(run, comments[-1]["body"] if comments else "")
    if verdict == ExitCode.OK and run.job_result(GATE_JOB) != "succeeded":
        say(f"FAILED: the run ended without the job {GATE_JOB!r}: nothing was judged")
        return ExitCode.REJECTED
    return verdict


def cmd_local_release(args: argparse.Namespace) -> ExitCode:
    repo = check_repository(Path(args.repo))
    workflow = find_workflow(repo, "push", "register-model.yml", args.workflow)
    with local_session(_options(args)) as session:
        say(f"release: a push of {_describe(repo)} to main, {workflow.path}")
        run = session.workbench.push(repo, str(workflow.path))
        version = run.outputs("Reproduce, gate and register").get("version")
        if run.returncode == 0 and version:
            say(f"registered model version {version}")
        return _report(run)


def cmd_local_promote(args: argparse.Namespace) -> ExitCode:
    repo = check_repository(Path(args.repo))
    workflow = find_workflow(repo, "workflow_dispatch", "promote.yml", args.workflow)
    given = _pairs(args.input, "--input")
    for name, value in (("environment", args.environment), ("reason", args.reason)):
        if value is not None:
            given[name] = value
    inputs = dispatch_inputs(workflow, given)
    name = f"dispatch-{inputs.get('environment') or 'promote'}"
    with local_session(_options(args)) as session:
        say(f"dispatch of {workflow.path} with "
            + ", ".join(f"{key}={value!r}" for key, value in inputs.items() if value))
        run = session.workbench.dispatch(repo, str(workflow.path), inputs, name)
        return _report(run)


def _commit(repo: Path, ref: str, flag: str) -> str:
    try:
        return git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise UsageError(f"{flag} {ref}: no such branch or commit in {repo}") from None


def _describe(repo: Path) -> str:
    head = git(repo, "rev-parse", "--short=12", "HEAD")
    dirty = git(repo, "status", "--porcelain", "--untracked-files=no")
    return f"{head} (with uncommitted changes)" if dirty else head


def _report(run: ActRun, comment: str = "") -> ExitCode:
    """Each job's result, the PR comment (else the job summaries) and where the log is;
    exit 1 when the run failed."""
    for job, result in run.job_results().items():
        say(f"  {'✅' if result == 'succeeded' else '❌'} {job}: {result}")
    if comment and run.log_path is not None:
        path = run.log_path.with_name(f"{run.log_path.stem}-comment.md")
        path.write_text(comment, encoding="utf-8")
        say(f"the PR comment ({path}):")
    shown = comment or run.summary()
    # Indented: no line of it can start a workflow command when this runs in a job.
    print("\n".join(f"  │ {line}" for line in shown.strip().splitlines()), flush=True)
    verdict = "passed" if run.returncode == 0 else "FAILED"
    say(f"{verdict} in {run.seconds:.0f} s; log: {run.log_path}")
    return ExitCode.OK if run.returncode == 0 else ExitCode.REJECTED
