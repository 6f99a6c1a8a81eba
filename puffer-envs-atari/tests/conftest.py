import numpy as np
import pytest

import puffer_core

ENGINES = ("ale_vector", "python")


def make(game: str = "breakout", engine: str = "ale_vector", seed: int | None = 0, **kwargs):
    return puffer_core.make(f"atari/{game}", seed=seed, engine=engine, **kwargs)


def rollout(env, steps: int, seed: int = 0):
    """Step ``env`` (already reset) with seeded random actions; return copies of everything it returned."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        actions = rng.integers(0, env.single_action_space.n, size=env.num_agents, dtype=np.int32)
        obs, rew, term, trunc, infos = env.step(actions)
        out.append((obs.copy(), rew.copy(), term.copy(), trunc.copy(), infos))
    return out


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param
