"""Helpers the tests run in worker processes (importable by name, as ``spawn`` needs)."""

import numpy as np

import puffer_core


def construct_and_step(games: list[str]) -> list[str]:
    """Make, reset and step each game with its first four actions; return one line per failing game."""
    failures = []
    for game in games:
        try:
            env = puffer_core.make(f"atari/{game}", engine="python")
            obs, _ = env.reset()
            assert obs.shape == (1, 4, 84, 84)
            for action in range(min(env.single_action_space.n, 4)):
                obs, rew, *_ = env.step(np.array([action], dtype=np.int32))
            assert env.single_observation_space.contains(obs[0]) and np.isfinite(rew).all()
            env.close()
        except Exception as error:  # collect them all: one message naming every failing game
            failures.append(f"{game}: {error!r}")
    return failures
