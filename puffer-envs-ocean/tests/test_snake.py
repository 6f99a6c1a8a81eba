import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean.snake import DOWN, LEFT, RIGHT, UP

EMPTY, FOOD, WALL, OWN_BODY, OWN_HEAD, BODY, HEAD = range(7)


def snake(num_snakes=2, **kwargs):
    kwargs.setdefault("width", 10)
    kwargs.setdefault("height", 10)
    kwargs.setdefault("num_food", 0)  # rule tests place food themselves
    kwargs.setdefault("vision", 2)
    env = puffer_core.make("ocean/snake", num_envs=1, seed=0, log_interval=1, num_snakes=num_snakes, **kwargs)
    env.reset()
    env.clear()
    return env


def step(env, *actions):
    return env.step(np.array(actions, dtype=np.int32))


def test_common_checks():
    check_all("ocean/snake", num_envs=4, width=16, height=16, num_snakes=4, max_steps=100)


def test_spaces_and_agents():
    env = puffer_core.make("ocean/snake", num_envs=3, num_snakes=5, vision=4)
    assert env.single_observation_space.shape == (9, 9)
    assert env.single_observation_space.dtype == np.uint8
    assert env.single_action_space.n == 4
    assert env.agents_per_env == 5 and env.num_agents == 15
    obs, _ = env.reset(seed=0)
    assert np.all(obs[:, 4, 4] == OWN_HEAD)
    assert env.masks.all()


def test_view_is_centred_on_the_head_and_shows_walls_food_and_others():
    env = snake()
    env.set_snake(0, [(0, 0)], RIGHT)
    env.set_snake(1, [(2, 1), (2, 2)], UP)
    env.set_cell(1, 0, food=True)
    view = env.observations[0]
    assert view[2, 2] == OWN_HEAD
    assert np.all(view[:2, :] == WALL) and np.all(view[:, :2] == WALL)  # north and west of (0, 0)
    assert view[2, 3] == FOOD  # (1, 0)
    assert view[3, 4] == HEAD and view[4, 4] == BODY  # snake 1 at (2, 1) and (2, 2)
    other = env.observations[1]
    assert other[2, 2] == OWN_HEAD and other[3, 2] == OWN_BODY
    assert other[1, 0] == HEAD  # snake 0 at (0, 0) seen from (2, 1)


def test_dies_on_the_wall_and_respawns():
    env = snake()
    env.set_snake(0, [(0, 5), (1, 5)], LEFT)
    env.set_snake(1, [(7, 7)], UP)
    obs, rewards, terminals, truncations, infos = step(env, LEFT, UP)
    assert terminals[0] and not truncations[0] and rewards[0] == -1.0
    assert not terminals[1] and rewards[1] == 0.0
    assert obs[0, 2, 2] == OWN_HEAD and env.masks[0]  # respawned in the same step
    assert (obs[0] == OWN_BODY).sum() == 0  # length 1 again
    assert infos[0]["died"] == 1.0 and infos[0]["length"] == 2.0 and infos[0]["episode_length"] == 1.0


def test_dies_on_its_own_body():
    env = snake()
    env.set_snake(0, [(5, 5), (5, 6), (6, 6), (6, 5), (6, 4)], UP)
    env.set_snake(1, [(0, 0)], DOWN)
    _, rewards, terminals, *_ = step(env, RIGHT, DOWN)  # (6, 5) is its body, not its tail
    assert terminals[0] and rewards[0] == -1.0


def test_may_follow_its_own_tail():
    env = snake()
    env.set_snake(0, [(5, 5), (5, 6), (6, 6), (6, 5)], UP)
    env.set_snake(1, [(0, 0)], DOWN)
    _, rewards, terminals, *_ = step(env, RIGHT, DOWN)  # (6, 5) is the tail, which moves out first
    assert not terminals[0] and rewards[0] == 0.0


def test_dies_on_another_snake():
    env = snake()
    env.set_snake(0, [(3, 3)], RIGHT)
    env.set_snake(1, [(4, 2), (4, 3), (4, 4)], UP)
    _, rewards, terminals, *_ = step(env, RIGHT, UP)
    assert terminals[0] and rewards[0] == -1.0
    assert not terminals[1]


def test_turning_back_into_the_neck_is_ignored():
    env = snake()
    env.set_snake(0, [(5, 5), (4, 5)], RIGHT)
    env.set_snake(1, [(0, 0)], DOWN)
    obs, rewards, terminals, *_ = step(env, LEFT, DOWN)
    assert not terminals[0]
    assert obs[0, 2, 1] == OWN_BODY  # kept going right: the old head (5, 5) is now west of the head


def test_grows_on_food_and_scores():
    env = snake(food_reward=2.5)
    env.set_snake(0, [(3, 3)], RIGHT)
    env.set_snake(1, [(8, 8)], UP)
    env.set_cell(4, 3, food=True)
    obs, rewards, terminals, *_ = step(env, RIGHT, UP)
    assert rewards[0] == 2.5 and not terminals[0]
    assert obs[0, 2, 1] == OWN_BODY  # length 2
    obs, rewards, *_ = step(env, RIGHT, UP)
    assert rewards[0] == 0.0
    assert obs[0, 2, 1] == OWN_BODY and obs[0, 2, 0] == EMPTY  # still length 2
    env.set_cell(6, 3, food=True)
    step(env, RIGHT, UP)
    obs, *_ = step(env, DOWN, UP)
    assert (obs[0] == OWN_BODY).sum() == 2  # length 3
    # die on the wall to see the episode's statistics
    for _ in range(10):
        _, _, terminals, _, infos = step(env, DOWN, LEFT)
        if terminals[0]:
            break
    assert terminals[0]
    info = infos[0]
    assert info["score"] == pytest.approx(2.0) and info["length"] == pytest.approx(3.0)


def test_max_length_caps_growth_but_still_scores():
    env = snake(max_length=2)
    env.set_snake(0, [(3, 3), (2, 3)], RIGHT)
    env.set_snake(1, [(8, 8)], UP)
    env.set_cell(4, 3, food=True)
    obs, rewards, *_ = step(env, RIGHT, UP)
    assert rewards[0] == 1.0 and (obs[0] == OWN_BODY).sum() == 1


def test_food_is_replenished():
    env = puffer_core.make("ocean/snake", num_envs=1, seed=0, width=8, height=8, num_snakes=1, num_food=5)
    env.reset()
    assert (env.observations[0] == FOOD).sum() <= 5
    env.render_mode = "ansi"
    text = env.render()
    assert text.count("*") == 5


def test_truncation_respawns_the_snake():
    env = snake(max_steps=3)
    env.set_snake(0, [(2, 2)], RIGHT)
    env.set_snake(1, [(2, 7)], RIGHT)
    for _ in range(2):
        _, _, terminals, truncations, _ = step(env, RIGHT, RIGHT)
        assert not truncations.any() and not terminals.any()
    _, _, terminals, truncations, infos = step(env, RIGHT, RIGHT)
    assert truncations.all() and not terminals.any()
    assert infos[0]["n"] == 2 and infos[0]["died"] == 0.0


def test_crowded_grid_masks_waiting_snakes():
    env = puffer_core.make("ocean/snake", num_envs=1, seed=0, width=4, height=4, num_snakes=20, num_food=0)
    obs, _ = env.reset()
    assert env.masks.sum() == 16  # 16 cells, 20 snakes: four wait for room
    waiting = ~env.masks
    assert np.all(obs[waiting] == 0)
    rng = np.random.default_rng(0)
    acted = 0
    for _ in range(50):
        obs, *_ = env.step(rng.integers(0, 4, 20, dtype=np.int32))
        on_grid = obs[:, 5, 5] == OWN_HEAD
        assert on_grid.sum() <= 16
        assert np.all(obs[~on_grid] == 0)  # a snake without a cell sees nothing
        acted += env.masks.sum()
    assert 0 < acted < 50 * 20


def test_render():
    env = snake()
    env.set_snake(0, [(3, 3), (2, 3)], RIGHT)
    frame = env.render()
    assert frame.shape == (12 * 4, 12 * 4, 3)
    env.render_mode = "ansi"
    text = env.render()
    rows = text.splitlines()
    assert len(rows) == 12 and rows[0] == "#" * 12
    assert rows[4][4] == "A" and rows[4][3] == "a"
