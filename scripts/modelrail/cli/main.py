"""The `modelrail` command: parse flags, load policy, call one module, render the result."""

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from modelrail import __version__
from modelrail.cli.ab import add_ab_commands
from modelrail.cli.analysis import add_analysis_commands
from modelrail.cli.canary import add_canary_commands
from modelrail.cli.common import add_config_flag, add_json_flag, add_summary_flag, write_json
from modelrail.cli.image import add_image_commands
from modelrail.cli.monitor import add_monitor_commands
from modelrail.cli.registry import add_registry_commands
from modelrail.cli.rollout import add_rollout_commands
from modelrail.config import Config, load_config
from modelrail.errors import ExitCode, ModelrailError, UsageError
from modelrail.gate.evaluate import GateResult, evaluate_gate, result_from_json
from modelrail.gate.metrics_file import load_metrics
from modelrail.gate.report import gate_markdown, metrics_diff_markdown
from modelrail.plumbing import runner
from modelrail.plumbing.github_api import GitHubClient, Repository
from modelrail.plumbing.textfile import read_json

Handler = Callable[[argparse.Namespace], ExitCode]


def cmd_gate(args: argparse.Namespace) -> ExitCode:
    config = load_config(args.config)
    gate = config.require_gate()
    candidate = load_metrics(args.candidate)
    champion, champion_ref = _champion(args, config)
    result = evaluate_gate(config.model, gate.metrics, candidate, champion, champion_ref)
    report = result.to_json()
    write_json(args.json, report)
    markdown = gate_markdown(result)
    runner.set_output("passed", "true" if result.passed else "false")
    runner.set_output("report", json.dumps(report, allow_nan=False))
    runner.set_output("markdown", markdown)
    if args.summary:
        runner.append_summary(markdown)
    _print_gate(result)
    return ExitCode.OK if result.passed else ExitCode.REJECTED


def _champion(
    args: argparse.Namespace, config: Config
) -> tuple[dict[str, float] | None, str | None]:
    """The champion's metrics from a file, from the registry, or none at all."""
    if args.champion:
        return load_metrics(args.champion), str(args.champion)
    if args.champion_model is None:
        return None, None
    from modelrail.registry.client import ModelRef, Registry  # noqa: PLC0415 - needs the mlflow extra

    default = config.registry.production_ref(config.model, config.require_gate().champion_alias)
    ref = ModelRef.parse(args.champion_model or default)
    registry = Registry(config.registry.resolve_tracking_uri(config.source))
    return registry.champion_metrics(ref), ref.uri


def _print_gate(result: GateResult) -> None:
    for note in result.notes:
        print(f"note: {note}")
    for verdict in result.metrics:
        print(f"{'PASS' if verdict.passed else 'FAIL'}  {verdict.reason}")
        if not verdict.passed:
            runner.annotate("error", verdict.reason, title=f"Quality gate: {verdict.name}")
    print(f"quality gate {'passed' if result.passed else 'FAILED'}")


def cmd_pr_report(args: argparse.Namespace) -> ExitCode:
    gate_report = _read_json(args.gate, "--gate")
    result = _gate_from_json(gate_report)
    parts = [gate_markdown(result)]
    if args.metrics_diff:
        parts.append(metrics_diff_markdown(_read_json(args.metrics_diff, "--metrics-diff"),
                                           args.base_sha))
    body = "\n".join(parts)
    runner.append_summary(body)
    if args.comment:
        _comment(args, args.model or result.model, body)
    if args.exit_with_gate and not result.passed:
        for verdict in result.failures():
            print(f"FAIL  {verdict.reason}")
        return ExitCode.REJECTED
    return ExitCode.OK


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


def _read_json(path: str, flag: str) -> dict[str, object]:
    data = read_json(Path(path), "file", f"{flag} {path}")
    if not isinstance(data, dict):
        raise UsageError(f"{flag} {path}: expected a JSON object")
    return data


def _gate_from_json(report: dict[str, object]) -> GateResult:
    try:
        return result_from_json(report)
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"--gate: not a modelrail gate report ({error})") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelrail", description="Ship ML models safely: gates, registry, rollouts.")
    parser.add_argument("--version", action="version", version=f"modelrail {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gate = commands.add_parser("gate", help="judge candidate metrics against policy and champion")
    add_config_flag(gate)
    gate.add_argument("--candidate", required=True, help="candidate metrics file (JSON/YAML)")
    source = gate.add_mutually_exclusive_group()
    source.add_argument("--champion", help="champion metrics file (JSON/YAML)")
    source.add_argument("--champion-model", metavar="NAME@ALIAS", nargs="?", const="",
                        help="read the champion's metrics from the MLflow registry "
                             "(no value: what prod serves, from the policy)")
    add_json_flag(gate)
    add_summary_flag(gate)
    gate.set_defaults(handler=cmd_gate)

    report = commands.add_parser("pr-report", help="job summary and sticky PR comment")
    report.add_argument("--gate", required=True, metavar="PATH", help="gate --json output")
    report.add_argument("--model", help="one comment per model (default: from the report)")
    report.add_argument("--metrics-diff", metavar="PATH", help="`dvc metrics diff --json` output")
    report.add_argument("--base-sha", help="base commit the diff was taken against")
    report.add_argument("--comment", action=argparse.BooleanOptionalAction, default=True,
                        help="post or update the sticky PR comment (default: yes)")
    report.add_argument("--pr", type=int, help="PR number (default: from the event payload)")
    report.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    report.add_argument("--exit-with-gate", action="store_true",
                        help="exit 1 when the gate report failed")
    report.set_defaults(handler=cmd_pr_report)

    add_registry_commands(commands)
    add_image_commands(commands)
    add_rollout_commands(commands)
    add_ab_commands(commands)
    add_analysis_commands(commands)
    add_monitor_commands(commands)
    add_canary_commands(commands)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=lambda _args: print(__version__) or ExitCode.OK)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return int(handler(args))
    except ModelrailError as error:
        runner.annotate("error", str(error), title=f"modelrail {args.command}")
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("modelrail: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
