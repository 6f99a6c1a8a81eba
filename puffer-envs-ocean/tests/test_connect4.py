import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core

# Boards are written top row first: 0 empty, 1 agent (X), 2 opponent (O).
DRAW_IN_ONE = [  # full but for the top of column 3; no four anywhere, and X in column 3 makes none
    [2, 2, 2, 0, 1, 2, 1],
    [1, 2, 2, 2, 1, 1, 1],
    [2, 1, 1, 1, 2, 2, 2],
    [1, 1, 2, 2, 1, 1, 2],
    [2, 1, 1, 2, 2, 2, 1],
    [1, 2, 2, 1, 1, 2, 1],
]


def connect4(**kwargs):
    kwargs.setdefault("first_player", 0)
    env = puffer_core.make("ocean/connect4", num_envs=1, seed=0, log_interval=1, **kwargs)
    env.reset()
    return env


def board(rows):
    """A [6, 7] board from the bottom rows given (bottom row last), empty above."""
    full = np.zeros((6, 7), dtype=np.int8)
    full[6 - len(rows) :] = rows
    return full


def play(env, column):
    return env.step(np.array([column], dtype=np.int32))


def test_common_checks():
    check_all("ocean/connect4", num_envs=8)


def test_spaces_and_observation():
    env = connect4()
    assert env.single_observation_space.shape == (42,)
    assert env.single_observation_space.dtype == np.float32
    assert env.single_action_space.n == 7
    assert np.all(env.observations == 0)  # the agent opens: empty board
    obs, rewards, terminals, *_ = play(env, 3)
    grid = obs[0].reshape(6, 7)
    assert grid[5, 3] == 1.0 and (grid == -1.0).sum() == 1 and (grid == 1.0).sum() == 1
    assert rewards[0] == 0 and not terminals[0]


def test_opponent_may_open():
    env = connect4(first_player=1)
    grid = env.observations[0].reshape(6, 7)
    assert (grid == -1.0).sum() == 1 and (grid[5] == -1.0).sum() == 1 and (grid == 1.0).sum() == 0


@pytest.mark.parametrize(
    "rows, column",
    [
        # horizontal: X X X _ on the bottom row
        ([[1, 1, 1, 0, 2, 2, 0]], 3),
        # vertical: three X in column 0
        ([[1, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 2], [1, 2, 0, 0, 0, 0, 2]], 0),
        # diagonal /: X at (c0,r0) (c1,r1) (c2,r2), the fourth lands at (c3,r3)
        ([[0, 0, 1, 2, 0, 0, 0], [0, 1, 2, 2, 0, 0, 0], [1, 2, 2, 2, 0, 0, 0]], 3),
        # diagonal \: mirrored
        ([[0, 0, 0, 2, 1, 0, 0], [0, 0, 0, 2, 2, 1, 0], [0, 0, 0, 2, 2, 2, 1]], 3),
    ],
    ids=["horizontal", "vertical", "diagonal_up", "diagonal_down"],
)
def test_agent_wins_in_every_direction(rows, column):
    env = connect4()
    env.set_board(board(rows))
    _, rewards, terminals, truncations, infos = play(env, column)
    assert rewards[0] == 1.0 and terminals[0] and not truncations[0]
    assert infos[0]["wins"] == 1.0 and infos[0]["score"] == 1.0 and infos[0]["losses"] == 0.0
    assert np.all(env.observations == 0)  # auto-reset: a fresh board (the agent opens)


def test_one_short_of_four_is_not_a_win():
    env = connect4()
    env.set_board(board([[1, 1, 0, 0, 2, 2, 0]]))
    _, rewards, terminals, *_ = play(env, 2)
    assert not terminals[0] and rewards[0] == 0.0


def test_opponent_blocks_an_open_three():
    env = connect4()
    env.set_board(board([[1, 1, 1, 0, 0, 2, 2]]))
    obs, rewards, terminals, *_ = play(env, 0)  # the agent does not complete its four
    assert not terminals[0]
    assert obs[0].reshape(6, 7)[5, 3] == -1.0  # blocked


@pytest.mark.parametrize(
    "rows",
    [
        [[0, 0, 0, 0, 2, 2, 2]],  # horizontal
        [[0, 0, 0, 0, 0, 0, 2], [1, 0, 0, 0, 0, 0, 2], [1, 0, 0, 0, 1, 0, 2]],  # vertical
        [[0, 0, 2, 1, 0, 0, 0], [0, 2, 1, 1, 0, 0, 0], [2, 1, 1, 1, 0, 0, 0]],  # diagonal /
    ],
)
def test_opponent_wins_when_it_can(rows):
    env = connect4()
    env.set_board(board(rows))
    _, rewards, terminals, _, infos = play(env, 0 if rows[0][0] == 0 else 5)
    assert rewards[0] == -1.0 and terminals[0]
    assert infos[0]["losses"] == 1.0 and infos[0]["illegal"] == 0.0


def test_full_board_is_a_draw():
    env = connect4()
    env.set_board(np.array(DRAW_IN_ONE))
    _, rewards, terminals, _, infos = play(env, 3)
    assert rewards[0] == 0.0 and terminals[0]
    assert infos[0]["draws"] == 1.0 and infos[0]["wins"] == 0.0 and infos[0]["losses"] == 0.0


def test_full_column_is_an_illegal_move_that_loses():
    env = connect4()
    column = [[1, 0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0, 0]] * 3
    env.set_board(board(column))
    _, rewards, terminals, _, infos = play(env, 0)
    assert rewards[0] == -1.0 and terminals[0]
    assert infos[0]["illegal"] == 1.0 and infos[0]["losses"] == 1.0


def test_set_board_refuses_floating_discs():
    env = connect4()
    bad = np.zeros((6, 7), dtype=np.int8)
    bad[0, 0] = 1
    with pytest.raises(ValueError, match="float"):
        env.set_board(bad)


def test_scripted_opponent_beats_random_play():
    env = puffer_core.make("ocean/connect4", num_envs=64, seed=0, log_interval=1)
    env.reset()
    rng = np.random.default_rng(0)
    wins = losses = games = 0.0
    for _ in range(300):
        *_, infos = env.step(rng.integers(0, 7, 64, dtype=np.int32))
        for info in infos:
            games += info["n"]
            wins += info["wins"] * info["n"]
            losses += info["losses"] * info["n"]
    assert games > 100 and losses > 3 * wins


def test_ansi_render():
    env = connect4(render_mode="ansi")
    env.set_board(board([[1, 2, 0, 0, 0, 0, 0]]))
    assert env.render().splitlines()[-2] == "XO....."
