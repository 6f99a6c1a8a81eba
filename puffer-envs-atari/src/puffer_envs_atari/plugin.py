"""puffer-core plugin: registers every game ale-py ships as ``atari/<game>`` (entry point ``puffer.envs``).

Each id makes :func:`make_atari` for its game. The default kwargs are :class:`AtariOptions`'s defaults on
the ``ale_vector`` engine; the training config (:data:`TRAIN_CONFIG`) is the PPO paper's Atari setup on the
trainer's CNN policy.
"""

from __future__ import annotations

import functools
from typing import Any

import puffer_core

from .env import AtariEnv
from .games import games
from .options import ENGINES, AtariOptions

__all__ = ["make_atari", "puffer_env_specs", "DEFAULT_KWARGS", "TRAIN_CONFIG"]

DEFAULT_KWARGS: dict[str, Any] = {"engine": "ale_vector", "num_envs": 1, **AtariOptions().as_dict()}

#: The trainer sections every ``atari/<game>`` registers: PPO's Atari hyperparameters (Schulman et al.
#: 2017, as in CleanRL's ppo_atari): 4 epochs, lr annealed, clip 0.1, entropy 0.01, rewards clipped to
#: [-1, 1], lives as episodes, the Nature-DQN CNN with a 512-wide hidden layer, uniform minibatches (no
#: prioritization). Two changes, for the emulator's sake: 128 games of 64 steps per update (an 8,192-step
#: batch) instead of 8 x 128, because ale-py steps a batch of games at the speed of its slowest thread
#: and 32 games left most of 16 emulator threads waiting; and minibatches of 1,024 at lr 5e-4 instead of
#: 256 at 2.5e-4 (one gradient step per 256 samples instead of per 64). On one H200, Breakout
#: (2026-11-30, benchmarks/results/config_probe_h200_2026-11-30): this config on 8 cores ran 6.3k agent
#: steps/s and scored 19 after 0.8M steps, 24 after 1M and 106 after 2.7M; the paper's layout (32 games,
#: minibatch 256) on all 16 cores ran 4.4k steps/s and scored 21.6 after 0.9M.
TRAIN_CONFIG: dict[str, Any] = {
    "train": {
        "total_timesteps": 10_000_000,
        "learning_rate": 5e-4,
        "anneal_lr": True,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_coef": 0.1,
        "vf_coef": 0.5,
        "vf_clip_coef": 0.1,
        "ent_coef": 0.01,
        "max_grad_norm": 0.5,
        "update_epochs": 4,
        "horizon": 64,
        "minibatch_size": 1024,
        "prio_alpha": 0.0,
        "adam_eps": 1e-5,
        "reward_clip": 1.0,
    },
    "vec": {"backend": "serial", "num_env_objects": 1},
    "env": {"num_envs": 128, "episodic_life": True},
    "policy": {"kind": "cnn", "hidden_size": 512, "lstm": False},
    # On a GPU the rollout's policy step and the optimizer step replay CUDA graphs: the same arithmetic with
    # fewer kernel launches. On one H200 with 16 cores (Breakout, 2026-12-01, benchmarks/epoch_variants.txt)
    # an 8,192-step epoch went from 10.9k to 11.5k agent steps/s, inference from 45 to 4 ms of it.
    "cuda": {"train": {"cuda_graphs": True}},
}


def make_atari(
    game: str,
    buf: Any = None,
    seed: int | None = None,
    engine: str = "ale_vector",
    num_envs: int = 1,
    **kwargs: Any,
) -> AtariEnv:
    """Make ``num_envs`` copies of ``game`` on ``engine`` (see :data:`~puffer_envs_atari.options.ENGINES`).

    ``kwargs`` are :class:`AtariOptions` fields and the engine's own (``num_threads`` for ``ale_vector``,
    ``render_mode`` for ``python``).
    """
    if engine == "ale_vector":
        from .vector_engine import AleVectorAtari

        return AleVectorAtari(game, num_envs, buf=buf, seed=seed, **kwargs)
    if engine == "python":
        from .python_engine import PythonAtari

        return PythonAtari(game, num_envs, buf=buf, seed=seed, **kwargs)
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


@puffer_core.hookimpl
def puffer_env_specs() -> list[puffer_core.EnvSpec]:
    return [
        puffer_core.EnvSpec(
            id=f"atari/{game}",
            creator=functools.partial(make_atari, game),
            default_kwargs=dict(DEFAULT_KWARGS),
            train_config=TRAIN_CONFIG,
            description=f"Atari {game} (ale-py): 84x84 grayscale, frame skip 4, stack 4, sticky actions",
        )
        for game in games()
    ]
