"""Buffer layouts of spaces, joint spaces and action validation."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from puffer_core.spaces import action_buffer_layout, joint_space, observation_buffer_layout, validate_actions


@pytest.mark.parametrize(
    "space, shape, dtype",
    [
        (spaces.Discrete(5), (), np.int32),
        (spaces.MultiDiscrete([3, 4]), (2,), np.int32),
        (spaces.MultiBinary((2, 3)), (2, 3), np.int32),
        (spaces.Box(-1, 1, (3,), np.float64), (3,), np.float32),  # float actions are float32
        (spaces.Box(-1, 1, (2,), np.float16), (2,), np.float32),
        (spaces.Box(0, 9, (2,), np.int16), (2,), np.int16),
    ],
)
def test_action_buffer_layout(space, shape, dtype):
    assert action_buffer_layout(space) == (shape, np.dtype(dtype))


def test_observation_buffer_layout_keeps_box_shape_and_dtype():
    assert observation_buffer_layout(spaces.Box(0, 255, (84, 84, 3), np.uint8)) == ((84, 84, 3), np.uint8)
    with pytest.raises(TypeError, match="puffer_core.emulation"):
        observation_buffer_layout(spaces.Dict({"a": spaces.Discrete(2)}))
    with pytest.raises(TypeError, match="Dict"):
        action_buffer_layout(spaces.Dict({"a": spaces.Discrete(2)}))


def test_discrete_actions_must_fit_int32():
    with pytest.raises(ValueError, match="int32"):
        action_buffer_layout(spaces.Discrete(2**40))
    with pytest.raises(ValueError, match="int32"):
        action_buffer_layout(spaces.MultiDiscrete([2, 3], start=[0, 2**31]))


def test_joint_spaces():
    box = joint_space(spaces.Box(-1, 2, (3,), np.float32), 4)
    assert box.shape == (4, 3) and box.dtype == np.float32
    assert (box.low == -1).all() and (box.high == 2).all()
    assert joint_space(spaces.Discrete(3, start=1), 2) == spaces.MultiDiscrete([3, 3], start=[1, 1])
    assert joint_space(spaces.MultiDiscrete([2, 3]), 2) == spaces.MultiDiscrete([[2, 3], [2, 3]])
    assert joint_space(spaces.MultiBinary(3), 2) == spaces.MultiBinary((2, 3))
    with pytest.raises(TypeError):
        joint_space(spaces.Tuple((spaces.Discrete(2),)), 2)


def test_valid_actions_pass_through():
    out = validate_actions([0, 4, 2], spaces.Discrete(5), 3)
    assert out.tolist() == [0, 4, 2]
    assert validate_actions(np.array([[1, 0]], bool), spaces.MultiBinary(2), 1).dtype == bool
    validate_actions(np.array([[2, 6]], np.uint8), spaces.MultiDiscrete([3, 4], start=[0, 3]), 1)
    validate_actions(np.zeros((2, 3), np.float64), spaces.Box(-1, 1, (3,)), 2)
    validate_actions(np.full((2, 3), 5.0), spaces.Box(-1, 1, (3,)), 2)  # Box actions are not clipped


@pytest.mark.parametrize(
    "actions, space, n, message",
    [
        (np.zeros(3, np.int32), spaces.Discrete(5), 2, r"shape \(2,\), got \(3,\)"),
        (np.zeros((2, 1), np.int32), spaces.Discrete(5), 2, r"shape \(2,\), got \(2, 1\)"),
        (np.zeros(2, np.float32), spaces.Discrete(5), 2, "must be integers, got dtype float32"),
        (np.array([0, 5]), spaces.Discrete(5), 2, r"action 5 at index \(1,\) is out of range: expected 0 <="),
        (np.array([0, 0]), spaces.Discrete(3, start=1), 2, "expected 1 <= action <= 3"),
        (np.array([[0, 4]]), spaces.MultiDiscrete([3, 4]), 1, r"4 at index \(0, 1\).*0 <= action <= 3"),
        (np.array([[0, 2]]), spaces.MultiBinary(2), 1, "expected 0 <= action <= 1"),
        (np.array([[-1]]), spaces.MultiBinary(1), 1, "out of range"),
        (np.array([[True]]), spaces.MultiDiscrete([2]), 1, "must be integers"),
        (np.array([[9, 0]], np.int16), spaces.Box(0, 8, (2,), np.int16), 1, "expected 0 <= action <= 8"),
        (np.array([[np.nan, 0.0]]), spaces.Box(-1, 1, (2,)), 1, "finite"),
        (np.array([[np.inf, 0.0]], np.float32), spaces.Box(-1, 1, (2,)), 1, "finite"),
        (np.array([["a", "b"]]), spaces.Box(-1, 1, (2,)), 1, "numeric"),
        (np.zeros((1, 3)), spaces.Box(-1, 1, (2,)), 1, "shape"),
    ],
)
def test_bad_actions_name_expected_and_received(actions, space, n, message):
    with pytest.raises(ValueError, match=message):
        validate_actions(actions, space, n)
