"""Where the repository and its example model are, for tests, the demo and the benches."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MODEL = REPO_ROOT / "example-model"
