"""What the PR report says when the check reached no verdict: a job that did not succeed,
or a gate that stopped at an error (exit 2 or 3) instead of judging the metrics.

Job names, errors and the tracking URI are data: every one is escaped (render.markdown),
and the URI loses its credentials (plumbing.redact).
"""

from collections.abc import Sequence

from modelrail.errors import ExitCode
from modelrail.plumbing.redact import redact_url
from modelrail.render.markdown import ICON, code, inline

GATE_STOPPED = frozenset({ExitCode.USAGE, ExitCode.SERVICE, ExitCode.INCONCLUSIVE})
"""Gate exit codes that mean it did not judge (1 is a verdict: rejected)."""


def failed_jobs_markdown(failed: Sequence[str]) -> str:
    names = ", ".join(f"**{inline(name)}**" for name in failed)
    return (f"### {ICON['error']} The PR check did not finish\n\n"
            f"Did not succeed: {names}. The job's log in this workflow run says why.\n")


def _gate_error_text(exit_code: int, tracking_uri: str) -> tuple[str, str]:
    """(title, explanation) for the gate's exit code."""
    if exit_code == ExitCode.SERVICE:
        where = f"MLflow at {code(redact_url(tracking_uri))}" if tracking_uri else "MLflow"
        return ("MLflow unreachable",
                f"{where} could not be reached after retries, so the gate could not compare "
                "this model with the champion. Nothing is necessarily wrong with your model: "
                "re-run this check when MLflow is back.")
    if exit_code == ExitCode.USAGE:
        return ("configuration error",
                "The gate stopped at a configuration error (the policy file, the metrics file "
                "or the workflow's inputs); the error below names it. Fix it and push again.")
    return (f"exit code {exit_code}",
            f"The gate stopped with exit code {exit_code} before judging the metrics.")


def gate_error_markdown(exit_code: int, error: str, tracking_uri: str) -> str:
    """Why the quality gate has no verdict, in words, with its error message."""
    title, text = _gate_error_text(exit_code, tracking_uri)
    lines = [f"### {ICON['error']} Quality gate could not run: {title}", "", text]
    if error:
        lines += ["", f"> **Error:** {inline(error)}"]
    return "\n".join(lines) + "\n"
