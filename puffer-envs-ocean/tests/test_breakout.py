"""ocean/breakout: PufferLib 3.0 ocean's Breakout rules (576x330 field, two walls of 6x18 bricks)."""

import math

import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean.breakout import MAX_SCORE, NUM_BRICKS, Breakout

NOOP, LEFT, RIGHT = 0, 1, 2
W, H = 576.0, 330.0
ROWS, COLS = 6, 18
BRICK_W, BRICK_H, WALL_TOP = 32.0, 12.0, 50.0
PADDLE_W, PADDLE_Y, PADDLE_H = 62.0, 312.0, 8.0
BALL = 32.0
POINTS = [7, 7, 4, 4, 1, 1]
HALF_SCORE = MAX_SCORE // 2
SERVE_ANGLE = math.pi / 3.25
PADDLE_STEP = 620.0 / 60.0


def breakout(**kwargs):
    kwargs.setdefault("frameskip", 1)
    env = puffer_core.make("ocean/breakout", num_envs=1, seed=0, log_interval=1, **kwargs)
    env.reset()
    return env


def step(env, action=NOOP):
    return env.step(np.array([action], dtype=np.int32))


def index(row, col):
    return row * COLS + col


def bricks_only(*indices):
    standing = np.zeros(NUM_BRICKS, dtype=np.uint8)
    standing[list(indices)] = 1
    return standing


def ball_speed(obs):
    """|v| of the ball in px/s (the observation holds px/frame / 512)."""
    return math.hypot(obs[0, 4], obs[0, 5]) * 512 * 60


def hit_paddle(env, speed=None, hits=None, offset=0.0):
    """One frame in which the ball, `offset` px right of the paddle's centre, lands on the paddle."""
    kwargs = {} if speed is None else {"speed": speed}
    if hits is not None:
        kwargs["hits"] = hits
    env.set_state(paddle_x=257.0, ball_x=257.0 + 31.0 - 16.0 + offset, ball_y=PADDLE_Y - BALL - 1.0,
                  ball_vx=0.0, ball_vy=2.0, **kwargs)
    return step(env)


def test_common_checks():
    check_all("ocean/breakout", num_envs=8)


def test_constants_and_first_observation():
    env = puffer_core.make("ocean/breakout", num_envs=3)
    params = env.params
    assert (params["width"], params["height"], params["frameskip"]) == (576, 330, 4)
    assert (params["paddle_width"], params["paddle_height"], params["ball_width"], params["ball_height"]) == (
        62, 8, 32, 32)
    assert (params["brick_width"], params["brick_height"], params["brick_rows"], params["brick_cols"]) == (
        32, 12, 6, 18)
    assert NUM_BRICKS == ROWS * COLS == 108 and MAX_SCORE == 2 * COLS * sum(POINTS) == 864
    assert env.single_observation_space.shape == (118,) and env.single_observation_space.dtype == np.float32
    assert env.single_action_space.n == 3
    assert env.render_size == (330, 576)
    obs, _ = env.reset(seed=0)
    # paddle centred, ball resting above it at y = 330 / 2 - 30, not served, no score, 5 spare balls,
    # full paddle
    head = [257 / W, PADDLE_Y / H, 272 / W, 135 / H, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    np.testing.assert_allclose(obs[:, :10], np.tile(head, (3, 1)), rtol=1e-6)
    assert np.all(obs[:, 10:] == 0.0)  # 0 = standing


def test_serve_ignores_the_action_then_the_paddle_moves():
    env = breakout()
    start = env.observations[0, 0] * W
    obs, *_ = step(env, LEFT)  # the serve frame
    assert obs[0, 0] * W == pytest.approx(start)
    assert obs[0, 6] == pytest.approx(0.2)
    v = 256.0 / 60.0
    assert abs(obs[0, 4] * 512) == pytest.approx(v * math.sin(SERVE_ANGLE), rel=1e-5)
    assert obs[0, 5] * 512 == pytest.approx(v * math.cos(SERVE_ANGLE), rel=1e-5)  # downwards
    obs, *_ = step(env, LEFT)
    assert obs[0, 0] * W == pytest.approx(start - PADDLE_STEP, rel=1e-5)
    for _ in range(40):
        obs, *_ = step(env, LEFT)
    assert obs[0, 0] == 0.0
    for _ in range(80):
        obs, *_ = step(env, RIGHT)
    assert obs[0, 0] * W == pytest.approx(W - PADDLE_W)


def test_serve_goes_left_or_right_at_random():
    env = puffer_core.make("ocean/breakout", num_envs=64, seed=3, frameskip=1)
    env.reset()
    obs, *_ = env.step(np.zeros(64, dtype=np.int32))
    signs = np.sign(obs[:, 4])
    assert 10 < (signs > 0).sum() < 54 and np.all(signs != 0)


@pytest.mark.parametrize("row", range(ROWS))
def test_brick_points_by_row(row):
    env = breakout()
    brick = index(row, 5)
    bottom = WALL_TOP + (row + 1) * BRICK_H
    env.set_state(ball_x=5 * BRICK_W, ball_y=bottom + 1.0, ball_vx=0.0, ball_vy=-2.0,
                  bricks=bricks_only(brick))
    obs, rewards, terminals, *_ = step(env)
    assert rewards[0] == POINTS[row] and not terminals[0]
    assert obs[0, 10 + brick] == 1.0 and obs[0, 10:].sum() == NUM_BRICKS  # 1 = broken
    assert obs[0, 3] * H == pytest.approx(bottom)  # stopped at the contact point
    assert obs[0, 5] * 512 == pytest.approx(2.0)  # mirrored
    assert obs[0, 7] == pytest.approx(POINTS[row] / MAX_SCORE)


def test_ties_go_to_the_brick_with_the_larger_overlap():
    # the ball spans [x, x + 32); brick 5 spans [160, 192), brick 6 [192, 224)
    for x, broken in ((170.0, 5), (180.0, 6)):
        env = breakout()
        env.set_state(ball_x=x, ball_y=WALL_TOP + ROWS * BRICK_H + 1.0, ball_vx=0.0, ball_vy=-2.0,
                      bricks=bricks_only(index(5, 5), index(5, 6)))
        obs, rewards, *_ = step(env)
        assert rewards[0] == 1.0
        assert obs[0, 10 + index(5, broken)] == 1.0 and obs[0, 10:].sum() == NUM_BRICKS - 1


def test_side_hit_mirrors_vx():
    env = breakout()
    brick = index(5, 5)  # x in [160, 192), y in [110, 122)
    env.set_state(ball_x=160.0 - BALL - 1.0, ball_y=100.0, ball_vx=2.0, ball_vy=0.5,
                  bricks=bricks_only(brick))
    obs, rewards, *_ = step(env)
    assert rewards[0] == 1.0
    assert obs[0, 4] < 0 and obs[0, 5] > 0
    assert obs[0, 2] * W == pytest.approx(160.0 - BALL)


def test_walls_mirror_the_ball():
    env = breakout()
    env.set_state(ball_x=1.0, ball_y=200.0, ball_vx=-2.0, ball_vy=1.0)
    obs, *_ = step(env)
    assert obs[0, 2] == 0.0 and obs[0, 4] > 0 and obs[0, 3] * H == pytest.approx(200.5)
    env.set_state(ball_x=W - BALL - 1.0, ball_y=200.0, ball_vx=2.0, ball_vy=1.0)
    obs, *_ = step(env)
    assert obs[0, 2] * W == pytest.approx(W - BALL) and obs[0, 4] < 0


def test_paddle_angle_depends_on_where_the_ball_lands():
    env = breakout()
    obs, *_ = hit_paddle(env)
    assert obs[0, 4] == pytest.approx(0.0, abs=1e-7) and obs[0, 5] < 0  # centre: straight up
    assert obs[0, 3] * H == pytest.approx(PADDLE_Y - BALL - 1.0)  # the ball does not move in that frame
    obs, *_ = hit_paddle(env, offset=-31.0)  # ball centre over the left end: 45 degrees to the left
    assert math.degrees(math.atan2(obs[0, 4], -obs[0, 5])) == pytest.approx(-45.0, abs=1e-3)
    obs, *_ = hit_paddle(env, offset=15.5)  # three quarters along: 22.5 degrees to the right
    assert math.degrees(math.atan2(obs[0, 4], -obs[0, 5])) == pytest.approx(22.5, abs=1e-3)


def test_speed_up_every_fourth_paddle_hit_up_to_448():
    env = breakout()
    env.set_state(speed=256.0, hits=0)
    speeds = [ball_speed(hit_paddle(env)[0]) for _ in range(20)]
    # the 4th hit still leaves at the old speed; the new one applies from the next hit
    expected = [256.0] * 4 + [320.0] * 4 + [384.0] * 4 + [448.0] * 8
    np.testing.assert_allclose(speeds, expected, rtol=1e-5)


@pytest.mark.parametrize("row, fast", [(0, True), (2, True), (3, False), (5, False)])
def test_bricks_of_the_top_three_rows_set_the_top_speed(row, fast):
    env = breakout()
    bottom = WALL_TOP + (row + 1) * BRICK_H
    env.set_state(ball_x=5 * BRICK_W, ball_y=bottom + 1.0, ball_vx=0.0, ball_vy=-2.0, speed=256.0, hits=0,
                  bricks=bricks_only(index(row, 5), 0))
    obs, rewards, *_ = step(env)
    assert rewards[0] == POINTS[row]
    assert obs[0, 5] * 512 == pytest.approx(2.0)  # not at once: from the next paddle hit
    obs, *_ = hit_paddle(env)
    assert ball_speed(obs) == pytest.approx(448.0 if fast else 256.0, rel=1e-5)


def test_paddle_halves_at_the_back_wall_until_the_next_ball():
    env = breakout()
    env.set_state(paddle_x=100.0, ball_x=300.0, ball_y=1.0, ball_vx=0.0, ball_vy=-2.0, bricks=bricks_only(0))
    obs, *_ = step(env)
    assert obs[0, 3] == 0.0 and obs[0, 5] > 0
    assert obs[0, 9] == 0.5 and obs[0, 0] * W == pytest.approx(100.0)  # the left end stays put
    for _ in range(10):
        obs, *_ = step(env, RIGHT)
    assert obs[0, 0] * W == pytest.approx(min(100.0 + 10 * PADDLE_STEP, W - PADDLE_W / 2), rel=1e-5)
    env.set_state(ball_x=500.0, ball_y=PADDLE_Y + PADDLE_H - 1.0, ball_vx=0.0, ball_vy=2.0, paddle_x=0.0)
    obs, *_ = step(env)  # ball lost: a new ball with a full paddle
    assert obs[0, 9] == 1.0 and obs[0, 8] == pytest.approx(0.8)


def test_second_wall_once_then_the_game_is_won():
    env = breakout()
    last = index(5, 8)
    env.set_state(ball_x=8 * BRICK_W, ball_y=123.0, ball_vx=0.0, ball_vy=-2.0, score=HALF_SCORE - 1,
                  bricks=bricks_only(last))
    obs, rewards, terminals, *_ = step(env)
    assert rewards[0] == 1.0 and not terminals[0]
    assert obs[0, 7] == pytest.approx(0.5) and np.all(obs[0, 10:] == 1.0)  # first wall cleared, play goes on
    obs, *_ = hit_paddle(env)
    assert np.all(obs[0, 10:] == 0.0)  # the second wall, when the ball meets the paddle
    env.set_state(ball_x=8 * BRICK_W, ball_y=123.0, ball_vx=0.0, ball_vy=-2.0)
    obs, rewards, *_ = step(env)
    assert rewards[0] == 1.0 and obs[0, 10 + last] == 1.0
    obs, *_ = hit_paddle(env)
    assert obs[0, 10 + last] == 1.0  # no third wall
    env.set_state(ball_x=8 * BRICK_W, ball_y=123.0, ball_vx=0.0, ball_vy=-2.0, score=MAX_SCORE - 1,
                  bricks=bricks_only(last))
    obs, rewards, terminals, truncations, infos = step(env)
    assert rewards[0] == 1.0 and terminals[0] and not truncations[0]
    assert infos[0]["score"] == MAX_SCORE and infos[0]["perf"] == 1.0
    assert obs[0, 7] == 0.0 and np.all(obs[0, 10:] == 0.0)  # auto-reset


def test_six_balls_then_the_game_ends():
    env = breakout()
    steps = 0
    for spare in range(5, -1, -1):
        assert env.observations[0, 8] == pytest.approx(spare / 5)
        env.set_state(paddle_x=0.0, ball_x=500.0, ball_y=PADDLE_Y + PADDLE_H - 1.0, ball_vx=0.0, ball_vy=2.0)
        obs, rewards, terminals, truncations, infos = step(env)
        steps += 1
        if spare:
            assert not terminals[0]
            # the next ball waits for its serve
            assert obs[0, 6] == 0.0 and obs[0, 4] == 0.0 and obs[0, 5] == 0.0
            assert obs[0, 0] * W == pytest.approx(257.0) and obs[0, 2] * W == pytest.approx(272.0)
    assert terminals[0] and not truncations[0]
    assert infos[0]["n"] == 1 and infos[0]["episode_length"] == steps and infos[0]["score"] == 0.0
    assert obs[0, 8] == 1.0  # a new game


def test_truncation_after_max_steps():
    env = breakout(max_steps=5)
    for _ in range(4):
        _, _, terminals, truncations, _ = step(env)
        assert not truncations[0] and not terminals[0]
    _, _, terminals, truncations, infos = step(env)
    assert truncations[0] and not terminals[0]
    assert infos[0]["episode_length"] == 5


def test_frameskip_repeats_the_frame():
    for frameskip in (1, 4):
        env = breakout(frameskip=frameskip)
        env.set_state(ball_x=300.0, ball_y=150.0, ball_vx=0.0, ball_vy=2.0)
        obs, *_ = step(env)
        assert obs[0, 3] * H == pytest.approx(150.0 + 2.0 * frameskip)


def test_kwargs_resize_the_game():
    env = puffer_core.make("ocean/breakout", num_envs=1, width=320, height=240, brick_rows=2, brick_cols=5,
                           paddle_width=40)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1, 10 + 10) and env.render_size == (240, 320)
    assert obs[0, 0] * 320 == pytest.approx(160 - 20)
    assert obs[0, 1] * 240 == pytest.approx(240 - 8 - 10)
    assert Breakout(num_envs=1, brick_rows=2, brick_cols=5).observations.shape == (1, 20)


def test_random_play_logs_score_perf_and_return():
    env = puffer_core.make("ocean/breakout", num_envs=64, seed=1, log_interval=1)
    env.reset()
    rng = np.random.default_rng(0)
    infos_seen = []
    for _ in range(300):
        *_, infos = env.step(rng.integers(0, 3, 64, dtype=np.int32))
        infos_seen += infos
    assert infos_seen
    assert {"episode_return", "episode_length", "score", "perf", "n"} <= set(infos_seen[0])
    assert all(i["score"] == pytest.approx(i["episode_return"]) for i in infos_seen)
    assert all(i["perf"] == pytest.approx(i["score"] / MAX_SCORE) for i in infos_seen)
    assert max(i["score"] for i in infos_seen) > 0


def test_a_paddle_that_tracks_the_ball_clears_both_walls():
    env = puffer_core.make("ocean/breakout", num_envs=8, seed=0, log_interval=1)
    obs, _ = env.reset()
    scores = []
    for _ in range(6000):
        gap = (obs[:, 2] * W + 16) - (obs[:, 0] * W + obs[:, 9] * 31)
        actions = np.where(gap < -15, LEFT, np.where(gap > 15, RIGHT, NOOP)).astype(np.int32)
        obs, _, _, _, infos = env.step(actions)
        scores += [info["score"] for info in infos]
    assert scores and max(scores) == MAX_SCORE


def test_final_observation_is_the_game_as_it_ended():
    """Won: the final observation has the top score and every brick broken. Lost: the last ball below the
    paddle and no spare ball left (-1/5). Truncated: the state a longer game of the same seed shows at that
    step. Each time the observation next to it is the next game's first."""
    env = breakout()
    last = index(5, 8)
    env.set_state(ball_x=8 * BRICK_W, ball_y=123.0, ball_vx=0.0, ball_vy=-2.0, score=MAX_SCORE - 1,
                  bricks=bricks_only(last))
    obs, _, terminals, *_ = step(env)
    final = env.final_observations[0]
    assert terminals[0] and final[7] == 1.0 and np.all(final[10:] == 1.0)
    assert obs[0, 7] == 0.0 and np.all(obs[0, 10:] == 0.0)

    for _ in range(6):
        env.set_state(paddle_x=0.0, ball_x=500.0, ball_y=PADDLE_Y + PADDLE_H - 1.0, ball_vx=0.0, ball_vy=2.0)
        obs, _, terminals, *_ = step(env)
    final = env.final_observations[0]
    assert terminals[0] and final[3] * H >= PADDLE_Y + PADDLE_H and final[8] == pytest.approx(-0.2)
    assert obs[0, 8] == 1.0 and obs[0, 3] * H < PADDLE_Y

    short, long = breakout(max_steps=40, frameskip=4), breakout(max_steps=1000, frameskip=4)
    rng = np.random.default_rng(1)
    for _ in range(40):
        action = int(rng.integers(3))
        _, _, terminals, truncations, _ = step(short, action)
        long_obs = step(long, action)[0]
    assert truncations[0] and not terminals[0]
    np.testing.assert_array_equal(short.final_observations[0], long_obs[0])
    assert not np.array_equal(short.observations[0], long_obs[0])
