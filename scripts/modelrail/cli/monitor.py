"""`modelrail monitor`: drift and late-label performance of a production model, and
`modelrail monitor-issue`: the one GitHub issue per model that tells the team."""

import argparse
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.cli.common import (
    add_config_flag,
    add_json_flag,
    add_openmetrics_flags,
    add_summary_flag,
    check_export_flags,
    export_gauges,
    write_json,
    write_text,
)
from modelrail.cli.engine_flags import TableFlag, add_engine_flags, engine_location
from modelrail.config import Config, load_config
from modelrail.errors import ExitCode, InconclusiveError, UsageError
from modelrail.monitor.config import MonitorConfig
from modelrail.plumbing import runner
from modelrail.plumbing.github_api import GitHubClient, Repository
from modelrail.plumbing.prometheus import PrometheusClient
from modelrail.plumbing.textfile import read_text

MONITOR_FILES = "--current and --events"
MONITOR_TABLES = (TableFlag("--current-table", "prediction log", "predictions"),
                  TableFlag("--events-table", "click events (for monitor.performance)",
                            file_flag="--events"))

if TYPE_CHECKING:
    from modelrail.monitor.drift import MonitorResult


def _monitor_config(config: Config) -> MonitorConfig:
    if config.monitor is None:
        raise UsageError(f"{config.source}: a monitor: section is required for monitoring")
    return config.monitor


def cmd_monitor(args: argparse.Namespace) -> ExitCode:
    # Imported on use: the [monitor] extra (duckdb, scipy) is not in the core install.
    from modelrail.monitor.drift import MonitorResult, check_logs  # noqa: PLC0415
    from modelrail.monitor.openmetrics import monitor_gauges  # noqa: PLC0415
    from modelrail.monitor.reference import resolve_reference  # noqa: PLC0415
    from modelrail.monitor.report import html, markdown  # noqa: PLC0415

    config = load_config(args.config)
    monitor = _monitor_config(config)
    check_export_flags(args)
    location = engine_location(args, MONITOR_FILES, "monitor", tables=MONITOR_TABLES)
    on_tables = location.engine == "postgres"
    events = args.events_table if on_tables else args.events
    if monitor.performance is not None and not events:
        raise UsageError(f"{config.source}: monitor.performance needs "
                         f"{'--events-table TABLE' if on_tables else '--events PATH'} "
                         "(the click log)")
    current = args.current_table if on_tables else args.current
    with tempfile.TemporaryDirectory(prefix="modelrail-monitor-") as workdir:
        reference = resolve_reference(args.reference, config, Path(workdir))
        rows, checks = check_logs(reference.path, current, events, monitor, location)
    result = MonitorResult(
        model=config.model, reference=args.reference,
        current=f"table {current}" if on_tables else current,
        current_rows=rows, alpha=monitor.alpha, correction="Holm",
        model_version=reference.version,
        checks=checks, actions=monitor.actions)
    code = _render(args, result, markdown(result), html(result))
    return export_gauges(args, monitor_gauges(result), {"model": result.model}, code)


def _render(args: argparse.Namespace, result: "MonitorResult", text: str,
            page: str) -> ExitCode:
    write_json(args.json, "monitor", result.to_json())
    if args.report:
        write_text(args.report, "--report", page)
    if args.markdown:
        write_text(args.markdown, "--markdown", text)
    if args.summary:
        runner.append_summary(text)
    runner.set_output("severity", result.severity or "")
    runner.set_output("action", result.action or "")
    runner.set_output("breach", "true" if result.action == "rollback" else "false")
    runner.set_output("model-version", str(result.model_version or ""))
    runner.set_output("markdown", text)
    for check in result.breaches():
        level: runner.Level = "error" \
            if result.actions[check.severity or "minor"] == "rollback" else "warning"
        psi = "" if check.psi is None else f", PSI {check.psi:.3g}"
        runner.annotate(level, f"{check.name}: {check.test} {check.statistic:.4g}{psi}; "
                               f"severity {check.severity}", title="Monitor")
    print(f"monitor {result.model}: severity {result.severity or 'none'}, "
          f"action {result.action or 'none'}")
    return ExitCode.REJECTED if result.action == "rollback" else ExitCode.OK


def cmd_monitor_issue(args: argparse.Namespace) -> ExitCode:
    from modelrail.monitor.issue import upsert_issue  # noqa: PLC0415

    config = load_config(args.config)
    body = read_text(Path(args.markdown), "file", hint="pass --markdown PATH")
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise UsageError("GITHUB_TOKEN is not set: the monitor issue needs issues: write")
    repo = Repository.parse(args.repo or os.environ.get("GITHUB_REPOSITORY", ""))
    outcome = upsert_issue(GitHubClient(token), repo, config.model, body)
    runner.set_output("issue-url", outcome.url or "")
    print(f"issue {outcome.action}: {outcome.url}")
    return ExitCode.OK


def cmd_shadow_analyze(args: argparse.Namespace) -> ExitCode:
    from modelrail.monitor.shadow import agreement, judge, shadow_calls  # noqa: PLC0415

    config = load_config(args.config)
    shadow = config.shadow
    if shadow is None:
        raise UsageError(f"{config.source}: a shadow: section is required for shadow analyze")
    location = engine_location(args, "--predictions", "monitor")
    log = args.predictions_table if location.engine == "postgres" else args.predictions
    source = f"table {log}" if location.engine == "postgres" else log
    found = agreement(log, shadow.decision_threshold, args.version, location)
    if found.other_versions:
        raise InconclusiveError(
            f"{source}: no shadow line of version {args.version} (the shadow lines "
            f"are of version {', '.join(found.other_versions)}); no verdict for it")
    if found.pairs < shadow.min_pairs:
        raise InconclusiveError(f"{source}: {found.pairs} paired rows, fewer than "
                                f"shadow.min_pairs ({shadow.min_pairs}); no verdict")
    calls = shadow_calls(PrometheusClient.from_env(args.prometheus_url), shadow.window) \
        if args.prometheus_url else None
    result = judge(found, shadow, calls)
    write_json(args.json, "shadow-analyze", {"model": config.model, "version": args.version,
                           **result.to_json()})
    rows = [f"| {c.name} | {'—' if c.value is None else f'{c.value:.4g}'} | "
            f"{'≥' if c.kind == 'min' else '≤'} {c.limit:g} | {'pass' if c.passed else 'FAIL'} |"
            for c in result.checks]
    of = f" version {args.version}" if args.version else ""
    text = "\n".join([f"### Shadow analysis: {config.model}{of}", "",
                       f"{result.pairs} paired rows ({result.shadow_rows} shadow rows).", "",
                       "| check | value | limit | |", "|---|---|---|---|", *rows])
    if args.summary:
        runner.append_summary(text)
    runner.set_output("passed", "true" if result.passed else "false")
    print(text)
    return ExitCode.OK if result.passed else ExitCode.REJECTED


def add_monitor_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") \
        -> None:
    monitor = commands.add_parser(
        "monitor", help="drift and late-label performance of a production model")
    add_config_flag(monitor)
    monitor.add_argument("--reference", required=True, metavar="REF",
                         help="reference sample: a file, runs:/<id>/<path> or "
                              "models:/<name>@<alias>")
    current = monitor.add_mutually_exclusive_group(required=True)
    current.add_argument("--current", metavar="PATH",
                         help="prediction log (JSON lines, CSV or Parquet; with --engine "
                              "spark: Parquet, a file or directory Spark reads)")
    add_engine_flags(monitor, current, MONITOR_FILES, MONITOR_TABLES)
    monitor.add_argument("--events", metavar="PATH",
                         help="click events for monitor.performance (with --current)")
    monitor.add_argument("--report", metavar="PATH.html", help="write the HTML report")
    monitor.add_argument("--markdown", metavar="PATH.md",
                         help="write the Markdown report (for monitor-issue)")
    add_json_flag(monitor)
    add_summary_flag(monitor, "the table and chart")
    add_openmetrics_flags(monitor, "modelrail-monitor")
    monitor.set_defaults(handler=cmd_monitor)

    issue = commands.add_parser(
        "monitor-issue", help="open or update the model's monitoring issue")
    add_config_flag(issue)
    issue.add_argument("--markdown", required=True, metavar="PATH",
                       help="the report (monitor --markdown)")
    issue.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    issue.set_defaults(handler=cmd_monitor_issue)

    shadow = commands.add_parser("shadow", help="compare a shadow model with production")
    actions = shadow.add_subparsers(dest="shadow_command", required=True, metavar="ACTION")
    analyze = actions.add_parser("analyze", help="agreement, correlation, distance, calls")
    add_config_flag(analyze)
    log = analyze.add_mutually_exclusive_group(required=True)
    log.add_argument("--predictions", metavar="PATH",
                     help="prediction log with production and shadow lines (with --engine "
                          "spark: Parquet, a file or directory Spark reads)")
    add_engine_flags(analyze, log, "--predictions",
                     (TableFlag("--predictions-table", "prediction log", "predictions"),))
    analyze.add_argument("--version", metavar="N", type=int,
                         help="only the shadow lines of this model version count (the "
                              "candidate about to be promoted)")
    analyze.add_argument("--prometheus-url", metavar="URL",
                         help="read the shadow calls' error rate and p99 from Prometheus")
    add_json_flag(analyze)
    add_summary_flag(analyze)
    analyze.set_defaults(handler=cmd_shadow_analyze)
