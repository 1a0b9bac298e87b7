"""The champion lookup says what it looked up where when nothing holds the alias."""

import pytest
from modelrail.registry import champion
from modelrail.registry.client import ModelRef


class EmptyRegistry:
    """A registry in which no version holds any alias."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri

    def champion_metrics(self, ref: ModelRef) -> dict[str, float] | None:
        return None


def test_a_missing_alias_names_the_reference_and_the_redacted_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(champion, "Registry", EmptyRegistry)

    found = champion.champion_metrics("ranker@champion",
                                      lambda: "https://bot:hunter22@mlflow.example/")

    assert found.metrics is None
    assert found.uri == "models:/ranker@champion"
    assert found.missing == ("ranker@champion was looked up at the tracking server "
                             "https://mlflow.example/ and no version of ranker holds the "
                             "alias champion")
    assert "hunter22" not in (found.missing or "")
