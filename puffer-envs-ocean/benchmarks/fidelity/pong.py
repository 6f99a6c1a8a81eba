"""pong: ours plays the reference's Pong (same field, paddles, ball, frameskip 8, 0.1 per return).

Compared: ``score`` (points won - points lost) and ``perf`` (points won / points played), which both sides
compute the same way. Not compared: the reference's ``episode_return`` is the score (it leaves out the 0.1
per return that it pays) and its ``episode_length`` counts only the steps of the last rally (its tick restarts
at every serve); ours are the sum of rewards and the steps of the whole episode, as our contract requires.

A spec file for ``benchmarks/fidelity.py``: pure numpy, imported by both sides' Python.
"""

import numpy as np

SPS_NUM_ENVS = 1024
POLICY_NUM_ENVS = 1024
WARMUP_STEPS = 300
# label: (our log key, the reference's log key)
METRICS = {"score": ("score", "score"), "perf": ("perf", "perf")}

# ball height / field height: the ball's y in the observation is its lower edge
_HALF_BALL = 16 / 640


def make(side: str, num_envs: int, seed: int):
    if side == "ours":
        from puffer_envs_ocean.pong import Pong

        return Pong(num_envs=num_envs, seed=seed)
    from pufferlib.ocean.pong.pong import Pong

    return Pong(num_envs=num_envs, seed=seed, frameskip=8, log_interval=16)


def scripted(obs: np.ndarray) -> np.ndarray:
    """Keep the paddle's centre (obs 1) on the ball's centre (obs 3 + half a ball): 1 up, 2 down, 0 stay."""
    gap = obs[:, 3] + _HALF_BALL - obs[:, 1]
    return np.where(gap > 0.01, 1, np.where(gap < -0.01, 2, 0)).astype(np.int32)
