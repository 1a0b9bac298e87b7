"""GrowthBook-compatible bucketing: golden vectors, ranges, stability, distribution."""

import itertools

import pytest
from modelrail.ab import assign, bucket
from modelrail.ab.hashing import bucket_ranges, fnv1a32
from scipy.stats import chisquare

# GrowthBook's SDK test suite (cases.json, specVersion 0.7.1, as vendored in
# growthbook/growthbook-python tests/cases.json): the "hash" section's version-2 rows
# [seed, value, 2, expected], and two buckets reported in its "feature" section
# ("Support passthrough variations": key "experiment", id "1" -> 0.4413; "Support
# holdout groups": key "holdout", id "1" -> 0.8043).
GROWTHBOOK_V2 = [
    ("seed", "a", 0.0505),
    ("seed", "b", 0.2696),
    ("foo", "ab", 0.2575),
    ("foo", "def", 0.2019),
    ("89123klj", "8952klfjas09ujkasdf", 0.124),
    ("90850943850283058242805", "123", 0.7516),
    ("()**(%$##$%#$#", '___)((*":&', 0.0128),
    ("experiment", "1", 0.4413),
    ("holdout", "1", 0.8043),
]


def reference_fnv1a32(code_units: list[int]) -> int:
    """FNV-1a written out from its definition: xor in a unit, multiply by the prime."""
    value = 2166136261
    for unit in code_units:
        value ^= unit
        value = (value * 16777619) % 2**32
    return value


def utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-le")
    return [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]


def reference_bucket(seed: str, unit_id: str) -> float:
    inner = reference_fnv1a32(utf16_units(seed + unit_id))
    return reference_fnv1a32(utf16_units(str(inner))) % 10000 / 10000


@pytest.mark.parametrize(("seed", "unit_id", "expected"), GROWTHBOOK_V2)
def test_bucket_matches_growthbook_published_vectors(seed: str, unit_id: str,
                                                     expected: float) -> None:
    assert bucket(seed, unit_id) == expected


@pytest.mark.parametrize(("seed", "unit_id"), [
    ("ranker-v2", "user-1"), ("ranker-v2", "user-2"), ("", ""), ("exp", "0"),
    ("exp", "a" * 200), ("ünïcode-key", "José"), ("emoji", "🙂 user"), ("日本", "ユーザー"),
])
def test_bucket_matches_an_independent_fnv_implementation(seed: str, unit_id: str) -> None:
    assert bucket(seed, unit_id) == reference_bucket(seed, unit_id)


def test_fnv1a32_known_values() -> None:
    # FNV-1a 32 of the empty string is the offset basis; of "a" it is 0xE40C292C (the
    # FNV authors' published test value for "a").
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C


def test_non_ascii_ids_hash_by_utf16_code_unit_like_the_sdks_not_by_utf8_byte() -> None:
    utf8_hash = reference_fnv1a32(list("José".encode()))
    assert fnv1a32("José") == reference_fnv1a32(utf16_units("José")) != utf8_hash
    # ASCII ids hash the same either way.
    assert fnv1a32("user-42") == reference_fnv1a32(list(b"user-42"))


# GrowthBook's cases.json "getBucketRange" rows: [weights, coverage] -> ranges.
@pytest.mark.parametrize(("weights", "coverage", "expected"), [
    ([0.5, 0.5], 1.0, [(0, 0.5), (0.5, 1)]),
    ([0.5, 0.5], 0.5, [(0, 0.25), (0.5, 0.75)]),
    ([0.5, 0.5], 0.0, [(0, 0), (0.5, 0.5)]),
    ([0.25] * 4, 1.0, [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)]),
    ([0.4, 0.6], 1.0, [(0, 0.4), (0.4, 1)]),
    ([0.2, 0.3, 0.5], 1.0, [(0, 0.2), (0.2, 0.5), (0.5, 1)]),
    ([0.2, 0.3, 0.5], 0.2, [(0, 0.04), (0.2, 0.26), (0.5, 0.6)]),
])
def test_bucket_ranges_match_growthbook(weights: list[float], coverage: float,
                                        expected: list[tuple[float, float]]) -> None:
    ranges = bucket_ranges(weights, coverage)
    assert [r[0] for r in ranges] == pytest.approx([e[0] for e in expected])
    assert [r[1] for r in ranges] == pytest.approx([e[1] for e in expected])


@pytest.mark.parametrize(("weights", "coverage"), [
    ([], 1.0), ([0.4, 0.5], 1.0), ([0.7, 0.6], 1.0), ([1.2, -0.2], 1.0),
    ([0.5, 0.5], 1.5), ([0.5, 0.5], -0.1), ([float("nan"), 1.0], 1.0),
])
def test_bad_weights_or_coverage_raise_instead_of_falling_back(weights: list[float],
                                                               coverage: float) -> None:
    # GrowthBook silently uses equal weights here; a router should fail loudly instead.
    with pytest.raises(ValueError, match=r"weights|coverage|variant"):
        assign("exp", "user", weights, coverage)


def test_assign_is_the_range_that_holds_the_bucket() -> None:
    for index in range(2000):
        unit = f"user-{index}"
        position = bucket("exp", unit)
        expected = 0 if position < 0.2 else 1 if position < 0.5 else 2
        assert assign("exp", unit, [0.2, 0.3, 0.5]) == expected


IDS = [f"user-{i}" for i in range(10_000)]


def test_lowering_coverage_never_moves_a_unit_to_another_arm() -> None:
    # GrowthBook's guarantee: coverage only decides who is in; the arm stays.
    coverages = [1.0, 0.8, 0.5, 0.2, 0.05]
    assignments = {c: [assign("ranker-v2", u, [0.3, 0.7], c) for u in IDS] for c in coverages}
    for wide, narrow in itertools.pairwise(coverages):
        for unit_wide, unit_narrow in zip(assignments[wide], assignments[narrow], strict=True):
            assert unit_narrow is None or unit_narrow == unit_wide
        included_wide = sum(a is not None for a in assignments[wide])
        included_narrow = sum(a is not None for a in assignments[narrow])
        assert included_narrow < included_wide
    assert all(a is not None for a in assignments[1.0])
    assert sum(a is not None for a in assignments[0.5]) == pytest.approx(5000, abs=200)


def test_changing_weights_moves_exactly_the_units_between_the_old_and_new_boundary() -> None:
    # No such guarantee for weights: moving the boundary from 0.5 to 0.4 re-assigns every
    # unit whose bucket lies in [0.4, 0.5), about 10% of them. Start a new key instead.
    moved = [u for u in IDS if assign("exp", u, [0.5, 0.5]) != assign("exp", u, [0.4, 0.6])]
    assert all(0.4 <= bucket("exp", u) < 0.5 for u in moved)
    assert all(assign("exp", u, [0.5, 0.5]) == 0 for u in moved)
    assert len(moved) == pytest.approx(1000, abs=150)


def test_same_unit_same_arm_on_every_call_and_independent_across_experiments() -> None:
    first = [assign("exp-a", u, [0.5, 0.5]) for u in IDS[:2000]]
    assert first == [assign("exp-a", u, [0.5, 0.5]) for u in IDS[:2000]]
    other = [assign("exp-b", u, [0.5, 0.5]) for u in IDS[:2000]]
    agreement = sum(a == b for a, b in zip(first, other, strict=True)) / 2000
    assert agreement == pytest.approx(0.5, abs=0.05)  # a new key re-randomises


@pytest.mark.parametrize("weights", [[0.5, 0.5], [0.2, 0.3, 0.5]])
def test_100k_units_split_as_the_weights_say(weights: list[float]) -> None:
    counts = [0] * len(weights)
    for index in range(100_000):
        arm = assign("distribution-check", f"unit-{index}", weights)
        assert arm is not None
        counts[arm] += 1
    expected = [w * 100_000 for w in weights]
    assert chisquare(counts, expected).pvalue > 0.001
