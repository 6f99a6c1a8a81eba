import gymnasium
import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean._binding import state_type
from puffer_envs_ocean.cartpole import STATE_CDEF


def cartpole_state():
    return state_type(STATE_CDEF, "CartpoleState")


def test_common_checks():
    check_all("ocean/cartpole", num_envs=8)


def test_spaces_match_gymnasium():
    env = puffer_core.make("ocean/cartpole", num_envs=2)
    reference = gymnasium.make("CartPole-v1")
    assert env.single_observation_space == reference.observation_space
    assert env.single_action_space == reference.action_space


def set_state(env, state, values):
    state.x, state.x_dot, state.theta, state.theta_dot = (float(v) for v in values)
    state.tick = 0
    state.episode_return = 0.0
    env.observations[0] = np.asarray(values, dtype=np.float32)


def balancing_policy(obs):
    return int(obs[2] + 0.3 * obs[3] + 0.01 * obs[1] > 0)


@pytest.mark.parametrize(
    "start, policy",
    [
        ("reset", "random"),
        ("reset", "balance"),  # long episodes: truncation at 500
        ("edge", "right"),  # the cart leaves the track: x termination
        ("tilted", "random"),  # the pole falls: theta termination
    ],
)
def test_trajectories_match_gymnasium(start, policy):
    reference = gymnasium.make("CartPole-v1")
    env = puffer_core.make("ocean/cartpole", num_envs=1, seed=0, log_interval=1)
    env.reset()
    state = env.state_pointer(0, cartpole_state())
    rng = np.random.default_rng(42)
    endings = {"terminal": 0, "truncated": 0}
    for episode in range(6):
        gobs, _ = reference.reset(seed=episode)
        if start == "edge":
            reference.unwrapped.state = np.array([2.3, 0.5, 0.0, 0.0]) + rng.uniform(-0.01, 0.01, 4)
        elif start == "tilted":
            reference.unwrapped.state = np.array([0.0, 0.0, 0.15, 0.5]) + rng.uniform(-0.01, 0.01, 4)
        initial = np.array(reference.unwrapped.state, dtype=np.float64)
        set_state(env, state, initial)
        gobs = initial.astype(np.float32)
        for t in range(1, 502):
            if policy == "random":
                action = int(rng.integers(0, 2))
            elif policy == "right":
                action = 1
            else:
                action = balancing_policy(gobs)
            # start every step from gymnasium's exact state, so that last-bit differences of cos/sin
            # cannot accumulate over hundreds of steps: each step's dynamics are then compared tightly
            state.x, state.x_dot, state.theta, state.theta_dot = (float(v) for v in reference.unwrapped.state)
            gobs, greward, gterminated, gtruncated, _ = reference.step(action)
            obs, rewards, terminals, truncations, infos = env.step(np.array([action], dtype=np.int32))
            assert rewards[0] == greward == 1.0
            assert bool(terminals[0]) == gterminated, f"episode {episode} step {t}"
            if gterminated or gtruncated:
                # CartPole-v1 can report both at step 500; Ocean reports the termination only
                assert bool(truncations[0]) == (gtruncated and not gterminated)
                assert infos and infos[0]["episode_length"] == t and infos[0]["episode_return"] == t
                endings["terminal" if gterminated else "truncated"] += 1
                if gterminated:
                    x = reference.unwrapped.state[0]
                    assert infos[0]["out_of_bounds"] == float(abs(x) > 2.4)
                break
            assert not truncations[0]
            np.testing.assert_allclose(obs[0], gobs, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(
                [state.x, state.x_dot, state.theta, state.theta_dot],
                reference.unwrapped.state,
                rtol=1e-12,
                atol=1e-15,
            )
        else:
            pytest.fail("no episode end within 501 steps")
    if policy == "balance":
        assert endings["truncated"] > 0, "the balancing policy should reach the time limit"
    else:
        assert endings["terminal"] == 6


def test_free_running_trajectory_stays_close():
    """Without resynchronising, the same actions from the same state give the same episode."""
    reference = gymnasium.make("CartPole-v1")
    env = puffer_core.make("ocean/cartpole", num_envs=1, seed=0, log_interval=1)
    env.reset()
    state = env.state_pointer(0, cartpole_state())
    gobs, _ = reference.reset(seed=3)
    set_state(env, state, reference.unwrapped.state)
    rng = np.random.default_rng(0)
    steps = 0
    for _ in range(500):
        action = int(rng.integers(0, 2))
        steps += 1
        gobs, _, gterminated, _, _ = reference.step(action)
        obs, _, terminals, _, _ = env.step(np.array([action], dtype=np.int32))
        assert bool(terminals[0]) == gterminated
        if gterminated:
            break
        np.testing.assert_allclose(obs[0], gobs, rtol=1e-4, atol=1e-6)
    assert gterminated and steps > 5


def test_reset_distribution():
    env = puffer_core.make("ocean/cartpole", num_envs=4000, seed=1)
    obs, _ = env.reset()
    assert obs.min() >= -0.05 and obs.max() < 0.05
    assert abs(obs.mean()) < 0.002 and obs.std() == pytest.approx(0.1 / np.sqrt(12), rel=0.05)


def test_max_steps_param():
    env = puffer_core.make("ocean/cartpole", num_envs=1, seed=0, max_steps=3, log_interval=1)
    env.reset()
    state = env.state_pointer(0, cartpole_state())
    set_state(env, state, [0.0, 0.0, 0.0, 0.0])
    for t in range(3):
        _, _, terminals, truncations, infos = env.step(np.array([t % 2], dtype=np.int32))
    assert truncations[0] and not terminals[0] and infos[0]["episode_length"] == 3


def test_final_observation_is_the_state_that_ended_the_episode():
    """Truncated: the final observation is the state a longer episode of the same seed shows at that step,
    which is what bootstrapping needs. Terminated: it is past one of the termination limits (the reset
    state, within 0.05 of zero, never is)."""
    short = puffer_core.make("ocean/cartpole", num_envs=16, seed=5, max_steps=30)
    long = puffer_core.make("ocean/cartpole", num_envs=16, seed=5, max_steps=1000)
    short.reset()
    long.reset()
    actions = np.zeros(16, dtype=np.int32)
    for t in range(30):
        actions[:] = t % 2  # alternate pushes: most poles stay up for 30 steps
        _, _, terminals, truncations, _ = short.step(actions)
        long_obs = long.step(actions)[0]
        if t < 29:
            assert not truncations.any()
    assert not terminals.any()
    truncated = int(truncations.sum())
    assert truncated >= 8
    np.testing.assert_array_equal(short.final_observations[truncations], long_obs[truncations])
    assert not np.array_equal(short.observations[truncations], long_obs[truncations])

    rng = np.random.default_rng(0)
    terminated = 0
    for _ in range(300):
        _, _, terminals, truncations, _ = long.step(rng.integers(0, 2, 16, dtype=np.int32))
        final = long.final_observations[terminals].astype(np.float64)
        out_x = np.abs(final[:, 0]) > 2.4
        out_theta = np.abs(final[:, 2]) > 12 * 2 * np.pi / 360 - 1e-7  # float32 rounding of the limit
        assert np.all(out_x | out_theta)
        assert np.all(np.abs(long.observations[terminals]) <= 0.05)
        terminated += int(terminals.sum())
    assert terminated > 50
