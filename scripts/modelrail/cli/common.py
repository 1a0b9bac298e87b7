"""What every `modelrail` subcommand shares: its common flags and the files they name.

Each command module adds its parsers with these, so `--config`, `--json` and `--summary`
mean the same everywhere, and no module needs to import `modelrail.cli.main` (which imports them).
"""

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from modelrail.errors import ExitCode, ServiceError, UsageError
from modelrail.plumbing import runner
from modelrail.plumbing.documents import versioned
from modelrail.plumbing.openmetrics import Gauge, render
from modelrail.plumbing.pushgateway import group_url, push
from modelrail.plumbing.textfile import read_json


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="modelrail.yaml", help="policy file")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")


def add_summary_flag(parser: argparse.ArgumentParser, what: str = "the table") -> None:
    parser.add_argument("--summary", action=argparse.BooleanOptionalAction, default=True,
                        help=f"write {what} to the job summary (default: yes)")


def add_rollout_flags(parser: argparse.ArgumentParser) -> None:
    """Which Argo Rollout, and the credentials to reach it."""
    parser.add_argument("--name", help="the Rollout's name (default: rollout.name)")
    parser.add_argument("--namespace", help="its namespace (default: rollout.namespace, then "
                                            "the kubeconfig context's, then default)")
    parser.add_argument("--kubeconfig", metavar="PATH",
                        help="kubeconfig file (default: KUBECONFIG_DATA, KUBECONFIG, "
                             "~/.kube/config, then in-cluster)")


def add_prometheus_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prometheus-url", metavar="URL",
                        help="Prometheus base URL (default: $PROMETHEUS_URL); credentials "
                             "from PROMETHEUS_TOKEN or PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD")


def add_openmetrics_flags(parser: argparse.ArgumentParser, job: str) -> None:
    """--openmetrics, --pushgateway and --pushgateway-job (docs/openmetrics.md)."""
    parser.add_argument("--openmetrics", metavar="PATH",
                        help="write the result as OpenMetrics gauges (timestamped)")
    parser.add_argument("--pushgateway", metavar="URL",
                        help="also push the gauges to this Prometheus Pushgateway (without "
                             "timestamps); unreachable: exit 3 once the result is written")
    parser.add_argument("--pushgateway-job", default=job, metavar="NAME",
                        help=f"the push's job name (default: {job})")


def check_export_flags(args: argparse.Namespace) -> None:
    """Refuse a bad --pushgateway URL or job before the command does anything."""
    if args.pushgateway:
        group_url(args.pushgateway, args.pushgateway_job, {})


def export_gauges(args: argparse.Namespace, families: Sequence[Gauge],
                  grouping: Mapping[str, str], code: ExitCode) -> ExitCode:
    """Write --openmetrics and push to --pushgateway, after everything else the command
    writes: a push that fails is said, and exits 3 only where the command would exit 0 (it
    never hides a verdict's own code)."""
    if args.openmetrics:
        write_text(args.openmetrics, "--openmetrics", render(families))
    if not args.pushgateway:
        return code
    try:
        shown = push(args.pushgateway, args.pushgateway_job, grouping, families)
    except ServiceError as error:
        runner.annotate("error", str(error), title="Pushgateway")
        return code if code != ExitCode.OK else ExitCode.SERVICE
    say(f"pushed {sum(len(family.samples) for family in families)} samples to {shown}")
    return code


def write_json(path: str | None, kind: str, payload: Mapping[str, object]
               ) -> dict[str, object]:
    """The machine-readable result of a command as a `kind` document (stamped with its
    schema version, `schemas/<kind>.schema.json`), written when --json was given."""
    document = versioned(kind, payload)
    if path:
        write_text(path, "--json", json.dumps(document, indent=2, allow_nan=False) + "\n")
    return document


def write_text(path: str, flag: str, text: str) -> None:
    """Write a file a flag named; a failure is a usage error that names the flag."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"{flag} {path}: cannot write: {error.strerror}") from None


def read_json_object(path: str, flag: str) -> dict[str, object]:
    """The JSON object in the file a flag named."""
    data = read_json(Path(path), "file", f"{flag} {path}")
    if not isinstance(data, dict):
        raise UsageError(f"{flag} {path}: expected a JSON object")
    return data


def say(text: str) -> None:
    """Print one line of text built from data (metric names, reasons, server messages).

    Every line break becomes a space, so data never starts a line the runner reads as a
    workflow command (`::set-output ...`): the one line starts with ours.
    """
    print(" ".join(text.splitlines()), flush=True)
