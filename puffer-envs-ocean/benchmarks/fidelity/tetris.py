"""tetris: ours plays the reference's game (uniform pieces, deck of 3, hold, no kicks, gravity every 4 steps).

Same rules, rewards, observation layout and logs; the reference names its return and length
``ep_return`` and ``ep_length``. Its time limit (10000 steps) is a terminal there and a truncation here;
neither policy gets near it.

A spec file for ``benchmarks/fidelity.py``: pure numpy, imported by both sides' Python.
"""

import numpy as np

SPS_NUM_ENVS = 1024
POLICY_NUM_ENVS = 1024
WARMUP_STEPS = 600
# label: (our log key, the reference's log key)
METRICS = {
    "episode_return": ("episode_return", "ep_return"),
    "episode_length": ("episode_length", "ep_length"),
    "score": ("score", "score"),
    "perf": ("perf", "perf"),
    "lines_deleted": ("lines_deleted", "lines_deleted"),
    "avg_combo": ("avg_combo", "avg_combo"),
    "frac_soft_drop": ("atn_frac_soft_drop", "atn_frac_soft_drop"),
    "frac_hard_drop": ("atn_frac_hard_drop", "atn_frac_hard_drop"),
    "frac_rotate": ("atn_frac_rotate", "atn_frac_rotate"),
}
ROWS, COLS = 20, 10
LEFT, RIGHT, ROTATE, HARD = 1, 2, 3, 5


def make(side: str, num_envs: int, seed: int):
    if side == "ours":
        from puffer_envs_ocean.tetris import Tetris

        return Tetris(num_envs=num_envs, seed=seed)
    from pufferlib.ocean.tetris.tetris import Tetris

    return Tetris(num_envs=num_envs, seed=seed, deck_size=3)


def scripted(obs: np.ndarray) -> np.ndarray:
    """Lay pieces flat (rotate while taller than wide, at most twice), slide the piece's left edge over the
    lowest column, then hard drop."""
    n = obs.shape[0]
    grid = obs[:, : ROWS * COLS].reshape(n, ROWS, COLS)
    blocks = grid == 1
    tops = np.where(blocks.any(1), blocks.argmax(1), ROWS)  # first block row of each column
    target = tops.argmax(1)
    piece = grid == 2
    cols = piece.any(1)
    rows = piece.any(2)
    left = cols.argmax(1)
    width = cols.sum(1)
    height = rows.sum(1)
    rot = obs[:, ROWS * COLS + 4]  # raw rotation (for an O it reads 1: an O is never taller than wide)
    turn = (height > width) & (rot < 2)
    act = np.where(left > target, LEFT, np.where(left < target, RIGHT, HARD))
    return np.where(turn, ROTATE, act).astype(np.int32)
