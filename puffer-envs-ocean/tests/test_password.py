import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core


def test_common_checks():
    check_all("ocean/password", num_envs=8)


def test_spaces():
    env = puffer_core.make("ocean/password", num_envs=2, length=6)
    assert env.single_observation_space.shape == (9,)
    assert env.single_action_space.n == 2


def play(env, answer_for):
    """Play one episode per instance; answer_for(code, j) gives the bit typed at answer step j."""
    obs, _ = env.reset()
    length = env.params["length"]
    codes = obs[:, :length].astype(np.int64) - 1
    assert ((codes == 0) | (codes == 1)).all(), "the code is shown at the first step"
    while True:
        answering = obs[:, length] == 1
        index = obs[:, length + 1].astype(np.int64)
        actions = np.zeros(env.num_agents, dtype=np.int32)
        for i in np.flatnonzero(answering):
            actions[i] = answer_for(codes[i], index[i])
        obs, rewards, terminals, truncations, infos = env.step(actions)
        if terminals.any():
            assert terminals.all() and not truncations.any()
            return rewards.copy(), env.flush_log() + infos


def test_right_code_is_rewarded():
    env = puffer_core.make("ocean/password", num_envs=64, seed=0, length=5, delay=3)
    rewards, infos = play(env, lambda code, j: code[j])
    assert (rewards == 1.0).all()
    assert infos[0]["score"] == 1.0 and infos[0]["bits_correct"] == 1.0
    assert infos[0]["episode_length"] == 1 + 3 + 5


@pytest.mark.parametrize("wrong_bit", [0, 2, 4])
def test_any_wrong_bit_gets_nothing(wrong_bit):
    env = puffer_core.make("ocean/password", num_envs=64, seed=0, length=5, delay=3)
    rewards, infos = play(env, lambda code, j: code[j] ^ (j == wrong_bit))
    assert (rewards == 0.0).all()
    assert infos[0]["score"] == 0.0 and infos[0]["bits_correct"] == pytest.approx(0.8)


def test_code_is_hidden_after_the_first_step():
    env = puffer_core.make("ocean/password", num_envs=256, seed=3, length=4, delay=2)
    env.reset()
    seen = []
    for _ in range(6):
        obs, *_ = env.step(np.zeros(256, dtype=np.int32))
        seen.append(obs.copy())
    # after step 0, every instance shows the same observation whatever its code, until the next episode
    for obs in seen[:-1]:
        assert (obs == obs[0]).all()


def test_memoryless_policy_is_at_chance():
    """The best function of the current observation types the same bits for every code."""
    length = 4
    env = puffer_core.make("ocean/password", num_envs=4096, seed=5, length=length, delay=2)
    rewards, _ = play(env, lambda code, j: 1)
    assert rewards.mean() == pytest.approx(2.0**-length, abs=0.02)


def test_codes_are_uniform():
    env = puffer_core.make("ocean/password", num_envs=4096, seed=2, length=8)
    obs, _ = env.reset()
    bits = obs[:, :8] - 1
    assert abs(bits.mean() - 0.5) < 0.02
    assert len({row.tobytes() for row in bits}) > 200


def test_final_observation_is_the_one_after_the_last_answer():
    """The episode ends after the last bit is typed: its final observation has no code, the answer flag,
    and the answer index one past the last bit; the observation next to it already shows the next code."""
    env = puffer_core.make("ocean/password", num_envs=4, seed=2, length=5, delay=3)
    obs, _ = env.reset()
    for t in range(1 + 3 + 5):
        obs, _, terminals, _, _ = env.step(np.zeros(4, dtype=np.int32))
        assert terminals.all() == (t == 8)
    want = np.array([0, 0, 0, 0, 0, 1, 5, 0], dtype=np.uint8)
    np.testing.assert_array_equal(env.final_observations, np.tile(want, (4, 1)))
    assert np.all(obs[:, :5] > 0) and np.all(obs[:, 5:] == 0)  # the next episode's code
