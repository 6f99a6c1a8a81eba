"""Which buffer layout each gymnasium space gets, and validation of actions against it.

Native envs use a ``Box`` observation space (any numeric dtype) and a ``Discrete``, ``MultiDiscrete``,
``MultiBinary`` or ``Box`` action space. Structured spaces (``Dict``/``Tuple``) are flattened by
:mod:`puffer_core.emulation` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = ["observation_buffer_layout", "action_buffer_layout", "joint_space", "validate_actions"]

#: Integer actions are stored as int32: wide enough for any action count, half the bandwidth of int64.
ACTION_INT_DTYPE = np.dtype(np.int32)


def observation_buffer_layout(space: spaces.Space) -> tuple[tuple[int, ...], np.dtype]:
    """Per-agent ``(shape, dtype)`` of the observation buffer for ``space``."""
    if isinstance(space, spaces.Box):
        return tuple(space.shape), np.dtype(space.dtype)
    raise TypeError(
        f"native observation spaces must be gymnasium.spaces.Box, got {type(space).__name__}; "
        "wrap structured spaces with puffer_core.emulation"
    )


def _check_int32(space: spaces.Space, low: int, high: int) -> None:
    info = np.iinfo(ACTION_INT_DTYPE)
    if low < info.min or high > info.max:
        raise ValueError(f"{space} has actions outside the int32 action buffer ([{low}, {high}])")


def action_buffer_layout(space: spaces.Space) -> tuple[tuple[int, ...], np.dtype]:
    """Per-agent ``(shape, dtype)`` of the action buffer for ``space``."""
    if isinstance(space, spaces.Discrete):
        _check_int32(space, int(space.start), int(space.start + space.n - 1))
        return (), ACTION_INT_DTYPE
    if isinstance(space, spaces.MultiDiscrete):
        if space.nvec.size:
            _check_int32(space, int(space.start.min()), int((space.start + space.nvec - 1).max()))
        return tuple(space.shape), ACTION_INT_DTYPE
    if isinstance(space, spaces.MultiBinary):
        return tuple(space.shape), ACTION_INT_DTYPE
    if isinstance(space, spaces.Box):
        dtype = np.dtype(space.dtype)
        return tuple(space.shape), (np.dtype(np.float32) if dtype.kind == "f" else dtype)
    raise TypeError(
        "native action spaces must be Discrete, MultiDiscrete, MultiBinary or Box, "
        f"got {type(space).__name__}; "
        "wrap structured spaces with puffer_core.emulation"
    )


def joint_space(space: spaces.Space, n: int) -> spaces.Space:
    """The space of ``n`` agents' values stacked along a new first axis."""
    if isinstance(space, spaces.Box):
        return spaces.Box(
            low=np.broadcast_to(space.low, (n, *space.shape)),
            high=np.broadcast_to(space.high, (n, *space.shape)),
            dtype=space.dtype,
        )
    if isinstance(space, spaces.Discrete):
        return spaces.MultiDiscrete(np.full(n, space.n), start=np.full(n, space.start))
    if isinstance(space, spaces.MultiDiscrete):
        return spaces.MultiDiscrete(
            np.broadcast_to(space.nvec, (n, *space.shape)),
            start=np.broadcast_to(space.start, (n, *space.shape)),
        )
    if isinstance(space, spaces.MultiBinary):
        return spaces.MultiBinary((n, *space.shape))
    raise TypeError(f"cannot stack {type(space).__name__} spaces")


def validate_actions(actions: Any, space: spaces.Space, num_agents: int) -> np.ndarray:
    """Check ``actions`` for ``num_agents`` agents of ``space``; return them as an array.

    Raises ValueError naming what was expected and what was received for a wrong shape, a wrong dtype
    (floats for discrete actions, for example) or an out-of-range discrete action.
    """
    shape, dtype = action_buffer_layout(space)
    expected_shape = (num_agents, *shape)
    array = np.asarray(actions)
    if array.shape != expected_shape:
        raise ValueError(f"actions must have shape {expected_shape}, got {array.shape}")
    if dtype.kind in "iu":
        # bools are fine for MultiBinary (True is 1); anything else must already be an integer.
        allowed = "iub" if isinstance(space, spaces.MultiBinary) else "iu"
        if array.dtype.kind not in allowed:
            raise ValueError(
                f"actions for {type(space).__name__} must be integers, got dtype {array.dtype}"
            )
        if array.size:
            if isinstance(space, spaces.Discrete):
                low, high = int(space.start), int(space.start + space.n - 1)
            elif isinstance(space, spaces.MultiDiscrete):
                low, high = space.start, space.start + space.nvec - 1
            elif isinstance(space, spaces.Box):  # integer Box: its own bounds
                low, high = space.low, space.high
            else:  # MultiBinary
                low, high = 0, 1
            bad = (array < low) | (array > high)
            if bad.any():
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                lo = low if np.isscalar(low) else np.broadcast_to(low, array.shape)[index]
                hi = high if np.isscalar(high) else np.broadcast_to(high, array.shape)[index]
                raise ValueError(
                    f"action {array[index]} at index {index} is out of range: expected {lo} <= action <= {hi}"
                )
    else:
        if array.dtype.kind not in "fiu":
            raise ValueError(f"actions for Box must be numeric, got dtype {array.dtype}")
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError("actions must be finite, got NaN or inf")
    return array
