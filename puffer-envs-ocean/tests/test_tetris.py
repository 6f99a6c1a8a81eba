import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean.tetris import PIECES

NOOP, LEFT, RIGHT, ROTATE, SOFT, HARD, HOLD = range(7)
W, H = 10, 20
B = W * H  # start of the features after the board
TICK, FALL, ROW, COL, ROT, CAN_HOLD = range(B, B + 6)
QUEUE = B + 4  # one-hots of the queue (7 per entry) start here, overlapping ROT and CAN_HOLD
HELD = QUEUE + 3 * 7


def tetris(**kwargs):
    env = puffer_core.make("ocean/tetris", num_envs=1, seed=0, log_interval=1, **kwargs)
    env.reset()
    return env


def act(env, action):
    return env.step(np.array([action], dtype=np.int32))


def board(obs):
    return obs[0, :B].reshape(H, W)


def piece_cells(obs):
    return sorted((int(y), int(x)) for y, x in zip(*np.nonzero(board(obs) == 2), strict=True))


def queue(obs, deck_size=3):
    """Piece letters of the queue one-hots (entry 0 = the falling piece)."""
    return [current(obs)] + [
        PIECES[int(np.argmax(obs[0, QUEUE + 7 * j : QUEUE + 7 * j + 7]))] for j in range(1, deck_size)
    ]


def current(obs):
    """The falling piece. Its one-hot shares O's and I's places with rotation and can-hold, so those two are
    told apart by their cells."""
    if obs[0, QUEUE + 2 : QUEUE + 7].any():
        return PIECES[2 + int(np.argmax(obs[0, QUEUE + 2 : QUEUE + 7]))]
    ys, xs = zip(*piece_cells(obs), strict=True)
    return "O" if max(ys) - min(ys) == 1 and max(xs) - min(xs) == 1 else "I"


def test_common_checks():
    check_all("ocean/tetris", num_envs=8)


def test_common_checks_other_sizes():
    check_all("ocean/tetris", num_envs=4, n_cols=5, n_rows=7, deck_size=1)


def test_spaces_and_layout():
    env = tetris()
    space = env.single_observation_space
    assert space.shape == (W * H + 6 + 7 * 4,) == (234,) and space.dtype == np.float32
    assert env.single_action_space.n == 7
    assert tetris(n_cols=6, n_rows=8, deck_size=5).single_observation_space.shape == (48 + 6 + 7 * 6,)
    env.set_piece("T", 1, 5, 2)  # T, rotation 1: top row x=3, bottom row x=2..4
    env.set_clock(tick=1234, tick_fall=3, hold="S", can_hold=False)
    env.set_row(19, [0, 9])
    obs = env.observations[0]
    assert piece_cells(env.observations) == [(5, 3), (6, 2), (6, 3), (6, 4)]
    assert list(board(env.observations)[19]) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert obs[TICK] == pytest.approx(0.1234) and obs[FALL] == 0.75
    assert obs[ROW] == pytest.approx(5 / 20) and obs[COL] == pytest.approx(2 / 10)
    assert obs[ROT] == 1 and obs[CAN_HOLD] == 0  # rotation is raw, not one-hot
    assert obs[QUEUE + PIECES.index("T")] == 1  # the falling piece's one-hot
    assert obs[HELD + PIECES.index("S")] == 1 and obs[HELD : HELD + 7].sum() == 1
    assert obs[-2:].sum() == 0  # the reference's layout leaves the last two elements unused
    assert obs[QUEUE + 7 : HELD].sum() == 2  # one one-hot per preview


def test_queue_one_hot_overlaps_rotation_and_can_hold_like_the_reference():
    env = tetris()
    env.set_piece("O", 2, 5, 2)
    env.set_clock(0, can_hold=False)
    assert env.observations[0, ROT] == 1  # O's one-hot, not the rotation 2
    env.set_piece("I", 0, 5, 2)
    assert env.observations[0, ROT] == 0 and env.observations[0, CAN_HOLD] == 1  # I's one-hot, not can-hold 0


def test_spawn_position_and_previews_come_in_order():
    env = tetris()
    for _ in range(4):  # four pieces dropped at the spawn column cannot end the game yet
        obs = env.observations
        upcoming = queue(obs)[1:]
        # a new piece appears in rotation 0 with its box at row 0, column n_cols // 2
        assert obs[0, ROW] == 0 and obs[0, COL] == 0.5 and min(x for _, x in piece_cells(obs)) == W // 2
        obs, _, terminals, _, _ = act(env, HARD)
        assert not terminals[0]
        assert queue(obs)[:2] == upcoming  # the queue moves up by one, a random piece joins at the back


def test_pieces_are_uniform_not_a_bag():
    env = puffer_core.make("ocean/tetris", num_envs=256, seed=3)
    obs, _ = env.reset()
    counts = np.zeros(7)
    runs = 0
    for _ in range(40):
        ids = np.argmax(obs[:, QUEUE : QUEUE + 21].reshape(-1, 3, 7), axis=2)
        counts += np.bincount(ids[:, 2], minlength=7)  # the newest preview is a fresh draw
        runs += int((ids[:, 1] == ids[:, 2]).sum())
        obs = env.step(np.full(256, HARD, dtype=np.int32))[0]
    n = counts.sum()
    # chi-square with 6 degrees of freedom: 22.5 is its 0.999 quantile
    assert ((counts - n / 7) ** 2 / (n / 7)).sum() < 22.5
    assert runs > 0.1 * n  # equal neighbours ~1/7 of the time (a 7-bag would make them rare)


def test_gravity_every_four_steps():
    env = tetris()
    rows = []
    for _ in range(12):
        obs, *_ = act(env, NOOP)
        rows.append(round(float(obs[0, ROW]) * H))
    assert rows == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
    fall = [round(float(obs[0, FALL]) * 4)]
    for _ in range(3):
        obs, *_ = act(env, NOOP)
        fall.append(round(float(obs[0, FALL]) * 4))
    assert fall == [0, 1, 2, 3]


def test_gravity_locks_a_piece_that_cannot_fall():
    env = tetris()
    env.set_piece("O", 0, 18, 0, previews={1: "T"})
    for _ in range(3):
        obs, rewards, *_ = act(env, NOOP)
        assert rewards[0] == 0 and (board(obs) == 1).sum() == 0 and current(obs) == "O"
    obs, *_ = act(env, NOOP)
    assert list(board(obs)[18:, :2].ravel()) == [1, 1, 1, 1] and current(obs) == "T"


def test_soft_drop_pays_per_row_and_never_locks():
    env = tetris()
    env.set_piece("O", 0, 16, 4, previews={1: "T"})
    obs, rewards, *_ = act(env, SOFT)
    assert rewards[0] == pytest.approx(0.01) and obs[0, ROW] == pytest.approx(17 / 20)
    obs, rewards, *_ = act(env, SOFT)
    assert rewards[0] == pytest.approx(0.01) and obs[0, ROW] == pytest.approx(18 / 20)
    obs, rewards, *_ = act(env, SOFT)  # on the floor: nothing happens (the 3rd step since set_piece)
    assert rewards[0] == 0 and current(obs) == "O" and (board(obs) == 1).sum() == 0
    obs, *_ = act(env, NOOP)  # gravity (4th step) locks it
    assert (board(obs) == 1).sum() == 4 and current(obs) == "T"


def test_hard_drop_pays_per_row_and_scores():
    env = tetris()
    env.set_piece("I", 0, 0, 0)  # vertical I, falls 16 rows
    _, rewards, *_ = act(env, HARD)
    assert rewards[0] == pytest.approx(16 * 0.02)
    _, rewards, *_ = act(env, SOFT)
    assert rewards[0] == pytest.approx(0.01)
    end_game(env)
    _, _, terminals, _, infos = act(env, HARD)
    assert terminals[0]
    info = infos[0]
    # 16 rows * 2 + 1 soft row * 1 + the last hard drop (no rows to fall)
    assert info["score"] == 33 and info["perf"] == pytest.approx(33 / 12565)
    assert info["episode_return"] == pytest.approx(0.32 + 0.01)
    assert info["episode_length"] == 3 and info["atn_frac_hard_drop"] == pytest.approx(2 / 3)
    assert info["atn_frac_soft_drop"] == pytest.approx(1 / 3) and info["atn_frac_rotate"] == 0


def end_game(env):
    """Fill the board so that the next piece cannot appear and the falling one cannot move down."""
    for y in range(4, H):
        env.set_row(y, [x for x in range(W) if x != 9])  # column 9 open: no row is full
    for y in range(1, 4):  # every piece covers (1, 5) or (1, 6) when it appears
        env.set_row(y, list(range(W // 2, W - 1)))
    env.set_piece("O", 0, 2, 0)


@pytest.mark.parametrize("lines,reward,points", [(1, 0.1, 100), (2, 0.3, 300), (3, 0.5, 500), (4, 1.0, 1000)])
def test_line_clear_rewards(lines, reward, points):
    env = tetris()
    for y in range(H - lines, H):
        env.set_row(y, list(range(1, W)))
    env.set_row(H - lines - 1, [3, 5])  # a marker row above the full ones
    env.set_piece("I", 0, 0, 0)  # vertical I in column 0: falls 16 rows to the bottom
    obs, rewards, terminals, *_ = act(env, HARD)
    assert rewards[0] == pytest.approx(reward + 16 * 0.02)
    assert not terminals[0]
    rows = board(obs)
    # the full rows are gone; what was above them came down by `lines`
    expected = np.zeros((H, W))
    expected[H - 1, [3, 5]] = 1
    expected[H - 4 + lines :, 0] = 1  # the part of the I above the cleared rows
    assert np.array_equal(np.where(rows == 2, 0, rows), expected)
    end_game(env)
    _, _, _, _, infos = act(env, HARD)
    assert infos[0]["lines_deleted"] == lines and infos[0]["score"] == points + 16 * 2
    assert infos[0]["avg_combo"] == lines


def test_rotation_without_kicks():
    env = tetris()
    env.set_piece("T", 0, 5, 4)  # rotation 0: x=5 / x=4,5 / x=5
    obs, *_ = act(env, ROTATE)
    assert obs[0, ROT] == 1 and piece_cells(obs) == [(5, 5), (6, 4), (6, 5), (6, 6)]
    # a vertical I at the right wall: turning it flat would stick out, and no kick moves it back
    env.set_piece("I", 0, 5, 9)
    before = piece_cells(env.observations)
    obs, rewards, *_ = act(env, ROTATE)
    assert piece_cells(obs) == before and obs[0, COL] == 0.9 and rewards[0] == 0  # no penalty either
    env.set_piece("I", 0, 5, 6)  # with room it turns about the box's top-left corner
    obs, *_ = act(env, ROTATE)
    assert piece_cells(obs) == [(5, 6), (5, 7), (5, 8), (5, 9)]
    # a block in the way also stops it
    env.set_row(6, [8])
    env.set_piece("T", 0, 5, 6)
    env.set_clock(0)  # no gravity in the next step
    before = piece_cells(env.observations)
    obs, *_ = act(env, ROTATE)
    assert piece_cells(obs) == before


def test_walls_and_blocks_stop_sideways_moves():
    env = tetris()
    env.set_piece("O", 0, 5, 4)
    for _ in range(6):
        obs, *_ = act(env, LEFT)
    assert min(x for _, x in piece_cells(obs)) == 0
    env.set_piece("O", 0, 5, 4)
    for _ in range(6):
        obs, *_ = act(env, RIGHT)
    assert max(x for _, x in piece_cells(obs)) == W - 1
    env.set_row(6, [1])
    env.set_piece("O", 0, 5, 4)
    for _ in range(3):
        obs, *_ = act(env, LEFT)
    assert min(x for _, x in piece_cells(obs)) == 2


def test_hold():
    env = tetris()
    env.set_piece("T", 0, 3, 2, previews={1: "S", 2: "Z"})
    obs, *_ = act(env, HOLD)  # empty hold: T is held, S comes in at the spawn point
    assert current(obs) == "S" and obs[0, HELD + PIECES.index("T")] == 1 and obs[0, CAN_HOLD] == 0
    assert obs[0, ROW] == 0 and obs[0, COL] == 0.5 and obs[0, FALL] == 0
    obs, *_ = act(env, HOLD)  # once per piece
    assert current(obs) == "S"
    obs, *_ = act(env, HARD)
    assert obs[0, CAN_HOLD] == 1 and current(obs) == "Z"
    obs, *_ = act(env, HOLD)  # swap: T comes back at the spawn point, Z is held
    assert current(obs) == "T" and obs[0, HELD + PIECES.index("Z")] == 1
    assert piece_cells(obs) == [(0, 6), (1, 5), (1, 6), (2, 6)]


def test_hold_is_refused_by_the_references_test():
    # the reference tests the held piece in the current rotation one column right of the current box, not
    # at the spawn point where the swapped-in piece would appear
    env = tetris()
    env.set_row(7, [1])
    env.set_piece("O", 0, 5, 0)  # O on rows 5-6, columns 0-1
    env.set_clock(0, hold="I")  # a vertical I at column 1, rows 5-8, would cover (7, 1)
    obs, *_ = act(env, HOLD)
    assert current(obs) == "O" and obs[0, HELD + PIECES.index("I")] == 1 and obs[0, CAN_HOLD] == 1
    env.set_row(7, [])
    obs, *_ = act(env, HOLD)
    # (can-hold is 0, but the I's one-hot overwrites it)
    assert current(obs) == "I" and obs[0, HELD + PIECES.index("O")] == 1 and obs[0, CAN_HOLD] == 1
    assert piece_cells(obs) == [(0, 5), (1, 5), (2, 5), (3, 5)]


def test_game_over():
    env = tetris()
    env.set_piece("O", 0, 0, 0)
    end_game(env)
    obs, rewards, terminals, truncations, infos = act(env, HARD)
    assert terminals[0] and not truncations[0] and rewards[0] == 0
    assert (board(obs) == 1).sum() == 0 and obs[0, TICK] == 0  # auto-reset: a new game
    assert infos[0]["episode_length"] == 1


def test_the_next_piece_decides_game_over():
    for nxt, over in (("I", True), ("Z", False)):
        env = tetris()
        env.set_row(3, [5])  # a vertical I at the spawn point reaches row 3, a Z only row 2
        env.set_piece("O", 0, 0, 0, previews={1: nxt})
        _, _, terminals, *_ = act(env, HARD)
        assert terminals[0] == over


def test_time_limit_is_a_truncation_at_the_next_placement():
    env = tetris()
    env.set_clock(tick=9998)
    env.set_piece("O", 0, 5, 4)
    _, _, terminals, truncations, _ = act(env, NOOP)  # step 9999
    assert not terminals[0] and not truncations[0]
    _, _, terminals, truncations, _ = act(env, NOOP)  # step 10000, no placement
    assert not terminals[0] and not truncations[0]
    obs, _, terminals, truncations, infos = act(env, HARD)
    assert truncations[0] and not terminals[0] and infos[0]["episode_length"] == 10001
    assert obs[0, TICK] == 0


def test_ansi_render():
    env = tetris(render_mode="ansi")
    env.set_row(19, [0, 9])
    env.set_piece("O", 0, 0, 0, previews={1: "I", 2: "L"})
    lines = env.render().splitlines()
    assert len(lines) == 21 and lines[19] == "#........#" and lines[0] == "@@........"
    assert lines[20] == "next: I L hold: -"


def test_final_observation_is_the_board_the_game_ended_on():
    """A game ends when the next piece cannot appear: the final board holds the locked pieces (no falling
    piece, drawn as 2) and blocks the spawn box at the top centre; the tick goes on from the step before.
    The next game's board is empty but for its falling piece."""
    env = puffer_core.make("ocean/tetris", num_envs=8, seed=9)
    obs, _ = env.reset()
    rng = np.random.default_rng(9)
    ends = 0
    for _ in range(1500):
        tick = obs[:, TICK].copy()
        obs, _, terminals, _, _ = env.step(rng.integers(0, 7, 8, dtype=np.int32))
        for i in np.flatnonzero(terminals):
            board = env.final_observations[i, :B].reshape(H, W)
            assert set(np.unique(board)) <= {0.0, 1.0}
            assert board[:4, W // 2 : W // 2 + 4].any()
            assert np.isclose(env.final_observations[i, TICK], tick[i] + 1 / 10000)
            assert set(np.unique(obs[i, :B])) == {0.0, 2.0}
            ends += 1
    assert ends > 20
