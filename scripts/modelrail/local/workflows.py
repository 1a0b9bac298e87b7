"""A model repository's own workflows: which one GitHub would run for an event, and the
inputs a workflow_dispatch of it carries.

A workflow is found by what it does, not by its file name: the one workflow in
.github/workflows that runs on the event and calls the modelrail reusable workflow of that
stage (pr-test.yml on pull_request, register-model.yml on push, promote.yml on
workflow_dispatch).
"""

from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

from modelrail.errors import UsageError
from modelrail.plumbing.textfile import read_yaml

REUSABLE = "modelrail/modelrail/.github/workflows/"
# GitHub's workflow_dispatch input types (docs: "on.workflow_dispatch.inputs.<id>.type").
_INPUT_TYPES = ("string", "choice", "boolean", "number", "environment")


@dataclass(frozen=True)
class Workflow:
    """One workflow file of the repository, parsed."""

    path: Path  # relative to the repository
    triggers: dict[str, object]
    calls: frozenset[str]  # modelrail reusable workflows its jobs call (file names)

    def dispatch_inputs(self) -> dict[str, dict[str, object]]:
        """The `on.workflow_dispatch.inputs` it declares (name -> declaration)."""
        dispatch = self.triggers.get("workflow_dispatch")
        inputs = dispatch.get("inputs") if isinstance(dispatch, dict) else None
        if not isinstance(inputs, dict):
            return {}
        return {str(name): spec if isinstance(spec, dict) else {}
                for name, spec in inputs.items()}


def read_workflows(repo: Path) -> list[Workflow]:
    """Every .github/workflows/*.yml|yaml of `repo`; one that is not valid YAML is an error
    naming it (GitHub would not run it either)."""
    folder = repo / ".github" / "workflows"
    found = []
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        document = read_yaml(path, "workflow")
        if isinstance(document, dict):
            found.append(_workflow(path.relative_to(repo), document))
    return found


def _workflow(path: Path, document: dict[object, object]) -> Workflow:
    # YAML 1.1 reads a bare `on:` key as the boolean True; GitHub reads it as "on".
    written = document.get("on", document.get(True))
    triggers: dict[object, object] = (
        {written: None} if isinstance(written, str)
        else dict.fromkeys(map(str, written)) if isinstance(written, list)
        else written if isinstance(written, dict) else {})
    jobs = document.get("jobs")
    calls = set()
    for job in jobs.values() if isinstance(jobs, dict) else ():
        uses = job.get("uses") if isinstance(job, dict) else None
        if isinstance(uses, str) and uses.startswith(REUSABLE):
            calls.add(uses[len(REUSABLE):].split("@", 1)[0])
    return Workflow(path, {str(k): v for k, v in triggers.items()}, frozenset(calls))


def find_workflow(repo: Path, event: str, reusable: str, chosen: str | None = None) -> Workflow:
    """The workflow of `repo` that runs on `event` and calls modelrail's `reusable`;
    `chosen` (a path relative to the repository) picks one by name instead."""
    workflows = read_workflows(repo)
    if chosen is not None:
        named = [w for w in workflows if w.path == Path(chosen)]
        if not named:
            names = ", ".join(str(w.path) for w in workflows) or "none"
            raise UsageError(f"--workflow {chosen}: no such workflow in {repo} "
                             f"(found: {names})")
        return named[0]
    matching = [w for w in workflows if event in w.triggers and reusable in w.calls]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise UsageError(
            f"no workflow in {repo / '.github' / 'workflows'} runs on {event} and calls "
            f"{REUSABLE}{reusable}; the README's snippet for this stage makes one (or name "
            f"yours with --workflow)")
    names = ", ".join(str(w.path) for w in matching)
    raise UsageError(f"several workflows run on {event} and call {reusable} ({names}): "
                     f"name one with --workflow")


def dispatch_inputs(workflow: Workflow, given: dict[str, str]) -> dict[str, str]:
    """The inputs a workflow_dispatch of `workflow` carries, checked as GitHub checks them:
    every declared input with its default unless `given`; an undeclared name, a missing
    required input, a choice outside its options or a boolean that is not true/false is an
    error naming the input."""
    declared = workflow.dispatch_inputs()
    if "workflow_dispatch" not in workflow.triggers:
        raise UsageError(f"{workflow.path} does not run on workflow_dispatch")
    for name in given:
        if name not in declared:
            nearest = get_close_matches(name, list(declared), n=1)
            guess = f": did you mean {nearest[0]}?" if nearest else ""
            raise UsageError(f"input {name!r} is not declared by {workflow.path}{guess} "
                             f"(declared: {', '.join(declared) or 'none'})")
    return {name: _input_value(workflow.path, name, spec, given.get(name))
            for name, spec in declared.items()}


def _input_value(path: Path, name: str, spec: dict[str, object], value: str | None) -> str:
    kind = str(spec.get("type", "string"))
    if kind not in _INPUT_TYPES:
        raise UsageError(f"{path}: input {name!r} has type {kind!r}, which GitHub does not "
                         f"know (one of: {', '.join(_INPUT_TYPES)})")
    if value is None:
        default = spec.get("default")
        value = ("true" if default else "false") if isinstance(default, bool) else \
            "" if default is None else str(default)
    if spec.get("required") is True and value == "":
        raise UsageError(f"input {name!r} is required by {path}: pass --input {name}=VALUE")
    if kind == "boolean" and value not in ("true", "false"):
        raise UsageError(f"input {name!r} of {path} is a boolean: true or false, "
                         f"not {value!r}")
    written = spec.get("options")
    options = [str(option) for option in written] if isinstance(written, list) else []
    if kind == "choice" and value not in options:
        raise UsageError(f"input {name!r} of {path} must be one of {', '.join(options)}, "
                         f"not {value!r}")
    return value

