"""`modelrail ab analyze`: policy + sufficient statistics in, a decision out.

Only argparse wiring is imported with the CLI; the engine (scipy, the `[ab]` extra) is
imported when the command runs, so the core install keeps working without it.
"""

import argparse
import json

from modelrail import runner
from modelrail.config import load_config
from modelrail.errors import ExitCode, UsageError


def add_ab_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    ab = commands.add_parser("ab", help="A/B tests of models: analyse an experiment")
    actions = ab.add_subparsers(dest="ab_command", required=True, metavar="COMMAND")
    analyze = actions.add_parser(
        "analyze", help="decide ship / no-ship / keep running from per-variant statistics")
    analyze.add_argument("--config", default="modelrail.yaml", help="policy file")
    analyze.add_argument("--stats", required=True, metavar="STATS.json",
                         help="per-variant sufficient statistics")
    analyze.add_argument("--json", metavar="PATH", help="write the result as JSON")
    analyze.add_argument("--summary", action=argparse.BooleanOptionalAction, default=True,
                         help="write the table to the job summary (default: yes)")
    analyze.set_defaults(handler=cmd_ab_analyze)


def cmd_ab_analyze(args: argparse.Namespace) -> ExitCode:
    from modelrail.cli import write_json  # noqa: PLC0415 - modelrail.cli imports this module
    try:
        from modelrail.ab.decision import decide  # noqa: PLC0415 - needs the ab extra
        from modelrail.ab.stats_file import load_stats  # noqa: PLC0415
        from modelrail.ab.summary import decision_markdown  # noqa: PLC0415
    except ImportError as error:
        raise UsageError(f"modelrail ab analyze needs the ab extra ({error.name} is "
                         "missing): install modelrail[ab]") from None
    config = load_config(args.config)
    if config.experiment is None:
        raise UsageError(f"{config.source}: the experiment section is required for "
                         "ab analyze")
    decision = decide(config.experiment, load_stats(args.stats))
    report = decision.to_json()
    write_json(args.json, report)
    markdown = decision_markdown(decision)
    runner.set_output("decision", decision.verdict)
    primary = decision.metrics[0] if decision.metrics else None
    runner.set_output("lift", "" if primary is None else repr(primary.test.estimate))
    runner.set_output("report", json.dumps(report, allow_nan=False))
    if args.summary:
        runner.append_summary(markdown)
    print(markdown, end="")
    if decision.verdict in ("no-ship", "invalid"):
        runner.annotate("error", decision.reason, title=f"A/B test {decision.experiment}")
    return decision.exit_code
