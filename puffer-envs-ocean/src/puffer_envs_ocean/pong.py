"""``ocean/pong``: Pong against a scripted opponent, on compact features."""

from __future__ import annotations

from .env import OceanEnv

__all__ = ["Pong", "SPEC"]


class Pong(OceanEnv):
    """The agent's paddle (right) against a scripted paddle (left) that tracks the ball at ``opponent_speed``.

    Observation: ``float32 [8]`` in [-1, 1]: own paddle y, opponent paddle y, ball x, ball y, ball vx,
    ball vy, own score and opponent score (scaled). Actions: ``Discrete(3)`` (0 stay, 1 up, 2 down).
    Reward +1 per point won, -1 per point lost; terminal when a side reaches ``max_score``; truncation
    after ``max_steps``.
    Logs ``score``, ``opponent_score``, ``win`` and ``hits`` (returns by the agent's paddle).
    """

    c_name = "pong"


STATE_CDEF = (
    "typedef struct { OceanHeader h; float paddle_y, opp_y; float bx, by, vx, vy;"
    " int score, opp_score, tick, hits; float episode_return; int max_score, frameskip, max_steps;"
    " float opp_speed; float inv_max_score; } PongState;"
)

SPEC = {
    "description": "Pong vs a scripted opponent (features, not pixels)",
    "default_kwargs": {"num_envs": 1024},
    "train_config": {
        "train": {
            "total_timesteps": 20_000_000,
            "learning_rate": 0.003,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "ent_coef": 0.01,
            "horizon": 64,
            "batch_size": 65536,
            "minibatch_size": 16384,
            "update_epochs": 1,
        },
        "vec": {"backend": "serial", "num_envs": 1},
        "policy": {"kind": "mlp", "hidden_size": 128, "lstm": False},
    },
}
