import numpy as np
import pytest
from puffer_envs_example import Corridor

import puffer_core


def test_walking_right_reaches_the_goal_and_pays_one():
    env = Corridor(num_agents=3, length=5, max_steps=50, seed=0)
    env.reset()
    right = np.ones(3, dtype=np.int32)
    arrived = np.zeros(3, dtype=bool)
    finished = []
    for _ in range(4):
        _, rewards, terminals, truncations, infos = env.step(right)
        finished += infos
        arrived |= terminals
        assert not truncations.any()
        assert np.array_equal(rewards, terminals.astype(np.float32))
        assert len(infos) == terminals.sum()
    # every walker started left of the goal (at most 4 cells away), so each arrived within 4 steps
    assert arrived.all() and len(finished) >= 3
    assert all(info["episode_return"] == 1.0 for info in finished)
    assert all(1 <= info["episode_length"] <= 4 for info in finished)

def test_standing_at_the_wall_is_truncated_not_terminated():
    env = Corridor(num_agents=2, length=4, max_steps=3, seed=1)
    env.reset()
    left = np.zeros(2, dtype=np.int32)
    for _ in range(2):
        _, _, terminals, truncations, infos = env.step(left)
        assert not terminals.any() and not truncations.any() and infos == []
    obs, rewards, terminals, truncations, infos = env.step(left)
    assert truncations.all() and not terminals.any() and not rewards.any()
    assert [info["episode_length"] for info in infos] == [3.0, 3.0]


def test_same_seed_same_trajectory():
    def run(seed):
        env = Corridor(num_agents=4, length=6, seed=seed)
        out = [env.reset()[0].copy()]
        rng = np.random.default_rng(123)
        for _ in range(40):
            out.append(env.step(rng.integers(0, 2, 4).astype(np.int32))[0].copy())
        return np.stack(out)

    assert np.array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_bad_actions_are_refused():
    env = Corridor(num_agents=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.array([0, 2]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.array([0, 1, 1]))


def test_discovered_through_the_entry_point():
    # Requires this package to be installed (pip install .): that is the point of the example.
    registry = puffer_core.registry.Registry()
    spec = registry.spec("example/corridor")
    assert spec.plugin == "example"
    env = registry.make("example/corridor", seed=0, num_agents=2)
    assert isinstance(env, Corridor) and env.num_agents == 2
    assert env.reset()[0].shape == (2, 1)
