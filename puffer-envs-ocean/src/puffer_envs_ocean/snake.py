"""``ocean/snake``: PufferLib 3.0's many-agent snake: hundreds of snakes on one big grid, food and corpses."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._binding import _lib, ffi
from .env import OceanEnv

__all__ = ["Snake", "SPEC", "UP", "DOWN", "LEFT", "RIGHT", "EMPTY", "FOOD", "CORPSE", "WALL"]

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
EMPTY, FOOD, CORPSE, WALL = 0, 1, 2, 3


@functools.lru_cache(maxsize=1)
def _hooks() -> Any:
    ffi.cdef(
        """
        int ocean_snake_set_snake(void *env, int i, const int32_t *xy, int len);
        int ocean_snake_set_cell(void *env, int x, int y, int code);
        void ocean_snake_clear(void *env);
        """
    )
    return _lib()


class Snake(OceanEnv):
    """``num_snakes`` snakes (one agent each) share a ``width x height`` grid (PufferLib 3.0's snake).

    Grid: a wall border ``vision`` cells thick surrounds the playable cells (the default 640x360 grid has
    630x350 of them). Each cell is 0 empty, 1 food, 2 corpse, 3 wall or 4..7 a snake (snake 0 has colour 7,
    snake ``i > 0`` colour ``4 + i % 4``, so snakes sharing a colour look alike). ``num_food`` food cells are
    kept: each one eaten is replaced at once on a uniformly random empty-or-corpse cell.

    Observation: ``uint8 [2*vision+1, 2*vision+1]`` (11x11 by default), the grid cells around the head, row by
    row, north up; the centre is the snake's own head (its colour). Values are the cell codes above, in
    [0, 7], unscaled (the reference declares ``int8`` with high 2, but emits the same values up to 7).

    Actions: ``Discrete(4)``, move 0 up, 1 down, 2 left, 3 right. A snake of length >= 2 cannot reverse into
    its neck: that action moves it straight on instead.

    Step: snakes move one at a time in index order, each seeing the grid as the earlier ones left it. Moving
    onto a wall or any snake cell (another snake, its own body, even its own tail) kills: reward
    ``reward_death``, terminal. Food gives ``reward_food`` and a corpse cell ``reward_corpse``; both grow the
    snake by one while it is shorter than ``max_snake_length - 1`` (after that it eats without growing).
    There is no time limit. A dead snake leaves, when ``leave_corpse_on_death`` is 1, a corpse on every other
    body cell counting from its tail (the tail cell itself is cleared), and respawns in the same step with
    length 1 on a uniformly random empty-or-corpse cell: the observation returned is its new episode's first.
    ``masks`` stay True, except for a snake that found no free cell to respawn on (only on a grid packed
    full): it waits off the grid seeing zeros, with mask False, until a cell frees up.

    Logs (mean over snakes that died): ``score`` (length at death), ``perf`` (score / episode_length),
    ``episode_return``, ``episode_length``. ``leave_corpse_on_death`` is 0 or 1 (not a bool).
    """

    c_name = "snake"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        params = {k: v for k, v in kwargs.items() if k in self.param_specs()}
        resolved = self.resolve_params(params)
        vision = resolved["vision"]
        for name in ("width", "height"):
            if resolved[name] < 2 * vision + 2:
                raise ValueError(
                    f"Snake parameter {name}={resolved[name]} is too small: it must be at least "
                    f"2*vision+2 = {2 * vision + 2} (the wall border is vision cells thick)"
                )
        super().__init__(*args, **kwargs)

    def set_snake(self, snake: int, cells: Sequence[tuple[int, int]], env_index: int = 0) -> None:
        """Test hook: put ``snake`` on ``cells`` ((x, y) grid cells inside the walls, head first, 4-connected)
        as a new episode. Cells must hold no other snake; observations are rewritten."""
        xy = np.ascontiguousarray(np.asarray(cells, dtype=np.int32).reshape(-1))
        if xy.size < 2 or xy.size % 2:
            raise ValueError(f"cells must be a non-empty sequence of (x, y) pairs, got {cells!r}")
        status = _hooks().ocean_snake_set_snake(
            self.state_pointer(env_index, "void *"),
            snake,
            ffi.cast("int32_t *", xy.ctypes.data),
            xy.size // 2,
        )
        if status != 0:
            raise ValueError(f"cannot place snake {snake} on {cells!r}")

    def set_cell(self, x: int, y: int, code: int, env_index: int = 0) -> None:
        """Test hook: set the snake-free cell ``(x, y)`` inside the walls to EMPTY, FOOD or CORPSE."""
        if _hooks().ocean_snake_set_cell(self.state_pointer(env_index, "void *"), x, y, int(code)) != 0:
            raise ValueError(f"cannot set cell {(x, y)} to {code}: a wall, a snake, or a bad code")

    def clear(self, env_index: int = 0) -> None:
        """Test hook: remove every snake, food and corpse (unplaced snakes respawn at their next step)."""
        _hooks().ocean_snake_clear(self.state_pointer(env_index, "void *"))


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Multi-agent snake (PufferLib 3.0 rules): 256 snakes per 640x360 grid with 4096 food, "
    "corpses, 11x11 views; 4 grids = 1024 agents",
    "default_kwargs": {"num_envs": 4},
    "train_config": {
        "train": {
            "total_timesteps": 200_000_000,
            "learning_rate": 0.003,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "ent_coef": 0.003,
            "horizon": 64,
            "batch_size": 65536,
            "minibatch_size": 16384,
            "update_epochs": 1,
        },
        "vec": {"backend": "serial", "num_env_objects": 1},
        # an MLP over the 11x11 window: on CPU the CNN is ~50x slower per step and not needed
        "policy": {"kind": "mlp", "hidden_size": 128, "lstm": False},
    },
}
