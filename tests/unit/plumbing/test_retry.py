"""Bounded retries: backoff schedule, what is retried, and the environment knobs."""

from pathlib import Path

import pytest
from modelrail.cli.main import main
from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing.retry import RetryPolicy, TransientError, call_with_retries, retry_or_fail

RETRY_VARS = ("MODELRAIL_RETRY_ATTEMPTS", "MODELRAIL_RETRY_BASE_DELAY", "MODELRAIL_HTTP_TIMEOUT")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RETRY_VARS:
        monkeypatch.delenv(name, raising=False)


class FlakyCall:
    """Fails with `errors` in order, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.retries: list[tuple[int, str]] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def on_retry(self, attempt: int, error: TransientError) -> None:
        self.retries.append((attempt, str(error)))


def test_delays_double_and_cap() -> None:
    policy = RetryPolicy(attempts=7, base_delay=0.5, max_delay=3.0)

    assert policy.delays() == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_one_attempt_means_no_delays() -> None:
    assert RetryPolicy(attempts=1).delays() == []


def test_default_policy_waits_under_eight_seconds_in_total() -> None:
    delays = RetryPolicy().delays()

    assert delays == [0.5, 1.0, 2.0, 4.0]
    assert sum(delays) == 7.5


def test_success_after_transient_errors() -> None:
    call = FlakyCall(TransientError("503"), TransientError("timeout"))
    record = Recorder()

    result = call_with_retries(call, RetryPolicy(attempts=3, base_delay=0.25),
                               on_retry=record.on_retry, sleep=record.sleep)

    assert result == "ok"
    assert call.calls == 3
    assert record.sleeps == [0.25, 0.5]
    assert record.retries == [(1, "503"), (2, "timeout")]


def test_gives_up_after_attempts_and_reraises_the_last_error() -> None:
    call = FlakyCall(*(TransientError(f"failure {i}") for i in range(10)))
    record = Recorder()

    with pytest.raises(TransientError, match="failure 3"):
        call_with_retries(call, RetryPolicy(attempts=4, base_delay=1.0, max_delay=2.0),
                          on_retry=record.on_retry, sleep=record.sleep)

    assert call.calls == 4
    assert record.sleeps == [1.0, 2.0, 2.0]  # no sleep after the last attempt
    assert [attempt for attempt, _ in record.retries] == [1, 2, 3]


def test_other_errors_are_not_retried() -> None:
    call = FlakyCall(ValueError("bad input"), TransientError("never reached"))
    record = Recorder()

    with pytest.raises(ValueError, match="bad input"):
        call_with_retries(call, RetryPolicy(attempts=5), on_retry=record.on_retry,
                          sleep=record.sleep)

    assert call.calls == 1
    assert record.sleeps == []
    assert record.retries == []


def test_single_attempt_policy_calls_once() -> None:
    call = FlakyCall(TransientError("down"))
    record = Recorder()

    with pytest.raises(TransientError):
        call_with_retries(call, RetryPolicy(attempts=1), sleep=record.sleep)

    assert call.calls == 1
    assert record.sleeps == []


def test_from_env_defaults() -> None:
    assert RetryPolicy.from_env() == RetryPolicy()


def test_from_env_reads_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "2")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0.1")
    monkeypatch.setenv("MODELRAIL_HTTP_TIMEOUT", "3")

    policy = RetryPolicy.from_env()

    assert policy == RetryPolicy(attempts=2, base_delay=0.1, timeout=3.0)
    assert isinstance(policy.attempts, int)


def test_from_env_empty_value_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELRAIL_RETRY_ATTEMPTS", "")

    assert RetryPolicy.from_env().attempts == RetryPolicy().attempts


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODELRAIL_RETRY_ATTEMPTS", "three"),
        ("MODELRAIL_RETRY_ATTEMPTS", "0"),
        ("MODELRAIL_RETRY_ATTEMPTS", "-1"),
        ("MODELRAIL_RETRY_BASE_DELAY", "1s"),
        ("MODELRAIL_RETRY_BASE_DELAY", "-0.5"),
        ("MODELRAIL_HTTP_TIMEOUT", "soon"),
    ],
)
def test_from_env_rejects_garbage_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(UsageError) as caught:
        RetryPolicy.from_env()

    assert name in str(caught.value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODELRAIL_RETRY_ATTEMPTS", "nan"),
        ("MODELRAIL_RETRY_ATTEMPTS", "inf"),
        ("MODELRAIL_RETRY_BASE_DELAY", "nan"),
    ],
)
def test_from_env_rejects_non_finite_numbers(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(UsageError, match=name):
        RetryPolicy.from_env()


def test_retry_or_fail_fails_closed_naming_the_service_and_context() -> None:
    def call() -> int:
        raise TransientError("HTTP 503")

    with pytest.raises(ServiceError) as caught:
        retry_or_fail(call, RetryPolicy(attempts=2, base_delay=0.0), "MLflow at http://m",
                      "resolve models:/m@champion")

    assert str(caught.value) == ("MLflow at http://m kept failing after 2 attempts "
                                 "(resolve models:/m@champion): HTTP 503")
    assert caught.value.exit_code == 3


def test_retry_or_fail_returns_the_first_success() -> None:
    calls: list[int] = []

    def call() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise TransientError("refused")
        return 7

    assert retry_or_fail(call, RetryPolicy(attempts=2, base_delay=0.0), "svc") == 7
    assert len(calls) == 2


# -- issue 15, case 10: out-of-range knobs are exit 2, not a traceback later ------------

@pytest.mark.parametrize(("name", "value", "expected"), [
    ("MODELRAIL_HTTP_TIMEOUT", "0", "seconds greater than 0, at most 3600"),
    ("MODELRAIL_HTTP_TIMEOUT", "1e300", "seconds greater than 0, at most 3600"),
    ("MODELRAIL_RETRY_ATTEMPTS", "2000", "a whole number from 1 to 100"),
    ("MODELRAIL_RETRY_ATTEMPTS", "1e300", "a whole number from 1 to 100"),
    ("MODELRAIL_RETRY_ATTEMPTS", "2.5", "a whole number from 1 to 100"),
    ("MODELRAIL_RETRY_BASE_DELAY", "1e308", "seconds from 0 to 60"),
])
def test_from_env_names_the_variable_and_its_range(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(UsageError) as caught:
        RetryPolicy.from_env()

    assert str(caught.value) == f"environment variable {name}: expected {expected}, " \
                                f"got {value!r}"


@pytest.mark.parametrize(("name", "value"), [
    ("MODELRAIL_HTTP_TIMEOUT", "3600"), ("MODELRAIL_HTTP_TIMEOUT", "0.001"),
    ("MODELRAIL_RETRY_ATTEMPTS", "100"), ("MODELRAIL_RETRY_BASE_DELAY", "0")])
def test_from_env_accepts_the_ends_of_each_range(monkeypatch: pytest.MonkeyPatch, name: str,
                                                 value: str) -> None:
    monkeypatch.setenv(name, value)

    RetryPolicy.from_env()


def test_delays_of_many_attempts_do_not_overflow() -> None:
    delays = RetryPolicy(attempts=5000, base_delay=1e308, max_delay=8.0).delays()

    assert len(delays) == 4999
    assert set(delays) == {8.0}


@pytest.mark.parametrize(("name", "value"), [("MODELRAIL_HTTP_TIMEOUT", "0"),
                                             ("MODELRAIL_RETRY_ATTEMPTS", "2000"),
                                             ("MODELRAIL_HTTP_TIMEOUT", "1e300")])
def test_a_command_exits_2_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    name: str, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelrail.yaml").write_text("model: m\n", encoding="utf-8")
    (tmp_path / "issue.md").write_text("drift\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_TOKEN", "token-for-test")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MODELRAIL_RETRY_BASE_DELAY", "0")
    monkeypatch.setenv(name, value)

    code = main(["monitor-issue", "--markdown", "issue.md", "--repo", "a/b"])

    assert code == 2
    assert f"environment variable {name}: expected" in capsys.readouterr().err
