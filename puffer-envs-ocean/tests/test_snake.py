import functools

import numpy as np
import pytest
from ocean_checks import check_all

import puffer_core
from puffer_envs_ocean._binding import ffi, state_type
from puffer_envs_ocean.snake import CORPSE, DOWN, EMPTY, FOOD, LEFT, RIGHT, SPEC, UP, WALL, Snake

STATE_CDEF = """
typedef struct { int32_t head, tail, len, steps; float ret; uint8_t color, heading; } SnakeAgentState;
typedef struct {
    OceanHeader h;
    int width, height, num_snakes, num_food, vision, max_len, corpses;
    float reward_food, reward_corpse, reward_death;
    int side, inner_w, inner_h, food_owed;
    int delta[4];
    uint8_t *grid;
    uint8_t *link;
    SnakeAgentState snakes[];
} SnakeState;
"""


@functools.lru_cache(maxsize=1)
def state_ptr_type():
    return state_type(STATE_CDEF, "SnakeState")


def state(env, index=0):
    return env.state_pointer(index, state_ptr_type())


def grid(env, index=0):
    """Live view of instance ``index``'s cells, [height, width] (y, x)."""
    s = state(env, index)
    return np.frombuffer(ffi.buffer(s.grid, s.width * s.height), dtype=np.uint8).reshape(s.height, s.width)


def head_xy(env, i, index=0):
    s = state(env, index)
    return s.snakes[i].head % s.width, s.snakes[i].head // s.width


def colour(i):
    return 7 if i == 0 else 4 + i % 4


def small(num_snakes=2, **kwargs):
    """A 12x12 grid with a 2-cell wall (playable x, y in [2, 9]), no food, no snakes until placed."""
    kwargs.setdefault("width", 12)
    kwargs.setdefault("height", 12)
    kwargs.setdefault("num_food", 0)
    kwargs.setdefault("vision", 2)
    env = puffer_core.make("ocean/snake", num_envs=1, seed=0, log_interval=1, num_snakes=num_snakes, **kwargs)
    env.reset()
    env.clear()
    return env


def step(env, *actions):
    return env.step(np.array(actions, dtype=np.int32))


def test_common_checks():
    check_all("ocean/snake", num_envs=2, width=24, height=20, num_snakes=8, num_food=12, vision=3)


def test_defaults_are_the_references():
    specs = Snake.param_specs()
    defaults = {name: spec.default for name, spec in specs.items()}
    assert defaults == {
        "width": 640,
        "height": 360,
        "num_snakes": 256,
        "num_food": 4096,
        "vision": 5,
        "leave_corpse_on_death": 1,
        "reward_food": pytest.approx(0.1),
        "reward_corpse": pytest.approx(0.1),
        "reward_death": -1,
        "max_snake_length": 1024,
    }
    assert SPEC["default_kwargs"] == {"num_envs": 4}
    env = puffer_core.make("ocean/snake", seed=0, **SPEC["default_kwargs"])
    assert env.num_agents == 1024 and env.agents_per_env == 256
    space = env.single_observation_space
    assert space.shape == (11, 11) and space.dtype == np.uint8
    assert np.all(space.low == 0) and np.all(space.high == 7)
    assert env.single_action_space.n == 4
    env.close()


def test_reset_places_snakes_food_and_walls():
    env = puffer_core.make("ocean/snake", num_envs=1, seed=3)
    obs, _ = env.reset()
    cells = grid(env)
    assert cells.shape == (360, 640)
    walls = np.ones_like(cells, dtype=bool)
    walls[5:-5, 5:-5] = False
    assert np.all(cells[walls] == WALL) and not np.any(cells[~walls] == WALL)
    assert (cells == FOOD).sum() == 4096 and (cells == CORPSE).sum() == 0
    assert (cells >= 4).sum() == 256
    colours = np.array([colour(i) for i in range(256)])
    assert np.array_equal(obs[:, 5, 5], colours)  # every window is centred on its own head
    assert env.masks.all()
    rng = np.random.default_rng(0)
    for _ in range(30):  # food eaten is replaced at once: always 4096
        env.step(rng.integers(0, 4, 256, dtype=np.int32))
        assert (cells == FOOD).sum() == 4096
    env.close()


def test_observation_window():
    env = small()
    env.set_snake(0, [(2, 2)])
    env.set_snake(1, [(4, 3), (4, 4)])
    env.set_cell(3, 2, FOOD)
    env.set_cell(2, 3, CORPSE)
    view = env.observations[0]  # rows are y, columns x, centred on (2, 2)
    assert view.dtype == np.uint8
    assert view[2, 2] == colour(0)
    assert np.all(view[:2, :] == WALL) and np.all(view[:, :2] == WALL)
    assert view[2, 3] == FOOD and view[3, 2] == CORPSE
    assert view[3, 4] == colour(1) and view[4, 4] == colour(1)  # snake 1 at (4, 3), (4, 4)
    assert view[2, 4] == EMPTY
    other = env.observations[1]
    assert other[2, 2] == colour(1) and other[3, 2] == colour(1)
    assert other[1, 0] == colour(0) and other[1, 1] == FOOD


def test_food_scores_grows_and_is_replaced():
    env = small(num_food=1, reward_food=0.5)
    cells = grid(env)
    env.set_snake(0, [(5, 5)])
    env.set_snake(1, [(8, 5)])
    env.set_cell(5, 4, FOOD)
    _, rewards, terminals, *_ = step(env, UP, DOWN)
    assert rewards[0] == pytest.approx(0.5) and not terminals[0]
    assert state(env).snakes[0].len == 2 and (cells == colour(0)).sum() == 2
    assert (cells == FOOD).sum() == 1 and cells[4, 5] == colour(0)  # a new food elsewhere
    _, rewards, *_ = step(env, UP, DOWN)
    assert rewards[0] == 0.0 and (cells == colour(0)).sum() == 2  # no food: the tail follows


def test_corpse_scores_grows_and_is_not_replaced():
    env = small(reward_corpse=0.25)
    cells = grid(env)
    env.set_snake(0, [(5, 5), (5, 6)])
    env.set_snake(1, [(8, 8)])
    env.set_cell(6, 5, CORPSE)
    _, rewards, *_ = step(env, RIGHT, DOWN)
    assert rewards[0] == pytest.approx(0.25)
    assert state(env).snakes[0].len == 3
    assert (cells == CORPSE).sum() == 0 and (cells == FOOD).sum() == 0


def test_death_on_a_wall_logs_and_respawns():
    env = small()
    cells = grid(env)
    env.set_snake(0, [(3, 5), (4, 5), (5, 5)])
    env.set_snake(1, [(8, 8)])
    env.set_cell(2, 5, FOOD)
    step(env, LEFT, UP)  # eats: length 4, +0.1
    obs, rewards, terminals, truncations, infos = step(env, LEFT, UP)  # into the wall
    assert terminals[0] and not truncations[0] and rewards[0] == -1.0
    assert not terminals[1] and not truncations.any()
    info = infos[0]
    assert info["n"] == 1
    assert info["score"] == 4.0 and info["episode_length"] == 2.0
    assert info["perf"] == pytest.approx(2.0)
    assert info["episode_return"] == pytest.approx(-0.9)
    # respawned in the same step with length 1, on an empty or corpse cell
    s = state(env).snakes[0]
    assert s.len == 1 and s.steps == 0 and env.masks.all()
    assert obs[0, 2, 2] == colour(0) and (cells == colour(0)).sum() == 1


@pytest.mark.parametrize("length", [5, 4])
def test_corpses_on_every_other_cell_from_the_tail(length):
    env = small()
    cells = grid(env)
    body = [(2 + k, 4) for k in range(length)]  # head (2, 4) faces the west wall
    env.set_snake(0, body)
    env.set_snake(1, [(8, 9)])
    _, _, terminals, *_ = step(env, LEFT, RIGHT)
    assert terminals[0]
    respawn = head_xy(env, 0)
    tail_first = body[::-1]
    for j, (x, y) in enumerate(tail_first):
        if (x, y) != respawn:
            assert cells[y, x] == (CORPSE if j % 2 == 1 else EMPTY), (j, x, y)
    expected = length // 2 - (respawn in tail_first[1::2])
    assert (cells == CORPSE).sum() == expected


def test_no_corpses_when_disabled():
    env = small(leave_corpse_on_death=0)
    env.set_snake(0, [(2 + k, 4) for k in range(6)])
    env.set_snake(1, [(8, 9)])
    _, _, terminals, *_ = step(env, LEFT, RIGHT)
    assert terminals[0] and (grid(env) == CORPSE).sum() == 0


def test_new_food_may_land_on_a_corpse():
    # Every free cell is a corpse: the replacement food must land on one.
    env = small(num_snakes=1, width=7, height=7, vision=2)  # 3x3 inside
    cells = grid(env)
    for y in range(2, 5):
        for x in range(2, 5):
            env.set_cell(x, y, CORPSE)
    env.set_snake(0, [(2, 2)])
    env.set_cell(3, 2, FOOD)
    _, rewards, *_ = step(env, RIGHT)
    assert rewards[0] == pytest.approx(0.1)
    assert (cells == FOOD).sum() == 1 and (cells == colour(0)).sum() == 2
    assert (cells == CORPSE).sum() == 6 and (cells == EMPTY).sum() == 0


def test_respawn_is_uniform_over_empty_and_corpse_cells():
    env = small(num_snakes=1, width=7, height=7, vision=2)  # 3x3 inside
    cells = grid(env)
    on_corpse = 0
    for _ in range(90):
        env.clear()
        for y in range(2, 5):
            for x in range(2, 5):
                env.set_cell(x, y, CORPSE)
        env.set_snake(0, [(2, 2)])
        _, _, terminals, *_ = step(env, LEFT)  # dies; (2, 2) is emptied, 8 corpses remain
        assert terminals[0] and (cells == colour(0)).sum() == 1
        on_corpse += (cells == CORPSE).sum() == 7
    assert 60 <= on_corpse <= 88  # 8 of the 9 free cells are corpses: about 80 of 90


def test_collisions_follow_the_snake_order():
    env = small(num_snakes=3)
    # snake 0 and snake 1 both go for (5, 5): snake 0 moves first and gets it, snake 1 runs into it
    env.set_snake(0, [(4, 5)])
    env.set_snake(1, [(6, 5)])
    env.set_snake(2, [(9, 9)])
    _, rewards, terminals, *_ = step(env, RIGHT, LEFT, UP)
    assert list(terminals) == [False, True, False]
    assert rewards[1] == -1.0 and rewards[0] == 0.0


def test_moving_into_a_tail_depends_on_who_moved_first():
    env = small(num_snakes=3)
    # snake 0's tail (4, 4) left before snake 1 moves: snake 1 may take the cell
    env.set_snake(0, [(4, 2), (4, 3), (4, 4)])
    env.set_snake(1, [(5, 4), (6, 4)])
    env.set_snake(2, [(9, 9)])
    _, _, terminals, *_ = step(env, RIGHT, LEFT, UP)
    assert not terminals.any()
    # snake 1's tail is still there when snake 0 moves: snake 0 dies
    env.clear()
    env.set_snake(0, [(5, 4), (6, 4)])
    env.set_snake(1, [(4, 2), (4, 3), (4, 4)])
    env.set_snake(2, [(9, 9)])
    _, _, terminals, *_ = step(env, LEFT, RIGHT, UP)
    assert list(terminals) == [True, False, False]


def test_own_body_and_own_tail_kill():
    env = small()
    env.set_snake(0, [(5, 5), (5, 6), (6, 6), (6, 5)])  # the tail (6, 5) is right of the head
    env.set_snake(1, [(9, 9)])
    _, rewards, terminals, *_ = step(env, RIGHT, UP)
    assert terminals[0] and rewards[0] == -1.0


def test_reversing_into_the_neck_goes_straight_on():
    env = small()
    env.set_snake(0, [(5, 5), (4, 5)])  # heading right
    env.set_snake(1, [(8, 8)])
    step(env, LEFT, UP)
    assert head_xy(env, 0) == (6, 5)
    # a length-1 snake has no neck: it may go anywhere
    env.set_snake(1, [(8, 8)])
    step(env, RIGHT, RIGHT)
    step(env, RIGHT, LEFT)
    assert head_xy(env, 1) == (8, 8)


def test_length_cap():
    env = small(max_snake_length=4)  # grows only while shorter than 3
    env.set_snake(0, [(5, 5), (5, 6)])
    env.set_snake(1, [(9, 9)])
    env.set_cell(5, 4, FOOD)
    env.set_cell(5, 3, CORPSE)
    _, rewards, *_ = step(env, UP, UP)
    assert state(env).snakes[0].len == 3 and rewards[0] == pytest.approx(0.1)
    _, rewards, *_ = step(env, UP, UP)
    assert state(env).snakes[0].len == 3 and rewards[0] == pytest.approx(0.1)  # eats, no longer grows
    assert (grid(env) == colour(0)).sum() == 3


def test_no_time_limit():
    env = small()
    env.set_snake(0, [(4, 4)])
    env.set_snake(1, [(7, 7)])
    loop = [RIGHT, DOWN, LEFT, UP]
    for t in range(1200):
        _, _, terminals, truncations, _ = step(env, loop[t % 4], loop[t % 4])
        assert not terminals.any() and not truncations.any()
    assert state(env).snakes[0].steps == 1200


def test_crowded_grid_masks_snakes_without_room():
    env = puffer_core.make(
        "ocean/snake", num_envs=1, seed=0, width=6, height=6, vision=2, num_snakes=6, num_food=3
    )
    obs, _ = env.reset()  # 2x2 inside: four snakes fit, two wait, no food fits
    assert env.masks.sum() == 4
    assert np.all(obs[~env.masks] == 0)
    assert (grid(env) == FOOD).sum() == 0
    rng = np.random.default_rng(0)
    for _ in range(40):
        obs, rewards, *_ = env.step(rng.integers(0, 4, 6, dtype=np.int32))
        placed = np.array([state(env).snakes[i].len > 0 for i in range(6)])
        assert np.all(obs[~placed] == 0) and np.all(obs[placed, 2, 2] >= 4)
        assert np.all(rewards[~env.masks] == 0)


def test_grid_must_fit_the_walls():
    with pytest.raises(ValueError, match="width"):
        Snake(num_envs=1, width=11, height=40, vision=5)
    with pytest.raises(ValueError, match="height"):
        Snake(num_envs=1, width=40, height=7, vision=3)
    Snake(num_envs=1, width=12, height=12, vision=5, num_snakes=2, num_food=2).close()


def test_render():
    env = small()
    env.set_snake(0, [(3, 3), (2, 3)])
    env.set_cell(5, 5, CORPSE)
    env.set_cell(6, 5, FOOD)
    frame = env.render()
    assert frame.shape == (12 * 16, 12 * 16, 3)
    env.render_mode = "ansi"
    rows = env.render().splitlines()
    assert len(rows) == 12 and rows[0] == "#" * 12 and rows[2] == "##" + "." * 8 + "##"
    assert rows[3][2:4] == "77" and rows[5][5:7] == "+*"


def test_final_observation_is_the_view_as_the_snake_died():
    """A dying snake's final observation is its view before its body is removed: its head in the centre,
    and next to it the wall or snake cell it ran into. Each snake of a grid gets its own."""
    env = puffer_core.make(
        "ocean/snake", num_envs=2, seed=8, width=14, height=14, num_snakes=6, num_food=10, vision=2
    )
    env.reset()
    rng = np.random.default_rng(8)
    deaths = set()
    for _ in range(300):
        _, _, terminals, _, _ = env.step(rng.integers(0, 4, env.num_agents, dtype=np.int32))
        for agent in np.flatnonzero(terminals):
            view = env.final_observations[agent]  # [5, 5], the head at [2, 2]
            assert view[2, 2] == colour(agent % 6)
            assert max(view[1, 2], view[3, 2], view[2, 1], view[2, 3]) >= WALL
            deaths.add(int(agent))
    assert len(deaths) >= 8  # per snake, in both grids
