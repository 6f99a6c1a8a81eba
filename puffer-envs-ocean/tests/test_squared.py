"""ocean/squared plays PufferLib 3.0's Squared: rules checked against the reference's numbers."""

import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean._binding import state_type

STAY, DOWN, UP, LEFT, RIGHT = range(5)  # the reference's action numbers
EMPTY, AGENT, TARGET = 0, 1, 2


def squared_state():
    return state_type(
        "typedef struct { OceanHeader h; int size, tiles, limit, pos, tick, col, target; int move[5]; }"
        " SquaredState;",
        "SquaredState",
    )


def agent(s):
    """(row, col) of the agent, and a check that the stored column agrees with the cell."""
    assert s.pos % s.size == s.col
    return divmod(s.pos, s.size)


def make(size=11, num_envs=1, seed=0, **kwargs):
    env = puffer_core.make("ocean/squared", num_envs=num_envs, size=size, seed=seed, log_interval=1, **kwargs)
    obs, _ = env.reset()
    return env, obs


def move_target(env, obs, cell, index=0):
    """Put the target of env ``index`` on ``cell``, keeping its observation consistent."""
    s = env.state_pointer(index, squared_state())
    obs[index, s.target] = EMPTY
    s.target = cell
    obs[index, cell] = TARGET
    return s


def step(env, action):
    return env.step(np.array([action], dtype=np.int32))


@pytest.mark.parametrize("size", [11, 4])
def test_common_checks(size):
    check_all("ocean/squared", num_envs=8, size=size)


def test_defaults_and_spaces():
    env = puffer_core.make("ocean/squared", num_envs=3)
    assert env.single_observation_space.shape == (121,)  # flat, like the reference
    assert env.single_observation_space.dtype == np.uint8
    assert env.single_observation_space.low.min() == 0 and env.single_observation_space.high.max() == 2
    assert env.single_action_space.n == 5
    assert env.num_agents == 3
    assert puffer_core.make("ocean/squared", size=7).single_observation_space.shape == (49,)


def test_reset_puts_agent_in_centre_and_one_target():
    env, obs = make(size=11, num_envs=64)
    for i in range(64):
        s = env.state_pointer(i, squared_state())
        assert agent(s) == (5, 5) and s.tick == 0
        assert obs[i, 60] == AGENT and (obs[i] == AGENT).sum() == 1
        assert (obs[i] == TARGET).sum() == 1 and obs[i, s.target] == TARGET and s.target != 60


MOVES = [(STAY, 0, 0), (DOWN, 1, 0), (UP, -1, 0), (LEFT, 0, -1), (RIGHT, 0, 1)]


@pytest.mark.parametrize("action, drow, dcol", MOVES)
def test_actions_move_like_the_reference(action, drow, dcol):
    env, obs = make(size=7)
    s = move_target(env, obs, 0)  # top-left corner, away from every move
    _, rewards, terminals, truncations, _ = step(env, action)
    assert agent(s) == (3 + drow, 3 + dcol)
    assert obs[0, (3 + drow) * 7 + 3 + dcol] == AGENT and (obs[0] == AGENT).sum() == 1
    assert rewards[0] == 0 and not terminals[0] and not truncations[0]


def test_reaching_the_target_pays_one_and_terminates():
    env, obs = make(size=5)
    move_target(env, obs, 2 * 5 + 3)  # right of the centre
    _, rewards, terminals, truncations, infos = step(env, RIGHT)
    assert rewards[0] == 1.0 and terminals[0] and not truncations[0]
    assert infos == [{"perf": 1.0, "score": 1.0, "episode_return": 1.0, "episode_length": 1.0, "n": 1.0}]
    # auto-reset in the same step: fresh agent in the centre, one fresh target, nothing left over
    s = env.state_pointer(0, squared_state())
    assert agent(s) == (2, 2) and s.tick == 0 and obs[0, 12] == AGENT
    assert (obs[0] == AGENT).sum() == 1 and (obs[0] == TARGET).sum() == 1 and obs[0, s.target] == TARGET


@pytest.mark.parametrize("action", [DOWN, UP, LEFT, RIGHT])
def test_walking_off_any_edge_ends_with_minus_one(action):
    env, obs = make(size=5)
    target = {DOWN: 0, UP: 24, LEFT: 4, RIGHT: 0}[action]  # a corner off the path
    move_target(env, obs, target)
    for _ in range(2):  # centre (2, 2) -> edge: moves stay on the grid
        _, rewards, terminals, _, infos = step(env, action)
        assert rewards[0] == 0 and not terminals[0] and infos == []
    _, rewards, terminals, truncations, infos = step(env, action)  # the move off is not blocked: it ends
    assert rewards[0] == -1.0 and terminals[0] and not truncations[0]
    assert infos == [{"perf": 0.0, "score": -1.0, "episode_return": -1.0, "episode_length": 3.0, "n": 1.0}]
    assert (obs[0] == AGENT).sum() == 1 and (obs[0] == TARGET).sum() == 1 and obs[0, 12] == AGENT


@pytest.mark.parametrize("size", [3, 5, 11])
def test_time_limit_is_a_failed_terminal_after_3_size_steps(size):
    env, obs = make(size=size, num_envs=4)
    for _ in range(3 * size):  # staying is always allowed
        _, rewards, terminals, truncations, infos = env.step(np.zeros(4, dtype=np.int32))
        assert not terminals.any() and not truncations.any() and (rewards == 0).all()
    _, rewards, terminals, truncations, infos = env.step(np.zeros(4, dtype=np.int32))
    # the reference ends the episode at tick 3*size + 1 with reward -1 and a terminal, not a truncation
    assert terminals.all() and not truncations.any() and (rewards == -1.0).all()
    stats = {"perf": 0.0, "score": -1.0, "episode_return": -1.0, "episode_length": 3.0 * size + 1, "n": 4}
    assert infos == [stats]


def test_last_allowed_step_can_still_score_but_the_timeout_step_cannot():
    env, obs = make(size=5)
    s = move_target(env, obs, 2 * 5 + 3)
    for _ in range(14):
        step(env, STAY)
    _, rewards, terminals, _, infos = step(env, RIGHT)  # step 15 = 3 * size
    assert rewards[0] == 1.0 and terminals[0] and infos[0]["episode_length"] == 15
    s = move_target(env, obs, 2 * 5 + 3)
    for _ in range(15):
        step(env, STAY)
    _, rewards, terminals, _, infos = step(env, RIGHT)  # step 16: the time limit wins over the target
    assert rewards[0] == -1.0 and terminals[0]
    assert infos[0]["perf"] == 0.0 and infos[0]["episode_length"] == 16
    assert s.tick == 0


def test_targets_are_uniform_over_the_other_cells():
    env = puffer_core.make("ocean/squared", num_envs=2400, size=5, seed=0)
    obs, _ = env.reset()
    counts = np.bincount((obs == TARGET).argmax(axis=1), minlength=25)
    assert counts[12] == 0  # never on the agent
    assert (np.delete(counts, 12) > 60).all() and (np.delete(counts, 12) < 140).all()  # 100 each


def test_even_size_marks_the_cell_the_agent_is_on():
    env, obs = make(size=4, num_envs=16)
    for i in range(16):
        s = env.state_pointer(i, squared_state())
        assert agent(s) == (2, 2) and obs[i, 10] == AGENT and s.target != 10


def test_observation_stays_consistent_over_many_episodes():
    """The grid is updated incrementally (no wipe at auto-reset): it must always show exactly the state."""
    env, obs = make(size=5, num_envs=32, seed=3)
    rng = np.random.default_rng(0)
    states = [env.state_pointer(i, squared_state()) for i in range(32)]
    for _ in range(300):
        env.step(rng.integers(0, 5, 32, dtype=np.int32))
        for i, s in enumerate(states):
            expected = np.zeros(25, dtype=np.uint8)
            expected[s.target] = TARGET
            expected[s.pos] = AGENT
            agent(s)
            assert np.array_equal(obs[i], expected)


def test_ansi_render():
    env = puffer_core.make("ocean/squared", num_envs=1, size=3, render_mode="ansi", seed=0)
    env.reset()
    text = env.render()
    assert text.count("A") == 1 and text.count("T") == 1 and len(text.splitlines()) == 3
    assert text.splitlines()[1][1] == "A"


@pytest.mark.parametrize("bad", [2, 64, 5.5])
def test_bad_size(bad):
    with pytest.raises(ValueError, match="size"):
        puffer_core.make("ocean/squared", size=bad)


def test_max_steps_is_gone():
    with pytest.raises((TypeError, ValueError), match="max_steps"):
        puffer_core.make("ocean/squared", max_steps=50)


def greedy(obs):
    """Step towards the target, reading both positions from the flat grid."""
    size = int(round(np.sqrt(obs.shape[1])))
    ar, ac = np.divmod(np.argmax(obs == AGENT, axis=1), size)
    tr, tc = np.divmod(np.argmax(obs == TARGET, axis=1), size)
    return np.select([tc > ac, tc < ac, tr > ar, tr < ar], [RIGHT, LEFT, DOWN, UP], STAY).astype(np.int32)


def test_greedy_policy_always_scores():
    env = puffer_core.make("ocean/squared", num_envs=256, seed=4, log_interval=1000)
    obs, _ = env.reset()
    for _ in range(100):
        obs, rewards, terminals, truncations, _ = env.step(greedy(obs))
        assert not truncations.any() and (rewards[terminals] == 1.0).all()
    (stats,) = env.flush_log()
    assert stats["score"] == 1.0 and stats["perf"] == 1.0 and stats["n"] > 1000
    assert stats["episode_length"] <= 10  # Manhattan distance from the centre of an 11x11 grid


def test_final_observation_shows_where_the_agent_ended():
    """Auto-reset puts the agent back in the centre; ``final_observations`` keeps the grid the episode ended
    on: the agent gone after walking off, on the target's cell after reaching it, where it stood at the time
    limit."""
    env = puffer_core.make("ocean/squared", num_envs=1, seed=4, size=5)
    obs, _ = env.reset()
    target = int(np.flatnonzero(obs[0] == TARGET)[0])
    for _ in range(2):
        step(env, UP)  # rows 2 -> 0
    _, rewards, terminals, _, _ = step(env, UP)  # off the top
    assert terminals[0] and rewards[0] == -1
    final = env.final_observations[0]
    assert np.flatnonzero(final == TARGET).tolist() == [target] and not np.any(final == AGENT)
    assert env.observations[0, 12] == AGENT  # the next episode starts in the centre

    obs = env.observations[0].copy()
    row, col = divmod(int(np.flatnonzero(obs == TARGET)[0]), 5)
    moves = [DOWN if row > 2 else UP] * abs(row - 2) + [RIGHT if col > 2 else LEFT] * abs(col - 2)
    for move in moves:
        _, rewards, terminals, _, _ = step(env, move)
    assert terminals[0] and rewards[0] == 1
    final = env.final_observations[0]
    assert np.flatnonzero(final).tolist() == [row * 5 + col] and final[row * 5 + col] == AGENT

    target = int(np.flatnonzero(env.observations[0] == TARGET)[0])
    for _ in range(15):  # the 3 * size free steps
        _, _, terminals, _, _ = step(env, STAY)
        assert not terminals[0]
    _, rewards, terminals, _, _ = step(env, STAY)
    assert terminals[0] and rewards[0] == -1
    final = env.final_observations[0]
    assert final[12] == AGENT and final[target] == TARGET and np.count_nonzero(final) == 2
