"""The champion the quality gate compares a candidate with: the metrics of the run behind
`NAME@ALIAS` in the MLflow registry (by default what production serves)."""

from collections.abc import Callable

from modelrail.registry.client import ModelRef, Registry


def champion_metrics(model_ref: str, tracking_uri: Callable[[], str]
                     ) -> tuple[dict[str, float] | None, str]:
    """(metrics, `models:/` URI) of `model_ref`; no metrics when no version holds the alias.

    The tracking URI is resolved only once the reference is known to be well formed.
    """
    ref = ModelRef.parse(model_ref)
    return Registry(tracking_uri()).champion_metrics(ref), ref.uri
