"""The stand-in for GitHub's OIDC token service answers as getIDToken expects, and only
to a job's own request token."""

import base64
import json
import urllib.error
import urllib.request

import pytest

from tests.support.standins.oidc import OidcTokenStandIn


def get(url: str, token: str | None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url)  # noqa: S310 - a loopback http URL
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.mark.parametrize("token", [None, "someone-elses-token"])
def test_a_request_without_the_jobs_token_is_refused(token: str | None) -> None:
    with OidcTokenStandIn("repo:acme/ranker:ref:refs/heads/main") as oidc:
        oidc.request_token("eks")
        assert get(oidc.url + "&audience=sts.amazonaws.com", token)[0] == 401
        assert oidc.asked == []


def test_the_token_carries_the_audience_and_subject_and_is_recorded() -> None:
    with OidcTokenStandIn("repo:acme/ranker:environment:canary") as oidc:
        status, body = get(oidc.url + "&audience=api%3A%2F%2FAzureADTokenExchange",
                           oidc.request_token("aks"))
        assert status == 200
        claims = body["value"].split(".")[1]
        assert json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4))) == {
            "iss": "https://token.actions.githubusercontent.com",
            "aud": "api://AzureADTokenExchange", "sub": "repo:acme/ranker:environment:canary"}
        assert oidc.asked == [("aks", "api://AzureADTokenExchange")]
