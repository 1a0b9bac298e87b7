"""Wall time of example-model's PR workflow under act (all three jobs, real MLflow and DVC).

    python bench/pr_workflow.py      # prints a table, writes bench/results/pr_workflow.json

Runs a docs-only PR (the DVC remote already holds the base's outputs, so `dvc repro` only
checks) and a PR that changes params (train and evaluate re-run), and reports the total
and the slowest steps of each.
"""

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a script: import tests.support
from modelrail.local.act import ActRun, checkout_as_action_repo, git
from modelrail.local.github_api import GitHubStandIn
from modelrail.local.mlflow_server import mlflow_server

from tests.support.paths import REPO_ROOT
from tests.support.workflows.flows import ExampleWorkbench, model_repo, train_champion

_STEP = re.compile(r"\[[^\]]*/([^\]/]+?)\s*\]\s+✅\s+Success - Main (.+?) \[([\d.]+)(ms|s|µs)\]")
_UNIT = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}


def slowest_steps(run: ActRun, count: int = 5) -> list[dict[str, object]]:
    steps = []
    for line in run.log.splitlines():
        match = _STEP.search(line)
        if match and "\n" not in match.group(2):
            seconds = float(match.group(3)) * _UNIT[match.group(4)]
            steps.append({"job": match.group(1), "step": match.group(2)[:50],
                          "seconds": round(seconds, 2)})
    return sorted(steps, key=lambda s: -float(str(s["seconds"])))[:count]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-pr-"))
    results = []
    try:
        with mlflow_server(work / "mlflow") as server, GitHubStandIn() as github:
            repo, base = model_repo(work / "ctr-model", work / "dvc-remote")
            train_champion(repo, Path(sys.prefix), server.url)
            bench = ExampleWorkbench(checkout_as_action_repo(work / "modelrail"), Path(sys.prefix),
                              server.url, github.url)
            readme = repo / "README.md"
            readme.write_text(readme.read_text() + "\nbench\n")
            cases = [("docs-only PR (outputs pulled from the DVC remote)", 1)]
            runs = [bench.open_pr(repo, base, 1, "docs")]
            git(repo, "checkout", "-q", base)
            shutil.copy(repo / "degraded-params.yaml", repo / "params.yaml")
            cases.append(("params PR (train + evaluate re-run, gate fails)", 2))
            runs.append(bench.open_pr(repo, base, 2, "params"))
        for (name, _), run in zip(cases, runs, strict=True):
            results.append({"case": name, "wall_s": round(run.seconds, 1),
                            "exit": run.returncode, "slowest_steps": slowest_steps(run)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'case':52} {'wall s':>7} {'exit':>5}")
    for r in results:
        print(f"{r['case']!s:52} {r['wall_s']:>7} {r['exit']:>5}")
        for step in r["slowest_steps"]:  # type: ignore[attr-defined]
            print(f"    {step['job']:28} {step['step']:50} {step['seconds']:>6}")
    out = REPO_ROOT / "bench" / "results" / "pr_workflow.json"
    out.write_text(json.dumps({"benchmark": "PR workflow under act", "rows": results},
                              indent=2) + "\n")
    print(f"\nwritten {out.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
