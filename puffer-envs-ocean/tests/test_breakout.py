import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean.breakout import NUM_BRICKS

NOOP, LEFT, RIGHT = 0, 1, 2
W, H = 160.0, 192.0
PADDLE_Y, PADDLE_W, BALL = 180.0, 20.0, 3.0
COLS = 16


def breakout(**kwargs):
    kwargs.setdefault("frameskip", 1)
    env = puffer_core.make("ocean/breakout", num_envs=1, seed=0, log_interval=1, **kwargs)
    env.reset()
    return env


def step(env, action=NOOP):
    return env.step(np.array([action], dtype=np.int32))


def no_bricks():
    """A wall with only the top-left brick standing (a wall with no bricks is a won game)."""
    bricks = np.zeros(NUM_BRICKS, dtype=np.uint8)
    bricks[0] = 1
    return bricks


def test_common_checks():
    check_all("ocean/breakout", num_envs=8)


def test_spaces():
    env = puffer_core.make("ocean/breakout", num_envs=3)
    assert env.single_observation_space.shape == (6 + NUM_BRICKS,)
    assert env.single_observation_space.dtype == np.float32
    assert env.single_action_space.n == 3
    assert env.num_agents == 3
    obs, _ = env.reset(seed=0)
    assert np.all(obs[:, 6:] == 1.0)  # a full wall
    assert np.all(obs[:, 5] == 1.0)  # all lives left


@pytest.mark.parametrize(
    "x, y, vx, vy, expect_x, expect_y, expect_vx, expect_vy",
    [
        (1.0, 120.0, -2.0, 1.0, 1.0, 121.0, 2.0, 1.0),  # left wall: -1 mirrored to 1
        (W - BALL - 1.0, 120.0, 2.0, 1.0, W - BALL - 1.0, 121.0, -2.0, 1.0),  # right wall
        (80.0, 1.0, 1.0, -2.0, 81.0, 1.0, 1.0, 2.0),  # top wall (no bricks in the way)
    ],
)
def test_ball_bounces_off_walls(x, y, vx, vy, expect_x, expect_y, expect_vx, expect_vy):
    env = breakout()
    env.set_state(paddle_x=0.0, ball_x=x, ball_y=y, ball_vx=vx, ball_vy=vy, bricks=no_bricks())
    obs, rewards, terminals, truncations, _ = step(env)
    assert obs[0, 1] * W == pytest.approx(expect_x)
    assert obs[0, 2] * H == pytest.approx(expect_y)
    assert np.sign(obs[0, 3]) == np.sign(expect_vx) and np.sign(obs[0, 4]) == np.sign(expect_vy)
    assert rewards[0] == 0 and not terminals[0] and not truncations[0]


def test_ball_breaks_a_bottom_brick_and_bounces_back():
    env = breakout()
    # column 5 spans x in [50, 60); the bottom row (points 1) spans y in [66, 72)
    env.set_state(paddle_x=0.0, ball_x=53.0, ball_y=73.0, ball_vx=0.0, ball_vy=-2.0)
    obs, rewards, *_ = step(env)
    brick = 5 * COLS + 5
    assert rewards[0] == 1.0
    assert obs[0, 6 + brick] == 0.0
    assert obs[0, 6:].sum() == NUM_BRICKS - 1  # one brick per hit
    assert obs[0, 4] > 0  # now moving down
    assert obs[0, 2] * H == pytest.approx(73.0)


def test_top_row_brick_scores_seven_and_speeds_the_ball_up():
    env = breakout()
    bricks = no_bricks()
    bricks[:COLS] = 1  # only the top row stands
    env.set_state(paddle_x=0.0, ball_x=53.0, ball_y=43.0, ball_vx=0.0, ball_vy=-2.0, bricks=bricks)
    obs, rewards, *_ = step(env)
    assert rewards[0] == 7.0
    assert obs[0, 6 + 5] == 0.0 and obs[0, 6 + 6] == 1.0
    assert obs[0, 4] == pytest.approx(1.0)  # top speed, straight down


def test_side_hit_reverses_horizontal_velocity():
    env = breakout()
    bricks = no_bricks()
    bricks[5 * COLS + 5] = 1  # a lone brick: x in [50, 60), y in [66, 72)
    env.set_state(paddle_x=0.0, ball_x=46.0, ball_y=68.0, ball_vx=2.0, ball_vy=0.0, bricks=bricks)
    obs, rewards, *_ = step(env)
    assert rewards[0] == 1.0
    assert obs[0, 3] < 0 and obs[0, 4] == 0


def test_paddle_bounce_angle_depends_on_hit_position():
    env = breakout()
    centre = 70.0 + PADDLE_W / 2 - BALL / 2
    env.set_state(paddle_x=70.0, ball_x=centre, ball_y=PADDLE_Y - BALL - 1.0, ball_vx=0.0, ball_vy=2.0)
    obs, *_ = step(env)
    assert obs[0, 4] < 0 and obs[0, 3] == pytest.approx(0.0, abs=1e-6)  # straight up
    env.set_state(paddle_x=70.0, ball_x=87.0, ball_y=PADDLE_Y - BALL - 1.0, ball_vx=0.0, ball_vy=2.0)
    obs, *_ = step(env)
    assert obs[0, 4] < 0 and obs[0, 3] > 0.3  # right edge: off to the right
    env.set_state(paddle_x=70.0, ball_x=68.0, ball_y=PADDLE_Y - BALL - 1.0, ball_vx=0.0, ball_vy=2.0)
    obs, *_ = step(env)
    assert obs[0, 4] < 0 and obs[0, 3] < -0.3


def test_paddle_moves_and_stops_at_the_walls():
    env = breakout()
    start = env.observations[0, 0]
    obs, *_ = step(env, LEFT)
    assert obs[0, 0] < start
    for _ in range(60):
        obs, *_ = step(env, LEFT)
    assert obs[0, 0] == 0.0
    for _ in range(60):
        obs, *_ = step(env, RIGHT)
    assert obs[0, 0] == 1.0


def test_missing_the_ball_costs_a_life_then_the_game():
    env = breakout(lives=2)
    env.set_state(paddle_x=0.0, ball_x=150.0, ball_y=191.0, ball_vx=0.0, ball_vy=3.0)
    obs, rewards, terminals, truncations, infos = step(env)
    assert obs[0, 5] == 0.5 and not terminals[0]
    assert obs[0, 2] * H < 100  # served again below the bricks
    env.set_state(paddle_x=0.0, ball_x=150.0, ball_y=191.0, ball_vx=0.0, ball_vy=3.0)
    obs, rewards, terminals, truncations, infos = step(env)
    assert terminals[0] and not truncations[0]
    assert obs[0, 5] == 1.0 and np.all(obs[0, 6:] == 1.0)  # auto-reset: a new game
    assert infos[0]["n"] == 1 and infos[0]["episode_length"] == 2


def test_clearing_the_wall_ends_the_game():
    env = breakout()
    bricks = np.zeros(NUM_BRICKS, dtype=np.uint8)
    bricks[5 * COLS + 5] = 1
    env.set_state(paddle_x=0.0, ball_x=53.0, ball_y=73.0, ball_vx=0.0, ball_vy=-2.0, bricks=bricks)
    _, rewards, terminals, _, infos = step(env)
    assert rewards[0] == 1.0 and terminals[0]
    assert infos[0]["cleared"] == 1.0 and infos[0]["score"] == 1.0


def test_truncation_is_not_termination():
    env = breakout(max_steps=5, frameskip=4)
    for _ in range(4):
        _, _, terminals, truncations, _ = step(env)
        assert not truncations[0] and not terminals[0]
    _, _, terminals, truncations, infos = step(env)
    assert truncations[0] and not terminals[0]
    assert infos[0]["episode_length"] == 5


def test_frameskip_repeats_frames():
    moved = []
    for frameskip in (1, 4):
        env = breakout(frameskip=frameskip)
        env.set_state(paddle_x=0.0, ball_x=80.0, ball_y=100.0, ball_vx=0.0, ball_vy=2.0, bricks=no_bricks())
        obs, *_ = step(env)
        moved.append(obs[0, 2] * H - 100.0)
    assert moved[0] == pytest.approx(2.0) and moved[1] == pytest.approx(8.0)


def test_random_play_scores_and_logs():
    env = puffer_core.make("ocean/breakout", num_envs=16, seed=1, log_interval=1)
    env.reset()
    rng = np.random.default_rng(0)
    infos_seen = []
    for _ in range(400):
        *_, infos = env.step(rng.integers(0, 3, 16, dtype=np.int32))
        infos_seen += infos
    assert infos_seen
    keys = {"episode_return", "episode_length", "score", "bricks", "cleared", "n"}
    assert keys <= set(infos_seen[0])
    assert max(i["score"] for i in infos_seen) > 0
    assert all(i["score"] == pytest.approx(i["episode_return"]) for i in infos_seen)


def test_a_paddle_that_tracks_the_ball_breaks_most_of_the_wall():
    env = puffer_core.make("ocean/breakout", num_envs=8, seed=0, log_interval=1)
    obs, _ = env.reset()
    scores = []
    for _ in range(2500):
        paddle = obs[:, 0] * (W - PADDLE_W) + PADDLE_W / 2
        ball = obs[:, 1] * W + BALL / 2
        actions = np.where(ball < paddle - 3, LEFT, np.where(ball > paddle + 3, RIGHT, NOOP)).astype(np.int32)
        obs, _, _, _, infos = env.step(actions)
        scores += [info["score"] for info in infos]
    assert scores and np.mean(scores) > 150  # the whole wall is worth 384 points
