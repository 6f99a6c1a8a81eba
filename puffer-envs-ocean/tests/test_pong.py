import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean._binding import state_type
from puffer_envs_ocean.pong import STATE_CDEF

STAY, UP, DOWN = 0, 1, 2
W, H, R = 160.0, 120.0, 2.0
AGENT_X, OPP_X = 152.0, 8.0


def pong(**kwargs):
    env = puffer_core.make("ocean/pong", num_envs=1, seed=0, log_interval=1, **kwargs)
    env.reset()
    return env, env.state_pointer(0, state_type(STATE_CDEF, "PongState"))


def step(env, action=STAY):
    return env.step(np.array([action], dtype=np.int32))


def test_common_checks():
    check_all("ocean/pong", num_envs=8)


def test_ball_bounces_off_top_wall():
    env, s = pong()
    s.bx, s.by, s.vx, s.vy = 80.0, 3.0, 3.0, -2.0
    obs, rewards, *_ = step(env)
    assert s.vy == 2.0 and s.by == 3.0  # reflected: 3 - 2 = 1 is inside the radius, mirrored to 3
    assert obs[0, 5] > 0 and obs[0, 3] * H == pytest.approx(3.0)
    assert rewards[0] == 0


def test_ball_bounces_off_bottom_wall():
    env, s = pong()
    s.bx, s.by, s.vx, s.vy = 80.0, H - 3.0, -3.0, 2.0
    step(env)
    assert s.vy == -2.0 and s.by == H - 3.0


def test_ball_bounces_off_agent_paddle():
    env, s = pong()
    s.paddle_y = 60.0
    s.bx, s.by, s.vx, s.vy = AGENT_X - R - 1.0, 60.0, 3.0, 0.0
    _, rewards, *_ = step(env)
    assert s.vx < 0 and s.hits == 1 and rewards[0] == 0
    assert s.bx == AGENT_X - R
    # an off-centre hit deflects: below the centre sends the ball down
    env, s = pong()
    s.paddle_y = 60.0
    s.bx, s.by, s.vx, s.vy = AGENT_X - R - 1.0, 68.0, 3.0, 0.0
    step(env)
    assert s.vx < 0 and s.vy > 0


def test_ball_bounces_off_opponent_paddle():
    env, s = pong(opponent_speed=0.0)
    s.opp_y = 60.0
    s.bx, s.by, s.vx, s.vy = OPP_X + R + 1.0, 60.0, -3.0, 0.0
    _, rewards, *_ = step(env)
    assert s.vx > 0 and rewards[0] == 0


def test_missing_the_ball_loses_a_point():
    env, s = pong()
    s.paddle_y = 20.0
    s.bx, s.by, s.vx, s.vy = 155.0, 100.0, 3.0, 0.0
    rewards_seen = [step(env)[1][0] for _ in range(2)]
    assert rewards_seen == [0.0, -1.0]
    assert s.opp_score == 1 and s.bx == W / 2  # served again from the centre


def test_opponent_missing_wins_a_point_and_the_game_ends():
    env, s = pong(opponent_speed=0.0, max_score=3)
    s.opp_y = 20.0
    s.score = 2
    s.bx, s.by, s.vx, s.vy = 5.0, 100.0, -3.0, 0.0
    _, rewards, terminals, truncations, infos = step(env)
    assert rewards[0] == 0
    _, rewards, terminals, truncations, infos = step(env)
    assert rewards[0] == 1.0 and terminals[0] and not truncations[0]
    assert infos[0]["win"] == 1.0 and infos[0]["score"] == 3.0 and infos[0]["episode_return"] == 1.0
    assert s.score == 0 and s.opp_score == 0  # auto-reset


def test_paddle_moves_and_stays_on_the_field():
    env, s = pong()
    start = s.paddle_y
    step(env, UP)
    assert s.paddle_y == start - 4.0
    for _ in range(100):
        step(env, DOWN)
    assert s.paddle_y == H - 12.0


def tracking_policy(obs):
    return np.where(obs[:, 3] < obs[:, 0] - 0.02, UP, np.where(obs[:, 3] > obs[:, 0] + 0.02, DOWN, STAY))


def test_tracking_beats_random():
    results = {}
    for name in ("random", "track"):
        env = puffer_core.make("ocean/pong", num_envs=64, seed=1, max_score=5)
        obs, _ = env.reset()
        rng = np.random.default_rng(0)
        episodes = []
        for _ in range(3000):
            if name == "random":
                actions = rng.integers(0, 3, 64, dtype=np.int32)
            else:
                actions = tracking_policy(obs).astype(np.int32)
            obs, _, _, _, infos = env.step(actions)
            episodes += infos
        episodes += env.flush_log()
        total = sum(i["n"] for i in episodes)
        results[name] = {k: sum(i[k] * i["n"] for i in episodes) / total for k in episodes[0]}
    assert results["random"]["win"] < 0.1 and results["random"]["episode_return"] < -3
    assert results["track"]["win"] > 0.9 and results["track"]["hits"] > results["random"]["hits"]


def test_frameskip_repeats_frames():
    env1, s1 = pong(frameskip=1)
    env4, s4 = pong(frameskip=4)
    for s in (s1, s4):
        s.bx, s.by, s.vx, s.vy = 80.0, 60.0, 3.0, 1.0
    for _ in range(4):
        step(env1)
    step(env4)
    assert (s1.bx, s1.by) == (s4.bx, s4.by)
