"""What the property tests draw from: hostile scalars (huge integers, NaN, infinities,
odd text), YAML-ish trees whose keys are the policy's real key names or junk, and
mutations of a valid document (replace, delete or add somewhere inside it)."""

import datetime
import math
import os
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from modelrail.errors import UsageError

from tests.support.paths import EXAMPLE_MODEL


def examples(count: int) -> int:
    """`count` examples, times MODELRAIL_PROPERTY_SCALE (default 1) for a deeper hunt."""
    return count * int(os.environ.get("MODELRAIL_PROPERTY_SCALE", "1"))


HUGE_INTEGERS = (10**400, -(10**400), 2**63, 2**64 + 1, 2**1024, 10**4000)
"""The strict loader refuses integers over 4000 digits, so none longer reach a parser."""
ODD_TEXT = ("", " ", "5m", "0s", "1h30m", "99999999999y", "1e-3", "1e400", "nan", ".inf",
            "-inf", "true", "null", "env:", "env:NOPE", "{{version}}", "`x`\n# heading",
            "é", "\x00", "a" * 300, "0", "-1", "100", "101", "control", "treatment")
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, 5e-324, 0.5, 1.0, 100.0])

SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-3, 200), st.sampled_from(HUGE_INTEGERS),
    FLOATS, st.text(max_size=12), st.sampled_from(ODD_TEXT), st.binary(max_size=4),
    st.dates(min_value=datetime.date(1, 1, 1)),
)

SCHEMA_KEYS = (
    "model", "registry", "gate", "experiment", "rollout", "analysis", "image", "monitor",
    "shadow", "actions", "aliases", "allowed_ratio", "alpha", "attribution_window", "bins",
    "calibration_error", "categorical", "champion_alias", "container", "covariate",
    "coverage", "critical", "cuped", "data", "decision_threshold", "default", "difference",
    "direction", "enabled", "environments", "epsilon", "false_rollback_rate", "features",
    "greater_is_better", "guardrails", "key", "kind", "layout", "looks", "major", "margin",
    "max", "max_error_rate", "max_ks", "max_latency_p99", "metrics", "min",
    "min_absolute_change", "min_agreement", "min_correlation", "min_pairs",
    "min_relative_change", "min_rows", "min_samples", "minor", "mirror",
    "model_name_pattern", "name", "namespace", "no_data", "pass_score", "percentage",
    "performance", "prediction", "primary", "quantile", "query", "reference_artifact",
    "route", "scale", "sequential", "shadow", "sided", "step", "step_seconds", "steps",
    "threshold", "thresholds", "tolerance", "total", "tracking_uri", "tuning", "type",
    "variants", "weights", "window", "control", "treatment", "n", "sum", "sum_squares",
    "units", "numerator_sum", "denominator_sum",
)
"""Key names the parsers ask for (grep of the Section reads), plus the stats fields."""

KEYS: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(SCHEMA_KEYS), st.sampled_from(SCHEMA_KEYS), st.text(max_size=6),
    st.integers(-2, 2), st.booleans(), st.none())


def trees(keys: st.SearchStrategy[Any] = KEYS, max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Nested dicts and lists of hostile scalars, as a YAML or JSON loader could build."""
    return st.recursive(
        SCALARS,
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(keys, children, max_size=5),
        max_leaves=max_leaves)


def mutated(data: st.DataObject, document: Any, values: st.SearchStrategy[Any],
            keys: st.SearchStrategy[Any] = KEYS, most: int = 3) -> Any:
    """`document` (a fresh copy is changed) with 1..`most` edits at drawn places: a value
    replaced, a key deleted or a key added."""
    for _ in range(data.draw(st.integers(1, most), label="edits")):
        document = _edit(data, document, values, keys)
    return document


def _edit(data: st.DataObject, node: Any, values: st.SearchStrategy[Any],
          keys: st.SearchStrategy[Any]) -> Any:
    children = list(node) if isinstance(node, dict) else list(range(len(node))) \
        if isinstance(node, list) else []
    if children and data.draw(st.integers(0, 4), label="descend") > 0:
        where = data.draw(st.sampled_from(children), label="into")
        copy: Any = dict(node) if isinstance(node, dict) else list(node)
        copy[where] = _edit(data, node[where], values, keys)
        return copy
    action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="edit")
    if action == "delete" and children:
        copy = dict(node) if isinstance(node, dict) else list(node)
        del copy[data.draw(st.sampled_from(children), label="delete")]
        return copy
    if action == "add" and isinstance(node, dict):
        return {**node, data.draw(keys, label="new key"): data.draw(values, label="value")}
    return data.draw(values, label="replacement")


def usage_error(call: Callable[[], object]) -> str | None:
    """The message of the UsageError `call` raised, None if it returned; any other
    exception propagates (and fails the property)."""
    try:
        call()
    except UsageError as error:
        return str(error)
    return None


def example_policy_text() -> str:
    return (EXAMPLE_MODEL / "modelrail.yaml").read_text(encoding="utf-8")
