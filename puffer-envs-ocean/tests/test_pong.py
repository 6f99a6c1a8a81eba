import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean._binding import state_type
from puffer_envs_ocean.pong import STATE_CDEF, Pong

STAY, UP, DOWN = 0, 1, 2
# the reference's constants (pong.py defaults, frameskip from config/ocean/pong.ini)
W, H = 500.0, 640.0
PADDLE_H, BALL = 70.0, 32.0
SPEED, VX0, VY0, VY_INC, VY_MAX = 8.0, 10.0, 1.0, 3.0, 13.0
SERVE_PADDLE_Y = H / 2 - PADDLE_H / 2  # 285
SERVE_BALL = (W / 5, H / 2 - BALL / 2)  # (100, 304)


def pong(**kwargs):
    env = puffer_core.make("ocean/pong", num_envs=1, seed=0, log_interval=1, **kwargs)
    env.reset()
    return env, env.state_pointer(0, state_type(STATE_CDEF, "PongState"))


def step(env, action=STAY):
    return env.step(np.array([action], dtype=np.int32))


def place(s, bx, by, vx, vy, agent_y=SERVE_PADDLE_Y, opp_y=SERVE_PADDLE_Y):
    s.bx, s.by, s.vx, s.vy, s.agent_y, s.opp_y = bx, by, vx, vy, agent_y, opp_y


def test_common_checks():
    check_all("ocean/pong", num_envs=8)


def test_reference_defaults():
    defaults = {name: spec.default for name, spec in Pong.param_specs().items()}
    assert defaults == {
        "width": 500,
        "height": 640,
        "paddle_width": 20,
        "paddle_height": 70,
        "ball_width": 32,
        "ball_height": 32,
        "paddle_speed": 8,
        "ball_initial_speed_x": 10,
        "ball_initial_speed_y": 1,
        "ball_speed_y_increment": 3,
        "ball_max_speed_y": 13,
        "max_score": 21,
        "frameskip": 8,
    }
    env, _ = pong()
    assert env.single_action_space.n == 3
    space = env.single_observation_space
    assert (
        space.shape == (8,) and space.dtype == np.float32 and space.low.min() == 0 and space.high.max() == 1
    )
    assert list(env.info.log_names) == ["episode_return", "episode_length", "score", "perf"]


def test_serve_and_observation_layout():
    env = puffer_core.make("ocean/pong", num_envs=2000, seed=3)
    obs, _ = env.reset()
    s = env.state_pointer(0, state_type(STATE_CDEF, "PongState"))
    assert (s.agent_y, s.opp_y, s.bx, s.by, s.vx) == (SERVE_PADDLE_Y, SERVE_PADDLE_Y, *SERVE_BALL, VX0)
    # paddles (y + h/2) / H, ball x / W, y / H, (vx + vx0) / 2vx0, (vy + vmax) / 2vmax, scores / 21
    expected = [0.5, 0.5, 0.2, 304 / 640, 1.0]
    np.testing.assert_allclose(obs[:, :5], np.tile(expected, (2000, 1)), rtol=1e-6)
    assert np.all(obs[:, 6:] == 0)
    # vy at a serve: 0 or -ball_initial_speed_y, at even odds
    vy_obs = obs[:, 5]
    flat, down = np.isclose(vy_obs, 13 / 26), np.isclose(vy_obs, 12 / 26)
    assert np.all(flat | down) and 900 < flat.sum() < 1100


def test_observation_of_a_set_state():
    env, s = pong(frameskip=1)
    place(s, 200.0, 300.0, -VX0, 5.0, agent_y=100.0, opp_y=400.0)
    s.points, s.opp_points = 3, 7
    obs = step(env, UP)[0][0]
    # after one frame: agent 108, opponent chased the ball down by 8 to 392, ball (190, 305)
    want = [(392 + 35) / H, (108 + 35) / H, 190 / W, 305 / H, 0.0, 18 / 26, 7 / 21, 3 / 21]
    np.testing.assert_allclose(obs, want, rtol=1e-6)


def test_both_paddles_move_at_paddle_speed():
    env, s = pong(frameskip=1)
    place(s, 250.0, 600.0, VX0, 0.0, agent_y=100.0, opp_y=100.0)  # ball far above both paddles
    step(env, UP)
    assert s.agent_y == 100.0 + SPEED and s.opp_y == 100.0 + SPEED
    step(env, DOWN)
    assert s.agent_y == 100.0 and s.opp_y == 100.0 + 2 * SPEED
    step(env, STAY)
    assert s.agent_y == 100.0
    # the opponent moves its centre onto the ball's lower edge and no further
    place(s, 250.0, 300.0, VX0, 0.0, opp_y=300.0 - PADDLE_H / 2 - 3.0)
    step(env)
    assert s.opp_y == 300.0 - PADDLE_H / 2
    # paddles stop half out of the field
    place(s, 250.0, 600.0, VX0, 0.0, agent_y=H - PADDLE_H / 2 - 1.0)
    step(env, UP)
    assert s.agent_y == H - PADDLE_H / 2


def test_frameskip_repeats_the_action():
    env8, s8 = pong()  # default frameskip 8
    env1, s1 = pong(frameskip=1)
    for s in (s1, s8):
        place(s, 150.0, 200.0, VX0, 2.0, agent_y=100.0)
    step(env8, UP)
    for _ in range(8):
        step(env1, UP)
    assert (s8.bx, s8.by, s8.agent_y, s8.opp_y) == (s1.bx, s1.by, s1.agent_y, s1.opp_y)
    assert s8.bx == 150.0 + 8 * VX0 and s8.agent_y == 100.0 + 8 * SPEED and s8.tick == 1


def test_wall_reverses_vy_without_clipping():
    env, s = pong(frameskip=1)
    place(s, 250.0, 2.0, VX0, -5.0)
    step(env)
    assert s.by == -3.0 and s.vy == 5.0
    place(s, 250.0, H - BALL - 1.0, VX0, 4.0)
    step(env)
    assert s.by == H - BALL + 3.0 and s.vy == -4.0


@pytest.mark.parametrize(
    ("action", "vy", "new_vy"),
    [
        (STAY, 2.0, 2.0),
        (UP, 2.0, 5.0),
        (DOWN, 2.0, -1.0),
        (UP, 12.0, VY_MAX),
        (DOWN, 3.0, VY_INC),
        (STAY, 0.0, VY_INC),
    ],
)
def test_return_pays_0_1_and_steers_the_ball(action, vy, new_vy):
    env, s = pong(frameskip=1)
    place(s, W - BALL - 5.0, 300.0, VX0, vy, agent_y=290.0)
    obs, rewards, terminals, *_ = step(env, action)
    assert rewards[0] == pytest.approx(0.1) and not terminals[0]
    assert s.vx == -VX0 and s.vy == new_vy
    assert s.bx == W - BALL  # clipped back into the field


def test_return_pays_once_per_step_with_frameskip():
    env, s = pong()
    place(s, W - BALL - 25.0, 300.0, VX0, 0.0, agent_y=290.0)
    _, rewards, *_ = step(env)
    assert rewards[0] == pytest.approx(0.1) and s.vx == -VX0
    assert step(env)[1][0] == 0.0


def test_opponent_paddle_bounces_the_ball_without_reward():
    env, s = pong(frameskip=1)
    place(s, 5.0, 300.0, -VX0, 2.0, opp_y=280.0)
    _, rewards, *_ = step(env)
    assert rewards[0] == 0.0 and s.vx == VX0 and s.vy == 2.0 and s.bx == -5.0  # no clipping on this side


def test_agent_miss_loses_a_point_and_serves_again():
    env, s = pong()
    place(s, W - BALL - 15.0, 300.0, VX0, 0.0, agent_y=0.0)
    obs, rewards, terminals, truncations, infos = step(env, UP)
    assert rewards[0] == -1.0 and not terminals[0] and not truncations[0] and infos == []
    assert (s.points, s.opp_points) == (0, 1)
    # the point ended the step (2nd frame): the next rally starts from the serve, observed at once
    assert (s.bx, s.by, s.vx, s.agent_y, s.opp_y) == (*SERVE_BALL, VX0, SERVE_PADDLE_Y, SERVE_PADDLE_Y)
    assert obs[0, 2] == pytest.approx(0.2) and obs[0, 6] == pytest.approx(1 / 21) and obs[0, 7] == 0


def test_opponent_miss_wins_a_point():
    env, s = pong()
    place(s, 25.0, 300.0, -VX0, 0.0, opp_y=0.0)
    rewards = step(env)[1]
    assert rewards[0] == 1.0 and (s.points, s.opp_points) == (1, 0) and s.bx == SERVE_BALL[0]


def test_game_ends_at_max_score_with_score_and_perf():
    env, s = pong()
    s.points, s.opp_points, s.tick, s.episode_return = 20, 5, 99, 2.5
    place(s, 25.0, 300.0, -VX0, 0.0, opp_y=0.0)
    _, rewards, terminals, truncations, infos = step(env)
    assert rewards[0] == 1.0 and terminals[0] and not truncations[0]
    info = infos[0]
    assert info["score"] == 16.0 and info["perf"] == pytest.approx(21 / 26)
    assert info["episode_return"] == pytest.approx(3.5) and info["episode_length"] == 100
    assert (s.points, s.opp_points, s.tick) == (0, 0, 0)  # auto-reset
    # the opponent reaching max_score ends it too
    s.points, s.opp_points = 4, 20
    place(s, W - BALL - 5.0, 300.0, VX0, 0.0, agent_y=0.0)
    _, rewards, terminals, _, infos = step(env)
    assert rewards[0] == -1.0 and terminals[0]
    assert infos[0]["score"] == -17.0 and infos[0]["perf"] == pytest.approx(4 / 25)


def test_max_score_kwarg():
    env, s = pong(max_score=2)
    s.points = 1
    place(s, 25.0, 300.0, -VX0, 0.0, opp_y=0.0)
    _, _, terminals, _, infos = step(env)
    assert terminals[0] and infos[0]["perf"] == 1.0 and infos[0]["score"] == 2.0


def tracking_policy(obs):
    gap = obs[:, 3] + BALL / 2 / H - obs[:, 1]
    return np.where(gap > 0.01, UP, np.where(gap < -0.01, DOWN, STAY)).astype(np.int32)


def test_tracking_beats_random():
    results = {}
    for name in ("random", "track"):
        env = puffer_core.make("ocean/pong", num_envs=64, seed=1, max_score=3)
        obs, _ = env.reset()
        rng = np.random.default_rng(0)
        episodes = []
        for _ in range(600):
            actions = rng.integers(0, 3, 64, dtype=np.int32) if name == "random" else tracking_policy(obs)
            obs, _, _, _, infos = env.step(actions)
            episodes += infos
        episodes += env.flush_log()
        total = sum(i["n"] for i in episodes)
        results[name] = {k: sum(i[k] * i["n"] for i in episodes) / total for k in episodes[0]}
    assert results["random"]["perf"] < 0.05 and results["random"]["score"] < -2.8
    assert 0.3 < results["track"]["perf"] < 0.7


@pytest.mark.parametrize("agent_wins", [True, False])
def test_final_observation_shows_the_deciding_point(agent_wins):
    """The episode ends on the 21st point: the final observation has the ball past a paddle and the winner's
    score at 21/21; the observation next to it is the next game's serve with both scores at 0."""
    env, s = pong(frameskip=1)
    if agent_wins:  # past the opponent's paddle, which is at the top
        s.points = 20
        place(s, 5.0, 600.0, -VX0, 0.0, opp_y=0.0)
    else:  # past the agent's paddle, which is at the top
        s.opp_points = 20
        place(s, W - BALL - 5.0, 600.0, VX0, 0.0, agent_y=0.0)
    obs, rewards, terminals, _, _ = step(env)
    assert terminals[0] and rewards[0] == (1.0 if agent_wins else -1.0)
    final = env.final_observations[0]
    if agent_wins:
        assert final[2] == 0.0 and final[7] == 1.0 and final[6] == 0.0  # ball past x = 0 (clipped)
    else:
        assert final[2] > (W - BALL) / W and final[6] == 1.0 and final[7] == 0.0
    assert np.isclose(final[3], 600 / H)
    np.testing.assert_allclose(obs[0, 2:4], [0.2, 304 / 640], rtol=1e-6)
    assert np.all(obs[0, 6:] == 0)
