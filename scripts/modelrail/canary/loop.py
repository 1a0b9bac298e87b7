"""`modelrail canary run`: drive a canary through its steps and let Prometheus decide.

The loop takes a traffic backend (rollouts/backend.py: Argo Rollouts or Istio) and a
`Judge` (a protocol, so it runs in tests without Prometheus) and only sequences them. The
order of its steps and what aborts the rollout: docs/argo-rollouts.md ("`canary run`: the loop").
"""

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from modelrail.canary.analyze import AnalysisRequest, AnalysisResult, analyze
from modelrail.canary.config import AnalysisConfig
from modelrail.errors import ExitCode, ModelrailError, ServiceError
from modelrail.plumbing.log_sections import log_section
from modelrail.plumbing.policy_section import duration_seconds
from modelrail.plumbing.prometheus import PrometheusClient
from modelrail.plumbing.redact import redact
from modelrail.rollouts.backend import (
    Condition,
    Outcome,
    TrafficBackend,
    TrafficState,
)
from modelrail.rollouts.policy import MirrorConfig

Log = Callable[[str], None]
StepVerdict = Literal["pass", "fail", "inconclusive", "error"]
WEIGHT_TIMEOUT_S = 300.0  # the controller must reach a step's weight within this, or
DEADLINE_MARGIN_S = 60.0  # this after the rollout's progressDeadlineSeconds, if later
HEALTHY_TIMEOUT_S = 600.0
ABORTED_TIMEOUT_S = 120.0  # for the controller to send the traffic back to stable
# Exceptions from these libraries are network failures that escaped the clients' own
# handling: exit 3 like any service failure.
_NETWORK_LIBRARIES = ("urllib3", "requests", "kubernetes", "http", "socket", "ssl")


class Judge(Protocol):
    """What the loop needs from the analysis: a reachability check and one look."""

    def preflight(self) -> None: ...

    def look(self, look: int, looks: int, held: float) -> AnalysisResult:
        """Look `look` of `looks`, the current step held for `held` seconds so far."""


@dataclass(frozen=True)
class PrometheusJudge:
    """`modelrail analyze` for look k of n, evaluated now. Each step's window is `window`,
    or as long as the current step has been held when that is longer: a step held on for
    more data then reads all of it, instead of a window that slides along."""

    config: AnalysisConfig
    client: PrometheusClient
    canary: str
    baseline: str
    window: str
    namespace: str | None = None
    rollout: str | None = None
    log: Log = print

    def preflight(self) -> None:
        self.client.query("vector(1)", time.time())

    def look(self, look: int, looks: int, held: float) -> AnalysisResult:
        window = self.window
        if held > (duration_seconds(window) or 0.0):
            window = f"{math.ceil(held)}s"
        request = AnalysisRequest(canary=self.canary, baseline=self.baseline, time=time.time(),
                                  window=window, look=look, looks=looks,
                                  namespace=self.namespace, rollout=self.rollout)
        return analyze(self.config, request, self.client,
                       log=lambda line: self.log(f"  query {line}"))


@dataclass(frozen=True)
class CanaryPlan:
    image: str
    version: str
    baseline: str
    baseline_source: str  # how the baseline version was found, for the output
    weights: tuple[int, ...]
    step_seconds: float
    looks: int
    extra_seconds: float  # how much longer an inconclusive step may wait for data
    interval: float = 5.0  # seconds between progress ticks
    container: str | None = None
    mirror: MirrorConfig | None = None  # a mirror phase before the weights

    @property
    def phases(self) -> tuple[tuple[int, int | None], ...]:
        """(weight, mirror %) of each judged step: the mirror phase at weight 0 first."""
        mirrored = ((0, self.mirror.percentage),) if self.mirror else ()
        return mirrored + tuple((weight, None) for weight in self.weights)


def step_label(weight: int, mirror: int | None) -> str:
    """How a step is shown: `mirror 35%` (weight 0, mirrored copies only) or `10%`."""
    return f"mirror {mirror}%" if mirror else f"{weight}%"


@dataclass(frozen=True)
class StepRecord:
    weight: int
    verdict: StepVerdict
    started: str
    ended: str
    reason: str
    analysis: AnalysisResult | None = None
    mirror: int | None = None  # the mirror phase: % of requests mirrored, at weight 0

    @property
    def label(self) -> str:
        return step_label(self.weight, self.mirror)

    @property
    def unjudged(self) -> tuple[str, ...]:
        """The metrics this step's look was decided without (no data)."""
        return self.analysis.decision.unjudged if self.analysis else ()

    def to_json(self) -> dict[str, object]:
        metrics = self.analysis.to_json()["metrics"] if self.analysis else []
        return {"weight": self.weight, "mirror": self.mirror, "verdict": self.verdict,
                "started": self.started, "ended": self.ended, "reason": self.reason,
                "unjudged": list(self.unjudged), "metrics": metrics}


@dataclass(frozen=True)
class CanaryResult:
    plan: CanaryPlan
    result: Literal["promoted", "aborted"]
    exit_code: ExitCode
    message: str
    weight: int | None  # the canary's final weight; None when it could not be read
    failed_weight: int | None
    steps: tuple[StepRecord, ...] = field(default_factory=tuple)
    error: str | None = None  # an unexpected exception ended the run: its type, where, text

    def to_json(self) -> dict[str, object]:
        plan = self.plan
        mirror = None if plan.mirror is None else {
            "route": plan.mirror.route, "percentage": plan.mirror.percentage,
            "scale": plan.mirror.scale}
        return {"result": self.result, "image": plan.image, "version": plan.version,
                "baseline": plan.baseline, "baseline_source": plan.baseline_source,
                "exit_code": int(self.exit_code), "message": self.message,
                "weight": self.weight, "failed_step": self.failed_weight,
                "mirror": mirror, "users_saw_canary": self.users_saw_canary,
                "error": self.error, "unjudged": list(self.unjudged),
                "steps": [step.to_json() for step in self.steps]}

    @property
    def unjudged(self) -> tuple[str, ...]:
        """The metrics the last look was decided without: never judged by the end of the
        run (each look reads every step so far, so the last one knows the most)."""
        judged = [step for step in self.steps if step.analysis is not None]
        return judged[-1].unjudged if judged else ()

    @property
    def users_saw_canary(self) -> bool:
        """Whether any step sent user traffic to the canary (the mirror phase does not)."""
        return any(step.mirror is None for step in self.steps) or \
            (self.result == "promoted" and self.weight == 100)


class _StopError(ModelrailError):
    """Ends the loop with an exit code and a message (the step is recorded first)."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _not_stopped(state: TrafficState) -> None:
    """Stop the run when the rollout was aborted by someone else (the controller too, with
    progressDeadlineAbort) or degraded (e.g. ProgressDeadlineExceeded: the canary's pods
    made no progress within progressDeadlineSeconds): the canary was not shipped."""
    if state.observed and state.aborted:
        raise _StopError(f"rollout {state.ref} was aborted outside this run ({state.message})",
                         ExitCode.REJECTED)
    if state.observed and state.phase == "Degraded":
        raise _StopError(f"rollout {state.ref} is Degraded: {state.message}", ExitCode.REJECTED)


def unexpected(error: Exception) -> tuple[str, ExitCode]:
    """How an exception modelrail does not expect is reported, and its exit code: 3 for an
    I/O failure (OSError: network, disk, timeouts; or raised by a network library), else 1
    (a bug in modelrail: the canary was not shipped). The text names the exception's type
    and the line that raised it, without a traceback and without credentials."""
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    if frames:
        path = frames[-1].filename.replace("\\", "/")
        where = f" at {path.rpartition('modelrail/')[2] or path}:{frames[-1].lineno}"
    text = redact(str(error)) or "no message"
    library = type(error).__module__.partition(".")[0]
    if isinstance(error, OSError) or library in _NETWORK_LIBRARIES:
        return f"unexpected I/O error ({type(error).__name__}{where}: {text})", \
            ExitCode.SERVICE
    return (f"internal error ({type(error).__name__}{where}: {text}); a bug in modelrail, "
            "please report it"), ExitCode.REJECTED


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CanaryRun:
    """One run of the loop (docs/argo-rollouts.md); `run()` returns the result."""

    def __init__(self, driver: TrafficBackend, judge: Judge, plan: CanaryPlan, *,
                 log: Log = print, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.driver, self.judge, self.plan = driver, judge, plan
        self._log, self._clock, self._sleep = log, clock, sleep
        self._steps: list[StepRecord] = []

    def run(self) -> CanaryResult:
        started = self._start()
        if isinstance(started, CanaryResult):
            return started
        if not started.changed and started.state.fully_promoted:  # a re-run after success
            message = (f"nothing to do: rollout {started.state.ref} already serves "
                       f"{self.plan.image} to all traffic ({started.state.describe()})")
            self._log(message)
            return self._result("promoted", ExitCode.OK, message, started.state, None)
        try:
            for number, (weight, mirror) in enumerate(self.plan.phases, start=1):
                self._step(number, weight, mirror)
            return self._promote()
        except ModelrailError as error:
            return self._abort(str(error), error.exit_code)
        except KeyboardInterrupt:  # SIGINT, or SIGTERM via the CLI: a cancelled job
            self._abort("interrupted (the job was cancelled)", ExitCode.REJECTED)
            raise
        except Exception as error:  # last resort: no exception leaves traffic on the canary
            return self._abort(*unexpected(error), error=error)

    def _start(self) -> Outcome[TrafficState] | CanaryResult:
        """Preflight and set the image: the set_image outcome, or the result of a run that
        ended here (untouched; aborted when set_image raised something unexpected)."""
        try:
            self.judge.preflight()  # Prometheus down: exit 3 before anything changes
            self.driver.ensure_steps(self.plan.weights, self.plan.mirror)
        except Exception as error:  # both only read: nothing changed, whatever raised
            return self._untouched(error)
        try:
            return self.driver.set_image(self.plan.image, self.plan.container)
        except ModelrailError as error:
            return self._untouched(error)
        except KeyboardInterrupt:  # cancelled while the image may be going in
            self._abort("interrupted (the job was cancelled)", ExitCode.REJECTED)
            raise
        except Exception as error:  # the image may have been set: abort to be safe
            return self._abort(*unexpected(error), error=error)

    def _untouched(self, error: Exception) -> CanaryResult:
        """The run ended before the image was set: nothing to abort."""
        why, code = (str(error), error.exit_code) if isinstance(error, ModelrailError) \
            else unexpected(error)
        message = f"{why}; the rollout was not changed"
        self._log(message)
        return CanaryResult(self.plan, "aborted", code, message, None, None,
                            error=None if isinstance(error, ModelrailError) else why)

    # -- one step ------------------------------------------------------------------------

    def _step(self, number: int, weight: int, mirror: int | None) -> None:
        """One step, in a section of its own in a GitLab job log (collapsible, timed)."""
        shown = f"mirror {mirror}% (weight 0)" if mirror else f"weight {weight}%"
        label = f"step {number}/{len(self.plan.phases)} · {shown}"
        with log_section(f"modelrail_canary_step_{number}", f"canary {label}"):
            self._run_step(label, number, weight, mirror)

    def _run_step(self, label: str, number: int, weight: int, mirror: int | None) -> None:
        started, wall = self._clock(), _now()
        try:
            if mirror:
                self._reach(label, "the mirror phase", lambda s: s.mirror_phase,
                            self._start_mirror)
            else:
                self._reach(label, f"weight {weight}%", lambda s: s.weight >= weight,
                            lambda s: s.paused and self.driver.step(to_weight=weight).changed)
            held = self._clock()
            self._hold(label, held, self.plan.step_seconds, mirror)
            result = self._judge(label, number, held, mirror)
        except Exception as error:
            reason = str(error) if isinstance(error, ModelrailError) else unexpected(error)[0]
            self._record(weight, mirror, "error", wall, reason, analysis=None)
            raise
        verdict = result.decision.outcome
        self._record(weight, mirror, verdict, wall, result.decision.reason,
                     analysis=result)
        self._log(f"{label} · {verdict.upper()} after {self._clock() - started:.0f}s: "
                  f"{result.decision.reason}")
        where = f"in the mirror phase (mirror {mirror}%, weight 0)" if mirror else \
            f"at weight {weight}%"
        unseen = "; no user request was answered by the canary (it only received mirrored " \
            "copies)" if mirror else ""
        if verdict == "fail":
            raise _StopError(f"the canary failed {where}: {result.decision.reason}{unseen}",
                             ExitCode.REJECTED)
        if verdict == "inconclusive":
            raise _StopError(f"the canary could not be judged {where} within "
                             f"{self.plan.step_seconds + self.plan.extra_seconds:g}s: "
                             f"{result.decision.reason}{unseen}", ExitCode.INCONCLUSIVE)

    def _reach(self, label: str, what: str, arrived: Callable[[TrafficState], bool],
               advance: Callable[[TrafficState], bool]) -> None:
        """Wait until the backend is where `arrived` says; while it is not, `advance` moves
        it on (out of the previous pause) and says whether it sent anything. The wait
        outlasts the backend's progress deadline, so that a canary whose pods do not
        become ready ends on the controller's ProgressDeadlineExceeded, not on this bound."""
        state = self.driver.read()
        bound = max(WEIGHT_TIMEOUT_S, state.progress_deadline + DEADLINE_MARGIN_S)
        deadline = self._clock() + bound
        while True:
            _not_stopped(state)
            if state.observed and arrived(state):
                self._log(f"{label} · reached · {state.describe()}")
                return
            if state.observed and advance(state):
                state = self.driver.read()
                continue
            if self._clock() >= deadline:
                raise ServiceError(f"rollout {state.ref} did not reach {what} within "
                                   f"{bound:g}s: {state.describe()}")
            self._log(f"{label} · waiting for {what} · {state.describe()}")
            self._sleep(self.plan.interval)
            state = self.driver.read()

    def _start_mirror(self, _state: TrafficState) -> bool:
        """The mirror phase begins: Argo's controller reaches it alone, the Istio backend
        writes the mirror (`TrafficBackend.start_mirror`)."""
        return self.plan.mirror is not None and self.driver.start_mirror(self.plan.mirror)

    def _hold(self, label: str, since: float, seconds: float, mirror: int | None) -> None:
        """Keep the step for `seconds` from `since`, one progress line per tick; in the
        mirror phase, each tick also reads the mirror route back (`_mirror_intact`)."""
        while (left := since + seconds - self._clock()) > 0:
            state = self.driver.read()
            _not_stopped(state)
            self._mirror_intact(mirror)
            share = f", mirror {state.mirror}%" if state.mirror else ""
            self._log(f"{label} · {self._clock() - since:.0f}s of {seconds:g}s · "
                      f"{state.phase}, weight {state.weight}%{share}")
            self._sleep(min(self.plan.interval, left))

    def _judge(self, label: str, number: int, held: float, mirror: int | None
               ) -> AnalysisResult:
        """Look `number`; while inconclusive, hold the step longer (bounded) and look again.
        A mirror look counts only if the mirror route was still there after it."""
        look = min(number, self.plan.looks)
        deadline = held + self.plan.step_seconds + self.plan.extra_seconds
        while True:
            result = self.judge.look(look, self.plan.looks, self._clock() - held)
            self._mirror_intact(mirror)
            for verdict in result.verdicts:
                self._log(f"{label} · {verdict.outcome.upper():<12} {verdict.name}: "
                          f"{verdict.reason}")
            if result.decision.outcome != "inconclusive" or self._clock() >= deadline:
                return result
            self._log(f"{label} · inconclusive ({result.decision.reason}); waiting up to "
                      f"{deadline - self._clock():.0f}s more for data")
            self._hold(label, self._clock(), min(self.plan.interval * 2,
                                                 max(deadline - self._clock(), 0.0)), mirror)

    def _mirror_intact(self, mirror: int | None) -> None:
        """In the mirror phase, stop (exit 4, aborted) once the mirror route is gone from
        the VirtualService: the controller does not write it again, so the canary gets no
        more copies, and a verdict would judge data that never reached it."""
        if not mirror or self.plan.mirror is None:
            return
        problem = self.driver.mirror_problem(self.plan.mirror.route)
        if problem:
            raise _StopError(f"the mirror route vanished during the mirror phase ({problem}): "
                             "no verdict on data that never reached the canary; the "
                             "controller removes managed routes when the canary has no "
                             "available pods and does not restore them", ExitCode.INCONCLUSIVE)

    def _record(self, weight: int, mirror: int | None, verdict: StepVerdict, started: str,
                reason: str, *, analysis: AnalysisResult | None) -> None:
        self._steps.append(StepRecord(weight=weight, verdict=verdict, started=started,
                                      ended=_now(), reason=reason, analysis=analysis,
                                      mirror=mirror))

    # -- the end -------------------------------------------------------------------------

    def _promote(self) -> CanaryResult:
        self.driver.promote(full=True)
        waited = self.driver.wait([Condition("healthy")], HEALTHY_TIMEOUT_S,
                                  self.plan.interval, sleep=self._sleep, clock=self._clock)
        if not waited.reached and waited.state.phase == "Degraded":
            raise _StopError(f"promoted in full, but {waited.message}", ExitCode.REJECTED)
        if not waited.reached:
            raise ServiceError(f"promoted in full, but {waited.message}")
        message = (f"promoted: version {self.plan.version} passed every step and serves all "
                   f"traffic ({waited.state.describe()})")
        self._log(message)
        return self._result("promoted", ExitCode.OK, message, waited.state, None)

    def _abort(self, why: str, code: ExitCode, *,
               error: Exception | None = None) -> CanaryResult:
        """Abort the rollout and wait (bounded) for the traffic to return to stable; an
        abort that fails too, whatever raised, is reported in the result. `error`: the
        unexpected exception that ended the run, recorded as the result's `error`."""
        failed = self._steps[-1].weight if self._steps else None
        recorded = why if error is not None else None
        try:
            outcome = self.driver.abort(sleep=self._sleep, clock=self._clock)
            if outcome.changed:
                state = self.driver.wait([Condition("aborted")], ABORTED_TIMEOUT_S,
                                         self.plan.interval, sleep=self._sleep,
                                         clock=self._clock).state
                back = "traffic is back on stable" if state.weight == 0 else \
                    "the abort was sent but the weight has not returned to 0 yet"
            else:
                state, back = outcome.state, outcome.message
            message = f"aborted: {why}; {back} ({state.describe()})"
        except Exception as abort_error:  # best effort, and said so
            failure = str(abort_error) if isinstance(abort_error, ModelrailError) \
                else unexpected(abort_error)[0]
            message = f"{why}; the abort failed too: {failure}"
            self._log(f"ABORT FAILED: {message}")
            return CanaryResult(self.plan, "aborted", code, message, None, failed,
                                tuple(self._steps), error=recorded)
        self._log(message)
        return self._result("aborted", code, message, state, failed, error=recorded)

    def _result(self, result: Literal["promoted", "aborted"], code: ExitCode, message: str,
                state: TrafficState, failed: int | None, *,
                error: str | None = None) -> CanaryResult:
        return CanaryResult(self.plan, result, code, message, state.weight, failed,
                            tuple(self._steps), error=error)

