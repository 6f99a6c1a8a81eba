"""``ocean/connect4``: Connect Four on a 6x7 board against a scripted opponent."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._binding import _lib, ffi
from .env import OceanEnv

__all__ = ["Connect4", "SPEC"]


@functools.lru_cache(maxsize=1)
def _hooks() -> Any:
    ffi.cdef("int ocean_connect4_set_board(void *env, const int8_t *cells);")
    return _lib()


class Connect4(OceanEnv):
    """The agent drops a disc into a column (``Discrete(7)``); the opponent answers in the same step.

    The opponent wins if it can, else blocks an immediate win of the agent, else plays a random legal
    column (with probability ``opponent_noise`` it plays a random legal column right away). ``first_player``:
    0 the agent opens, 1 the opponent opens, 2 a coin flip per game.

    Rewards: +1 win, -1 loss, 0 draw (full board), 0 while the game goes on. **Illegal move rule**: dropping
    into a full column loses the game at once (reward -1, terminal) and is logged as ``illegal``.
    Four in a row counts horizontally, vertically and on both diagonals.

    Observation ``float32 [42]``: the board row-major from the top row, +1 the agent's discs, -1 the
    opponent's, 0 empty. Logs ``score`` (1 for a win), ``wins``, ``losses``, ``draws``, ``illegal``.
    """

    c_name = "connect4"

    def set_board(self, board: Any, env_index: int = 0) -> None:
        """Test hook: set the board from a ``[6, 7]`` array (top row first; 0 empty, 1 agent, 2 opponent).

        Discs must rest on the bottom or on another disc. Observations are rewritten.
        """
        cells = np.ascontiguousarray(np.asarray(board, dtype=np.int8))
        if cells.shape != (6, 7):
            raise ValueError(f"board must have shape (6, 7), got {cells.shape}")
        status = _hooks().ocean_connect4_set_board(
            self.state_pointer(env_index, "void *"), ffi.cast("int8_t *", cells.ctypes.data)
        )
        if status != 0:
            raise ValueError("board must hold 0, 1 or 2 and no disc may float above an empty cell")


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Connect Four vs a win/block/random opponent; 1024 copies per env object",
    "default_kwargs": {"num_envs": 1024},
    "train_config": {
        "train": {
            "total_timesteps": 50_000_000,
            "learning_rate": 0.001,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "ent_coef": 0.01,
            "horizon": 32,
            "batch_size": 32768,
            "minibatch_size": 8192,
            "update_epochs": 2,
        },
        "vec": {"backend": "serial", "num_envs": 1},
        "policy": {"kind": "mlp", "hidden_size": 256, "lstm": False},
    },
}
