"""``ocean/tetris``: PufferLib 3.0's Tetris: uniform random pieces, previews, hold, no kicks, drop rewards."""

from __future__ import annotations

import functools
from typing import Any

from ._binding import _lib, ffi
from .env import OceanEnv

__all__ = ["Tetris", "SPEC", "PIECES", "ACTIONS", "FALL_TICKS", "MAX_TICKS"]

#: Piece ids, as in the observation's one-hots and the test hooks.
PIECES = ("O", "I", "S", "Z", "T", "L", "J")
#: Action meanings.
ACTIONS = ("noop", "left", "right", "rotate", "soft_drop", "hard_drop", "hold")
#: Steps between automatic one-row falls.
FALL_TICKS = 4
#: The episode ends (truncated) at the first placement from this step on.
MAX_TICKS = 10000


@functools.lru_cache(maxsize=1)
def _hooks() -> Any:
    ffi.cdef(
        """
        int ocean_tetris_set_row(void *env, int y, uint32_t mask);
        int ocean_tetris_set_piece(void *env, int piece, int rot, int row, int col, int slot, int preview);
        int ocean_tetris_set_clock(void *env, int tick, int tick_fall, int hold, int can_hold);
        """
    )
    return _lib()


class Tetris(OceanEnv):
    """Tetris on an ``n_rows`` x ``n_cols`` board (default 20 x 10), by PufferLib 3.0's ocean Tetris rules.

    Pieces (ids 0-6: O I S Z T L J) are drawn uniformly at random into a queue of ``deck_size`` (default 3):
    the falling piece and ``deck_size - 1`` previews. A new piece appears in rotation 0 with its box's
    top-left corner at row 0, column ``n_cols // 2``.

    Actions ``Discrete(7)``: 0 noop, 1 left, 2 right, 3 rotate (to the next of 4 rotations, about the box's
    top-left corner; no wall kicks: a blocked rotation does nothing), 4 soft drop (one row down; never
    locks), 5 hard drop (falls and locks), 6 hold (once per placed piece: the falling piece goes to hold and
    the held one, if any, appears at the spawn point in rotation 0, else the next piece comes in; the
    reference's test for a blocked swap looks at the held piece in the current rotation one column right of
    the current box, a cell past the right edge reading the next row; we test the same, and count cells
    below the board as empty, where the reference reads past its grid). A blocked action does nothing (no
    penalty). Then, on every 4th step since the piece appeared, it falls one row, or locks if it cannot.
    Locking clears full rows.

    Rewards: 0.01 per soft-drop row, 0.02 per hard-drop row, 0.1 / 0.3 / 0.5 / 1.0 for 1-4 rows cleared by
    one placement. ``score`` counts 1 per soft-drop row, 2 per hard-drop row and 100 / 300 / 500 / 1000 per
    clear.

    Episode ends (checked when a piece locks): terminal when the next piece cannot appear (its spawn cells
    are taken); truncated when the episode has run ``MAX_TICKS`` = 10000 steps or more (the reference marks
    this a terminal too).

    Observation ``float32 [n_rows*n_cols + 6 + 7*(deck_size + 1)]`` (234 by default), as the reference
    writes it: the board row-major from the top (0 empty, 1 block, 2 falling piece); then at ``B =
    n_rows*n_cols``: ``B+0`` step / 10000, ``B+1`` steps since the piece appeared / 4, ``B+2`` piece row /
    n_rows, ``B+3`` piece column / n_cols, ``B+4`` rotation (0-3, raw), ``B+5`` can hold (0/1); then one-hots
    of 7 starting at ``B+4`` (not ``B+6``): queue entry ``j`` (0 = falling piece) at ``B+4+7j+id``, the held
    piece at ``B+4+7*deck_size+id``. So the falling piece's one-hot overwrites ``B+4`` with 1 for an O and
    ``B+5`` with 1 for an I, and the last two elements are always 0. Box bounds [0, 3] (the reference
    declares [0, 1] but writes the same values).

    Logs (means over finished episodes): ``episode_return`` and ``episode_length`` (the reference's
    ``ep_return`` and ``ep_length``), ``score``, ``perf`` (score / 12565), ``lines_deleted``, ``avg_combo``
    (lines per clearing placement, 1 if none), ``atn_frac_soft_drop``, ``atn_frac_hard_drop``,
    ``atn_frac_rotate`` (share of the episode's actions).
    """

    c_name = "tetris"

    # -- test hooks ---------------------------------------------------------------------------------------
    def set_row(self, y: int, filled: list[int] | tuple[int, ...], env_index: int = 0) -> None:
        """Fill board row ``y`` (0 = top) at the columns in ``filled``, clear the rest."""
        mask = 0
        for x in filled:
            if not 0 <= x < self.params["n_cols"]:
                raise ValueError(f"column {x} is outside the board")
            mask |= 1 << x
        if _hooks().ocean_tetris_set_row(self.state_pointer(env_index, "void *"), y, mask) != 0:
            raise ValueError(f"row {y} is outside the board")

    def set_piece(
        self,
        piece: str,
        rotation: int,
        row: int,
        col: int,
        previews: dict[int, str] | None = None,
        env_index: int = 0,
    ) -> None:
        """Replace the falling piece (``PIECES`` letter, rotation 0-3, top-left of its box at ``row``,
        ``col``) and optionally queue entries ``{slot: letter}`` (slot 1 = the next piece). Raises ValueError
        if the piece would leave the board or cover a block."""
        names = [piece, *(previews or {}).values()]
        if any(name not in PIECES for name in names):
            raise ValueError(f"pieces are named by one of {PIECES}")
        pointer = self.state_pointer(env_index, "void *")
        items = list((previews or {}).items()) or [(0, None)]
        for slot, name in items:
            status = _hooks().ocean_tetris_set_piece(
                pointer,
                PIECES.index(piece),
                rotation,
                row,
                col,
                slot,
                -1 if name is None else PIECES.index(name),
            )
            if status != 0:
                raise ValueError(
                    f"cannot place {piece} rotation {rotation} at row {row}, column {col} "
                    f"(or bad preview slot {slot})"
                )

    def set_clock(
        self,
        tick: int,
        tick_fall: int = 0,
        hold: str | None = None,
        can_hold: bool = True,
        env_index: int = 0,
    ) -> None:
        """Set the episode's step count, the steps since the piece appeared (0-3) and the held piece."""
        if hold is not None and hold not in PIECES:
            raise ValueError(f"pieces are named by one of {PIECES}")
        held = -1 if hold is None else PIECES.index(hold)
        status = _hooks().ocean_tetris_set_clock(
            self.state_pointer(env_index, "void *"), tick, tick_fall, held, int(can_hold)
        )
        if status != 0:
            raise ValueError("tick must be in [0, 10**6] and tick_fall in [0, 3]")


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Tetris (PufferLib 3.0 rules: 10x20, uniform pieces, 2 previews, hold, no kicks); "
    "1024 copies per env object",
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
        "vec": {"backend": "serial", "num_env_objects": 1},
        "policy": {"kind": "mlp", "hidden_size": 256, "lstm": False},
    },
}
