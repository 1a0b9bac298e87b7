"""Everything modelrail writes to the CI runner and the pull request.

On GitHub: step outputs (multi-line safe), the job summary, `::error`/`::warning`
annotations, `::add-mask::` for the encodings of the secrets (plumbing/redact.py) and the
sticky PR comment. On GitLab (plumbing/ci_platform.py): outputs go to the dotenv report
(plumbing/dotenv.py) and the summary to a collapsed section of the job log
(plumbing/log_sections.py); the MR note is plumbing/gitlab_notes.py. Outside a runner
(no GITHUB_* files, no GITLAB_CI) the file writers do nothing, so every command also works
on a laptop.
"""

import json
import os
import secrets
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from modelrail.errors import UsageError
from modelrail.plumbing import dotenv
from modelrail.plumbing.ci_platform import current_platform
from modelrail.plumbing.github_api import GitHubClient, Repository
from modelrail.plumbing.github_identity import own_marked
from modelrail.plumbing.http_retry import ApiDeniedError
from modelrail.plumbing.log_sections import log_section
from modelrail.plumbing.redact import mask_values

Level = Literal["error", "warning", "notice"]


# An argument the OS could not decode reaches Python as a lone surrogate (surrogateescape);
# written to a runner file it is escaped (`\udcff`), never a traceback.
_UNENCODABLE = "backslashreplace"


def set_output(name: str, value: str) -> None:
    """Append a step output; a random heredoc delimiter keeps any value intact. On GitLab
    it is a line of the dotenv report, when GitLab can carry the value unchanged."""
    if current_platform() == "gitlab":
        left_out = dotenv.write_output(name, value)
        if left_out:
            print(f"note: output {name} is not in the dotenv report: {left_out}",
                  file=sys.stderr, flush=True)
        return
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    delimiter = f"modelrail_{secrets.token_hex(8)}"
    while delimiter in value:  # pragma: no cover - 64 random bits
        delimiter = f"modelrail_{secrets.token_hex(8)}"
    with open(path, "a", encoding="utf-8", errors=_UNENCODABLE) as handle:
        handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(markdown: str) -> None:
    """The job summary; GitLab has none, so there it is a collapsed section of the log."""
    if current_platform() == "gitlab":
        with log_section("modelrail_summary", "modelrail summary (Markdown)", collapsed=True):
            print(markdown.rstrip("\n"), flush=True)
        return
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    with open(path, "a", encoding="utf-8", errors=_UNENCODABLE) as handle:
        handle.write(markdown.rstrip("\n") + "\n\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_annotation(level: Level, message: str, title: str | None = None,
                      file: str | None = None) -> str:
    """A workflow command line, escaped as the runner expects."""
    props = []
    if title:
        props.append(f"title={_escape_property(title)}")
    if file:
        props.append(f"file={_escape_property(file)}")
    head = f"::{level} {','.join(props)}::" if props else f"::{level}::"
    return head + _escape_data(message)


def annotate(level: Level, message: str, title: str | None = None,
             file: str | None = None) -> None:
    """Print an annotation on a runner; a plain prefixed line elsewhere."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(format_annotation(level, message, title, file), flush=True)
    else:
        prefix = f"{level}: {title}: " if title else f"{level}: "
        print(prefix + message, file=sys.stderr, flush=True)


_masked: set[str] = set()


def mask(values: Iterable[str]) -> None:
    """Have the runner mask these values in the log (`::add-mask::`), each once.

    GitHub masks a secret's raw value (and some encodings of it) but not, say, the base64
    of `user:password` that basic auth sends; off a runner this does nothing.
    """
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    for value in values:
        if value and "\n" not in value and value not in _masked:
            _masked.add(value)
            print(f"::add-mask::{value}", flush=True)


def mask_secrets() -> None:
    """At start-up: mask every encoding of every secret the environment holds."""
    mask(mask_values())


def hidden_marker(kind: str, key: str) -> str:
    """The hidden HTML comment that identifies modelrail's comment or issue of one kind for
    one model; the key is percent-encoded (but for `/`, `@` and `:`), so no model name can
    end the HTML comment, break the line or look like another key's marker."""
    return f"<!-- modelrail:{kind} {quote(key, safe='/@:')} -->"


def comment_marker(key: str) -> str:
    """The hidden line that identifies modelrail's PR comment for one model."""
    return hidden_marker("pr-report", key)


@dataclass(frozen=True)
class CommentOutcome:
    action: Literal["created", "updated", "unchanged", "skipped"]
    url: str | None
    reason: str = ""


def pull_request_number(event_path: str | None = None) -> int:
    """The PR number from the event payload (top-level `number` or pull_request.number)."""
    path = event_path or os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        raise UsageError("no pull request: pass --pr N or run on a pull_request event")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: cannot read the event payload: {error}") from None
    if not isinstance(event, dict):
        raise UsageError(f"{path}: the event payload is not a JSON object")
    pull_request = event.get("pull_request")
    number = event.get("number")
    if number is None and isinstance(pull_request, dict):
        number = pull_request.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise UsageError(f"{path}: the event has no pull request number; pass --pr N")
    return number


def upsert_sticky_comment(
    client: GitHubClient, repo: Repository, number: int, key: str, body: str
) -> CommentOutcome:
    """Create modelrail's PR comment for `key`, or edit the one already there.

    Modelrail's comment starts with the marker *and* was written by the token's own login
    (github_identity): a comment anyone else wrote with the marker in it is left alone and
    a new one is created. A token that may not write (fork PRs get a read-only one) is not
    an error: the comment is skipped with a reason and the caller still writes the job
    summary.
    """
    marker = comment_marker(key)
    full_body = f"{marker}\n{body.rstrip()}\n"
    try:
        existing = own_marked(client, client.paginate(f"/repos/{repo}/issues/{number}/comments"),
                              marker)
        if existing is None:
            created = client.request("POST", f"/repos/{repo}/issues/{number}/comments",
                                     json={"body": full_body}).json()
            return CommentOutcome("created", created.get("html_url"))
        if existing.get("body") == full_body:
            return CommentOutcome("unchanged", existing.get("html_url"))
        updated = client.request("PATCH", f"/repos/{repo}/issues/comments/{existing['id']}",
                                 json={"body": full_body}).json()
        return CommentOutcome("updated", updated.get("html_url"))
    except ApiDeniedError as denied:
        return CommentOutcome(
            "skipped", None,
            f"the token may not comment on PR #{number} (HTTP {denied.status}: {denied}); "
            "fork PRs get a read-only token",
        )

