import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean._binding import state_type

STAY, UP, DOWN, LEFT, RIGHT = range(5)


def squared_state():
    return state_type(
        "typedef struct { OceanHeader h; int size, max_steps; int ax, ay, tx, ty; int tick;"
        " float episode_return; } SquaredState;",
        "SquaredState",
    )


def test_common_checks():
    check_all("ocean/squared", num_envs=8)


def test_spaces():
    env = puffer_core.make("ocean/squared", num_envs=3, size=7)
    assert env.single_observation_space.shape == (7, 7)
    assert env.single_observation_space.dtype == np.uint8
    assert env.single_action_space.n == 5
    assert env.num_agents == 3


def test_reaching_target_rewards_and_terminates():
    env = puffer_core.make("ocean/squared", num_envs=1, size=5, seed=0, log_interval=1)
    obs, _ = env.reset()
    s = env.state_pointer(0, squared_state())
    assert (s.ax, s.ay) == (2, 2)
    assert obs[0, 2, 2] == 1 and (obs[0] == 2).sum() == 1
    # put the target right of the agent (keeping the observation consistent)
    obs[0][obs[0] == 2] = 0
    s.tx, s.ty = 3, 2
    obs[0, 2, 3] = 2
    _, rewards, terminals, truncations, infos = env.step(np.array([RIGHT], dtype=np.int32))
    assert rewards[0] == 1.0 and terminals[0] and not truncations[0]
    assert infos == [{"episode_return": 1.0, "episode_length": 1.0, "score": 1.0, "n": 1.0}]
    # auto-reset: the agent is back in the centre with a fresh target
    assert obs[0, 2, 2] == 1 and (obs[0] == 2).sum() == 1 and (s.ax, s.ay) == (2, 2)


def test_walking_off_grid_is_terminal_with_penalty():
    env = puffer_core.make("ocean/squared", num_envs=1, size=3, seed=0, log_interval=1)
    env.reset()
    s = env.state_pointer(0, squared_state())
    s.tx, s.ty = 2, 2  # keep the target away from the path up
    rewards = terminals = None
    for _ in range(2):
        _, rewards, terminals, _, infos = env.step(np.array([UP], dtype=np.int32))
    assert rewards[0] == -1.0 and terminals[0]
    assert infos[0]["score"] == 0.0 and infos[0]["episode_return"] == -1.0


def test_time_limit_is_truncation_not_termination():
    env = puffer_core.make("ocean/squared", num_envs=4, max_steps=5, seed=1, log_interval=1)
    env.reset()
    for _ in range(5):
        _, rewards, terminals, truncations, infos = env.step(np.zeros(4, dtype=np.int32))
    assert truncations.all() and not terminals.any() and (rewards == 0).all()
    assert infos[0]["n"] == 4 and infos[0]["episode_length"] == 5.0


def test_targets_cover_the_grid():
    env = puffer_core.make("ocean/squared", num_envs=2000, size=5, seed=0)
    obs, _ = env.reset()
    targets = (obs == 2).reshape(2000, -1).argmax(axis=1)
    counts = np.bincount(targets, minlength=25)
    assert counts[12] == 0  # never on the agent
    assert (np.delete(counts, 12) > 40).all()  # ~83 each: uniform over the other 24 cells


def test_ansi_render():
    env = puffer_core.make("ocean/squared", num_envs=1, size=3, render_mode="ansi", seed=0)
    env.reset()
    text = env.render()
    assert text.count("A") == 1 and text.count("T") == 1 and len(text.splitlines()) == 3


@pytest.mark.parametrize("bad", [2, 64, 5.5])
def test_bad_size(bad):
    with pytest.raises(ValueError, match="size"):
        puffer_core.make("ocean/squared", size=bad)


def greedy(obs):
    """Step towards the target, reading both positions from the grid."""
    n = obs.shape[0]
    flat = obs.reshape(n, -1)
    size = obs.shape[1]
    ay, ax = np.divmod(np.argmax(flat == 1, axis=1), size)
    ty, tx = np.divmod(np.argmax(flat == 2, axis=1), size)
    return np.select([tx > ax, tx < ax, ty > ay, ty < ay], [RIGHT, LEFT, DOWN, UP], STAY).astype(np.int32)


def test_greedy_policy_always_scores():
    env = puffer_core.make("ocean/squared", num_envs=256, seed=4, log_interval=1000)
    obs, _ = env.reset()
    for _ in range(100):
        obs, rewards, terminals, truncations, _ = env.step(greedy(obs))
        assert not truncations.any() and (rewards[terminals] == 1.0).all()
    (stats,) = env.flush_log()
    assert stats["score"] == 1.0 and stats["episode_return"] == 1.0 and stats["n"] > 1000
    assert stats["episode_length"] <= 10  # Manhattan distance from the centre of an 11x11 grid
