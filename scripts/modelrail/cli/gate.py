"""`modelrail gate` (candidate metrics against the policy and the champion) and
`modelrail pr-report` (the gate report, the logging check and what stopped the check, as a
job summary and a sticky PR comment)."""

import argparse
import json
import os
from pathlib import Path

from modelrail.cli.common import (
    add_config_flag,
    add_json_flag,
    add_summary_flag,
    read_json_object,
    say,
    write_json,
    write_text,
)
from modelrail.config import Config, load_config
from modelrail.errors import ExitCode, ModelrailError, UsageError
from modelrail.gate.code_quality import code_quality_issues, code_quality_json
from modelrail.gate.evaluate import GateResult, evaluate_gate, result_from_json
from modelrail.gate.junit import junit_xml
from modelrail.gate.metrics_file import load_metrics
from modelrail.gate.outcome import GATE_STOPPED, failed_jobs_markdown, gate_error_markdown
from modelrail.gate.report import gate_markdown, metrics_diff_markdown
from modelrail.plumbing import runner
from modelrail.plumbing.ci_platform import current_platform
from modelrail.plumbing.documents import check_version
from modelrail.plumbing.github_api import GitHubClient, Repository
from modelrail.plumbing.gitlab_api import PROJECT_TOKEN_ENV, GitLabClient, JobToken, MergeRequest
from modelrail.plumbing.gitlab_notes import upsert_mr_note
from modelrail.plumbing.log_sections import log_section
from modelrail.plumbing.strict_data import load_json_strict
from modelrail.plumbing.textfile import read_text
from modelrail.registry.logging_proof import LoggingProof, logging_proof_markdown


def add_gate_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    gate = commands.add_parser("gate", help="judge candidate metrics against policy and champion")
    add_config_flag(gate)
    gate.add_argument("--candidate", required=True, help="candidate metrics file (JSON/YAML)")
    source = gate.add_mutually_exclusive_group()
    source.add_argument("--champion", help="champion metrics file (JSON/YAML)")
    source.add_argument("--champion-model", metavar="NAME@ALIAS", nargs="?", const="",
                        help="read the champion's metrics from the MLflow registry "
                             "(no value: what prod serves, from the policy)")
    add_json_flag(gate)
    gate.add_argument("--code-quality", metavar="PATH",
                      help="also write the failed metrics as a GitLab Code Quality report")
    gate.add_argument("--junit", metavar="PATH",
                      help="also write one JUnit testcase per gated metric (GitLab's MR widget)")
    add_summary_flag(gate)
    gate.set_defaults(handler=cmd_gate)

    report = commands.add_parser("pr-report", help="job summary and sticky PR comment")
    report.add_argument("--gate", metavar="PATH",
                        help="gate --json output (absent when the gate did not finish)")
    report.add_argument("--model", help="one comment per model (default: from the report)")
    report.add_argument("--job", action="append", default=[], metavar="NAME=true|false",
                        help="a job of the check and whether it succeeded (repeatable)")
    report.add_argument("--gate-exit-code", type=int, metavar="N",
                        help="the gate's exit code: 2 or 3 are explained in the report")
    report.add_argument("--gate-error", default="", metavar="TEXT",
                        help="the gate's error message")
    report.add_argument("--mlflow-uri", default="", metavar="URI",
                        help="the tracking server the gate asked (named when unreachable)")
    report.add_argument("--log-check", metavar="PATH",
                        help="log-check --json output (an empty file: the check sent none)")
    report.add_argument("--metrics-diff", metavar="PATH", help="`dvc metrics diff --json` output")
    report.add_argument("--base-sha", help="base commit the diff was taken against")
    report.add_argument("--comment", action=argparse.BooleanOptionalAction, default=True,
                        help="post or update the sticky PR comment (default: yes)")
    report.add_argument("--pr", type=int,
                        help="PR number (default: from the event payload); on GitLab the "
                             "merge request IID (default: $CI_MERGE_REQUEST_IID)")
    report.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY); on GitLab "
                                       "the project id (default: $CI_PROJECT_ID)")
    report.add_argument("--exit-with-gate", action="store_true",
                        help="exit 1 when the gate report failed")
    report.set_defaults(handler=cmd_pr_report)


def cmd_gate(args: argparse.Namespace) -> ExitCode:
    try:
        with log_section("modelrail_gate", "modelrail quality gate"):
            return _gate(args)
    except ModelrailError as error:
        runner.set_output("error", str(error))  # the PR report explains it in words
        raise


def _gate(args: argparse.Namespace) -> ExitCode:
    config = load_config(args.config)
    gate = config.require_gate()
    candidate = load_metrics(args.candidate)
    champion, champion_ref, missing = _champion(args, config)
    result = evaluate_gate(config.model, gate.metrics, candidate, champion, champion_ref,
                           no_champion_because=missing)
    report = write_json(args.json, "gate", result.to_json())
    if args.code_quality:
        issues = code_quality_issues(result, str(args.config),
                                     read_text(Path(args.config), "file", "--config"))
        write_text(args.code_quality, "--code-quality", code_quality_json(issues))
    if args.junit:
        write_text(args.junit, "--junit", junit_xml(result, str(args.config)))
    markdown = gate_markdown(result)
    runner.set_output("passed", "true" if result.passed else "false")
    runner.set_output("report", json.dumps(report, allow_nan=False))
    runner.set_output("markdown", markdown)
    if args.summary:
        runner.append_summary(markdown)
    _print_gate(result)
    return ExitCode.OK if result.passed else ExitCode.REJECTED


NO_CHAMPION_ASKED = "neither --champion nor --champion-model was given"


def _champion(
    args: argparse.Namespace, config: Config
) -> tuple[dict[str, float] | None, str | None, str]:
    """The champion's metrics from a file, from the registry, or none at all; the third
    item says why there are none (no registry lookup happens without a flag)."""
    if args.champion:
        return load_metrics(args.champion), str(args.champion), ""
    if args.champion_model is None:
        return None, None, NO_CHAMPION_ASKED
    from modelrail.registry.champion import champion_metrics  # noqa: PLC0415 - needs the mlflow extra

    default = config.registry.production_ref(config.model, config.require_gate().champion_alias)
    found = champion_metrics(args.champion_model or default,
                             lambda: config.registry.resolve_tracking_uri(config.source))
    return found.metrics, found.uri, found.missing or ""


def _print_gate(result: GateResult) -> None:
    for note in result.notes:
        say(f"note: {note}")
    for verdict in result.metrics:
        say(f"{'PASS' if verdict.passed else 'FAIL'}  {verdict.reason}")
        if not verdict.passed:
            runner.annotate("error", verdict.reason, title=f"Quality gate: {verdict.name}")
    print(f"quality gate {'passed' if result.passed else 'FAILED'}")


def cmd_pr_report(args: argparse.Namespace) -> ExitCode:
    jobs = [_job(text) for text in args.job]
    failed = [name for name, succeeded in jobs if not succeeded]
    result = _gate_from_json(args.gate) if args.gate else None
    proof = _logging_proof(args.log_check) if args.log_check else None
    stopped = args.gate_exit_code in GATE_STOPPED
    if result is None and not failed and not stopped:
        raise UsageError("--gate: no gate report, and no failed --job or --gate-exit-code "
                         "2-4 that would explain why")
    parts = [failed_jobs_markdown(failed)] if failed else []
    if stopped:
        parts.append(gate_error_markdown(args.gate_exit_code, args.gate_error, args.mlflow_uri))
    if result is not None:
        parts.append(gate_markdown(result))
    if proof is not None:
        parts.append(logging_proof_markdown(proof))
    if args.metrics_diff:
        parts.append(metrics_diff_markdown(read_json_object(args.metrics_diff, "--metrics-diff"),
                                           args.base_sha))
    body = "\n".join(parts)
    runner.append_summary(body)
    if args.comment:
        key = _comment_key(args, result)
        if current_platform() == "gitlab":
            _gitlab_note(args, key, body)
        else:
            _comment(args, key, body)
    return _verdict(args, failed, result, proof)


def _verdict(args: argparse.Namespace, failed: list[str], result: GateResult | None,
             proof: LoggingProof | None) -> ExitCode:
    """Fail closed: a job that did not succeed, a gate that stopped (with its own exit
    code) or a failed logging proof always fail the report; a rejection only with
    --exit-with-gate."""
    for name in failed:
        say(f"job did not succeed: {name}")
    logging_fails = proof is not None and not proof.passed
    if proof is not None and logging_fails:
        say(f"the release would fail at logging the model: {proof.message}")
    rejected = args.exit_with_gate and result is not None and not result.passed
    if rejected and result is not None:  # judged again from the metric entries
        for note in result.notes:
            say(f"note: {note}")
        for verdict in result.failures():
            say(f"FAIL  {verdict.reason}")
    if args.gate_exit_code in GATE_STOPPED:
        say(f"the gate stopped with exit code {args.gate_exit_code}: {args.gate_error}")
        return ExitCode(args.gate_exit_code)
    return ExitCode.REJECTED if failed or rejected or logging_fails else ExitCode.OK


def _job(text: str) -> tuple[str, bool]:
    name, sep, succeeded = text.rpartition("=")
    if not sep or not name.strip() or succeeded not in ("true", "false"):
        raise UsageError(f"--job: expected NAME=true or NAME=false, got {text!r}")
    return name.strip(), succeeded == "true"


def _logging_proof(path: str) -> LoggingProof:
    label = f"--log-check {path}"
    text = read_text(Path(path), "file", label)
    if not text.strip():  # the check ran in another job and handed on nothing
        return LoggingProof.missing()
    data = load_json_strict(text, label)
    if not isinstance(data, dict):
        raise UsageError(f"{label}: expected a JSON object")
    check_version(data, "log-check", label)
    return LoggingProof.from_json(data, label)


def _comment_key(args: argparse.Namespace, result: GateResult | None) -> str:
    if args.model:
        return str(args.model)
    if result is None:
        raise UsageError("--model: needed to keep the PR comment when there is no --gate report")
    return result.model


def _comment(args: argparse.Namespace, model: str, body: str) -> None:
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        runner.annotate("notice", "no GITHUB_TOKEN: PR comment skipped, summary written")
        return
    repo = Repository.parse(args.repo or os.environ.get("GITHUB_REPOSITORY", ""))
    number = args.pr or runner.pull_request_number()
    outcome = runner.upsert_sticky_comment(GitHubClient(token), repo, number, model, body)
    if outcome.action == "skipped":
        runner.annotate("notice", f"PR comment skipped: {outcome.reason}")
    else:
        print(f"PR comment {outcome.action}: {outcome.url}")
        runner.set_output("comment-url", outcome.url or "")


def _gitlab_note(args: argparse.Namespace, model: str, body: str) -> None:
    token = JobToken.from_env()
    if token is None:
        runner.annotate("notice", f"no {PROJECT_TOKEN_ENV} or CI_JOB_TOKEN: merge request "
                                  "note skipped, report written to the job log")
        return
    merge_request = MergeRequest.from_env(args.repo, args.pr)
    outcome = upsert_mr_note(GitLabClient(token), merge_request, model, body)
    if outcome.action == "skipped":
        runner.annotate("notice", f"merge request note skipped: {outcome.reason}")
    else:
        print(f"merge request note {outcome.action}: {outcome.url}")
        runner.set_output("comment-url", outcome.url or "")


def _gate_from_json(path: str) -> GateResult:
    report = read_json_object(path, "--gate")
    check_version(report, "gate", f"--gate {path}")
    try:
        return result_from_json(report)
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"--gate: not a modelrail gate report ({error})") from None
