"""Credentials never reach output: URL userinfo, header values and known secret values
are removed, in every encoding a server may echo them in."""

import base64
import json
from urllib.parse import quote, quote_plus

import pytest
from modelrail.errors import ServiceError, UsageError
from modelrail.plumbing import runner
from modelrail.plumbing.http_retry import ApiDeniedError
from modelrail.plumbing.redact import (
    SECRET_VARIABLES,
    excerpt,
    known_secrets,
    mask_values,
    redact,
    redact_url,
    register,
    register_credentials,
    register_url,
)
from modelrail.plumbing.retry import TransientError

PASSWORD = "hunter2/s3cr+t=?&"  # '/', '+', '=' change between the base64 alphabets
TOKEN = "prom-tok_9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts knowing no secret in the environment (tests/conftest.py clears the
    registered ones)."""
    for name in (*SECRET_VARIABLES, "PROMETHEUS_USERNAME", "MLFLOW_TRACKING_USERNAME",
                 "PROMETHEUS_URL", "MLFLOW_TRACKING_URI", "GITHUB_API_URL", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:s3cret@mlflow.example.com:8443/api/2.0?x=1#frag",
         "https://mlflow.example.com:8443/api/2.0?x=1#frag"),
        ("https://ghp_token@github.example.com/org/repo.git",
         "https://github.example.com/org/repo.git"),
        ("http://:only-password@127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("https://user:p@ss@host.example/x", "https://host.example/x"),  # last @ splits
    ],
)
def test_redact_url_drops_userinfo(url: str, expected: str) -> None:
    redacted = redact_url(url)

    assert redacted == expected
    assert "@" not in redacted.split("?")[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5000",
        "https://mlflow.example.com/path?user=a@b.c",
        "sqlite:///mlflow.db",
        "file:///tmp/mlruns",
        "databricks",
    ],
)
def test_redact_url_keeps_urls_without_credentials(url: str) -> None:
    assert redact_url(url) == url


def test_redact_url_keeps_ipv6_brackets() -> None:
    assert redact_url("http://u:p@[::1]:5000/api") == "http://[::1]:5000/api"


def test_redact_masks_userinfo_in_every_url() -> None:
    text = ("connect to https://admin:hunter2@mlflow:5000/api failed; "
            "retrying git+https://x-access-token:ghs_abc@github.com/o/r")

    cleaned = redact(text)

    assert cleaned == ("connect to https://***@mlflow:5000/api failed; "
                       "retrying git+https://***@github.com/o/r")


@pytest.mark.parametrize("text", [
    '{"url": "http:\\/\\/bob:pw-1@prom:9090\\/api"}',        # JSON-escaped slashes
    "next=http%3A%2F%2Fbob%3Apw-1%40prom%3A9090%2Fapi%2Fv1",   # percent-encoded URL
    "next=HTTP%3a%2f%2fbob%3apw-1%40prom",
])
def test_redact_masks_userinfo_in_escaped_urls(text: str) -> None:
    cleaned = redact(text)

    assert "pw-1" not in cleaned
    assert "bob" not in cleaned


def test_redact_masks_a_password_containing_at_sign() -> None:
    cleaned = redact("failed: https://user:p@ss-w0rd@mlflow.example.com/api")

    assert "ss-w0rd" not in cleaned
    assert cleaned == "failed: https://***@mlflow.example.com/api"


@pytest.mark.parametrize("text", [
    "Authorization: Bearer unknown-tok.123",
    "authorization=Basic Ym9iOmh1bnRlcjI=",
    '{"headers": {"Authorization": "Basic Ym9iOmh1bnRlcjI=", "Accept": "*/*"}}',
    "{'Authorization': 'Bearer eyJhbGciOi.eyJzdWIi.sig_x'}",
    '{\\"Authorization\\": \\"Bearer abc-123\\"}',
    "Proxy-Authorization: Basic Ym9iOmh1bnRlcjI=",
    "Cookie: session=abc123",
    "failed: Bearer unknown-tok.123 was refused",
    "sent header basic%20Ym9iOmh1bnRlcjI%3D",
])
def test_redact_masks_header_values_of_unknown_credentials(text: str) -> None:
    cleaned = redact(text)

    for leaked in ("unknown-tok", "Ym9iOmh1bnRlcjI", "eyJ", "abc-123", "abc123"):
        assert leaked not in cleaned
    assert "***" in cleaned


@pytest.mark.parametrize("text", [
    "nothing to hide",
    "mail ops@example.com",
    "check the kubeconfig's token or client certificate",
    "set PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD for basic auth",
    "PROMETHEUS_TOKEN (a bearer token) or basic authentication.",
    "Prometheus at http://127.0.0.1:9090 rejected the query (bad_data: parse error)",
])
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    register(TOKEN, PASSWORD)

    assert redact(text) == text


def _encodings(secret: str) -> list[str]:
    b64 = base64.b64encode(secret.encode()).decode()
    urlsafe = base64.urlsafe_b64encode(secret.encode()).decode()
    return [secret, b64, b64.rstrip("="), urlsafe, urlsafe.rstrip("="),
            quote(secret, safe=""), quote(secret), quote_plus(secret),
            json.dumps(secret)[1:-1], b64.replace("/", "\\/")]


@pytest.mark.parametrize("form", range(10))
def test_a_registered_secret_goes_in_every_encoding(form: int) -> None:
    register(PASSWORD)
    echoed = _encodings(PASSWORD)[form]

    cleaned = redact(f"server said: {echoed} (end)")

    assert echoed not in cleaned
    assert cleaned == "server said: *** (end)"


@pytest.mark.parametrize("user", ["", "b", "bo", "bob", "alice.smith"])
def test_a_password_goes_inside_the_base64_of_any_user_pair(user: str) -> None:
    """base64 of `user:password` hides the password at any byte offset."""
    register(PASSWORD)  # the user name is not known
    pair = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    urlsafe = pair.replace("+", "-").replace("/", "_")

    cleaned = redact(f"echo: {pair} {urlsafe}")

    assert pair not in cleaned
    assert urlsafe not in cleaned
    for secret_part in _encodings(PASSWORD)[1:3]:
        assert secret_part[2:-3] not in cleaned


def test_credential_pairs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_USERNAME", "bob")
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    pair = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()

    cleaned = redact(f"x-echo: {pair}; token={quote(TOKEN)}; {PASSWORD}")

    assert cleaned == "x-echo: ***; token=***; ***"
    assert f"bob:{PASSWORD}" in known_secrets()


def test_userinfo_of_service_urls_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://alice:p%40ss-word@mlflow.example")
    register_url("http://ghp_tokenvalue123@github.example")

    cleaned = redact("echo p%40ss-word p@ss-word ghp_tokenvalue123 "
                     + base64.b64encode(b"alice:p@ss-word").decode())

    assert cleaned == "echo *** *** *** ***"


def test_short_values_are_not_matched_by_value() -> None:
    register("abc")
    register_credentials("bob", "pw")

    assert redact("abc pw") == "abc pw"
    assert redact(base64.b64encode(b"bob:pw").decode()) == "***"  # the pair is long enough


@pytest.mark.parametrize("error", [UsageError, ServiceError, TransientError])
def test_error_classes_redact_on_construction(error: type[Exception]) -> None:
    register(TOKEN)

    made = error(f"HTTP 400: echo Authorization: Bearer {TOKEN} and {TOKEN}")

    assert TOKEN not in str(made)


def test_permission_denied_redacts_the_api_answer() -> None:
    register(TOKEN)

    assert TOKEN not in str(ApiDeniedError(403, f"Bad credentials {TOKEN}"))


def test_mask_values_cover_the_basic_auth_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_USERNAME", "bob")
    monkeypatch.setenv("PROMETHEUS_PASSWORD", PASSWORD)
    monkeypatch.setenv("KUBECONFIG_DATA", "apiVersion: v1\nusers: []\n")

    values = mask_values()

    assert base64.b64encode(f"bob:{PASSWORD}".encode()).decode() in values
    assert quote(PASSWORD, safe="") in values
    assert all("\n" not in v for v in values)


def test_runner_masks_each_value_once_on_a_runner(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runner, "_masked", set())
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("PROMETHEUS_TOKEN", TOKEN)

    runner.mask_secrets()
    runner.mask_secrets()

    lines = capsys.readouterr().out.splitlines()
    assert f"::add-mask::{base64.b64encode(TOKEN.encode()).decode()}" in lines
    assert len(lines) == len(set(lines))


def test_runner_masks_nothing_off_a_runner(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PROMETHEUS_TOKEN", TOKEN)

    runner.mask_secrets()

    assert capsys.readouterr().out == ""


def test_excerpt_redacts_before_it_cuts() -> None:
    register(TOKEN)
    text = "x" * 190 + TOKEN  # the cut at 200 would leave a part no longer matching

    cut = excerpt(text)

    assert TOKEN[:10] not in cut
    assert cut == "x" * 190 + "***"
