"""Keep credentials out of everything modelrail prints: the one redaction every message
that can carry a response body, a URL or a request header passes through.

`redact(text)` removes
- every known secret (the credential variables below, the userinfo of the service URLs,
  and whatever a client registered, e.g. a kubeconfig's token) in every encoding a server
  may echo it in: raw, base64 (standard or URL-safe, padded or not, also as part of a
  longer base64 such as a `user:password` pair), percent-encoded and JSON-escaped;
- the value of `Authorization`-like headers and of `Bearer`/`Basic` credentials;
- URL userinfo (`scheme://user:password@`), raw, JSON-escaped or percent-encoded.

`ModelrailError` (errors.py) and `TransientError` (retry.py) run their message through
it on construction, so no error path can forget it.
"""

import base64
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

from modelrail import errors

MASK = "***"

# Variables whose value is a credential (read on every call: tests and CLIs set them late).
SECRET_VARIABLES = ("PROMETHEUS_TOKEN", "PROMETHEUS_PASSWORD", "MLFLOW_TRACKING_TOKEN",
                    "MLFLOW_TRACKING_PASSWORD", "GITHUB_TOKEN", "GH_TOKEN", "KUBECONFIG_DATA")
# (user, password) variables sent together as HTTP basic auth: base64("user:password").
CREDENTIAL_PAIRS = (("PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD"),
                    ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"))
# Service URLs that may carry user:password@.
URL_VARIABLES = ("PROMETHEUS_URL", "MLFLOW_TRACKING_URI", "GITHUB_API_URL")

# Shorter values are not matched by value: masking every "abc" would garble the message
# (URL userinfo and header values are still removed whatever their length).
MIN_SECRET_LENGTH = 4
# A base64 fragment (a secret inside a longer base64 text) shorter than this is not used.
_MIN_FRAGMENT = 6

_registered: set[str] = set()

_SCHEME = r"[a-zA-Z][a-zA-Z0-9+.-]*"
# Greedy up to the last '@' of the authority: a password may itself contain '@'. The
# scheme's "//" may be JSON-escaped ("\/\/"); a percent-encoded URL (in a query) has its own.
_USERINFO = re.compile(rf"(?P<head>{_SCHEME}:(?://|\\/\\/))[^/\\\s\"'<>]*@")
_ENCODED_USERINFO = re.compile(r"(?i)(?P<head>%3A%2F%2F)(?:(?!%2F)[^/\s\"'<>&])*%40")
_HEADER = re.compile(r"(?i)(?P<name>\b(?:proxy-)?authorization|\bcookie|\bx-api-key|"
                     r"\bprivate-token|\bx-auth-token)(?P<sep>\\?[\"']?\s*[:=]\s*\\?[\"']?)"
                     r"[^\"'\\\r\n]+")
_SCHEME_VALUE = re.compile(r"\b(?P<scheme>[Bb]earer|[Bb]asic)(?P<sep>\s+|%20|\+)"
                           r"(?=[A-Za-z._~]*[0-9_+/=-])[A-Za-z0-9._~+/-]+=*")


def redact_url(url: str) -> str:
    """Drop user:password from a URL so it can be named in a message."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    netloc = parts.netloc.rpartition("@")[2]  # keeps [IPv6] brackets and the port as written
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def register(*values: str | None) -> None:
    """Treat these values as secrets from now on (a client's token, a key it loaded)."""
    _registered.update(value for value in values if value)


def register_credentials(username: str | None, password: str | None) -> None:
    """A basic-auth pair: the password and `user:password` (what base64 encodes)."""
    if password:
        register(password, f"{username or ''}:{password}")


def register_url(url: str | None) -> None:
    """The userinfo of a service URL, as given and percent-decoded."""
    for username, password in _userinfo(url):
        register_credentials(username, password)


def known_secrets(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """Every secret value known now: the environment's and the registered ones."""
    env = os.environ if env is None else env
    found = set(_registered)
    found.update(env.get(name, "") for name in SECRET_VARIABLES)
    for user_variable, password_variable in CREDENTIAL_PAIRS:
        password = env.get(password_variable, "")
        if password:
            found.add(f"{env.get(user_variable, '')}:{password}")
    for variable in URL_VARIABLES:
        for username, password in _userinfo(env.get(variable)):
            found.update((password, f"{username}:{password}"))
    return frozenset(s for s in found if len(s) >= MIN_SECRET_LENGTH)


def redact(text: str) -> str:
    """`text` with every credential removed (see the module docstring)."""
    cleaned = _HEADER.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    cleaned = _SCHEME_VALUE.sub(lambda m: f"{m['scheme']}{m['sep']}{MASK}", cleaned)
    cleaned = _USERINFO.sub(rf"\g<head>{MASK}@", cleaned)
    cleaned = _ENCODED_USERINFO.sub(rf"\g<head>{MASK}%40", cleaned)
    pattern = _secrets_pattern(known_secrets())
    return pattern.sub(MASK, cleaned) if pattern else cleaned


def excerpt(text: str, limit: int = 200) -> str:
    """The start of a response body for a message: redacted *before* it is cut, so that
    no secret survives in part (a cut one no longer matches)."""
    return redact(text)[:limit]


def encodings(secret: str) -> set[str]:
    """The forms `secret` may be echoed in: raw, base64 (also inside a longer base64),
    percent-encoded and JSON-escaped; each with '/' also JSON-escaped as '\\/'."""
    forms = {secret, *_percent(secret), json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1]}
    for encoded in _base64(secret):
        forms.update((encoded, encoded.replace("+", "-").replace("/", "_")))
    forms.update([form.replace("/", "\\/") for form in forms])
    return {form for form in forms if form}


def mask_values(env: Mapping[str, str] | None = None) -> list[str]:
    """What to register with the runner's log masking (`::add-mask::`): every single-line
    encoding of every known secret, longest first."""
    values = {form for secret in known_secrets(env) for form in encodings(secret)}
    return sorted((v for v in values if "\n" not in v and "\r" not in v
                   and len(v) >= MIN_SECRET_LENGTH), key=lambda v: (-len(v), v))


def _userinfo(url: str | None) -> Iterable[tuple[str, str]]:
    if not url or "@" not in url:
        return []
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    username, _, password = userinfo.partition(":")
    secret = password or username  # https://TOKEN@host carries a token as the user name
    pairs = [(username if password else "", secret)]
    if unquote(userinfo) != userinfo:
        pairs.append((unquote(username) if password else "", unquote(secret)))
    return [(user, value) for user, value in pairs if value]


def _percent(secret: str) -> set[str]:
    forms = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    return forms | {re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), f) for f in forms}


def _base64(secret: str) -> set[str]:
    """base64 of `secret`, and the part of it that any longer base64 text holding
    `secret` at any byte offset shows (three alignments)."""
    data = secret.encode()
    full = base64.b64encode(data).decode()
    forms = {full, full.rstrip("=")}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        start = -(-shift * 8 // 6)               # chars touched by the prefix
        end = (shift + len(data)) * 8 // 6       # chars fully made of the secret's bits
        fragment = encoded[start:end]
        if len(fragment) >= _MIN_FRAGMENT:
            forms.add(fragment)
    return forms


@functools.lru_cache(maxsize=16)
def _secrets_pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    forms = {form for secret in secrets for form in encodings(secret)}
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


errors.install_redaction(redact)
