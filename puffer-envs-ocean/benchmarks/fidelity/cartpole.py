"""cartpole: ours keeps gymnasium CartPole-v1's rules; compared at the reference's 200-step limit.

The dynamics and termination bounds are the same; ours pays +1 on every step (gymnasium), the reference 0
on the last one, so returns differ by one and only lengths (= the reference's ``score``) are compared.

A spec file for ``benchmarks/fidelity.py``: pure numpy, imported by both sides' Python.
"""

import numpy as np

SPS_NUM_ENVS = 1024
POLICY_NUM_ENVS = 1024
WARMUP_STEPS = 400
# label: (our log key, the reference's log key)
METRICS = {"episode_length": ("episode_length", "episode_length"), "score (= length)": ("score", "score")}


def make(side: str, num_envs: int, seed: int):
    if side == "ours":
        from puffer_envs_ocean.cartpole import Cartpole

        return Cartpole(num_envs=num_envs, seed=seed, max_steps=200)
    from pufferlib.ocean.cartpole.cartpole import Cartpole

    return Cartpole(num_envs=num_envs, seed=seed, report_interval=16)


def scripted(obs: np.ndarray) -> np.ndarray:
    """Push towards where the pole is falling: angle plus a little angular velocity."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int32)
