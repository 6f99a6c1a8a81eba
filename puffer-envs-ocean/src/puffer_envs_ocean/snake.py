"""``ocean/snake``: many snakes on one shared grid (multi-agent), with food and deadly collisions."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._binding import _lib, ffi
from .env import OceanEnv

__all__ = ["Snake", "SPEC", "UP", "DOWN", "LEFT", "RIGHT"]

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3


@functools.lru_cache(maxsize=1)
def _hooks() -> Any:
    ffi.cdef(
        """
        int ocean_snake_set_snake(void *env, int i, const int32_t *xy, int len, int dir);
        int ocean_snake_set_cell(void *env, int x, int y, int code);
        void ocean_snake_clear(void *env);
        """
    )
    return _lib()


class Snake(OceanEnv):
    """``num_snakes`` snakes (one agent each) on a shared ``width x height`` grid with ``num_food`` food.

    Actions: ``Discrete(4)``, the direction to move (0 up, 1 down, 2 left, 3 right); turning straight back
    into the neck is ignored. Snakes move one at a time in index order; a tail moves out before its own head
    moves in, so a snake may follow its tail. Eating food gives ``food_reward`` and grows the snake by one
    (up to ``max_length``); running into a wall, itself or another snake gives ``death_reward`` and ends its
    episode (terminal), as does ``max_steps`` steps of life (truncation). A finished snake is removed and
    respawns (length 1) on a random free cell in the same step. ``masks[i]`` is True when snake ``i`` moved in
    the step; a snake that found no free cell waits off the grid (seeing only zeros) with ``masks`` False,
    and comes back when a cell frees up.

    Observation ``uint8 [2*vision+1, 2*vision+1]``, centred on the head (north up): 0 empty, 1 food, 2 wall,
    3 own body, 4 own head, 5 another snake's body, 6 another snake's head.
    Logs ``score`` (food eaten), ``length`` (at the end) and ``died`` (1 terminal, 0 truncated).
    """

    c_name = "snake"

    def set_snake(
        self, snake: int, cells: Sequence[tuple[int, int]], direction: int, env_index: int = 0
    ) -> None:
        """Test hook: put ``snake`` on ``cells`` ((x, y) playable cells, head first, 4-connected) heading
        ``direction``. Cells must be free or the snake's own; observations are rewritten."""
        xy = np.ascontiguousarray(np.asarray(cells, dtype=np.int32).reshape(-1))
        if xy.size < 2 or xy.size % 2:
            raise ValueError(f"cells must be a non-empty sequence of (x, y) pairs, got {cells!r}")
        status = _hooks().ocean_snake_set_snake(
            self.state_pointer(env_index, "void *"),
            snake,
            ffi.cast("int32_t *", xy.ctypes.data),
            xy.size // 2,
            direction,
        )
        if status != 0:
            raise ValueError(f"cannot place snake {snake} on {cells!r} heading {direction}")

    def set_cell(self, x: int, y: int, food: bool, env_index: int = 0) -> None:
        """Test hook: put food on (or clear) the free cell ``(x, y)``."""
        if _hooks().ocean_snake_set_cell(self.state_pointer(env_index, "void *"), x, y, int(food)) != 0:
            raise ValueError(f"cannot set cell {(x, y)}: outside the grid or taken by a snake")

    def clear(self, env_index: int = 0) -> None:
        """Test hook: remove every snake and all food (unplaced snakes respawn on the next step)."""
        _hooks().ocean_snake_clear(self.state_pointer(env_index, "void *"))


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Multi-agent snake: 8 snakes per 32x32 grid, 11x11 views; 256 grids per env object",
    "default_kwargs": {"num_envs": 256},
    "train_config": {
        "train": {
            "total_timesteps": 200_000_000,
            "learning_rate": 0.001,
            "gamma": 0.99,
            "gae_lambda": 0.9,
            "ent_coef": 0.01,
            "horizon": 64,
            "batch_size": 131072,
            "minibatch_size": 32768,
            "update_epochs": 1,
        },
        "vec": {"backend": "serial", "num_envs": 1},
        "policy": {"kind": "cnn", "hidden_size": 128, "lstm": False},
    },
}
