"""modelrail.yaml under hostile input (issue 15, cases 4 and 10): the policy file goes
through the same bounded loader as every data file, and a value the validators cannot
even convert is still exit 2 naming its key."""

import time
from pathlib import Path

import pytest
from modelrail.config import load_config
from modelrail.errors import ExitCode, UsageError
from modelrail.rollouts.policy import load_rollout_policy


def load_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "modelrail.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_config(path)
    assert caught.value.exit_code == ExitCode.USAGE
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message


def test_an_alias_bomb_in_the_policy_is_refused_at_once(tmp_path: Path) -> None:
    bomb = "model: m\nx0: &x0 [1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 8)}]\n" for i in range(1, 9))
    started = time.monotonic()

    message = load_error(tmp_path, bomb)

    assert "more than 1,000,000 values once its aliases are expanded" in message
    assert time.monotonic() - started < 2


def test_a_policy_over_1_mb_says_so(tmp_path: Path) -> None:
    message = load_error(tmp_path, "model: m\n" + "#" * 1_500_000 + "\n")

    assert message.endswith(": 1.5 MB is larger than the 1 MB limit for a policy file")


def test_the_rollout_reader_has_the_same_bounds(tmp_path: Path) -> None:
    path = tmp_path / "modelrail.yaml"
    path.write_text("rollout: {name: a}\nrollout: {name: b}\n", encoding="utf-8")

    with pytest.raises(UsageError, match="key 'rollout' appears twice"):
        load_rollout_policy(path)


@pytest.mark.parametrize("key", ["threshold", "min_absolute_change", "min_relative_change"])
def test_a_400_digit_number_names_its_key(tmp_path: Path, key: str) -> None:
    message = load_error(tmp_path, "model: m\ngate:\n  metrics:\n    auc: {greater_is_better: "
                                   f"true, {key}: {'1' * 400}}}\n")

    assert f"gate.metrics.auc.{key}: expected a finite number, got 1111" in message


@pytest.mark.parametrize("text", ["model: m\n? [gate]\n: 1\n",
                                  "model: m\ngate:\n  metrics:\n    ? [auc]\n    : {}\n"])
def test_a_list_as_a_key_is_refused(tmp_path: Path, text: str) -> None:
    assert "a key must be text or a number, not a list or mapping" in load_error(tmp_path, text)


def test_a_400_digit_experiment_weight_names_its_key(tmp_path: Path) -> None:
    """Found by tests/property: math.isfinite raised OverflowError in experiment.weights."""
    message = load_error(tmp_path, "model: m\nexperiment:\n  key: k\n  primary: ctr\n"
                                   f"  weights: [{'1' * 400}, 0.5]\n"
                                   "  metrics: {ctr: {type: proportion}}\n")

    assert "experiment.weights: expected a list of finite numbers" in message
