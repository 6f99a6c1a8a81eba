import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core

# Boards are written top row first: 0 empty, 1 agent (X), 2 opponent (O).
# 40 discs, no four anywhere; the agent's disc in column 2 leaves only column 5 for the opponent, whose disc
# fills the board without a four either.
FULL_IN_TWO = [
    [2, 2, 0, 2, 1, 0, 1],
    [2, 2, 1, 2, 1, 2, 2],
    [2, 1, 1, 2, 2, 1, 1],
    [1, 1, 2, 1, 2, 1, 1],
    [1, 2, 2, 2, 1, 1, 2],
    [1, 1, 1, 2, 2, 2, 1],
]
FULL_SCORE = 2**31 - 1  # opponent_choices' score of a full column


def connect4(**kwargs):
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


def cell(obs, col, row):
    """Observation of (column, row from the bottom): index col * 6 + row."""
    return obs[col * 6 + row]


# ------------------------------------------------------------------------------------------------------
# An independent oracle of the reference's lookahead score, walked node by node (slow; a few positions).
# ------------------------------------------------------------------------------------------------------
def _bits(grid):
    grid = np.asarray(grid)
    mine = theirs = 0
    for c in range(7):
        for row in range(6):
            v = grid[5 - row, c]
            if v == 1:
                mine |= 1 << (c * 7 + row)
            elif v == 2:
                theirs |= 1 << (c * 7 + row)
    return mine, theirs


def _four(b):
    for s in (1, 7, 6, 8):
        m = b & (b >> s)
        if m & (m >> (2 * s)):
            return True
    return False


def _moves(mask):
    for c in range(7):
        col = (mask >> (c * 7)) & 0x3F
        if col != 0x3F:
            yield 1 << (c * 7 + bin(col).count("1"))


def _tree(to_move, just_moved, depth):
    """Worth of a node to the side that just moved: 10**depth if it has four, else minus the sum of its
    children; 0 at depth 0."""
    if _four(just_moved):
        return 10**depth
    if depth == 0:
        return 0
    mask = to_move | just_moved
    return -sum(_tree(just_moved, to_move | m, depth - 1) for m in _moves(mask))


def oracle_scores(grid):
    mine, theirs = _bits(grid)
    mask = mine | theirs
    scores = [FULL_SCORE] * 7
    for m in _moves(mask):
        col = (m.bit_length() - 1) // 7
        scores[col] = -_tree(mine, theirs | m, 3)
    return scores


def random_positions(count, seed):
    """Positions with the opponent to move (odd disc count), nobody having four, from random games."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        grid = np.zeros((6, 7), dtype=np.int8)
        heights = [0] * 7
        plies = 2 * int(rng.integers(3, 16)) + 1
        for ply in range(plies):
            legal = [c for c in range(7) if heights[c] < 6]
            c = legal[rng.integers(len(legal))]
            grid[5 - heights[c], c] = 1 if ply % 2 == 0 else 2
            heights[c] += 1
        mine, theirs = _bits(grid)
        immediate_win = any(_four(theirs | m) for m in _moves(mine | theirs))  # decided before the search
        if not _four(mine) and not _four(theirs) and not immediate_win:
            out.append(grid)
    return out


# ------------------------------------------------------------------------------------------------------
def test_common_checks():
    check_all("ocean/connect4", num_envs=8)


def test_common_checks_greedy_opponent():
    check_all("ocean/connect4", num_envs=4, opponent=1, opponent_noise=0.2)


def test_spaces_and_agent_moves_first():
    env = connect4()
    assert env.single_observation_space.shape == (42,)
    assert env.single_observation_space.dtype == np.float32
    assert env.single_action_space.n == 7
    assert np.all(env.observations == 0)  # the agent opens: empty board
    obs, rewards, terminals, truncations, _ = play(env, 3)
    assert rewards[0] == 0 and not terminals[0] and not truncations[0]
    assert (obs[0] == 1).sum() == 1 and (obs[0] == -1).sum() == 1


def test_observation_layout_is_column_major_bottom_first():
    env = connect4()
    env.set_board(board([[0, 0, 0, 0, 0, 0, 2], [1, 0, 0, 0, 0, 2, 1]]))
    obs = env.observations[0]
    expected = np.zeros(42, dtype=np.float32)
    expected[0 * 6 + 0] = 1.0  # column 0, bottom
    expected[5 * 6 + 0] = -1.0  # column 5, bottom
    expected[6 * 6 + 0] = 1.0  # column 6, bottom
    expected[6 * 6 + 1] = -1.0  # column 6, second row
    np.testing.assert_array_equal(obs, expected)
    # Discs written during play land at the same indices.
    obs = play(env, 0)[0][0]
    assert cell(obs, 0, 1) == 1.0


@pytest.mark.parametrize("agent, reply", [(3, 2), (4, 3)])
def test_opening_book(agent, reply):
    env = puffer_core.make("ocean/connect4", num_envs=32, seed=3)
    env.reset()
    obs = env.step(np.full(32, agent, dtype=np.int32))[0]
    assert np.all(obs[:, agent * 6] == 1.0)
    assert np.all(obs[:, reply * 6] == -1.0)  # every copy: the book, not a random tie


def test_first_reply_off_book_is_a_uniform_tie():
    env = puffer_core.make("ocean/connect4", num_envs=1400, seed=5)
    env.reset()
    grid = env.step(np.zeros(1400, dtype=np.int32))[0].reshape(1400, 7, 6)
    replies = np.array([int(np.argwhere(g == -1.0)[0][0]) for g in grid])
    counts = np.bincount(replies, minlength=7)
    assert counts.sum() == 1400 and np.all(np.abs(counts - 200) < 60), counts


def test_lookahead_scores_match_the_node_by_node_oracle():
    env = connect4()
    for grid in random_positions(12, seed=1):
        env.set_board(grid)
        choices, scores = env.opponent_choices()
        expected = oracle_scores(grid)
        assert scores == expected, (grid, scores, expected)
        legal = [s for s in expected if s != FULL_SCORE]
        assert choices == [c for c in range(7) if expected[c] == min(legal)]


def test_opponent_takes_the_leftmost_immediate_win():
    env = connect4()
    # O can win in column 1 (vertical) and in column 5 (horizontal); it wins in column 1.
    env.set_board(board([[0, 2, 0, 0, 0, 0, 0], [1, 2, 1, 0, 1, 0, 1], [1, 2, 1, 2, 2, 0, 2]]))
    assert env.opponent_choices()[0] == [1]
    _, rewards, terminals, _, infos = play(env, 0)
    assert rewards[0] == -1.0 and terminals[0]
    assert infos[0]["score"] == -1.0 and infos[0]["perf"] == 0.0 and infos[0]["illegal"] == 0.0


def test_opponent_blocks_a_forced_loss():
    env = connect4()
    # X threatens four at the bottom of column 3; any other column lets X's reply there score +100.
    grid = board([[2, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 2, 2]])
    env.set_board(grid)
    choices, scores = env.opponent_choices()
    assert choices == [3] and scores == [136, 136, 136, -60, 76, 136, 136] == oracle_scores(grid)
    obs = play(env, 6)[0][0]  # X does not complete its four: O blocks it
    assert cell(obs, 3, 0) == -1.0


def test_opponent_avoids_setting_up_the_agents_win():
    env = connect4()
    # X X X on row 1 of columns 1-3 threatens (0, 1) now and (4, 1) once column 4's bottom is filled: O
    # blocks column 0 and scores column 4 (which hands X the win on top of it) worst.
    grid = board([[0, 1, 1, 1, 0, 0, 0], [2, 2, 1, 2, 0, 2, 1]])
    env.set_board(grid)
    choices, scores = env.opponent_choices()
    assert choices == [0] and scores == [18, 153, 147, 153, 266, 153, 153] == oracle_scores(grid)


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
    assert infos[0]["score"] == 1.0 and infos[0]["perf"] == 1.0 and infos[0]["episode_return"] == 1.0
    assert infos[0]["illegal"] == 0.0
    assert np.all(env.observations == 0)  # auto-reset: a fresh board (the agent opens)


def test_one_short_of_four_is_not_a_win():
    env = connect4()
    env.set_board(board([[1, 1, 0, 0, 2, 2, 0]]))
    _, rewards, terminals, *_ = play(env, 2)
    assert not terminals[0] and rewards[0] == 0.0


def test_full_column_is_an_illegal_move_that_loses():
    env = connect4()
    column = [[1, 0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0, 0]] * 3
    env.set_board(board(column))
    _, rewards, terminals, _, infos = play(env, 0)
    assert rewards[0] == -1.0 and terminals[0]
    assert infos[0]["illegal"] == 1.0 and infos[0]["score"] == -1.0 and infos[0]["perf"] == 0.0
    assert np.all(env.observations == 0)


def test_full_board_is_no_draw_the_next_move_is_illegal():
    env = connect4()
    env.set_board(np.array(FULL_IN_TWO))
    obs, rewards, terminals, truncations, _ = play(env, 2)  # O has to fill column 5: no four
    assert rewards[0] == 0.0 and not terminals[0] and not truncations[0]
    assert np.all(obs[0] != 0) and cell(obs[0], 2, 5) == 1.0 and cell(obs[0], 5, 5) == -1.0
    _, rewards, terminals, _, infos = play(env, 4)  # every column is full
    assert rewards[0] == -1.0 and terminals[0]
    assert infos[0]["illegal"] == 1.0 and infos[0]["score"] == -1.0


def test_episode_length_counts_agent_moves():
    env = connect4()
    steps, terminal = 0, False
    while not terminal:  # the agent stacks column 6 until it wins, loses or the column is full (illegal)
        _, _, terminals, _, infos = play(env, 6)
        steps, terminal = steps + 1, bool(terminals[0])
    assert steps >= 2 and infos[0]["episode_length"] == float(steps)


def test_set_board_refuses_floating_discs():
    env = connect4()
    bad = np.zeros((6, 7), dtype=np.int8)
    bad[0, 0] = 1
    with pytest.raises(ValueError, match="float"):
        env.set_board(bad)


def test_greedy_opponent_blocks_and_wins():
    env = connect4(opponent=1)
    env.set_board(board([[1, 1, 1, 0, 0, 2, 2]]))
    obs = play(env, 0)[0]  # the agent does not complete its four
    assert cell(obs[0], 3, 0) == -1.0  # blocked
    env.set_board(board([[0, 0, 0, 0, 0, 0, 2], [1, 0, 0, 0, 0, 0, 2], [1, 0, 0, 0, 1, 0, 2]]))
    _, rewards, terminals, *_ = play(env, 0)
    assert rewards[0] == -1.0 and terminals[0]


def test_opponent_noise_one_ignores_the_book():
    env = puffer_core.make("ocean/connect4", num_envs=256, seed=2, opponent_noise=1.0)
    env.reset()
    grid = env.step(np.full(256, 3, dtype=np.int32))[0].reshape(256, 7, 6)
    replies = np.array([int(np.argwhere(g == -1.0)[0][0]) for g in grid])
    assert len(set(replies.tolist())) == 7


def test_lookahead_opponent_beats_random_play():
    env = puffer_core.make("ocean/connect4", num_envs=64, seed=0, log_interval=1)
    env.reset()
    rng = np.random.default_rng(0)
    wins = games = 0.0
    for _ in range(200):
        *_, infos = env.step(rng.integers(0, 7, 64, dtype=np.int32))
        for info in infos:
            games += info["n"]
            wins += info["perf"] * info["n"]
    assert games > 100 and wins < 0.02 * games


def test_ansi_render():
    env = connect4(render_mode="ansi")
    env.set_board(board([[1, 2, 0, 0, 0, 0, 0]]))
    assert env.render().splitlines()[-2] == "XO....."


def test_final_observation_is_the_board_the_game_ended_on():
    """The final board is the one before the agent's last move plus that move (and the opponent's winning
    reply when it won); an illegal move leaves the board as it was. The next game starts empty."""
    env = puffer_core.make("ocean/connect4", num_envs=16, seed=6, opponent_noise=1.0)  # random: it loses too
    obs, _ = env.reset()
    rng = np.random.default_rng(6)
    ends = wins = illegal = 0
    for _ in range(400):
        before = obs.reshape(16, 7, 6).copy()  # [column][row], bottom row first
        actions = rng.integers(0, 7, 16, dtype=np.int32)
        obs, rewards, terminals, _, _ = env.step(actions)
        for i in np.flatnonzero(terminals):
            final = env.final_observations[i].reshape(7, 6)
            col, height = actions[i], np.count_nonzero(before[i, actions[i]])
            if height == 6:  # full column
                assert rewards[i] == -1
                np.testing.assert_array_equal(final, before[i])
                illegal += 1
                continue
            added = final - before[i]
            assert added[col, height] == 1 and np.count_nonzero(added == 1) == 1
            assert np.count_nonzero(added == -1) == (0 if rewards[i] == 1 else 1)
            assert np.count_nonzero(added) == (1 if rewards[i] == 1 else 2)
            wins += rewards[i] == 1
            ends += 1
            assert not obs[i].any()
    assert ends > 100 and wins > 10 and illegal > 0
