"""example-model's Grafana dashboard: its builder module (loaded from its file: the example
model is not a package) and the PromQL of every panel."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.support.paths import EXAMPLE_MODEL

BUILDER = EXAMPLE_MODEL / "dashboards" / "model_rollout.py"
SHIPPED = EXAMPLE_MODEL / "dashboards" / "model-rollout.json"


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("model_rollout", BUILDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(SHIPPED).read_text(encoding="utf-8"))
    return data


def panel_queries(board: dict[str, Any]) -> dict[str, list[str]]:
    """Panel title -> the PromQL of its targets (rows have none)."""
    return {panel["title"]: [target["expr"] for target in panel.get("targets", [])]
            for panel in board["panels"] if panel["type"] != "row"}
