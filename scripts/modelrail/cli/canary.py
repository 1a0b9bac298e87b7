"""`modelrail canary run`: flags in, the canary loop (modelrail.canary.loop), result out.

The rollout comes from the policy's `rollout:` section (its `backend`: Argo Rollouts or
Istio, rollouts/connect.py), the checks from `analysis:`, the
baseline from `--baseline-version` or `modelrail.canary.baseline`. Exit codes, step
outputs and `--json`: docs/exit-codes.md and docs/json-outputs.md.
"""

import argparse
import signal
from pathlib import Path

from modelrail.canary.analyze import window_of
from modelrail.canary.baseline import resolve_baseline
from modelrail.canary.loop import CanaryPlan, CanaryResult, CanaryRun, PrometheusJudge, step_label
from modelrail.canary.openmetrics import Where, canary_gauges
from modelrail.canary.report import canary_markdown, unjudged_text, write_report
from modelrail.canary.schedule import StepSchedule
from modelrail.cli.common import (
    add_config_flag,
    add_json_flag,
    add_openmetrics_flags,
    add_prometheus_flag,
    add_rollout_flags,
    add_summary_flag,
    check_export_flags,
    export_gauges,
    say,
    write_json,
)
from modelrail.config import Config, load_config
from modelrail.errors import ExitCode, UsageError
from modelrail.plumbing import runner
from modelrail.plumbing.prometheus import PrometheusClient
from modelrail.registry.promotion import Environments
from modelrail.rollouts.backend import TrafficBackend
from modelrail.rollouts.connect import open_backend
from modelrail.rollouts.policy import RolloutConfig, validate_name


def add_canary_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]"
                        ) -> None:
    canary = commands.add_parser(
        "canary", help="run a canary rollout step by step, judged by Prometheus")
    actions = canary.add_subparsers(dest="canary_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="set the image, step through the weights, analyze "
                                         "each step; promote in full or abort")
    add_config_flag(run)
    run.add_argument("--image", required=True, metavar="REF[@DIGEST]",
                     help="the canary image, ideally by digest")
    run.add_argument("--version", required=True, metavar="N",
                     help="the canary's model version (its metrics' version label)")
    run.add_argument("--baseline-version", metavar="M",
                     help="the stable version to compare with (default: the stable image's "
                          "v<N> tag, else the version prod holds in the registry)")
    add_rollout_flags(run)
    add_prometheus_flag(run)
    add_json_flag(run)
    add_summary_flag(run, "the per-step table and charts")
    run.add_argument("--report-dir", metavar="DIR",
                     help="write canary-report.html, one SVG chart per metric and the "
                          "resolved queries here (for upload as an artifact)")
    add_openmetrics_flags(run, "modelrail-canary")
    run.set_defaults(handler=cmd_canary_run)


def cmd_canary_run(args: argparse.Namespace) -> ExitCode:
    config = load_config(args.config)
    analysis = config.require_analysis()
    rollout = _rollout(config)
    if not args.version.strip():
        raise UsageError("--version: give the canary's model version")
    check_export_flags(args)
    name = validate_name(args.name, "--name") if args.name else rollout.name
    client = PrometheusClient.from_env(args.prometheus_url)
    driver = open_backend(args.kubeconfig, name, args.namespace, rollout)
    baseline, source = _baseline(args, config, rollout, driver)
    schedule = StepSchedule(rollout.step_seconds)
    plan = CanaryPlan(
        image=args.image, version=args.version, baseline=baseline, baseline_source=source,
        weights=rollout.steps, step_seconds=rollout.step_seconds,
        looks=analysis.looks or len(rollout.steps) + (1 if rollout.mirror else 0),
        extra_seconds=schedule.extra_seconds, interval=schedule.tick_seconds,
        container=rollout.container, mirror=rollout.mirror)
    print(f"canary {args.image} (version {args.version}) vs baseline version {baseline} "
          f"({source}) on rollout {driver.ref}: steps "
          f"{', '.join(step_label(w, m) for w, m in plan.phases)}, "
          f"{rollout.step_seconds:g}s each, Prometheus at {client.name}")
    judge = PrometheusJudge(analysis, client, args.version, baseline,
                            window_of(analysis, rollout),
                            namespace=driver.namespace, rollout=driver.name,
                            log=lambda line: print(line, flush=True))
    signal.signal(signal.SIGTERM, _interrupt)  # a cancelled job: abort, as on Ctrl-C
    result = CanaryRun(driver, judge, plan, log=lambda line: print(line, flush=True)).run()
    _render(args, config, result)
    where = Where(rollout=driver.name, namespace=driver.namespace, model=config.model)
    return export_gauges(args, canary_gauges(result, analysis, where),
                         {"rollout": where.rollout, "namespace": where.namespace},
                         result.exit_code)


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _rollout(config: Config) -> RolloutConfig:
    rollout = config.rollout
    if rollout is None or not rollout.steps:
        raise UsageError(f"{config.source}: a canary needs a rollout: section with name and "
                         "steps (e.g. steps: [10, 25, 50, 100])")
    return rollout


def _baseline(args: argparse.Namespace, config: Config, rollout: RolloutConfig,
              driver: TrafficBackend) -> tuple[str, str]:
    """(baseline version, where it came from): the flag, else `resolve_baseline`."""
    if args.baseline_version:
        return str(args.baseline_version), "--baseline-version"
    return resolve_baseline(driver, rollout.container, Environments.from_config(config),
                            lambda: config.registry.resolve_tracking_uri(config.source))


def _render(args: argparse.Namespace, config: Config, result: CanaryResult) -> None:
    write_json(args.json, "canary-run", result.to_json())
    runner.set_output("result", result.result)
    runner.set_output("failed-step", "" if result.failed_weight is None
                      else str(result.failed_weight))
    runner.set_output("weight", "" if result.weight is None else str(result.weight))
    runner.set_output("baseline", result.plan.baseline)
    analysis = config.require_analysis()
    if args.summary:
        runner.append_summary(canary_markdown(result, analysis))
    if args.report_dir:
        write_report(Path(args.report_dir), result, analysis)
    if result.unjudged:
        runner.annotate("warning", unjudged_text(result.unjudged), title="Canary")
    if result.exit_code != ExitCode.OK:
        runner.annotate("error", result.message, title="Canary")
    say(f"canary {result.result.upper()}: {result.message}")
