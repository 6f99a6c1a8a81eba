"""``ocean/connect4``: Connect Four on a 6x7 board against a scripted opponent (PufferLib 3.0's rules)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._binding import _lib, ffi
from .env import OceanEnv

__all__ = ["Connect4", "SPEC"]


@functools.lru_cache(maxsize=1)
def _hooks() -> Any:
    ffi.cdef(
        "int ocean_connect4_set_board(void *env, const int8_t *cells);"
        "unsigned ocean_connect4_choices(void *env, int *scores);"
    )
    return _lib()


class Connect4(OceanEnv):
    """Connect Four on a 6x7 board against a scripted opponent, by PufferLib 3.0's rules.

    **Turns**: the agent always moves first. Each step the agent drops a disc into a column
    (``Discrete(7)``, column 0 leftmost); unless that ends the game the opponent answers in the same step.

    **Opponent** (``opponent=0``, the reference's): (1) an opening book for the agent's first disc: column 3
    is answered with column 2, column 4 with column 3; (2) else the leftmost column that wins at once; (3)
    else for each legal column ``m`` a 3-ply lookahead *sum* (not a minimax value) over the agent's replies
    ``r``, its answers ``a`` and the agent's next moves ``q``:
    ``score(m) = sum_r [100 if r wins else sum_a (-10 if a wins else number of winning q)]``, and it plays
    the column of smallest score, ties broken uniformly at random (so after the agent's first disc
    in columns 0, 1, 2, 5 or 6 every column ties). ``opponent=1``: win, else block the
    agent's immediate win, else a random legal column. ``opponent_noise``: probability that the opponent
    plays a uniformly random legal column instead (default 0).

    **Rewards and episode ends** (all terminal, no time limit): +1 when the agent completes four in a row
    (vertical, horizontal or diagonal), -1 when the opponent does, -1 for an illegal move (a full column),
    0 otherwise. There is no draw: when the opponent fills the board, every column of the agent's next move
    is full, so that move is illegal and loses (-1), as in the reference. The env auto-resets in the step
    that ends a game (the observation is then the next game's empty board).

    **Observation** ``float32 [42]``: the board column-major from column 0, each column bottom row first
    (index ``col * 6 + row``); +1 the agent's disc, -1 the opponent's, 0 empty.

    **Logs** (means over finished games): ``score`` and ``episode_return`` (the final reward: +1, -1),
    ``perf`` (1 for a win, else 0), ``episode_length`` (agent moves), ``illegal`` (1 when an illegal
    move ended the game).

    **Differences from the reference**, all outside the game itself: it spends one extra step after each game
    on its reset (reward 0, action ignored), ours resets in the game's last step; it declares its observation
    Box as [0, 1] although it writes -1, ours declares [-1, 1]; its ``episode_length`` log is not a game
    length (it sums running step counters), ours counts the agent's moves.
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

    def opponent_choices(self, env_index: int = 0) -> tuple[list[int], list[int]]:
        """Test hook: the columns the opponent may play in the current position (as if it were its turn),
        and the lookahead score of every column (0 when the book or an immediate win decided; 2**31-1 for a
        full column). Ignores ``opponent_noise``."""
        scores = ffi.new("int[7]")
        mask = _hooks().ocean_connect4_choices(self.state_pointer(env_index, "void *"), scores)
        return [c for c in range(7) if mask >> c & 1], list(scores)


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Connect Four vs the reference's book + 3-ply lookahead opponent; 1024 copies per object",
    "default_kwargs": {"num_envs": 1024},
    # Tuned on the shared 2-core CPU box: from random play's score -1.0 (perf 0.0) to score +0.6, perf 0.8
    # within 3M steps (about 4 minutes); the agent finds lines that beat the lookahead opponent.
    "train_config": {
        "train": {
            "total_timesteps": 10_000_000,
            "learning_rate": 0.003,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "ent_coef": 0.03,
            "horizon": 16,
            "batch_size": 16384,
            "minibatch_size": 4096,
            "update_epochs": 2,
        },
        "vec": {"backend": "serial", "num_env_objects": 1},
        "policy": {"kind": "mlp", "hidden_size": 128, "lstm": False},
    },
}
