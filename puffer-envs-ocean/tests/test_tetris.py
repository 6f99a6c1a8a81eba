import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean.tetris import PIECES

NOOP, LEFT, RIGHT, ROTATE, SOFT, HARD, HOLD = range(7)
W, H = 10, 20
CUR, ROT, NEXT, HELD, CAN_HOLD = 200, 207, 211, 218, 225


def tetris(**kwargs):
    kwargs.setdefault("gravity_interval", 1000)  # rule tests move pieces themselves
    env = puffer_core.make("ocean/tetris", num_envs=1, seed=0, log_interval=1, **kwargs)
    env.reset()
    return env


def act(env, action):
    return env.step(np.array([action], dtype=np.int32))


def board(obs):
    return obs[0, : W * H].reshape(H, W)


def piece_cells(obs):
    return sorted(zip(*np.nonzero(board(obs) == 2), strict=True))


def current(obs):
    return PIECES[int(np.argmax(obs[0, CUR : CUR + 7]))]


def test_common_checks():
    check_all("ocean/tetris", num_envs=8)


def test_spaces_and_features():
    env = tetris()
    assert env.single_observation_space.shape == (226,)
    assert env.single_observation_space.dtype == np.uint8
    assert env.single_action_space.n == 7
    obs = env.observations
    assert obs[0, CUR : CUR + 7].sum() == 1 and obs[0, ROT] == 1 and obs[0, NEXT : NEXT + 7].sum() == 1
    assert obs[0, HELD : HELD + 7].sum() == 0 and obs[0, CAN_HOLD] == 1
    assert len(piece_cells(obs)) == 4 and (board(obs) == 1).sum() == 0


def test_clearing_a_line_scores_and_drops_the_rows_above():
    env = tetris()
    env.set_row(19, [0, 1, 2, 3, 6, 7, 8, 9])
    env.set_row(18, [0])
    env.set_piece("O", 0, 3, 0)  # O fills box columns 1-2: board columns 4 and 5
    obs, rewards, terminals, _, _ = act(env, HARD)
    assert rewards[0] == 1.0 and not terminals[0]
    rows = board(obs)
    # the full row 19 is gone; row 18 (the O's top half plus column 0) fell into its place
    assert list(rows[19]) == [1, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert (rows[:19] == 1).sum() == 0


def test_four_lines_score_a_tetris():
    env = tetris()
    for y in range(16, 20):
        env.set_row(y, list(range(1, 10)))
    env.set_piece("I", 1, -2, 0)  # vertical I in box column 2: board column 0
    _, rewards, *_ = act(env, HARD)
    assert rewards[0] == 8.0
    assert (board(env.observations) == 1).sum() == 0
    for _ in range(3):
        act(env, HARD)
    # end the game to read the statistics: fill the top so that spawning fails
    for y in range(2, 20):
        env.set_row(y, list(range(9)))
    env.set_piece("O", 0, 3, 0)
    _, _, terminals, _, infos = act(env, HARD)
    assert terminals[0]
    info = infos[0]
    assert info["lines"] == 4 and info["tetrises"] == 1 and info["score"] == 800 and info["pieces"] == 5


def test_game_over_when_a_piece_cannot_spawn():
    env = tetris()
    for y in range(2, 20):
        env.set_row(y, list(range(9)))  # column 9 open: no row is full
    env.set_piece("O", 0, 3, 0)
    obs, rewards, terminals, truncations, infos = act(env, HARD)
    assert terminals[0] and not truncations[0] and rewards[0] == 0.0
    assert (board(obs) == 1).sum() == 0  # auto-reset: an empty board
    assert infos[0]["lines"] == 0


def test_walls_stop_sideways_moves():
    env = tetris()
    env.set_piece("O", 0, 3, 5)
    for _ in range(10):
        obs, *_ = act(env, LEFT)
    assert min(x for _, x in piece_cells(obs)) == 0
    for _ in range(10):
        obs, *_ = act(env, RIGHT)
    assert max(x for _, x in piece_cells(obs)) == W - 1


def test_blocks_stop_sideways_moves():
    env = tetris()
    env.set_row(6, [2])
    env.set_piece("O", 0, 3, 5)  # columns 4-5, rows 5-6
    for _ in range(5):
        obs, *_ = act(env, LEFT)
    assert min(x for _, x in piece_cells(obs)) == 3


def test_rotation_and_wall_kick():
    env = tetris()
    env.set_piece("T", 0, 3, 5)
    obs, *_ = act(env, ROTATE)
    assert obs[0, ROT + 1] == 1
    assert piece_cells(obs) == [(5, 4), (6, 4), (6, 5), (7, 4)]
    # a vertical I against the left wall cannot turn in place: it is kicked two columns right
    env.set_piece("I", 1, -2, 5)
    obs, *_ = act(env, ROTATE)
    assert piece_cells(obs) == [(7, 0), (7, 1), (7, 2), (7, 3)]


def test_o_piece_rotation_changes_nothing():
    env = tetris()
    env.set_piece("O", 0, 3, 5)
    before = piece_cells(env.observations)
    obs, *_ = act(env, ROTATE)
    assert piece_cells(obs) == before


def test_gravity_and_soft_drop():
    env = tetris(gravity_interval=2)
    env.set_piece("O", 0, 3, 0)
    top = lambda obs: min(y for y, _ in piece_cells(obs))  # noqa: E731
    obs, *_ = act(env, NOOP)
    assert top(obs) == 0
    obs, *_ = act(env, NOOP)
    assert top(obs) == 1
    obs, *_ = act(env, SOFT)
    assert top(obs) == 2


def test_soft_drop_locks_on_the_floor():
    env = tetris()
    env.set_piece("O", 0, 3, 18, next_piece="T")
    obs, *_ = act(env, SOFT)
    assert list(board(obs)[19]) == [0, 0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert current(obs) == "T"


def test_seven_bag_deals_every_piece_once():
    env = tetris()
    seen = [current(env.observations)]
    for _ in range(6):
        obs, _, terminals, *_ = act(env, HARD)
        assert not terminals[0]
        seen.append(current(obs))
    assert sorted(seen) == sorted(PIECES)


def test_next_piece_feature_predicts_the_next_piece():
    env = tetris()
    for _ in range(5):
        upcoming = PIECES[int(np.argmax(env.observations[0, NEXT : NEXT + 7]))]
        obs, *_ = act(env, HARD)
        assert current(obs) == upcoming


def test_hold_swaps_once_per_piece():
    env = tetris()
    first = current(env.observations)
    upcoming = PIECES[int(np.argmax(env.observations[0, NEXT : NEXT + 7]))]
    obs, *_ = act(env, HOLD)
    assert obs[0, HELD + PIECES.index(first)] == 1 and obs[0, CAN_HOLD] == 0
    assert current(obs) == upcoming
    obs, *_ = act(env, HOLD)  # not again before the piece locks
    assert current(obs) == upcoming
    obs, *_ = act(env, HARD)
    assert obs[0, CAN_HOLD] == 1
    obs, *_ = act(env, HOLD)
    assert current(obs) == first


def test_truncation():
    env = tetris(max_steps=3)
    for _ in range(2):
        _, _, terminals, truncations, _ = act(env, NOOP)
        assert not truncations[0] and not terminals[0]
    _, _, terminals, truncations, infos = act(env, NOOP)
    assert truncations[0] and not terminals[0] and infos[0]["episode_length"] == 3


def test_set_piece_refuses_overlaps():
    env = tetris()
    env.set_row(10, list(range(10)))
    with pytest.raises(ValueError):
        env.set_piece("O", 0, 3, 9)
    with pytest.raises(ValueError):
        env.set_piece("I", 0, 8, 5)  # sticks out on the right


def test_ansi_render():
    env = tetris(render_mode="ansi")
    env.set_row(19, [0, 9])
    rows = env.render().splitlines()
    assert len(rows) == 20 and rows[19] == "#........#" and sum(r.count("@") for r in rows) == 4
