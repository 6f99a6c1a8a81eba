"""``ocean/breakout``: PufferLib 3.0 ocean's Breakout (576x330, two walls of 6x18 bricks), frameskip 4."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ._binding import _lib, ffi
from .env import OceanEnv

__all__ = ["Breakout", "SPEC", "NUM_BRICKS", "MAX_SCORE"]

#: Bricks of the default wall: 6 rows x 18 columns, row-major from the top row.
NUM_BRICKS = 108
#: Points of the default game: two walls of 6 x 18 bricks worth 7, 7, 4, 4, 1, 1 by row.
MAX_SCORE = 864


@functools.lru_cache(maxsize=1)
def _hooks() -> Any:
    ffi.cdef(
        "void ocean_breakout_set_state(void *env, float paddle_x, float ball_x, float ball_y, float vx, "
        "float vy, float speed, float paddle_width, int hits, int score, int balls, const uint8_t *standing);"
    )
    return _lib()


class Breakout(OceanEnv):
    """Breakout with the rules and numbers of PufferLib 3.0's ocean Breakout.

    Field ``width`` x ``height`` = 576 x 330 px (y grows downwards). The wall: ``brick_rows`` x
    ``brick_cols`` = 6 x 18 bricks of 32 x 12 px from y = 50, worth 7, 7, 4, 4, 1, 1 points by row from the
    top. The paddle (62 x 8 px) runs 10 px above the bottom at 620 px/s; the ball is 32 x 32 px. The game
    runs at 60 frames per second and each agent step repeats its action for ``frameskip`` = 4 frames.

    * Actions ``Discrete(3)``: 0 stay, 1 left, 2 right. (The reference's ``continuous`` Box action is not
      offered: our action contract is integer Discrete/MultiDiscrete only.)
    * Each ball starts above the middle of a full-width, centred paddle and is served on the next frame
      (that frame ignores the action) at pi/3.25 off vertical, downwards, to the left or right at random,
      at 256 px/s. Every 4th paddle hit of a ball adds 64 px/s up to 448 px/s; breaking a brick of the top
      three rows sets 448 px/s at once (a new speed applies from the next paddle hit). The paddle sends the
      ball off at 45 degrees x (2 * where - 1) from vertical, where = (ball x + 16 - paddle x) / paddle
      width. The paddle's width halves when the ball reaches the back wall, until the next ball.
    * Collisions are swept per frame; the first face crossed wins; a brick hit breaks the brick and
      mirrors the ball at the contact point.
    * The wall is built once more (a second wall) when the ball meets the paddle after the first wall is
      cleared: max score 2 x 432 = 864.
    * Reward: the points of the bricks broken in the step (7, 4 or 1 each).
    * Terminal: the sixth ball is lost (5 spare balls) or both walls are cleared. Truncation (not in the
      reference, which has no time limit): ``max_steps`` = 27000 agent steps (108k frames, ALE's limit).

    Observation ``float32 [10 + rows * cols]`` (118 by default), the reference's order and scaling:
    paddle x / width, paddle y / height, ball x / width, ball y / height, ball vx / 512, ball vy / 512
    (velocities in px per frame), served / 5 (0.2 once the ball is in play, 0 before its serve), score /
    max score (= score / 864), spare balls / 5, paddle width / full width (1 or 0.5), then one value per
    brick: 0 standing, 1 broken. Ball x is capped at 1 (the reference's ball can slip a step past the right
    wall in a corner case).

    Logs ``episode_return`` (= ``score``), ``episode_length`` (agent steps; the reference counts frames),
    ``score`` and ``perf`` = score / max score (864).
    """

    c_name = "breakout"

    def set_state(
        self,
        env_index: int = 0,
        *,
        paddle_x: float = math.nan,
        ball_x: float = math.nan,
        ball_y: float = math.nan,
        ball_vx: float = math.nan,
        ball_vy: float = math.nan,
        speed: float = math.nan,
        paddle_width: float = math.nan,
        hits: int = -1,
        score: int = -1,
        balls: int = -1,
        bricks: Any = None,
    ) -> None:
        """Test hook: set parts of instance ``env_index``'s game; what is not given stays as it is.

        Positions in px, velocities in px per frame, ``speed`` in px/s (used from the next paddle hit),
        ``hits`` paddle hits of this ball, ``balls`` spare balls, ``bricks`` one value per brick (1 standing,
        row-major from the top). Values are clamped into the field; the ball counts as served. The
        instance's observation is rewritten.
        """
        pointer = self.state_pointer(env_index, "void *")
        if bricks is None:
            standing = ffi.NULL
        else:
            array = np.ascontiguousarray(bricks, dtype=np.uint8).reshape(-1)
            expected = int(self.params["brick_rows"]) * int(self.params["brick_cols"])
            if array.size != expected:
                raise ValueError(f"bricks must hold {expected} values, got {array.size}")
            standing = ffi.cast("uint8_t *", array.ctypes.data)
        _hooks().ocean_breakout_set_state(
            pointer, paddle_x, ball_x, ball_y, ball_vx, ball_vy, speed, paddle_width, hits, score, balls,
            standing,
        )


#: Registration defaults read by ``puffer_envs_ocean.plugin``.
SPEC = {
    "description": (
        "Breakout as in PufferLib 3.0 ocean (576x330, two walls of 6x18 bricks, max score 864), frameskip 4; "
        "1024 copies per env object"
    ),
    "default_kwargs": {"num_envs": 1024},
    # The reference's own breakout hyperparameters (its breakout.ini: Muon, gamma 0.9997, prioritized
    # replay, V-trace clipping, 8192 agents, horizon 64), with an LSTM policy sized per device. No
    # observation normalization: the brick values never change while bricks stand, so a running std blows
    # up the first broken brick (the velocities, px/frame / 512 as in the reference, stay tiny).
    #
    # On the CPU: a 64-wide encoder and LSTM, a quarter of the reference's 128-wide LSTM's compute per step.
    # On a 2-core VM (2026-11-30, puffer-trainer's benchmarks/results/cpu_as_typed_to_perf_0.5_2026-11-30.txt)
    # it reached perf 0.5 at 652 s (50.6M steps, 78k SPS), the reference 1744 s (55.3M, ~32k SPS). Before,
    # an MLP with Adam ran 67k SPS but scored 0.24 after 60M steps; the same MLP with these hyperparameters
    # 0.03 after 55M; the 128-wide LSTM reached 0.5 at 1937 s (51.1M steps, 26k SPS).
    "train_config": {
        "train": {
            "total_timesteps": 90_000_000,
            "optimizer": "muon",
            "learning_rate": 0.0445,
            "gamma": 0.9997,
            "gae_lambda": 0.7477,
            "clip_coef": 0.197,
            "ent_coef": 0.00057,
            "vf_coef": 1.683,
            "vf_clip_coef": 2.178,
            "max_grad_norm": 2.236,
            "prio_alpha": 0.99,
            "prio_beta0": 0.1,
            "vtrace_rho_clip": 0.788,
            "vtrace_c_clip": 2.878,
            "adam_beta1": 0.895,
            "adam_beta2": 0.9,
            "adam_eps": 1e-4,
            "reward_clip": 1.0,
            "normalize_obs": False,
            "horizon": 64,
            "batch_size": 0,
            "minibatch_size": 32768,
            "update_epochs": 1,
        },
        "env": {"num_envs": 8192},
        "vec": {"backend": "serial", "num_env_objects": 1},
        "policy": {
            "kind": "mlp", "hidden_size": 64, "num_layers": 1, "lstm": True, "lstm_hidden_size": 64
        },  # fmt: skip
        # perf 0.95 (the reference's solve threshold): 0.95 * 864
        "run": {"score_target": 820.8},
        # On a GPU: the reference's 128-wide LSTM. Side by side on 2 H200s (puffer-trainer's
        # benchmarks/sweeps/sweep4.txt, 8 runs per GPU, 90M steps, 2026-11-30), 4 of 4 such runs passed
        # perf 0.95 at 64-75M steps (the reference: 72-81M); MLP policies and Adam stayed far below it. The
        # agents live in 8 env objects stepped by worker processes (as the reference's 8 x 1024), and the
        # rollout step is a CUDA graph, in fp32: on one H200 (2026-11-30, the trainer's
        # benchmarks/epoch_variants.txt) graphs took collection from 227 to 176 ms an epoch, fp32 instead of
        # bf16 to 131 ms, 8 workers to 114.
        "cuda": {
            "env": {"num_envs": 1024},
            "vec": {"backend": "multiprocessing", "num_env_objects": 8},
            "train": {"torch_threads": 1, "cuda_graphs": True},
            "policy": {"hidden_size": 128, "lstm_hidden_size": 128},
        },
    },
}
