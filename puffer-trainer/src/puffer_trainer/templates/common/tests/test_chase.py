"""The rules of myenvs/chase, its seeding, its input checks and its registration through the entry point."""

import numpy as np
import pytest
from puffer_envs_myenvs import Chase

import puffer_core

RIGHT, LEFT, DOWN, UP, STAY = 4, 3, 2, 1, 0


def greedy(obs: np.ndarray, size: int) -> np.ndarray:
    """Step toward the target: along x first, then y."""
    cells = np.rint(obs * (size - 1)).astype(np.int64)
    dx, dy = cells[:, 2] - cells[:, 0], cells[:, 3] - cells[:, 1]
    return np.select([dx > 0, dx < 0, dy > 0, dy < 0], [RIGHT, LEFT, DOWN, UP], STAY).astype(np.int32)


def episodes(infos: list[dict[str, float]]) -> float:
    return sum(info.get("n", 1.0) for info in infos)


def test_walking_to_the_target_ends_the_episode_with_reward_one():
    size = 6
    env = Chase(num_agents=16, size=size, max_steps=100, seed=0)
    obs, _ = env.reset()
    assert obs.shape == (16, 4) and obs.dtype == np.float32
    assert ((obs >= 0) & (obs <= 1)).all()
    assert (obs[:, :2] != obs[:, 2:]).any(axis=1).all()  # never starts on its target
    reached = np.zeros(16, dtype=bool)
    returns = []
    for _ in range(2 * (size - 1)):  # the longest shortest path on the grid
        _, rewards, terminals, truncations, infos = env.step(greedy(obs, size))
        assert not truncations.any()
        assert np.array_equal(rewards, terminals.astype(np.float32))
        assert episodes(infos) == terminals.sum()
        returns += [(info["episode_return"], info["score"], info.get("n", 1.0)) for info in infos]
        reached |= terminals
    assert reached.all()
    assert all(ret == 1.0 and score == 1.0 for ret, score, _ in returns)


def test_final_observation_shows_the_agent_on_its_target():
    size = 4
    env = Chase(num_agents=8, size=size, max_steps=100, seed=1)
    obs, _ = env.reset()
    for _ in range(2 * (size - 1)):
        obs, _, terminals, _, _ = env.step(greedy(obs, size))
        final = env.final_observations[terminals]
        assert np.array_equal(final[:, :2], final[:, 2:])  # ended on the target cell
        fresh = obs[terminals]
        assert (fresh[:, :2] != fresh[:, 2:]).any(axis=1).all()  # the next episode already began


def test_standing_still_is_truncated_not_terminated():
    env = Chase(num_agents=5, size=5, max_steps=3, seed=2)
    env.reset()
    stay = np.zeros(5, dtype=np.int32)
    for _ in range(2):
        _, _, terminals, truncations, infos = env.step(stay)
        assert not terminals.any() and not truncations.any() and infos == []
    _, rewards, terminals, truncations, infos = env.step(stay)
    assert truncations.all() and not terminals.any() and not rewards.any()
    assert episodes(infos) == 5
    assert all(info["episode_length"] == 3.0 and info["score"] == 0.0 for info in infos)


def test_walls_stop_the_agent():
    env = Chase(num_agents=32, size=3, max_steps=50, seed=3)
    obs, _ = env.reset()
    for _ in range(4):  # far more left moves than the grid is wide
        obs, _, terminals, _, _ = env.step(np.full(32, LEFT, dtype=np.int32))
        walking = ~terminals
        assert (obs[walking, 0] >= 0).all()
    assert (obs[walking, 0] == 0).all()  # every agent still walking stands at the left wall


def test_same_seed_same_trajectory():
    def run(seed):
        env = Chase(num_agents=8, size=5, seed=seed)
        out = [env.reset()[0].copy()]
        rng = np.random.default_rng(123)
        for _ in range(50):
            out.append(env.step(rng.integers(0, 5, 8).astype(np.int32))[0].copy())
        out.append(env.reset()[0].copy())  # a later reset without a seed continues the seeded stream
        return np.stack(out)

    assert np.array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))
    env = Chase(num_agents=4, seed=0)
    assert np.array_equal(env.reset(seed=11)[0].copy(), env.reset(seed=11)[0])


def test_bad_input_is_refused_with_a_clear_error():
    env = Chase(num_agents=2, seed=0)
    env.reset()
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.array([0, 5]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.array([0, 1, 1]))
    env.actions[:] = [0, -1]  # what a vectorizer writes is not checked by write_actions: the env checks it
    with pytest.raises(ValueError, match="agent 1 is -1"):
        env.step(env.actions)
    for kwargs in ({"size": 1}, {"max_steps": 0}, {"num_agents": 0}, {"size": 2.5}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            Chase(**kwargs)


def test_registered_and_vectorized_through_puffer_core():
    spec = puffer_core.spec("myenvs/chase")
    assert spec.train_config is not None
    env = puffer_core.make("myenvs/chase", seed=0, num_agents=3)
    assert isinstance(env, Chase) and env.reset()[0].shape == (3, 4)
    vec = puffer_core.vector.make(
        "myenvs/chase", num_envs=2, backend="serial", env_kwargs={"num_agents": 4}
    )
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (8, 4)
    for _ in range(5):
        vec.send(np.ones(8, dtype=np.int32))
        obs, rewards, terminals, truncations, *_ = vec.recv()
        assert rewards.shape == (8,) and terminals.dtype == bool and truncations.dtype == bool
    vec.close()
