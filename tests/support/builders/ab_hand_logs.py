"""A dozen hand-made users: prediction rows and events, and what each user adds up to."""

from typing import Any

from tests.support.builders.ab_logs import at


def impression(seconds: float, request: str, user: str, variant: str, rows: int = 1,
               experiment: str = "ranker-v2") -> list[dict[str, Any]]:
    return [{"timestamp": at(seconds), "request_id": request, "row": row, "user_id": user,
             "experiment": experiment, "variant": variant, "model": "ctr-ranker",
             "version": "1", "prediction": 0.1} for row in range(rows)]


def click(seconds: float, user: str, request: str | None = None) -> dict[str, Any]:
    return {"timestamp": at(seconds), "user_id": user, "type": "click",
            "request_id": request, "value": None}


def session(seconds: float, user: str, duration: float) -> dict[str, Any]:
    return {"timestamp": at(seconds), "user_id": user, "type": "session_end",
            "request_id": None, "value": duration}


PREDICTIONS = [
    *impression(0, "r1", "u1", "control", rows=2), *impression(100, "r2", "u1", "control"),
    *impression(0, "r3", "u2", "control"),
    *impression(0, "r4", "u3", "control"),
    *impression(500, "r5", "u4", "control"), *impression(600, "r6", "u4", "treatment"),
    *impression(0, "r7", "u5", "control"),
    *impression(0, "r8", "u6", "control"),
    # same instant: the request id breaks the tie, "a7" < "b7" so u7 is in treatment
    *impression(0, "b7", "u7", "control"), *impression(0, "a7", "u7", "treatment"),
    *impression(0, "r9", "u8", "treatment", rows=3),
    *impression(0, "r10", "u9", "treatment"),
    *impression(1000, "r11", "u10", "treatment"),
    *impression(0, "r12", "u11", "treatment"), *impression(5000, "r13", "u11", "treatment"),
    *impression(0, "r14", "u12", "treatment"),
    *impression(0, "r15", "u13", "control", experiment="other"),  # another experiment
]
EVENTS = [
    click(50, "u1", "r1"), click(3000, "u1"), session(200, "u1", 120),
    click(1800, "u2"), session(10, "u2", 60), session(20, "u2", 30),  # window end counts
    click(1801, "u3"),  # one second late
    click(650, "u4", "r6"), session(100, "u4", 999), session(700, "u4", 30),
    click(-10, "u5"), click(10, "u5", "r1"),  # before any impression; another user's request
    click(10, "u6"), click(20, "u6"), session(30, "u6", 45),
    click(5, "u7", "b7"),
    click(10, "u8", "r9"), click(20, "u8", "r9"), click(30, "u8"), session(40, "u8", 200),
    click(1800, "u9", "r10"), click(1900, "u9", "r10"), session(50, "u9", 10),
    click(900, "u10", "r11"), click(1000, "u10"),  # before its request; same instant
    click(4000, "u11"), click(5100, "u11"), session(5200, "u11", 300),
    session(60, "u12", 50),
    click(10, "u13"), session(10, "u99", 70),  # not exposed
    {"timestamp": at(20), "user_id": "u1", "type": "purchase", "request_id": None,
     "value": 9.5},
]
# (clicks, impressions, session seconds) per user, worked out from the rules above
EXPECTED = {
    "control": [(1, 3, 120), (1, 1, 90), (0, 1, 0), (1, 2, 30), (0, 1, 0), (2, 1, 45)],
    "treatment": [(1, 2, 0), (3, 3, 200), (1, 1, 10), (1, 1, 0), (1, 2, 300), (0, 1, 50)],
}
