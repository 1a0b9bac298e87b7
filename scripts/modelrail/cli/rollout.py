"""`modelrail rollout status|set-image|step|promote|pause|abort|retry|wait|restore`.

Drives one Argo Rollout through the Kubernetes API with the kubectl-argo-rollouts
plugin's own patches (docs/argo-rollouts.md). The rollout comes from
`--name/--namespace` or from the policy's `rollout:` section (`--config`, default
./modelrail.yaml when it exists). `abort` and `restore`, the clean-up after a failed or
cancelled canary, work on every traffic backend (`rollout.backend`; docs/traffic-backends.md);
the other actions drive Argo Rollouts only. Exit codes and step outputs: docs/exit-codes.md.
"""

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelrail.canary.restore import Restored, restore_serving, restore_traffic
from modelrail.cli.common import add_json_flag, add_rollout_flags, write_json
from modelrail.config import load_config
from modelrail.errors import ExitCode, UsageError
from modelrail.plumbing import runner
from modelrail.registry.client import Registry, VersionInfo
from modelrail.registry.promotion import Environments, RefusedError
from modelrail.rollouts.backend import Condition, Outcome, TrafficState
from modelrail.rollouts.connect import open_backend, open_driver
from modelrail.rollouts.policy import (
    MirrorConfig,
    RolloutConfig,
    load_rollout_policy,
    parse_weights_flag,
    validate_name,
)
from modelrail.rollouts.status import RolloutState
from modelrail.rollouts.steps import check_steps

if TYPE_CHECKING:  # the kubernetes client is an extra, imported when a command runs
    from modelrail.rollouts.backend import TrafficBackend
    from modelrail.rollouts.driver import RolloutDriver

DEFAULT_POLICY = "modelrail.yaml"

MAX_WAIT_SECONDS = 7 * 86400
"""`rollout wait` bounds: longer than any CI job runs, short enough that time.sleep
cannot overflow."""


@dataclass(frozen=True)
class Target:
    """The rollout a command acts on, with the policy values that apply to it."""

    driver: "RolloutDriver"
    container: str | None
    weights: tuple[int, ...]
    mirror: MirrorConfig | None = None  # the policy's mirror phase (not with --steps)


def _policy(args: argparse.Namespace) -> RolloutConfig | None:
    if args.config:
        return load_rollout_policy(args.config)
    if Path(DEFAULT_POLICY).is_file():
        return load_rollout_policy(DEFAULT_POLICY)
    return None


def _target(args: argparse.Namespace) -> Target:
    policy = _policy(args)
    if policy and policy.backend != "argo":
        raise UsageError(f"`modelrail rollout {args.rollout_command}` drives Argo Rollouts "
                         f"(abort and restore work on every backend), and the policy's "
                         f"rollout.backend is {policy.backend}: `modelrail canary run` "
                         f"drives it (docs/traffic-backends.md)")
    name = _name(args, policy)
    driver = open_driver(args.kubeconfig, name, args.namespace,
                         policy.namespace if policy else None)
    weights = parse_weights_flag(args.steps) if args.steps else \
        (policy.steps if policy else ())
    return Target(driver=driver, container=policy.container if policy else None,
                  weights=weights,
                  mirror=policy.mirror if policy and not args.steps else None)


def _name(args: argparse.Namespace, policy: RolloutConfig | None) -> str:
    if args.name:
        validate_name(args.name, "--name")
    name = args.name or (policy.name if policy else None)
    if not name:
        raise UsageError("no rollout given: pass --name NAME, or add a rollout: section "
                         "(name, namespace, steps) to the policy file (--config PATH)")
    return name


def _other_backend(args: argparse.Namespace) -> "TrafficBackend | None":
    """The policy's traffic backend when it is not Argo Rollouts (None when it is)."""
    policy = _policy(args)
    if policy is None or policy.backend == "argo":
        return None
    return open_backend(args.kubeconfig, _name(args, policy), args.namespace, policy)


def _render(args: argparse.Namespace, title: str, rollout: TrafficState, message: str,
            extra: dict[str, object]) -> None:
    """Print, write --json, step outputs and a summary table: the same for every action
    (and, for abort and restore, every backend: an Argo Rollout shows its steps)."""
    print(message)
    print(rollout.describe())
    write_json(args.json, "rollout", {**extra, "message": message,
                                      "rollout": rollout.to_json()})
    runner.set_output("phase", rollout.phase)
    runner.set_output("weight", str(rollout.weight))
    runner.set_output("step-index", "" if rollout.step_index is None
                      else str(rollout.step_index))
    runner.set_output("paused", _bool(rollout.paused))
    runner.set_output("aborted", _bool(rollout.aborted))
    for key, value in extra.items():
        runner.set_output(key, _bool(value) if isinstance(value, bool) else str(value))
    argo = rollout if isinstance(rollout, RolloutState) else None  # the only one with steps
    step = "—" if argo is None or argo.step_index is None else \
        f"{argo.step_index}/{argo.step_count}"
    shown = argo.images if argo else rollout.stable_images
    images = ", ".join(f"`{name}={image}`" for name, image in shown.items()) or "—"
    why = f" ({rollout.message})" if rollout.message else ""
    runner.append_summary(
        f"### Rollout `{rollout.ref}`: {title}\n\n| phase | weight | step | images |\n"
        f"|---|---|---|---|\n| {rollout.phase}{why} | {rollout.weight}% | {step} | "
        f"{images} |\n\n{message}")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _outcome(args: argparse.Namespace, outcome: Outcome[TrafficState]) -> ExitCode:
    _render(args, outcome.action, outcome.state, outcome.message,
            {"action": outcome.action, "changed": outcome.changed})
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> ExitCode:
    target = _target(args)
    rollout = target.driver.read()
    if target.weights:
        try:
            check_steps(rollout.obj, target.weights, target.mirror)
        except UsageError as mismatch:
            if args.check_steps:
                raise
            runner.annotate("warning", str(mismatch), title="rollout steps")
    _render(args, "status", rollout, f"rollout {rollout.ref}", {})
    return ExitCode.OK


def cmd_set_image(args: argparse.Namespace) -> ExitCode:
    if not args.image.strip() or any(c.isspace() for c in args.image):
        raise UsageError(f"--image {args.image!r}: expected an image reference such as "
                         "ghcr.io/acme/ranker@sha256:...")
    target = _target(args)
    if target.weights:
        target.driver.ensure_steps(target.weights, target.mirror)
    return _outcome(args, target.driver.set_image(args.image, args.container
                                                  or target.container))


def cmd_step(args: argparse.Namespace) -> ExitCode:
    target = _target(args)
    if args.to_weight is not None:
        if not 1 <= args.to_weight <= 100:
            raise UsageError(f"--to-weight {args.to_weight}: expected 1 to 100")
        if target.weights and args.to_weight not in target.weights:
            raise UsageError(f"--to-weight {args.to_weight} is not one of the steps "
                             f"{list(target.weights)}")
    if target.weights:
        target.driver.ensure_steps(target.weights, target.mirror)
    return _outcome(args, target.driver.step(args.to_weight))


def cmd_promote(args: argparse.Namespace) -> ExitCode:
    return _outcome(args, _target(args).driver.promote(full=args.full))


def cmd_pause(args: argparse.Namespace) -> ExitCode:
    return _outcome(args, _target(args).driver.pause())


def cmd_abort(args: argparse.Namespace) -> ExitCode:
    """All traffic back to stable, on any backend: the clean-up step runs it in a process
    of its own, after `canary run` was cancelled (docs/traffic-backends.md)."""
    backend = _other_backend(args)
    return _outcome(args, backend.abort() if backend else _target(args).driver.abort())


def cmd_retry(args: argparse.Namespace) -> ExitCode:
    return _outcome(args, _target(args).driver.retry())


def cmd_wait(args: argparse.Namespace) -> ExitCode:
    conditions = [Condition.parse(text) for text in args.until]
    for flag, seconds in (("--timeout", args.timeout), ("--interval", args.interval)):
        _check_seconds(flag, seconds)
    result = _target(args).driver.wait(conditions, args.timeout, args.interval)
    _render(args, "wait", result.state, result.message, {"reached": result.reached})
    if result.reached:
        return ExitCode.OK
    runner.annotate("error", result.message, title="rollout wait")
    return ExitCode.REJECTED


def cmd_restore(args: argparse.Namespace) -> ExitCode:
    """After `modelrail rollback --env ENV`: serve the version ENV holds (canary/restore.py)."""
    _check_seconds("--timeout", args.timeout)
    config = load_config(args.config or DEFAULT_POLICY)
    envs = Environments.from_config(config)
    envs.index(args.env, "--env")
    ref, restore = _restorer(args, config.rollout.container if config.rollout else None)
    holder = envs.holder(Registry(config.registry.resolve_tracking_uri(config.source)),
                         args.env)
    if holder is None:
        raise RefusedError(f"no version holds {args.env} in the registry: nothing to serve; "
                           f"rollout {ref} was not changed")
    restored = restore(holder)
    _render(args, "restore", restored.state, restored.message,
            {"action": "restore", "changed": restored.changed})
    return ExitCode.OK


def _restorer(args: argparse.Namespace, container: str | None
              ) -> tuple[str, Callable[[VersionInfo], Restored]]:
    """The rollout's name for messages, and how to make it serve a version: the Argo way
    (`restore_serving`) or through the traffic backend (`restore_traffic`)."""
    backend = _other_backend(args)
    if backend is not None:
        return backend.ref, lambda version: restore_traffic(
            backend, version, args.env, container=container, timeout=args.timeout)
    target = _target(args)
    return target.driver.ref, lambda version: restore_serving(
        target.driver, version, args.env, container=target.container, timeout=args.timeout)


def _check_seconds(flag: str, seconds: float) -> None:
    if not 0 < seconds <= MAX_WAIT_SECONDS:  # also refuses nan (time.sleep would raise)
        raise UsageError(f"{flag}: expected seconds greater than 0, at most "
                         f"{MAX_WAIT_SECONDS} (7 days), got {seconds:g}")


def add_rollout_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") \
        -> None:
    """Add `rollout` and its actions to the `modelrail` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH",
                        help=f"policy file with a rollout: section (default: ./{DEFAULT_POLICY}"
                             " when it exists)")
    add_rollout_flags(common)
    common.add_argument("--steps", metavar="W1,W2,...",
                        help="canary weights the rollout's steps must match "
                             "(default: rollout.steps)")
    add_json_flag(common)

    rollout = commands.add_parser(
        "rollout", help="drive an Argo Rollout: status, set-image, step, promote, abort, ...")
    actions = rollout.add_subparsers(dest="rollout_command", required=True, metavar="ACTION")

    status = actions.add_parser("status", parents=[common],
                                help="phase, weight, step and pause reasons")
    status.add_argument("--check-steps", action="store_true",
                        help="exit 2 when the steps do not match the policy's weights")
    status.set_defaults(handler=cmd_status)

    image = actions.add_parser("set-image", parents=[common],
                               help="start a new revision: set the container image")
    image.add_argument("--image", required=True, metavar="REF",
                       help="image reference, ideally by digest (REPO@sha256:...)")
    image.add_argument("--container", metavar="NAME",
                       help="container to update, `*` for all (default: rollout.container, "
                            "or the only container)")
    image.set_defaults(handler=cmd_set_image)

    step = actions.add_parser("step", parents=[common],
                              help="leave the current pause: go on to the next weight")
    step.add_argument("--to-weight", type=int, metavar="N",
                      help="do nothing when the rollout is already at weight N or beyond "
                           "(safe re-runs)")
    step.set_defaults(handler=cmd_step)

    promote = actions.add_parser("promote", parents=[common],
                                 help="the plugin's promote: next step, or --full")
    promote.add_argument("--full", action="store_true",
                         help="skip the remaining steps and make the new revision stable")
    promote.set_defaults(handler=cmd_promote)

    for name, handler, text in (
        ("pause", cmd_pause, "pause the rollout (spec.paused)"),
        ("abort", cmd_abort, "abort: all traffic back to stable (weight 0)"),
        ("retry", cmd_retry, "retry an aborted rollout from step 0"),
    ):
        action = actions.add_parser(name, parents=[common], help=text)
        action.set_defaults(handler=handler)

    wait = actions.add_parser("wait", parents=[common],
                              help="wait for a phase, weight or pause, printing progress")
    wait.add_argument("--until", action="append", required=True, metavar="COND",
                      help="healthy | paused | degraded | aborted | phase=NAME | weight=N | "
                           "step=N (repeat to require several)")
    wait.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                      help="give up (exit 1) after this long (default: 600)")
    wait.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                      help="seconds between reads (default: 2)")
    wait.set_defaults(handler=cmd_wait)

    restore = actions.add_parser(
        "restore", parents=[common],
        help="after `modelrail rollback --env ENV`: make a fully promoted rollout serve the "
             "version ENV holds (set-image, promote --full, wait for Healthy)")
    restore.add_argument("--env", required=True, metavar="ENV",
                         help="the registry environment rolled back (its alias names the "
                              "version to serve; the version's `image` tag, its image)")
    restore.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                         help="give up (exit 3) when not Healthy after this long "
                              "(default: 600)")
    restore.set_defaults(handler=cmd_restore)
