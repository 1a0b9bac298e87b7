"""The `modelrail` command: the parser assembled from every command module, and the one
place a ModelrailError becomes an annotation and an exit code."""

import argparse
import sys
from collections.abc import Callable, Sequence

from modelrail import __version__
from modelrail.cli.ab import add_ab_commands
from modelrail.cli.analysis import add_analysis_commands
from modelrail.cli.canary import add_canary_commands
from modelrail.cli.gate import add_gate_commands
from modelrail.cli.image import add_image_commands
from modelrail.cli.local import add_local_commands
from modelrail.cli.monitor import add_monitor_commands
from modelrail.cli.registry import add_registry_commands
from modelrail.cli.rollout import add_rollout_commands
from modelrail.errors import ExitCode, ModelrailError
from modelrail.plumbing import runner

Handler = Callable[[argparse.Namespace], ExitCode]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelrail", description="Ship ML models safely: gates, registry, rollouts.")
    parser.add_argument("--version", action="version", version=f"modelrail {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_gate_commands(commands)
    add_registry_commands(commands)
    add_image_commands(commands)
    add_rollout_commands(commands)
    add_ab_commands(commands)
    add_analysis_commands(commands)
    add_monitor_commands(commands)
    add_canary_commands(commands)
    add_local_commands(commands)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=lambda _args: print(__version__) or ExitCode.OK)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    if args.command != "version":  # `version` is captured as data by the install script
        runner.mask_secrets()  # before anything can print a secret's encoding
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
