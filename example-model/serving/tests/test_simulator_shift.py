"""The simulator's drift switch: `shift` multiplies a numeric feature and nothing else."""

from __future__ import annotations

import pytest

from simulator.__main__ import main
from simulator.population import plan_sessions


def test_shift_multiplies_one_feature() -> None:
    plain = plan_sessions(7, 30)
    shifted = plan_sessions(7, 30, shift={"price": 2.5})
    assert len(plain) == len(shifted)
    for before, after in zip(plain, shifted, strict=True):
        for row_before, row_after in zip(before.rows, after.rows, strict=True):
            assert row_after["price"] == pytest.approx(2.5 * row_before["price"])
            assert {k: v for k, v in row_after.items() if k != "price"} == {
                k: v for k, v in row_before.items() if k != "price"}
    assert [s.true_ctr for s in plain] != [s.true_ctr for s in shifted]


def test_shift_refuses_a_categorical_feature() -> None:
    with pytest.raises(ValueError, match="not a numeric feature"):
        plan_sessions(7, 5, shift={"device": 2.0})


@pytest.mark.parametrize("value", ["price", "price=0", "price=x"])
def test_bad_shift_flag_is_a_usage_error(value: str, tmp_path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--router", "http://127.0.0.1:1", "--users", "1", "--events",
              str(tmp_path / "e.jsonl"), "--shift", value])
    assert exit_info.value.code == 2
