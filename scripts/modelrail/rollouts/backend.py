"""What the canary loop needs from a traffic backend, whatever moves the traffic: the
`TrafficBackend` protocol, the backend-neutral `TrafficState` it reads, the `--until`
terms a wait checks (`Condition`) and the poll behind every wait.

Implementations: Argo Rollouts (rollouts/driver.py: the controller moves the weights
through the Rollout's declared steps) and Istio (rollouts/istio_backend.py: modelrail
writes the weights of one VirtualService route itself). Which one a policy uses is
`rollout.backend` (rollouts/policy.py); docs/traffic-backends.md.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

from modelrail.errors import UsageError
from modelrail.rollouts.policy import MirrorConfig

PHASES = ("Healthy", "Paused", "Progressing", "Degraded")
Log = Callable[[str], None]


class TrafficState(Protocol):
    """One reading of the backend: the canary's share of traffic and whether the backend
    has acted on every write so far, is waiting for the next step, was aborted, or is
    stuck (phase Degraded)."""

    @property
    def ref(self) -> str: ...
    @property
    def observed(self) -> bool:
        """The backend has acted on every write so far: the rest can be trusted."""
    @property
    def phase(self) -> str:
        """One of PHASES."""
    @property
    def message(self) -> str: ...
    @property
    def weight(self) -> int:
        """The % of user requests the canary answers, as the backend confirmed it."""
    @property
    def step_index(self) -> int | None:
        """The backend's own step counter (Argo's currentStepIndex), None without one."""
    @property
    def paused(self) -> bool:
        """Waiting at a step for the loop to move it on."""
    @property
    def aborted(self) -> bool: ...
    @property
    def fully_promoted(self) -> bool:
        """The canary's image is the stable one and serves all traffic."""
    @property
    def stable_images(self) -> Mapping[str, str]:
        """container → image of the version serving as stable, {} when unknown."""
    @property
    def mirror(self) -> int:
        """The % of requests mirrored to the canary."""
    @property
    def mirror_phase(self) -> bool:
        """The mirror phase is in force (or already passed, on a re-run)."""
    @property
    def progress_deadline(self) -> int:
        """Seconds the backend gives the canary's pods to progress before it says
        Degraded; the loop's waits outlast it."""

    def describe(self) -> str:
        """One line for logs."""

    def to_json(self) -> Mapping[str, object]:
        """The `rollout` object of `modelrail rollout --json` (docs/json-outputs.md)."""


class NamedState:
    """The parts of a `TrafficState` that follow from its name, namespace and phase: a
    mixin of the backends' state dataclasses."""

    name: str
    namespace: str
    phase: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def paused(self) -> bool:
        return self.phase == "Paused"

    def to_json(self) -> Mapping[str, object]:
        """A backend without steps of its own: the traffic, and the stable images."""
        state = cast(TrafficState, self)  # the mixin's classes are TrafficStates
        return {"name": self.name, "namespace": self.namespace, "phase": self.phase,
                "message": state.message, "acknowledged": state.observed,
                "weight": state.weight, "paused": self.paused, "aborted": state.aborted,
                "fully_promoted": state.fully_promoted, "images": dict(state.stable_images)}


StateT = TypeVar("StateT", bound=TrafficState)
StateT_co = TypeVar("StateT_co", bound=TrafficState, covariant=True)


@dataclass(frozen=True)
class Outcome(Generic[StateT_co]):
    """What an operation did: the state as the last answer showed it, and a sentence."""

    action: str
    changed: bool
    message: str
    state: StateT_co


def step_refusal(state: StateT, to_weight: int) -> "Outcome[StateT] | None":
    """Why a step to `to_weight` sends nothing: the canary is there already (or past it),
    or the backend is not waiting for the next weight; None when the step may write. An
    aborted backend is exit 2."""
    if state.aborted:
        raise UsageError(f"{state.ref}: {state.message}")
    if state.weight >= to_weight:
        return Outcome("step", False, f"already at weight {state.weight}% "
                       f"(>= {to_weight}%): nothing to do", state)
    if not state.paused:
        return Outcome("step", False, f"not ready for the next weight: {state.message}",
                       state)
    return None


@dataclass(frozen=True)
class WaitResult(Generic[StateT_co]):
    reached: bool
    message: str
    state: StateT_co


@dataclass(frozen=True)
class Condition:
    """One `--until` term: healthy | paused | degraded | aborted | phase=NAME | weight=N
    | step=N. Phases count only once the backend has observed every write."""

    kind: str
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> "Condition":
        key, _, value = text.strip().partition("=")
        key = key.strip().lower()
        if not value and key in ("healthy", "paused", "degraded", "aborted"):
            return cls(key)
        if key == "phase" and value.capitalize() in PHASES:
            return cls("phase", value.capitalize())
        if key in ("weight", "step") and value.strip().isdigit():
            return cls(key, value.strip())
        raise UsageError(f"--until {text!r}: expected healthy, paused, degraded, aborted, "
                         f"phase=({'|'.join(PHASES)}), weight=N or step=N")

    def holds(self, state: TrafficState) -> bool:
        if not state.observed:
            return False
        checks: dict[str, Callable[[], bool]] = {
            "healthy": lambda: state.phase == "Healthy",
            "paused": lambda: state.paused and state.phase == "Paused",
            "degraded": lambda: state.phase == "Degraded",
            "aborted": lambda: state.aborted and state.weight == 0,
            "phase": lambda: state.phase == self.value,
            "weight": lambda: state.weight == int(self.value or -1),
            "step": lambda: state.step_index == int(self.value or -1),
        }
        return checks[self.kind]()

    def __str__(self) -> str:
        return f"{self.kind}={self.value}" if self.value else self.kind


def joined(conditions: Sequence[Condition]) -> str:
    return " and ".join(str(c) for c in conditions)


@dataclass(frozen=True)
class Poll:
    """How a wait polls: every `interval` s, a log line when the state changes or every
    `heartbeat` s, for at most `timeout` s."""

    timeout: float
    interval: float = 2.0
    heartbeat: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def poll(read: Callable[[], StateT], until: Sequence[Condition], how: Poll, *, ref: str,
         log: Log) -> WaitResult[StateT]:
    """Read until every condition holds; stop early when the backend says Degraded (unless
    that, or an abort, is what is waited for)."""
    start = how.clock()
    last_line, last_print = "", start
    while True:
        current = read()
        elapsed = how.clock() - start
        line = current.describe()
        if line != last_line or how.clock() - last_print >= how.heartbeat:
            log(f"[{elapsed:5.0f}s] {line}")
            last_line, last_print = line, how.clock()
        if all(condition.holds(current) for condition in until):
            return WaitResult(True, f"reached {joined(until)}", current)
        wanted_degraded = any(c.kind in ("degraded", "aborted") for c in until)
        if current.observed and current.phase == "Degraded" and not wanted_degraded:
            return WaitResult(False, f"rollout {ref} is Degraded while waiting for "
                              f"{joined(until)}: {current.message}", current)
        if elapsed >= how.timeout:
            return WaitResult(False, f"rollout {ref} did not reach {joined(until)} within "
                              f"{how.timeout:g}s", current)
        how.sleep(min(how.interval, max(how.timeout - elapsed, 0.0)))


class TrafficBackend(Protocol):
    """The operations the canary loop (canary/loop.py) sequences."""

    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def ref(self) -> str: ...

    def read(self) -> TrafficState: ...

    def ensure_steps(self, weights: Sequence[int], mirror: MirrorConfig | None = None
                     ) -> TrafficState:
        """Refuse (exit 2, saying how to fix it) what cannot carry these steps; only
        reads."""

    def set_image(self, image: str, container: str | None = None
                  ) -> Outcome[TrafficState]:
        """Start the canary: its pods run `image`; no user traffic moves yet."""

    def start_mirror(self, mirror: MirrorConfig) -> bool:
        """Begin the mirror phase, when the backend needs telling; whether it sent
        anything."""

    def step(self, to_weight: int | None = None) -> Outcome[TrafficState]:
        """Move on to `to_weight`; converges (nothing sent when already there)."""

    def mirror_problem(self, route: str) -> str:
        """'' while the mesh mirrors to the canary as the mirror phase asked; else what
        is wrong."""

    def promote(self, full: bool = False) -> Outcome[TrafficState]:
        """Make the canary the stable version serving all traffic."""

    def wait(self, until: Sequence[Condition], timeout: float, interval: float = 2.0, *,
             heartbeat: float = 30.0, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> WaitResult[TrafficState]: ...

    def abort(self, *, clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> Outcome[TrafficState]:
        """Send all traffic back to stable."""
