"""``ocean/pong``: PufferLib 3.0 ocean Pong, the agent's paddle against a ball-tracking paddle."""

from __future__ import annotations

from .env import OceanEnv

__all__ = ["Pong", "SPEC"]


class Pong(OceanEnv):
    """Pong by the rules of PufferLib 3.0's ocean Pong; the agent plays the right paddle.

    Field ``width`` x ``height`` (500 x 640), y growing upwards; positions are lower edges (the ball's x its
    left edge). Paddles are ``paddle_height`` (70) tall and move at most ``paddle_speed`` (8) per frame,
    clipped so that at most half a paddle leaves the field. The opponent (left) moves its centre towards the
    ball's lower edge at that same top speed. The ball (``ball_width`` x ``ball_height``, 32 x 32) moves
    ``ball_initial_speed_x`` (10) horizontally per frame, forever; past the top or bottom its vy flips.
    Beyond x < 0 it bounces off the opponent's paddle when they overlap in y, else the agent wins the point;
    beyond the right edge it bounces off the agent's paddle (vy += ``ball_speed_y_increment`` (3) times the
    paddle's direction, clamped to +-``ball_max_speed_y`` (13); ``|vy| < 0.01`` becomes the increment), else
    the opponent wins it. A serve centres both paddles and puts the ball at (width/5, height/2 - 16) going
    right, with vy = 0 or -``ball_initial_speed_y`` (1) at even odds. Each step repeats the action for
    ``frameskip`` (8) frames; a point ends the step early.

    Observation: ``float32 [8]`` in [0, 1]: opponent paddle y and agent paddle y, each
    ``(y + paddle_height/2) / height``; ball x / width; ball y / height (both clamped to [0, 1], the ball
    may overshoot an edge by one frame's move); ``(vx + vx0) / (2 vx0)`` (0 moving left, 1 right);
    ``(vy + vy_max) / (2 vy_max)``; opponent's points / max_score; agent's points / max_score.
    Actions: ``Discrete(3)``: 0 stay, 1 up, 2 down.
    Rewards per step: +0.1 when the agent returns the ball, +1 when it wins a point, -1 when it loses one
    (a point in the same step as a return replaces the 0.1).
    Episode end: terminal when either side reaches ``max_score`` (21) points; no time limit.
    Logs: ``score`` = agent's points - opponent's points, ``perf`` = points won / points played,
    ``episode_return`` (sum of rewards, returns included), ``episode_length`` (steps).
    """

    c_name = "pong"


#: the C struct, for tests that set a state explicitly
STATE_CDEF = (
    "typedef struct { OceanHeader h; float agent_y, opp_y; float bx, by, vx, vy;"
    " int points, opp_points, tick; float episode_return;"
    " float width, height, paddle_w, paddle_h, ball_w, ball_h, speed, vx0, vy0, vy_inc, vy_max;"
    " int max_score, frameskip;"
    " float paddle_lo, paddle_hi, half_paddle, bx_hi, by_hi;"
    " float inv_width, inv_height, inv_paddle_range, inv_vy_range, inv_max_score; } PongState;"
)

SPEC = {
    "description": "PufferLib 3.0 ocean Pong vs a ball-tracking paddle (features, frameskip 8)",
    "default_kwargs": {"num_envs": 1024},
    # Tuned on the 2-core CPU box: from perf 0 / score -21 (random) to perf 0.59 / score +5.8 in 4M steps
    # (2.4 min); the old config (lr 0.003, ent 0.01, gamma 0.99, 1 epoch) stalled at perf 0 on this game.
    "train_config": {
        "train": {
            "total_timesteps": 10_000_000,
            "learning_rate": 0.01,
            "gamma": 0.97,
            "gae_lambda": 0.9,
            "ent_coef": 0.02,
            "horizon": 64,
            "batch_size": 65536,
            "minibatch_size": 8192,
            "update_epochs": 2,
        },
        "vec": {"backend": "serial", "num_env_objects": 1},
        "policy": {"kind": "mlp", "hidden_size": 128, "lstm": False},
    },
}
