"""Credentials never reach output: URL userinfo and known secret values are removed."""

import pytest
from modelrail.plumbing.redact import redact_text, redact_url


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


def test_redact_text_masks_userinfo_in_every_url() -> None:
    text = ("connect to https://admin:hunter2@mlflow:5000/api failed; "
            "retrying git+https://x-access-token:ghs_abc@github.com/o/r")

    cleaned = redact_text(text)

    assert cleaned == ("connect to https://***@mlflow:5000/api failed; "
                       "retrying git+https://***@github.com/o/r")
    assert "hunter2" not in cleaned
    assert "ghs_abc" not in cleaned


def test_redact_text_replaces_given_secrets() -> None:
    cleaned = redact_text("Authorization: Bearer tok-123 (tok-123 again)", ("tok-123", "zzz"))

    assert cleaned == "Authorization: Bearer *** (*** again)"


def test_redact_text_ignores_empty_secrets() -> None:
    assert redact_text("nothing to hide", ("", "")) == "nothing to hide"


def test_redact_text_leaves_email_addresses_alone() -> None:
    assert redact_text("mail ops@example.com") == "mail ops@example.com"


def test_redact_text_masks_a_password_containing_at_sign() -> None:
    cleaned = redact_text("failed: https://user:p@ss-w0rd@mlflow.example.com/api")

    assert "ss-w0rd" not in cleaned
