"""``ocean/tetris``: 10x20 Tetris with a 7-bag, wall kicks, hold and line-clear scoring."""

from __future__ import annotations

import functools
from typing import Any

from ._binding import _lib, ffi
from .env import OceanEnv

__all__ = ["Tetris", "SPEC", "PIECES", "ACTIONS"]

#: Piece order used in observations and the test hooks.
PIECES = ("I", "O", "T", "S", "Z", "J", "L")
#: Action meanings.
ACTIONS = ("noop", "left", "right", "rotate", "soft_drop", "hard_drop", "hold")


@functools.lru_cache(maxsize=1)
def _hooks() -> Any:
    ffi.cdef(
        """
        int ocean_tetris_set_row(void *env, int y, int mask);
        int ocean_tetris_set_piece(void *env, int piece, int rot, int px, int py, int next);
        """
    )
    return _lib()


class Tetris(OceanEnv):
    """Tetris on a 10x20 board; pieces come from a seeded 7-bag (every 7 pieces hold each tetromino once).

    Actions ``Discrete(7)``: 0 noop, 1 left, 2 right, 3 rotate clockwise (if blocked, the kicks tried are one
    column left, right, two left, two right, one row up), 4 soft drop (one row; locks if it cannot fall),
    5 hard drop (falls and locks), 6 hold (swap with the held piece, once per piece). Every
    ``gravity_interval`` steps the piece falls one row, or locks when it cannot. Cleared lines score 100,
    300, 500, 800 points for 1-4 lines and the reward is points / 100. Termination: a new piece cannot
    spawn. Truncation: ``max_steps``.

    Observation ``uint8 [226]``: the board row-major from the top (0 empty, 1 block, 2 falling piece), then
    one-hot current piece (7), rotation (4), next piece (7), held piece (7, zeros when none) and can-hold (1).
    Logs ``score`` (points), ``lines``, ``pieces`` and ``tetrises``.
    """

    c_name = "tetris"

    def set_row(self, y: int, filled: list[int] | tuple[int, ...], env_index: int = 0) -> None:
        """Test hook: fill board row ``y`` (0 = top) at the columns in ``filled``, clear the rest."""
        mask = 0
        for x in filled:
            if not 0 <= x < 10:
                raise ValueError(f"column {x} is outside the board [0, 10)")
            mask |= 1 << x
        if _hooks().ocean_tetris_set_row(self.state_pointer(env_index, "void *"), y, mask) != 0:
            raise ValueError(f"row {y} is outside the board [0, 20)")

    def set_piece(
        self, piece: str, rotation: int, x: int, y: int, next_piece: str | None = None, env_index: int = 0
    ) -> None:
        """Test hook: replace the falling piece (``PIECES`` letter, rotation 0-3, 4x4 box at column ``x``,
        row ``y``) and optionally the next piece. Raises ValueError if it would overlap blocks or walls."""
        if piece not in PIECES or (next_piece is not None and next_piece not in PIECES):
            raise ValueError(f"pieces are named by one of {PIECES}")
        nxt = -1 if next_piece is None else PIECES.index(next_piece)
        status = _hooks().ocean_tetris_set_piece(
            self.state_pointer(env_index, "void *"), PIECES.index(piece), rotation, x, y, nxt
        )
        if status != 0:
            raise ValueError(f"cannot place {piece} rotation {rotation} at ({x}, {y})")


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Tetris (10x20, 7-bag, kicks, hold); 1024 copies per env object",
    "default_kwargs": {"num_envs": 1024},
    "train_config": {
        "train": {
            "total_timesteps": 200_000_000,
            "learning_rate": 0.0005,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "ent_coef": 0.01,
            "horizon": 64,
            "batch_size": 65536,
            "minibatch_size": 16384,
            "update_epochs": 1,
        },
        "vec": {"backend": "serial", "num_envs": 1},
        "policy": {"kind": "mlp", "hidden_size": 256, "lstm": False},
    },
}
