"""``ocean/cartpole``: gymnasium's CartPole-v1 in C, same dynamics, limits and termination."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .env import OceanEnv

__all__ = ["Cartpole", "SPEC"]

X_THRESHOLD = 2.4
THETA_THRESHOLD = 12 * 2 * math.pi / 360


class Cartpole(OceanEnv):
    """Balance a pole on a cart: CartPole-v1's constants, Euler integration and termination.

    Observation: ``float32 [4]`` = (x, x_dot, theta, theta_dot), with CartPole-v1's Box bounds. Actions:
    ``Discrete(2)`` (0 push left, 1 push right). Reward 1 per step; terminal when ``|x| > 2.4`` or
    ``|theta| > 12 deg``; truncation after ``max_steps`` (500). Logs ``score`` (the return) and
    ``out_of_bounds`` (1 when the cart left the track).
    """

    c_name = "cartpole"

    def observation_bounds(self, shape: tuple[int, ...]) -> tuple[Any, Any]:
        high = np.array([X_THRESHOLD * 2, np.inf, THETA_THRESHOLD * 2, np.inf], dtype=np.float32)
        return -high, high


#: the C struct, for tests that set a state explicitly
STATE_CDEF = (
    "typedef struct { OceanHeader h; double x, x_dot, theta, theta_dot; int tick, max_steps;"
    " float episode_return; } CartpoleState;"
)

SPEC = {
    "description": "CartPole-v1 dynamics in C (same constants and termination as gymnasium)",
    "default_kwargs": {"num_envs": 1024},
    # Tuned on the 2-core CPU box: mean return 475 after about 1.2M steps (puffer-trainer's learning test).
    "train_config": {
        "train": {
            "total_timesteps": 10_000_000,
            "learning_rate": 0.005,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "ent_coef": 0.01,
            "vf_clip_coef": 10.0,
            "horizon": 16,
            "batch_size": 16384,
            "minibatch_size": 2048,
            "update_epochs": 2,
        },
        "vec": {"backend": "serial", "num_env_objects": 1},
        "policy": {"kind": "mlp", "hidden_size": 64, "lstm": False},
        # gymnasium's CartPole-v1 "solved" threshold (score = episode length here).
        "run": {"score_target": 475.0},
    },
}
