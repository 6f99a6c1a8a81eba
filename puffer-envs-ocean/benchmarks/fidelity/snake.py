"""snake: the reference's many-agent snake (640x360 grids, 256 snakes, 4096 food, corpses).

Both sides run 4 grids of 256 snakes (the reference's training ``num_envs``): 1024 agents per env object.
Observations hold the same cell codes (ours uint8, the reference int8). The grid fills up with corpses over
time, so the metrics drift slowly; both sides use the same warm-up.

A spec file for ``benchmarks/fidelity.py``: pure numpy, imported by both sides' Python.
"""

import numpy as np

SPS_NUM_ENVS = 4  # grids: 4 x 256 snakes = 1024 agents on both sides
POLICY_NUM_ENVS = 4
WARMUP_STEPS = 1000
# label: (our log key, the reference's log key)
METRICS = {
    "score": ("score", "score"),
    "perf": ("perf", "perf"),
    "episode_return": ("episode_return", "episode_return"),
    "episode_length": ("episode_length", "episode_length"),
}


def make(side: str, num_envs: int, seed: int):
    if side == "ours":
        from puffer_envs_ocean.snake import Snake

        return Snake(num_envs=num_envs, seed=seed)
    from pufferlib.ocean.snake.snake import Snake

    return Snake(num_envs=num_envs, seed=seed, report_interval=16)


# Cells next to the head (the window's centre) in action order: up, down, left, right.
_NEIGHBOURS = ((4, 5), (6, 5), (5, 4), (5, 6))


def scripted(obs: np.ndarray) -> np.ndarray:
    """Greedy: eat an adjacent food or corpse, else step onto a free cell, else anything (and die).

    Ties go to the direction with the most food and corpses in its half of the 11x11 window."""
    grid = obs.astype(np.int16)
    edible = (grid == 1) | (grid == 2)
    halves = np.stack(
        [
            edible[:, :5].sum((1, 2)),
            edible[:, 6:].sum((1, 2)),
            edible[:, :, :5].sum((1, 2)),
            edible[:, :, 6:].sum((1, 2)),
        ],
        axis=1,
    )
    near = np.stack([grid[:, r, c] for r, c in _NEIGHBOURS], axis=1)
    score = np.where((near == 1) | (near == 2), 1000, np.where(near == 0, 100, 0)) + halves
    return score.argmax(1).astype(np.int32)
