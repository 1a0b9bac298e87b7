"""`modelrail ab analyze`: policy + sufficient statistics (STATS.json, or the prediction
and event logs they are aggregated from) in, a decision out.

Only argparse wiring is imported with the CLI; the engine (scipy, the `[ab]` extra) is
imported when the command runs, so the core install keeps working without it.
"""

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.cli.common import add_config_flag, add_json_flag, add_summary_flag, write_json
from modelrail.config import load_config
from modelrail.errors import ExitCode, UsageError
from modelrail.plumbing import runner

if TYPE_CHECKING:
    from modelrail.ab.aggregate import Aggregation, LogStats
    from modelrail.ab.config import ExperimentConfig
    from modelrail.ab.stats import SufficientStats
    from modelrail.ab.timeline import Timeline


def add_ab_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    ab = commands.add_parser("ab", help="A/B tests of models: analyse an experiment")
    actions = ab.add_subparsers(dest="ab_command", required=True, metavar="COMMAND")
    analyze = actions.add_parser(
        "analyze", help="decide ship / no-ship / keep running from per-variant statistics")
    add_config_flag(analyze)
    source = analyze.add_mutually_exclusive_group(required=True)
    source.add_argument("--stats", metavar="STATS.json",
                        help="per-variant sufficient statistics")
    source.add_argument("--predictions", metavar="PATH",
                        help="the prediction log (JSON lines, CSV or Parquet), joined "
                             "with --events in DuckDB")
    source.add_argument("--postgres-dsn-env", metavar="VAR",
                        help="aggregate on PostgreSQL instead: the environment variable "
                             "holding the connection string (never the DSN itself)")
    analyze.add_argument("--events", metavar="PATH",
                         help="clicks and session ends (with --predictions)")
    analyze.add_argument("--predictions-table", default="predictions", metavar="TABLE",
                         help="with --postgres-dsn-env: the predictions table "
                              "(default: predictions)")
    analyze.add_argument("--events-table", default="events", metavar="TABLE",
                         help="with --postgres-dsn-env: the events table (default: events)")
    analyze.add_argument("--attribution-window", default="30m", metavar="DURATION",
                         help="clicks count up to this long after an impression "
                              "(e.g. 90s, 30m, 1h; default 30m)")
    analyze.add_argument("--report", metavar="PATH.html",
                         help="write an HTML report with plots (self-contained)")
    add_json_flag(analyze)
    add_summary_flag(analyze)
    analyze.set_defaults(handler=cmd_ab_analyze)


def cmd_ab_analyze(args: argparse.Namespace) -> ExitCode:
    try:
        from modelrail.ab.decision import decide  # noqa: PLC0415 - needs the ab extra
        from modelrail.ab.report import (  # noqa: PLC0415
            decision_markdown,
            html_report,
            lift_history,
            lift_mermaid,
            write_report,
        )
    except ImportError as error:
        raise UsageError(f"modelrail ab analyze needs the ab extra ({error.name} is "
                         "missing): install modelrail[ab]") from None
    config = load_config(args.config)
    if config.experiment is None:
        raise UsageError(f"{config.source}: the experiment section is required for "
                         "ab analyze")
    stats, data, timeline, units_per_day = _statistics(args, config.experiment)
    decision = decide(config.experiment, stats, units_per_day)
    logs = {} if data is None else {"data": dict(data)}
    report = write_json(args.json, "ab-analyze", {**decision.to_json(), **logs})
    if args.report:
        write_report(args.report, html_report(decision, config.experiment, timeline, data))
    markdown = decision_markdown(decision)
    chart = ""  # for the job summary only: a terminal shows no Mermaid
    if timeline is not None and decision.metrics:
        chart = "\n" + lift_mermaid(lift_history(config.experiment, timeline), timeline)
    runner.set_output("decision", decision.verdict)
    primary = decision.metrics[0] if decision.metrics else None
    runner.set_output("lift", "" if primary is None else repr(primary.test.estimate))
    runner.set_output("report", json.dumps(report, allow_nan=False))
    if args.summary:
        runner.append_summary(markdown + chart)
    print(markdown, end="")
    if decision.verdict in ("no-ship", "invalid"):
        runner.annotate("error", decision.reason, title=f"A/B test {decision.experiment}")
    return decision.exit_code


def _statistics(args: argparse.Namespace, experiment: "ExperimentConfig",
                ) -> tuple["SufficientStats", Mapping[str, object] | None, "Timeline | None",
                           float | None]:
    """From --stats, or aggregated from the logs (--predictions and --events in DuckDB,
    or tables on PostgreSQL): then with what the data looked like, for the JSON report,
    with --report the statistics over time, and the units enrolled per day."""
    if args.stats is not None:
        if args.events is not None:
            raise UsageError("--events goes with --predictions, not with --stats")
        from modelrail.ab.stats_file import load_stats  # noqa: PLC0415 - needs the ab extra
        return load_stats(args.stats), None, None, None
    if args.predictions is not None and args.events is None:
        raise UsageError("--predictions needs --events: the clicks and session ends")
    if args.postgres_dsn_env is not None and args.events is not None:
        raise UsageError("--events goes with --predictions; on PostgreSQL name the table "
                         "with --events-table")
    try:
        from modelrail.ab.aggregate import Aggregation, aggregate_logs, parse_window  # noqa: PLC0415
    except ImportError as error:
        raise UsageError(f"reading logs needs the ab extra ({error.name} is missing): "
                         "install modelrail[ab]") from None
    aggregation = Aggregation(experiment=experiment.key,
                              window_seconds=parse_window(args.attribution_window),
                              metrics=experiment.metric_names(), over_time=bool(args.report))
    if args.postgres_dsn_env is not None:
        logs = _on_postgres(args, experiment, aggregation)
    else:
        logs = aggregate_logs(Path(args.predictions), Path(args.events), experiment.variants,
                              experiment=aggregation.experiment,
                              window_seconds=aggregation.window_seconds,
                              metrics=aggregation.metrics, over_time=aggregation.over_time)
    return logs.stats, logs.data, logs.timeline, logs.units_per_day()


def _on_postgres(args: argparse.Namespace, experiment: "ExperimentConfig",
                 aggregation: "Aggregation") -> "LogStats":
    """The aggregation pushed down; the DSN is read from the environment so it never
    appears on a command line, in a process list or in a log."""
    dsn = os.environ.get(args.postgres_dsn_env, "")
    if not dsn:
        raise UsageError(f"--postgres-dsn-env: the environment variable "
                         f"{args.postgres_dsn_env} is not set or empty")
    try:
        from modelrail.ab.aggregate_postgres import run_on_postgres  # noqa: PLC0415
    except ImportError as error:
        raise UsageError(f"--postgres-dsn-env needs the ab-postgres extra ({error.name} is "
                         "missing): install modelrail[ab,ab-postgres]") from None
    return run_on_postgres(dsn, args.predictions_table, args.events_table,
                           experiment.variants, aggregation)
