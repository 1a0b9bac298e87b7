"""Corrections for testing several hypotheses at once, shared by the A/B decision (its
primary metrics) and the monitor (its features' drift tests)."""

from collections.abc import Sequence


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values in the input order: the i-th smallest times
    (m - i + 1), made monotone and capped at 1; rejecting where adjusted < alpha keeps the
    family-wise error at alpha under any dependence between the tests."""
    count = len(p_values)
    adjusted = [1.0] * count
    running = 0.0
    for rank, index in enumerate(sorted(range(count), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (count - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
