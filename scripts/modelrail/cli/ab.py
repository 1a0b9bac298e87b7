"""`modelrail ab analyze`: policy + sufficient statistics (STATS.json, or the prediction
and event logs they are aggregated from) in, a decision out.

Only argparse wiring is imported with the CLI; the engine (scipy, the `[ab]` extra) is
imported when the command runs, so the core install keeps working without it.
"""

import argparse
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.cli.common import (
    add_config_flag,
    add_json_flag,
    add_summary_flag,
    write_json,
    write_text,
)
from modelrail.cli.engine_flags import TableFlag, add_engine_flags, engine_location
from modelrail.config import load_config
from modelrail.errors import ExitCode, UsageError
from modelrail.plumbing import runner
from modelrail.plumbing.textfile import read_json

FILES = "--predictions and --events"
TABLES = (TableFlag("--predictions-table", "predictions", "predictions"),
          TableFlag("--events-table", "events", "events", "--events"))

if TYPE_CHECKING:
    from modelrail.ab.config import ExperimentConfig
    from modelrail.ab.looks import LookPlan
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
                             "with --events in DuckDB (with --engine spark: Parquet, a "
                             "file or directory Spark reads)")
    add_engine_flags(analyze, source, FILES, TABLES)
    analyze.add_argument("--events", metavar="PATH",
                         help="clicks and session ends (with --predictions)")
    analyze.add_argument("--attribution-window", default="30m", metavar="DURATION",
                         help="clicks count up to this long after an impression "
                              "(e.g. 90s, 30m, 1h; default 30m)")
    analyze.add_argument("--looks", metavar="LOOKS.json",
                         help="group-sequential: the looks taken so far, read and updated "
                              "(a missing file is the first look)")
    analyze.add_argument("--look-day", metavar="YYYY-MM-DD",
                         help="with --looks: the day this look belongs to (default: today, "
                              "UTC); a re-run of the same day replaces that look")
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
            looks_mermaid,
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
    looks = _look_plan(args, config.experiment, stats)
    decision = decide(config.experiment, stats, units_per_day, looks)
    if looks is not None:
        from modelrail.ab.looks import looks_json  # noqa: PLC0415 - needs the ab extra
        write_text(args.looks, "--looks", json.dumps(looks_json(looks.looks()), indent=2,
                                                    allow_nan=False) + "\n")
    logs = {} if data is None else {"data": dict(data)}
    report = write_json(args.json, "ab-analyze", {**decision.to_json(), **logs})
    if args.report:
        write_report(args.report, html_report(decision, config.experiment, timeline, data))
    markdown = decision_markdown(decision)
    chart = ""  # for the job summary only: a terminal shows no Mermaid
    if timeline is not None and decision.metrics:
        chart = "\n" + lift_mermaid(lift_history(config.experiment, timeline), timeline)
    if decision.looks is not None and decision.metrics:
        chart += "\n" + looks_mermaid(decision)
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


def _look_plan(args: argparse.Namespace, experiment: "ExperimentConfig",
               stats: "SufficientStats") -> "LookPlan | None":
    """The current look of a group-sequential experiment, after those in --looks."""
    if not experiment.sequential.group_sequential:
        if args.looks is not None or args.look_day is not None:
            raise UsageError("--looks: only for experiment.sequential.method: "
                             "group-sequential")
        return None
    if args.looks is None:
        raise UsageError("experiment.sequential.method: group-sequential needs --looks FILE "
                         "to remember the looks taken so far (keep it between runs)")
    from modelrail.ab.looks import parse_looks, plan_look  # noqa: PLC0415 - ab extra
    path = Path(args.looks)
    history = parse_looks(read_json(path, "looks file", f"--looks {path}"), str(path)) \
        if path.exists() else []
    day = args.look_day or datetime.now(UTC).date().isoformat()
    if not _is_day(day):
        raise UsageError(f"--look-day: expected YYYY-MM-DD, got {day!r}")
    return plan_look(experiment.sequential, history, day, sum(stats.units.values()))


def _is_day(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _statistics(args: argparse.Namespace, experiment: "ExperimentConfig",
                ) -> tuple["SufficientStats", Mapping[str, object] | None, "Timeline | None",
                           float | None]:
    """From --stats, or aggregated from the logs (--predictions and --events in DuckDB,
    or tables on PostgreSQL): then with what the data looked like, for the JSON report,
    with --report the statistics over time, and the units enrolled per day."""
    location = engine_location(args, FILES, "ab",
                               "--stats" if args.stats is not None else None, TABLES)
    if args.stats is not None:
        if args.events is not None:
            raise UsageError("--events goes with --predictions, not with --stats")
        from modelrail.ab.stats_file import load_stats  # noqa: PLC0415 - needs the ab extra
        return load_stats(args.stats), None, None, None
    if args.predictions is not None and args.events is None:
        raise UsageError("--predictions needs --events: the clicks and session ends")
    try:
        from modelrail.ab.aggregate import Aggregation, aggregate_on, parse_window  # noqa: PLC0415
    except ImportError as error:
        raise UsageError(f"reading logs needs the ab extra ({error.name} is missing): "
                         "install modelrail[ab]") from None
    aggregation = Aggregation(experiment=experiment.key,
                              window_seconds=parse_window(args.attribution_window),
                              metrics=experiment.metric_names(), over_time=bool(args.report))
    on_tables = location.engine == "postgres"
    logs = aggregate_on(location, args.predictions_table if on_tables else args.predictions,
                        args.events_table if on_tables else args.events, experiment.variants,
                        aggregation)
    return logs.stats, logs.data, logs.timeline, logs.units_per_day()
