"""`modelrail analyze` and `modelrail analysis export-argo`: flags in, one module, result out.

`cli.main` adds these commands with `add_analysis_commands(commands)`.
"""

import argparse
import json
import re
import time
from datetime import UTC, datetime

from modelrail.canary.analyze import AnalysisRequest, AnalysisResult, analyze, window_of
from modelrail.canary.argo_template import render
from modelrail.canary.config import ThresholdMetric
from modelrail.canary.report import analysis_markdown
from modelrail.canary.schedule import StepSchedule
from modelrail.cli.common import (
    add_config_flag,
    add_json_flag,
    add_prometheus_flag,
    add_summary_flag,
    say,
    write_json,
    write_text,
)
from modelrail.config import load_config
from modelrail.errors import ExitCode, UsageError
from modelrail.plumbing import runner
from modelrail.plumbing.prometheus import PrometheusClient
from modelrail.rollouts.policy import DEFAULT_STEP_SECONDS

_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_LABELS = {"pass": "PASS", "fail": "FAIL", "inconclusive": "NO DATA"}


def add_analysis_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]"
                          ) -> None:
    analyze_parser = commands.add_parser(
        "analyze", help="judge a canary against its baseline with Prometheus")
    add_config_flag(analyze_parser)
    analyze_parser.add_argument("--canary", required=True, metavar="VERSION",
                                help="the canary's version label value")
    analyze_parser.add_argument("--baseline", required=True, metavar="VERSION",
                                help="the baseline's (stable) version label value")
    analyze_parser.add_argument("--window", metavar="DURATION",
                                help="data per rollout step (default: analysis.window, else "
                                     "rollout.step_seconds, else 5m)")
    analyze_parser.add_argument("--look", type=int, default=1, metavar="K",
                                help="this is analysis K of the rollout (default: 1)")
    analyze_parser.add_argument("--looks", type=int, metavar="N",
                                help="analyses in the whole rollout (default: analysis.looks, "
                                     "else the number of rollout.steps, else 1)")
    analyze_parser.add_argument("--namespace",
                                help="{{namespace}} in the queries (default: rollout.namespace)")
    analyze_parser.add_argument("--rollout",
                                help="{{rollout}} in the queries (default: rollout.name)")
    analyze_parser.add_argument("--time", metavar="TIME",
                                help="evaluate at this RFC 3339 time or Unix second "
                                     "(default: now)")
    add_prometheus_flag(analyze_parser)
    add_json_flag(analyze_parser)
    add_summary_flag(analyze_parser, "the verdicts")
    analyze_parser.set_defaults(handler=cmd_analyze)

    analysis = commands.add_parser("analysis", help="work with the analysis policy")
    subcommands = analysis.add_subparsers(dest="analysis_command", required=True,
                                          metavar="COMMAND")
    export = subcommands.add_parser(
        "export-argo", help="print the threshold metrics as an Argo Rollouts AnalysisTemplate")
    add_config_flag(export)
    export.add_argument("--name", help="metadata.name (default: MODEL-canary)")
    export.add_argument("--prometheus-address", metavar="URL",
                        help="the provider's address (default: none, Argo then reads "
                             "ARGO_ROLLOUTS_PROMETHEUS_ADDRESS)")
    export.add_argument("--output", metavar="PATH", help="write here instead of stdout")
    export.set_defaults(handler=cmd_export_argo)


def cmd_analyze(args: argparse.Namespace) -> ExitCode:
    config = load_config(args.config)
    analysis = config.require_analysis()
    rollout = config.rollout
    request = AnalysisRequest(
        canary=args.canary, baseline=args.baseline, time=parse_time(args.time),
        window=args.window or window_of(analysis, rollout), look=args.look,
        looks=args.looks or analysis.looks or (len(rollout.steps) if rollout else 0) or 1,
        namespace=args.namespace or (rollout.namespace if rollout else None),
        rollout=args.rollout or (rollout.name if rollout else None))
    client = PrometheusClient.from_env(args.prometheus_url)
    print(f"canary {request.canary} vs baseline {request.baseline}: look {request.look} of "
          f"{request.looks}, {request.window} per step, Prometheus at {client.name}")
    result = analyze(analysis, request, client, log=lambda line: print(f"query  {line}"))
    report = write_json(args.json, "analyze", result.to_json())
    markdown = analysis_markdown(result)
    runner.set_output("outcome", result.decision.outcome)
    runner.set_output("report", json.dumps(report, allow_nan=False))
    runner.set_output("markdown", markdown)
    if args.summary:
        runner.append_summary(markdown)
    _print(result)
    return result.exit_code


def _print(result: AnalysisResult) -> None:
    for verdict in result.verdicts:
        say(f"{_LABELS[verdict.outcome]:<8} {verdict.name}: {verdict.reason}")
        if verdict.outcome != "pass":
            runner.annotate("error" if verdict.outcome == "fail" else "warning",
                            verdict.reason, title=f"Canary analysis: {verdict.name}")
    say(f"canary analysis: {result.decision.outcome.upper()} ({result.decision.reason})")


def parse_time(text: str | None) -> float:
    """RFC 3339 (with a zone) or Unix seconds; None is now."""
    if text is None:
        return time.time()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:  # NaN, inf and years beyond 9999 are no time (and would fail in the report)
        try:
            datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, ValueError, OSError):
            raise UsageError(f"--time {text!r}: not a time (Unix seconds up to the year "
                             "9999)") from None
        return seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--time {text!r}: expected RFC 3339 (2026-01-31T12:00:00Z) or "
                         "Unix seconds") from None
    if moment.tzinfo is None:
        raise UsageError(f"--time {text!r}: give a time zone (Z or +hh:mm)")
    return moment.timestamp()


def cmd_export_argo(args: argparse.Namespace) -> ExitCode:
    config = load_config(args.config)
    analysis = config.require_analysis()
    if not any(isinstance(metric, ThresholdMetric) for metric in analysis.metrics):
        raise UsageError(f"{config.source}: analysis has no threshold metric to export "
                         "(compare metrics need `modelrail analyze`)")
    name = args.name or re.sub(r"[^a-z0-9.-]+", "-", config.model.lower()).strip("-.") \
        + "-canary"
    if not _DNS_NAME.fullmatch(name):
        raise UsageError(f"--name {name!r}: not a Kubernetes resource name (lowercase "
                         "letters, digits, '-' and '.')")
    schedule = StepSchedule(config.rollout.step_seconds if config.rollout
                            else DEFAULT_STEP_SECONDS)
    text = render(analysis, name, window_of(analysis, config.rollout), args.prometheus_address,
                  schedule)
    if args.output:
        write_text(args.output, "--output", text)
    else:
        print(text, end="")
    return ExitCode.OK
