"""When `canary run` looks at a step: after holding it `step_seconds`, then, while the
look is inconclusive, again every `retry_seconds` until `extra_seconds` more have passed.
One definition for the loop and for the AnalysisTemplate export, so Argo measures when
modelrail judges."""

import math
from dataclasses import dataclass

# An inconclusive step may be held this many step lengths longer before the canary is
# aborted: enough for a slow start, bounded so a silent canary never waits forever.
EXTRA_STEPS_FOR_DATA = 1.0
MAX_TICK_S = 10.0


@dataclass(frozen=True)
class StepSchedule:
    step_seconds: float

    @property
    def extra_seconds(self) -> float:
        return EXTRA_STEPS_FOR_DATA * self.step_seconds

    @property
    def tick_seconds(self) -> float:
        """Between progress lines while a step is held."""
        return min(MAX_TICK_S, max(1.0, self.step_seconds / 5))

    @property
    def retry_seconds(self) -> float:
        """Between looks at an inconclusive step (the loop holds two ticks)."""
        return 2 * self.tick_seconds

    @property
    def looks(self) -> int:
        """Looks at one step at most: the first, then one per retry up to the deadline
        (the last one at the deadline itself)."""
        return 1 + math.ceil(self.extra_seconds / self.retry_seconds)
