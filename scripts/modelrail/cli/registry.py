"""`modelrail register | promote | rollback | log-check`: flags, outputs and rendering.

The rules live in modelrail.registry (docs/promotion.md); exit codes and step outputs:
docs/exit-codes.md.
"""

import argparse
import json
import os
import tempfile
from pathlib import Path

from modelrail.cli.common import add_config_flag, add_json_flag, say, write_json
from modelrail.config import Config, load_config
from modelrail.errors import ExitCode
from modelrail.gate.metrics_file import load_metrics
from modelrail.plumbing import runner
from modelrail.registry.client import Registry
from modelrail.registry.lineage import collect_lineage
from modelrail.registry.logging_proof import ALLOW_FILE_STORE, prove_logging
from modelrail.registry.promotion import Actor, Environments, Outcome, promote, rollback
from modelrail.registry.registration import register, validate_artifact_path


def _registry(config: Config) -> Registry:
    return Registry(config.registry.resolve_tracking_uri(config.source))


def _text(number: int | None) -> str:
    return "" if number is None else str(number)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def cmd_register(args: argparse.Namespace) -> ExitCode:
    config = load_config(args.config)
    metrics = load_metrics(args.metrics) if args.metrics else None
    lineage = collect_lineage(
        os.environ, Path.cwd(),
        gate_report=Path(args.gate_report) if args.gate_report else None,
        metrics=metrics,
        params=Path(args.params) if args.params else None,
        dvc_lock=Path(args.dvc_lock) if args.dvc_lock else None,
        pr_number=args.pr,
    )
    headline = list(config.gate.metrics) if config.gate is not None else []
    result = register(
        _registry(config), config, lineage,
        run_id=args.run_id, model_dir=Path(args.model_dir) if args.model_dir else None,
        artifact_path=args.artifact_path, headline=headline)
    write_json(args.json, "register", result.to_json())
    version = result.version
    runner.set_output("version", str(version.version))
    runner.set_output("model-uri", result.model_uri)
    runner.set_output("created", _bool(result.created))
    if result.created:
        print(f"registered {version.ref} from {version.source} "
              f"(git {lineage.git_sha[:12]}, {version.tags.get('validation_status')})")
    else:
        print(f"{version.ref} is already registered for git {lineage.git_sha[:12]}; "
              "nothing created")
    print(result.model_uri)
    runner.append_summary(
        f"### Model registered\n\n| model | version | git sha | validation | created |\n"
        f"|---|---|---|---|---|\n| `{version.name}` | {version.version} | "
        f"`{lineage.git_sha[:12]}` | {version.tags.get('validation_status', '')} | "
        f"{_bool(result.created)} |")
    return ExitCode.OK


def cmd_promote(args: argparse.Namespace) -> ExitCode:
    config = load_config(args.config)
    envs = Environments.from_config(config)
    envs.index(args.to, "--to")  # checked before the registry is contacted
    if args.from_env is not None:
        envs.index(args.from_env, "--from")
    outcome = promote(_registry(config), envs, args.to, version=args.version,
                      from_env=args.from_env, force=args.force, reason=args.reason,
                      actor=Actor.from_env(os.environ), dry_run=args.dry_run)
    return _render(args, outcome)


def cmd_rollback(args: argparse.Namespace) -> ExitCode:
    config = load_config(args.config)
    envs = Environments.from_config(config)
    envs.index(args.env, "--env")
    outcome = rollback(_registry(config), envs, args.env, expected=args.version,
                       reason=args.reason, actor=Actor.from_env(os.environ))
    return _render(args, outcome)


def _render(args: argparse.Namespace, outcome: Outcome) -> ExitCode:
    write_json(args.json, "promotion", outcome.to_json())
    previous = _text(outcome.previous_version)
    runner.set_output("version", _text(outcome.version))
    runner.set_output("origin-version", _text(outcome.origin_version))
    runner.set_output("model-uri", outcome.model_uri)
    runner.set_output("changed", _bool(outcome.changed))
    runner.set_output("previous-version", previous)
    say(outcome.message)
    title = "Dry run of promote" if outcome.dry_run else outcome.action.capitalize()
    runner.append_summary(
        f"### {title}: {outcome.env}\n\n"
        f"| model | env | version | previous | changed |\n|---|---|---|---|---|\n"
        f"| `{outcome.model_uri}` | {outcome.env} | {_text(outcome.version) or '—'} | "
        f"{previous or '—'} | {_bool(outcome.changed)} |\n\n{outcome.message}")
    return ExitCode.OK


def cmd_log_check(args: argparse.Namespace) -> ExitCode:
    validate_artifact_path(args.artifact_path)
    os.environ.update(ALLOW_FILE_STORE)  # this process reads the throwaway file store too
    parent = os.environ.get("RUNNER_TEMP") or None
    with tempfile.TemporaryDirectory(prefix="modelrail-log-check.", dir=parent) as scratch:
        proof = prove_logging(args.command, Path.cwd(), Path(scratch), os.environ,
                              args.artifact_path)
    payload = write_json(args.json, "log-check", proof.to_json())
    runner.set_output("passed", _bool(proof.passed))
    runner.set_output("report", json.dumps(payload))
    if proof.passed:
        say(f"model logging works: {proof.message}")
        return ExitCode.OK
    runner.annotate("error", proof.message, title="The release would fail at logging the model")
    return ExitCode.REJECTED


def add_registry_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") \
        -> None:
    """Add register, promote and rollback to the `modelrail` parser."""
    reg = commands.add_parser(
        "register", help="register a model version with lineage tags (idempotent per git sha)")
    add_config_flag(reg)
    source = reg.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-id", help="MLflow run that logged the model")
    source.add_argument("--model-dir", metavar="PATH",
                        help="model directory to upload to a new run and register")
    reg.add_argument("--artifact-path", default="model",
                          help="the model's path in the run (default: model)")
    reg.add_argument("--gate-report", metavar="GATE.json",
                          help="`modelrail gate --json` output: sets validation_status")
    reg.add_argument("--metrics", metavar="FILE", help="metrics file (JSON/YAML)")
    reg.add_argument("--params", metavar="FILE", help="params.yaml")
    reg.add_argument("--dvc-lock", metavar="FILE", help="dvc.lock for the data hash")
    reg.add_argument("--pr", type=int, metavar="N",
                          help="PR number (default: from the GitHub event)")
    add_json_flag(reg)
    reg.set_defaults(handler=cmd_register)

    pro = commands.add_parser(
        "promote", help="move a model version to the next environment")
    add_config_flag(pro)
    pro.add_argument("--to", required=True, metavar="ENV", help="target environment")
    which = pro.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, metavar="N",
                       help="registered version number (as `register` printed it)")
    which.add_argument("--from", dest="from_env", metavar="ENV",
                       help="promote whatever ENV holds now (default: the environment "
                            "before --to)")
    pro.add_argument("--reason", metavar="TEXT", help="why (recorded on the version)")
    pro.add_argument("--force", action="store_true",
                         help="allow skipping environments (needs --reason)")
    pro.add_argument("--dry-run", action="store_true",
                     help="check every rule and say which release would move; write nothing")
    add_json_flag(pro)
    pro.set_defaults(handler=cmd_promote)

    back = commands.add_parser(
        "rollback", help="point an environment back at its previous version")
    add_config_flag(back)
    back.add_argument("--env", required=True, metavar="ENV", help="environment")
    back.add_argument("--version", type=int, metavar="N",
                          help="only roll back if ENV still holds version N (safe re-runs)")
    back.add_argument("--reason", metavar="TEXT", help="why (recorded on the version)")
    add_json_flag(back)
    back.set_defaults(handler=cmd_rollback)

    check = commands.add_parser(
        "log-check", help="run the release's log command against a throwaway MLflow store "
                          "and check it logged a model `register --run-id` accepts")
    check.add_argument("--command", required=True, metavar="SHELL",
                       help='logs the model and writes {"run_id": ...} to $MODELRAIL_RUN_JSON')
    check.add_argument("--artifact-path", default="model",
                       help="the model's path in the run (default: model)")
    add_json_flag(check)
    check.set_defaults(handler=cmd_log_check)
