"""The champion the quality gate compares a candidate with: the metrics of the run behind
`NAME@ALIAS` in the MLflow registry (by default what production serves)."""

from collections.abc import Callable
from dataclasses import dataclass

from modelrail.plumbing.redact import redact_url
from modelrail.registry.client import ModelRef, Registry


@dataclass(frozen=True)
class ChampionLookup:
    """What a registry lookup found: the metrics, or why there are none (for the gate note)."""

    metrics: dict[str, float] | None
    uri: str  # models:/NAME@ALIAS
    missing: str | None = None  # set when `metrics` is None: what was looked up where


def champion_metrics(model_ref: str, tracking_uri: Callable[[], str]) -> ChampionLookup:
    """The metrics behind `model_ref`; none (and a sentence saying so) when no version
    holds the alias. The tracking URI is resolved only once the reference is well formed.
    """
    ref = ModelRef.parse(model_ref)
    uri = tracking_uri()
    metrics = Registry(uri).champion_metrics(ref)
    if metrics is not None:
        return ChampionLookup(metrics, ref.uri)
    return ChampionLookup(None, ref.uri, missing=(
        f"{ref.name}@{ref.alias} was looked up at the tracking server {redact_url(uri)} "
        f"and no version of {ref.name} holds the alias {ref.alias}"))
