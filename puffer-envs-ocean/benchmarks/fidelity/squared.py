"""squared: ours plays the reference's Squared (11x11 grid, 3*size steps, -1 off the grid or out of time).

Both sides observe the flat grid (uint8 [size * size], 0 empty / 1 agent / 2 target) and take the same actions
(0 stay, 1 down, 2 up, 3 left, 4 right), so every metric is compared directly.

A spec file for ``benchmarks/fidelity.py``: pure numpy, imported by both sides' Python.
"""

import numpy as np

SPS_NUM_ENVS = 1024
POLICY_NUM_ENVS = 1024
WARMUP_STEPS = 100  # three episode limits: lengths are spread out by then
# label: (our log key, the reference's log key)
METRICS = {
    "perf": ("perf", "perf"),
    "score": ("score", "score"),
    "episode_return": ("episode_return", "episode_return"),
    "episode_length": ("episode_length", "episode_length"),
}


def make(side: str, num_envs: int, seed: int):
    if side == "ours":
        from puffer_envs_ocean.squared import Squared

        return Squared(num_envs=num_envs, seed=seed)
    from pufferlib.ocean.squared.squared import Squared

    return Squared(num_envs=num_envs, seed=seed, log_interval=16)


def scripted(obs: np.ndarray) -> np.ndarray:
    """Walk towards the target, rows first, reading both positions from the grid (mostly successful)."""
    size = int(round(np.sqrt(obs.shape[1])))
    agent = np.argmax(obs == 1, axis=1)
    target = np.argmax(obs == 2, axis=1)
    ar, ac = np.divmod(agent, size)
    tr, tc = np.divmod(target, size)
    return np.select([tr > ar, tr < ar, tc < ac, tc > ac], [1, 2, 3, 4], 0).astype(np.int32)
