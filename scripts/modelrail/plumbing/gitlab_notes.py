"""modelrail's one merge-request note per model, created once and then edited in place.

GitLab's Notes API: `GET /projects/:id/merge_requests/:iid/notes` (paginated),
`POST` the same path with `body`, `PUT .../notes/:note_id` with `body`. Only the note's
author may edit it, so modelrail's own note is the one that starts with the hidden marker
*and* was written by the token's user: `GET /user` for an access token (a project token
acts as its bot user), `GITLAB_USER_ID` for `CI_JOB_TOKEN` (a job token acts as the user
who started the pipeline, and may not call `/user`). A note someone else wrote with the
marker in it is left alone and a new one is created.
"""

import os
from typing import Any

from modelrail.plumbing.gitlab_api import PROJECT_TOKEN_ENV, GitLabClient, MergeRequest
from modelrail.plumbing.http_retry import ApiDeniedError
from modelrail.plumbing.runner import CommentOutcome, comment_marker


def token_user_id(client: GitLabClient) -> int | None:
    """The id of the user the client's token acts as; None when it cannot be known."""
    if client.token_kind == "job":  # noqa: S105 - a kind, not a secret
        text = os.environ.get("GITLAB_USER_ID", "")
        return int(text) if text.isdigit() else None
    user = client.request("GET", "/user").json()
    user_id = user.get("id") if isinstance(user, dict) else None
    return user_id if isinstance(user_id, int) else None


def _own_marked(client: GitLabClient, notes: list[dict[str, Any]],
                marker: str) -> dict[str, Any] | None:
    marked = [note for note in notes
              if not note.get("system") and str(note.get("body") or "").startswith(f"{marker}\n")]
    if not marked:
        return None
    own_id = token_user_id(client)
    return next((note for note in marked
                 if own_id is not None and (note.get("author") or {}).get("id") == own_id), None)


def upsert_mr_note(client: GitLabClient, merge_request: MergeRequest, key: str,
                   body: str) -> CommentOutcome:
    """Create modelrail's note for `key` on the MR, or edit the one already there.

    A token GitLab refuses (401/403: e.g. a job token, which GitLab does not let write
    notes, or a project token without the Reporter role and `api` scope) is not an error:
    the note is skipped with a reason, and the report stays in the job log.
    """
    marker = comment_marker(key)
    full_body = f"{marker}\n{body.rstrip()}\n"
    path = merge_request.notes_path
    try:
        existing = _own_marked(client, list(client.paginate(path)), marker)
        if existing is None:
            created = client.request("POST", path, json={"body": full_body}).json()
            return CommentOutcome("created", _note_url(created))
        if existing.get("body") == full_body:
            return CommentOutcome("unchanged", _note_url(existing))
        updated = client.request("PUT", f"{path}/{existing['id']}",
                                 json={"body": full_body}).json()
        return CommentOutcome("updated", _note_url(updated))
    except ApiDeniedError as denied:
        return CommentOutcome(
            "skipped", None,
            f"the token may not write notes on merge request !{merge_request.iid} "
            f"(HTTP {denied.status}: {denied}); set {PROJECT_TOKEN_ENV} to a project access "
            "token with the api scope and at least the Reporter role",
        )


def _note_url(note: Any) -> str | None:
    """The note's web address: the MR's page with the `#note_<id>` anchor GitLab uses."""
    if not isinstance(note, dict) or "id" not in note:
        return None
    mr_url = os.environ.get("CI_MERGE_REQUEST_PROJECT_URL", "")
    iid = note.get("noteable_iid")
    if mr_url and iid is not None:
        return f"{mr_url}/-/merge_requests/{iid}#note_{note['id']}"
    return f"note {note['id']}"
