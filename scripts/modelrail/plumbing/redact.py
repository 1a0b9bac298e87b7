"""Keep credentials out of everything modelrail prints."""

import re
from urllib.parse import urlsplit, urlunsplit

# Greedy up to the last '@' of the authority: a password may itself contain '@'.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s]*@")


def redact_url(url: str) -> str:
    """Drop user:password from a URL so it can be named in a message."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    netloc = parts.netloc.rpartition("@")[2]  # keeps [IPv6] brackets and the port as written
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove URL userinfo and the given secret values from free text."""
    cleaned = _USERINFO.sub(r"\g<scheme>***@", text)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, "***")
    return cleaned
