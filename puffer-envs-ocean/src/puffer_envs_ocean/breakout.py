"""``ocean/breakout``: paddle, ball and six rows of bricks, with frameskip."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._binding import _lib, ffi
from .env import OceanEnv

__all__ = ["Breakout", "SPEC", "NUM_BRICKS"]

#: Bricks on the wall: 6 rows x 16 columns, row-major from the top row.
NUM_BRICKS = 96


@functools.lru_cache(maxsize=1)
def _hooks() -> Any:
    ffi.cdef(
        "void ocean_breakout_set_state(void *env, float paddle_x, float ball_x, float ball_y, "
        "float ball_vx, float ball_vy, const uint8_t *bricks);"
    )
    return _lib()


class Breakout(OceanEnv):
    """Atari-style Breakout on a 160x192 playfield (y grows downwards).

    Each step repeats the action for ``frameskip`` physics frames (default 4). Actions: ``Discrete(3)``
    (0 noop, 1 left, 2 right); the ball is served automatically after a life is lost. Bricks score 7, 7, 4,
    4, 1, 1 points by row from the top and the reward is the points scored. The ball leaves the paddle at
    up to 60 degrees from vertical depending on where it hits, and speeds up after 4 and 12 paddle hits and
    on reaching the top two rows. Termination: all ``lives`` lost or all bricks broken. Truncation: after
    ``max_steps`` agent steps.

    Observation ``float32 [102]``: paddle x, ball x, ball y (normalised to [0, 1]), ball vx, vy (divided by
    the top speed), lives left / lives, then 96 brick states (1 standing, 0 broken).
    Logs ``score``, ``bricks`` (broken) and ``cleared`` (1 when the wall was cleared).
    """

    c_name = "breakout"
    # breakout.c is being rewritten on the ocean-breakout branch; final observations come with it
    keeps_final_observations = False

    def set_state(
        self,
        env_index: int = 0,
        *,
        paddle_x: float,
        ball_x: float,
        ball_y: float,
        ball_vx: float,
        ball_vy: float,
        bricks: Any = None,
    ) -> None:
        """Test hook: place paddle and ball (playfield pixels, px per frame) and optionally set the 96 bricks.

        Values are clamped into the playfield and the top speed (this is a test tool, not part of an episode).
        The observation of that instance is rewritten.
        """
        pointer = self.state_pointer(env_index, "void *")
        if bricks is None:
            brick_ptr = ffi.NULL
        else:
            array = np.ascontiguousarray(bricks, dtype=np.uint8).reshape(-1)
            if array.size != NUM_BRICKS:
                raise ValueError(f"bricks must hold {NUM_BRICKS} values, got {array.size}")
            brick_ptr = ffi.cast("uint8_t *", array.ctypes.data)
        _hooks().ocean_breakout_set_state(pointer, paddle_x, ball_x, ball_y, ball_vx, ball_vy, brick_ptr)


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": "Breakout with frameskip 4 (paddle, ball, 6x16 bricks); 1024 copies per env object",
    "default_kwargs": {"num_envs": 1024},
    # Tuned on one H100 by learning curves of configs trained side by side (puffer-trainer's
    # benchmarks/device_sweep.sh): 95% of the max score after 45-57M steps there (30-37 s), after 24M steps on
    # a 2-core CPU with 1024 agents (222 s). Notes:
    # * no observation normalization: the 96 brick bits are nearly constant while bricks stand, so a running
    #   std scales a broken brick up to about -10 and the endgame (few bricks left) trains about 10x slower;
    # * two hidden layers: with one layer of 128 the score was half the max where two layers had reached 95%
    #   (predicting where the ball lands takes the depth);
    # * rewards clipped to 1 (one per brick: clearing the wall is still the optimum), so the value loss keeps
    #   one scale from the first brick to the last;
    # * one epoch of 8 minibatches per 131k steps on a GPU (1 per 16k on a CPU): two epochs needed 40% fewer
    #   steps but ran 30% slower.
    # batch_size 0 = num_agents * horizon, so the same config fits 1024 agents (CPU) and 8192 (GPU). The
    # observation is Markov (it holds the ball velocity), so no LSTM is needed.
    "train_config": {
        "train": {
            "total_timesteps": 60_000_000,
            "learning_rate": 0.01,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "ent_coef": 0.01,
            "vf_coef": 0.5,
            "vf_clip_coef": 10.0,
            "reward_clip": 1.0,
            "normalize_obs": False,
            "prio_alpha": 0.0,
            "horizon": 16,
            "batch_size": 0,
            "minibatch_size": 16384,
            "update_epochs": 1,
        },
        "vec": {"backend": "serial", "num_envs": 1},
        "policy": {"kind": "mlp", "hidden_size": 128, "num_layers": 2, "lstm": False},
    },
}
