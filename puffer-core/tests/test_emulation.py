"""Flattening of nested spaces and the gymnasium / pettingzoo wrappers."""

from __future__ import annotations

import functools

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pettingzoo.utils.env import AECEnv, ParallelEnv

import puffer_core
from puffer_core import APIUsageError
from puffer_core.emulation import (
    GymnasiumPufferEnv,
    PettingZooPufferEnv,
    flatten,
    flatten_action_space,
    flatten_space,
    layout,
    structured_dtype,
    unflatten,
    unflatten_action,
)

# -- random nested spaces ---------------------------------------------------------------------------------
BOX_DTYPES = [np.float32, np.float64, np.float16, np.int8, np.uint8, np.int32, np.int64, np.bool_]
small_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@st.composite
def boxes(draw):
    dtype = draw(st.sampled_from(BOX_DTYPES))
    shape = draw(small_shapes)
    if dtype is np.bool_:
        return spaces.Box(0, 1, shape, dtype=dtype)
    if np.dtype(dtype).kind == "f":
        bounded = draw(st.booleans())
        bound = 3.0 if bounded else np.inf
        return spaces.Box(-bound, bound, shape, dtype=dtype)
    low = draw(st.integers(-5, 0)) if np.dtype(dtype).kind == "i" else 0
    return spaces.Box(low, low + draw(st.integers(0, 50)), shape, dtype=dtype)


leaf_spaces = st.one_of(
    boxes(),
    st.builds(spaces.Discrete, st.integers(1, 9), start=st.integers(-3, 3)),
    st.lists(st.integers(1, 6), min_size=1, max_size=4).map(spaces.MultiDiscrete),
    small_shapes.filter(bool).map(spaces.MultiBinary),
)


def containers(children):
    keys = st.text("abcd.", min_size=1, max_size=3)  # "." makes joined names collide
    return st.one_of(
        st.dictionaries(keys, children, min_size=1, max_size=3).map(spaces.Dict),
        st.lists(children, min_size=1, max_size=3).map(lambda xs: spaces.Tuple(tuple(xs))),
    )


nested_spaces = st.recursive(leaf_spaces, containers, max_leaves=8)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same(value, expected, space):
    """Exact equality of a nested value, leaf by leaf, in the leaf's declared dtype."""
    if isinstance(space, spaces.Dict):
        assert set(value) == set(space.spaces)
        for key, sub in space.spaces.items():
            assert_same(value[key], expected[key], sub)
    elif isinstance(space, spaces.Tuple):
        assert isinstance(value, tuple) and len(value) == len(space.spaces)
        for v, e, sub in zip(value, expected, space.spaces):
            assert_same(v, e, sub)
    else:
        expected = np.asarray(expected, dtype=space.dtype)
        value = np.asarray(value)
        assert value.dtype == expected.dtype and value.shape == expected.shape
        assert np.array_equal(value, expected, equal_nan=value.dtype.kind == "f")


@FAST
@given(space=nested_spaces, seed=st.integers(0, 2**31 - 1))
def test_flatten_unflatten_round_trip(space, seed):
    space.seed(seed)
    value = space.sample()
    flat_space = flatten_space(space)
    flat = flatten(value, space)
    assert flat.shape == flat_space.shape and flat.dtype == flat_space.dtype
    assert_same(unflatten(flat, space), value, space)


@FAST
@given(space=nested_spaces, seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 3))
def test_round_trip_with_batch_dims_and_layout(space, seed, batch):
    space.seed(seed)
    values = [space.sample() for _ in range(batch)]
    flat = np.stack([flatten(v, space) for v in values])
    out = unflatten(flat, space)
    table = layout(space)
    record = np.ascontiguousarray(flat).view(np.uint8).reshape(batch, -1)
    for leaf in table:
        # the layout table alone is enough to read every leaf back (what a torch model does)
        raw = record[:, leaf.offset : leaf.offset + leaf.nbytes].copy()
        got = raw.view(leaf.dtype).reshape(batch, *leaf.shape)
        nested = out
        for key in leaf.path:
            nested = nested[key]
        assert np.array_equal(got, nested, equal_nan=True)
        for i, value in enumerate(values):
            for key in leaf.path:
                value = value[key]
            assert np.array_equal(got[i], np.asarray(value, dtype=leaf.dtype), equal_nan=True)
    assert sum(leaf.nbytes for leaf in table) == structured_dtype(space).itemsize


@settings(max_examples=25, deadline=None)
@given(space=nested_spaces.filter(lambda s: not isinstance(s, spaces.Box)), seed=st.integers(0, 2**31 - 1))
def test_layout_unflattens_torch_tensors(space, seed):
    """The recipe in puffer_core.flatten's docs: a torch model reads leaves with the layout table alone."""
    torch = pytest.importorskip("torch")
    space.seed(seed)
    flat = np.stack([flatten(space.sample(), space) for _ in range(2)])
    obs = torch.from_numpy(flat)
    expected = unflatten(flat, space)
    for leaf in layout(space):
        torch_dtype = getattr(torch, "bool" if leaf.dtype == np.bool_ else leaf.dtype.name)
        if obs.dtype == torch.uint8:
            raw = obs[:, leaf.offset : leaf.offset + leaf.nbytes].contiguous()
            x = raw.view(torch_dtype).reshape(-1, *leaf.shape)
        else:
            start = leaf.offset // leaf.dtype.itemsize
            x = obs[:, start : start + leaf.size].reshape(-1, *leaf.shape)
        assert x.dtype == torch_dtype
        assert np.array_equal(x.numpy(), _at(expected, leaf.path), equal_nan=True)


@FAST
@given(space=nested_spaces.filter(lambda s: not isinstance(s, spaces.Box)), seed=st.integers(0, 2**31 - 1))
def test_flat_space_is_common_dtype_or_bytes(space, seed):
    flat_space = flatten_space(space)
    dtypes = {leaf.dtype for leaf in layout(space)}
    assert flat_space.shape == (structured_dtype(space).itemsize // flat_space.dtype.itemsize,)
    if len(dtypes) == 1:
        assert flat_space.dtype == dtypes.pop()
    else:
        assert flat_space.dtype == np.uint8
    space.seed(seed)
    if flat_space.dtype != np.uint8:
        # the leaves' bounds carry over, so a flattened sample lies in the flat space
        assert flat_space.contains(flatten(space.sample(), space))


@FAST
@given(space=nested_spaces, seed=st.integers(0, 2**31 - 1))
def test_action_flatten_round_trip(space, seed):
    flat_space = flatten_action_space(space)
    leaves = layout(space)
    if isinstance(space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        assert flat_space is space
        return
    discrete = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
    if all(isinstance(leaf.space, discrete) for leaf in leaves):
        assert isinstance(flat_space, spaces.MultiDiscrete)
    else:
        assert isinstance(flat_space, spaces.Box) and flat_space.dtype == np.float32
    space.seed(seed)
    value = space.sample()
    if isinstance(flat_space, spaces.Box) and any(
        leaf.dtype == np.float64 or leaf.dtype == np.int64 and isinstance(leaf.space, spaces.Box)
        for leaf in leaves
    ):
        return  # float32 cannot carry every float64/int64 value exactly; covered by the explicit tests
    flat = np.concatenate([np.ravel(np.asarray(_at(value, leaf.path), dtype=np.float64)) for leaf in leaves])
    flat = flat.astype(flat_space.dtype)
    assert flat_space.contains(flat)
    back = unflatten_action(flat, space)
    assert_same(back, value, space)
    assert space.contains(back)


def _at(value, path):
    for key in path:
        value = value[key]
    return value


def test_layout_offsets_are_packed_in_key_order():
    space = spaces.Dict(
        {
            "pos": spaces.Box(-1, 1, (2,), np.float32),
            "id": spaces.Discrete(4),
            "seen": spaces.Tuple((spaces.MultiBinary(3), spaces.Box(0, 255, (2, 2), np.uint8))),
        }
    )
    # gymnasium sorts the keys of a plain dict
    table = [(leaf.path, leaf.dtype, leaf.shape, leaf.offset) for leaf in layout(space)]
    assert table == [
        (("id",), np.dtype(np.int64), (), 0),
        (("pos",), np.dtype(np.float32), (2,), 8),
        (("seen", 0), np.dtype(np.int8), (3,), 16),
        (("seen", 1), np.dtype(np.uint8), (2, 2), 19),
    ]
    assert flatten_space(space) == spaces.Box(0, 255, (23,), np.uint8)


def test_keys_that_join_to_the_same_name_still_get_their_own_fields():
    space = spaces.Dict({"a.b": spaces.Discrete(2), "a": spaces.Dict({"b": spaces.Discrete(3)})})
    assert len({leaf.name for leaf in layout(space)}) == 2
    value = {"a.b": 1, "a": {"b": 2}}
    out = unflatten(flatten(value, space), space)
    assert out["a.b"] == 1 and out["a"]["b"] == 2


def test_shared_dtype_flattens_to_a_flat_array_with_bounds():
    space = spaces.Dict({"a": spaces.Box(-1, 1, (2,), np.float32), "b": spaces.Box(0, 5, (1, 2), np.float32)})
    flat_space = flatten_space(space)
    assert flat_space.dtype == np.float32 and flat_space.shape == (4,)
    assert np.array_equal(flat_space.low, [-1, -1, 0, 0]) and np.array_equal(flat_space.high, [1, 1, 5, 5])
    flat = flatten({"a": np.array([0.5, -0.5]), "b": np.array([[1.0, 2.0]])}, space)
    assert np.array_equal(flat, np.array([0.5, -0.5, 1, 2], np.float32))


def test_unflatten_returns_views_and_refuses_wrong_input():
    space = spaces.Dict({"a": spaces.Box(-1, 1, (3,), np.float32), "b": spaces.Discrete(3)})
    flat = np.zeros((5, flatten_space(space).shape[0]), np.uint8)
    out = unflatten(flat, space)
    assert out["a"].shape == (5, 3) and out["b"].shape == (5,)
    out["b"][2] = 2
    assert unflatten(flat, space)["b"][2] == 2  # a view: no copy on the model's path
    with pytest.raises(ValueError, match="dtype"):
        unflatten(flat.astype(np.float32), space)
    with pytest.raises(ValueError, match="shape"):
        unflatten(flat[:, :-1], space)
    # a non-contiguous batch is copied, never misread
    wide = np.zeros((5, 2 * flat.shape[1]), np.uint8)
    wide[:, ::2] = flat
    wide[:, 1::2] = 255
    assert np.array_equal(unflatten(wide[:, ::2], space)["b"], out["b"])


def test_unsupported_spaces_are_refused():
    with pytest.raises(TypeError, match="Text"):
        flatten_space(spaces.Dict({"t": spaces.Text(5)}))
    with pytest.raises(ValueError, match="no leaves"):
        flatten_space(spaces.Dict({}))


def test_mixed_action_space_rounds_and_range_checks_discrete_leaves():
    space = spaces.Dict({"move": spaces.Discrete(3, start=-1), "force": spaces.Box(-2, 2, (2,), np.float64)})
    flat_space = flatten_action_space(space)
    assert flat_space == spaces.Box(np.array([-2, -2, -1]), np.array([2, 2, 1]), dtype=np.float32)
    action = unflatten_action(np.array([0.25, -1.5, 0.6], np.float32), space)
    assert action["move"] == 1 and type(action["move"]) is int
    assert action["force"].dtype == np.float64 and np.array_equal(action["force"], [0.25, -1.5])
    assert space.contains(action)
    with pytest.raises(ValueError, match=r"action leaf \('move',\)"):
        unflatten_action(np.array([0, 0, 1.7], np.float32), space)


def test_all_discrete_action_space_becomes_multidiscrete():
    space = spaces.Tuple((spaces.Discrete(3, start=1), spaces.MultiBinary(2), spaces.MultiDiscrete([[2, 4]])))
    flat_space = flatten_action_space(space)
    assert flat_space == spaces.MultiDiscrete([3, 2, 2, 2, 4], start=[1, 0, 0, 0, 0])
    action = unflatten_action(np.array([3, 1, 0, 1, 3], np.int32), space)
    assert space.contains(action)
    assert action[0] == 3 and action[1].tolist() == [1, 0] and action[2].tolist() == [[1, 3]]


# -- gymnasium -------------------------------------------------------------------------------------------
class DictEnv(gymnasium.Env):
    """Nested mixed-dtype observations, a structured action, and a float64 observation for a float32 leaf."""

    observation_space = spaces.Dict(
        {
            "pos": spaces.Box(-10, 10, (2,), np.float32),
            "inv": spaces.Tuple((spaces.Discrete(5), spaces.MultiBinary(3))),
        }
    )
    action_space = spaces.Dict({"move": spaces.Discrete(4), "use": spaces.MultiBinary(3)})

    def __init__(self, horizon=5, truncate_at=100):
        self.horizon, self.truncate_at = horizon, truncate_at
        self.actions = []

    def _obs(self):
        pos = self.np_random.uniform(-1, 1, 2)  # float64 on purpose
        return {"pos": pos, "inv": (self.t % 5, np.array([1, 0, self.t % 2], np.int8))}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        self.actions.append(action)
        self.t += 1
        reward = float(action["move"]) + 0.5
        info = {"score": self.t * 10, "label": "text is not a metric", "flag": True, "_hidden": 1.0}
        return self._obs(), reward, self.t >= self.horizon, self.t >= self.truncate_at, info


def test_gymnasium_cartpole_steps_and_reports_episodes():
    env = puffer_core.make("gym/CartPole-v1", seed=3)
    assert isinstance(env, GymnasiumPufferEnv) and env.num_agents == 1 and env.emulated
    assert env.single_observation_space == env.structured_observation_space  # a Box stays a Box
    assert env.single_action_space == spaces.Discrete(2)
    obs, infos = env.reset()
    assert obs.shape == (1, 4) and obs.dtype == np.float32 and infos == []
    assert obs is env.observations
    episodes, steps = [], 0
    while len(episodes) < 3:
        _, rewards, terminals, truncations, infos = env.step(np.zeros(1, np.int32))
        steps += 1
        assert rewards[0] == 1.0 and env.masks.all()
        assert len(infos) == int(terminals[0] or truncations[0])
        episodes += infos
    # always pushing left ends a CartPole episode in roughly ten steps; returns equal lengths
    assert all(e["episode_return"] == e["episode_length"] for e in episodes)
    assert sum(e["episode_length"] for e in episodes) == steps
    env.close()
    env.close()


def test_auto_reset_returns_the_next_episodes_first_obs():
    raw = DictEnv(horizon=3)
    env = GymnasiumPufferEnv(raw)
    env.reset(seed=0)
    move = np.array([[2, 0, 1, 0]], np.int32)  # Discrete(4) then MultiBinary(3)
    for _ in range(2):
        obs, *_ = env.step(move)
    obs, rewards, terminals, truncations, infos = env.step(move)
    assert terminals[0] and not truncations[0]
    # the obs is the reset's, t == 0, not gymnasium's final obs (t == 3)
    assert unflatten(obs, env.structured_observation_space)["inv"][0][0] == 0
    assert infos == [{"episode_return": 7.5, "episode_length": 3.0, "score": 30.0}]
    assert raw.actions[0]["move"] == 2 and raw.actions[0]["use"].tolist() == [0, 1, 0]


def test_truncation_is_not_termination():
    env = GymnasiumPufferEnv(lambda: DictEnv(horizon=100, truncate_at=2))
    env.reset(seed=0)
    action = np.zeros((1, 4), np.int32)
    _, _, terminals, truncations, infos = env.step(action)
    assert not terminals[0] and not truncations[0] and infos == []
    _, _, terminals, truncations, infos = env.step(action)
    assert truncations[0] and not terminals[0] and infos[0]["episode_length"] == 2.0


def test_structured_observations_are_cast_and_round_trip():
    env = GymnasiumPufferEnv(DictEnv)
    assert env.structured_observation_space == DictEnv.observation_space
    assert env.structured_action_space == DictEnv.action_space
    assert env.single_observation_space.dtype == np.uint8  # mixed dtypes: bytes
    assert env.single_action_space == spaces.MultiDiscrete([4, 2, 2, 2])
    obs, _ = env.reset(seed=5)
    expected = DictEnv()
    raw_obs, _ = expected.reset(seed=5)
    nested = unflatten(obs, env.structured_observation_space)
    assert nested["pos"].dtype == np.float32
    assert np.array_equal(nested["pos"][0], raw_obs["pos"].astype(np.float32))
    assert nested["inv"][0][0] == 0 and nested["inv"][1][0].tolist() == [1, 0, 0]


def test_same_seed_same_trajectory_and_autoresets_continue_the_stream():
    def run(seed):
        env = GymnasiumPufferEnv(functools.partial(DictEnv, horizon=4))
        out = [env.reset(seed=seed)[0].copy()]
        for _ in range(12):  # three episodes: auto-resets do not reseed
            out.append(env.step(np.array([[1, 1, 0, 1]], np.int32))[0].copy())
        return np.stack(out)

    a, b = run(11), run(11)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, run(12))
    # episodes differ from each other: the env's RNG was seeded once, not at every auto-reset
    assert not np.array_equal(a[0], a[4]) and not np.array_equal(a[4], a[8])


def test_constructor_seed_is_used_by_the_first_reset():
    a = GymnasiumPufferEnv(lambda: gymnasium.make("CartPole-v1"), seed=9).reset()[0].copy()
    b = GymnasiumPufferEnv(lambda: gymnasium.make("CartPole-v1")).reset(seed=9)[0].copy()
    assert np.array_equal(a, b)


class BadShapeEnv(gymnasium.Env):
    observation_space = spaces.Box(-1, 1, (3,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        return np.zeros((3, 1)), {}


class Float64Env(BadShapeEnv):
    def reset(self, seed=None, options=None):
        return np.array([0.1, 1 / 3, 2.0**-30]), {}  # float64 for a float32 Box


def test_float64_observations_are_cast_to_the_declared_dtype():
    env = GymnasiumPufferEnv(Float64Env())
    obs, _ = env.reset()
    assert obs.dtype == np.float32
    assert np.array_equal(obs[0], np.array([0.1, 1 / 3, 2.0**-30], np.float32))


CAST_SPACE = spaces.Dict(
    {
        "img": spaces.Box(0, 255, (2,), np.uint8),
        "id": spaces.Discrete(3),
        "x": spaces.Box(-1, 1, (), np.float32),
        "on": spaces.Box(0, 1, (), bool),
    }
)


def test_values_are_cast_to_the_declared_dtypes_when_exact():
    exact = {"img": np.array([1, 2], np.uint8), "id": np.int64(2), "x": np.float32(0.5), "on": True}
    expected = flatten(exact, CAST_SPACE)
    for value in [
        {"img": np.array([1, 2]), "id": 2, "x": 0.5, "on": np.bool_(True)},  # int64 image, Python scalars
        {"img": [1.0, 2.0], "id": 2.0, "x": np.float64(0.5), "on": 1},  # floats that are whole numbers
    ]:
        assert np.array_equal(flatten(value, CAST_SPACE), expected)


@pytest.mark.parametrize(
    "value, message",
    [
        ({"img": np.array([1, 300])}, r"leaf \('img',\).*stored exactly in the declared dtype uint8"),
        ({"img": [1, np.nan]}, "cannot be stored exactly"),
        ({"id": 1.5}, r"leaf \('id',\).*cannot be stored exactly in the declared dtype int64"),
        ({"id": 2**70}, "out of range for dtype int64"),
        ({"on": 2}, "declared dtype bool"),
        ({"id": "x"}, "non-numeric dtype"),
        ({"id": [1]}, r"shape \(1,\), expected \(\)"),
        ({"img": [1, 2, 3]}, r"shape \(3,\), expected \(2,\)"),
        ({"on": None}, "non-numeric"),
    ],
)
def test_values_that_would_be_misread_are_refused(value, message):
    full = {"img": [1, 2], "id": 1, "x": 0.0, "on": False, **value}
    with pytest.raises(ValueError, match=message):
        flatten(full, CAST_SPACE)
    with pytest.raises(ValueError, match="cannot read|does not match"):
        flatten({"img": [1, 2]}, CAST_SPACE)  # a missing key


def test_discrete_observations_frozenlake():
    env = puffer_core.make("gym/FrozenLake-v1", seed=0, is_slippery=False)
    assert env.single_observation_space == spaces.Box(0, 15, (1,), np.int64)
    obs, _ = env.reset()
    assert obs.tolist() == [[0]]
    obs, *_ = env.step(np.array([2], np.int32))  # right
    assert obs.tolist() == [[1]] and unflatten(obs, env.structured_observation_space).tolist() == [1]


def test_shape_mismatch_is_a_clear_error():
    env = GymnasiumPufferEnv(BadShapeEnv())
    with pytest.raises(ValueError, match=r"shape \(3, 1\), expected \(3,\)"):
        env.reset()


def test_box_actions_are_passed_in_the_envs_dtype():
    env = GymnasiumPufferEnv(gymnasium.make("Pendulum-v1"))
    assert env.single_action_space.dtype == np.float32 and env.actions.dtype == np.float32
    env.reset(seed=0)
    _, rewards, *_ = env.step(np.array([[0.5]], np.float64))
    assert rewards.dtype == np.float32 and rewards[0] < 0
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([[np.nan]], np.float32))


def test_tuple_of_discrete_observations_blackjack():
    env = puffer_core.make("gym/Blackjack-v1", seed=0)
    assert env.single_observation_space.dtype == np.int64 and env.single_observation_space.shape == (3,)
    obs, _ = env.reset()
    player, dealer, ace = unflatten(obs, env.structured_observation_space)
    assert 4 <= player[0] <= 21 and 1 <= dealer[0] <= 10 and ace[0] in (0, 1)


def test_step_before_reset_and_bad_actions():
    env = GymnasiumPufferEnv(DictEnv())
    with pytest.raises(APIUsageError, match="before reset"):
        env.step(np.zeros((1, 4), np.int32))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.array([[4, 0, 0, 0]]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(4, np.int32))
    with pytest.raises(TypeError, match="gymnasium.Env"):
        GymnasiumPufferEnv(lambda: "not an env")


def test_native_envs_have_no_structured_spaces():
    assert puffer_core.PufferEnv.structured_observation_space is None
    assert puffer_core.PufferEnv.structured_action_space is None


# -- pettingzoo ------------------------------------------------------------------------------------------
class Arena(ParallelEnv):
    """Three agents; agent_1 dies at step 2, agent_2 joins at step 1; everything ends at step 4."""

    metadata = {"name": "arena_v0"}

    def __init__(self):
        self.possible_agents = ["agent_0", "agent_1", "agent_2"]
        self._obs_space = spaces.Dict(
            {"xy": spaces.Box(-5, 5, (2,), np.float32), "hp": spaces.Discrete(10)}
        )
        self._act_space = spaces.Discrete(3)
        self.received = []

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def _obs(self, agent):
        i = self.possible_agents.index(agent)
        return {"xy": np.array([i, self.t], np.float64) + self.noise, "hp": 9 - self.t}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        elif not hasattr(self, "rng"):
            self.rng = np.random.default_rng()
        self.noise = self.rng.uniform(0, 0.5)
        self.t = 0
        self.agents = ["agent_0", "agent_1"]
        return {a: self._obs(a) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        assert set(actions) == set(self.agents), (actions, self.agents)
        self.received.append(dict(actions))
        self.t += 1
        if self.t == 1:
            self.agents = [*self.agents, "agent_2"]
        rewards = {a: float(actions.get(a, 0)) for a in self.agents}
        terms = {a: (a == "agent_1" and self.t == 2) or self.t == 4 for a in self.agents}
        truncs = {a: False for a in self.agents}
        obs = {a: self._obs(a) for a in self.agents}
        infos = {a: {"kills": 3} if terms[a] else {} for a in self.agents}
        self.agents = [a for a in self.agents if not terms[a]]
        return obs, rewards, terms, truncs, infos


def test_pettingzoo_agents_that_come_and_go_are_masked():
    raw = Arena()
    env = PettingZooPufferEnv(raw)
    assert env.num_agents == 3 and env.single_action_space == spaces.Discrete(3)
    assert env.single_observation_space == spaces.Box(0, 255, (16,), np.uint8)
    obs, _ = env.reset(seed=1)
    assert env.masks.tolist() == [True, True, False] and not obs[2].any()
    actions = np.array([1, 2, 0], np.int32)

    obs, rewards, terminals, _, infos = env.step(actions)  # t=1: agent_2 joins
    assert env.masks.tolist() == [True, True, True] and rewards.tolist() == [1, 2, 0] and infos == []
    assert raw.received[-1] == {"agent_0": 1, "agent_1": 2}  # only live agents get actions
    assert unflatten(obs, env.structured_observation_space)["hp"].tolist() == [8, 8, 8]

    obs, rewards, terminals, _, infos = env.step(actions)  # t=2: agent_1 dies, obs still given
    assert terminals.tolist() == [False, True, False] and env.masks.tolist() == [True, True, True]
    assert infos == [{"episode_return": 4.0, "episode_length": 2.0, "kills": 3.0}]

    obs, rewards, terminals, _, infos = env.step(actions)  # t=3: agent_1 is gone
    assert env.masks.tolist() == [True, False, True]
    assert not obs[1].any() and rewards[1] == 0 and not terminals.any()
    assert set(raw.received[-1]) == {"agent_0", "agent_2"}

    obs, rewards, terminals, _, infos = env.step(actions)  # t=4: all end -> auto-reset
    assert terminals.tolist() == [True, False, True] and rewards.tolist() == [1, 0, 0]
    assert sorted((i["episode_return"], i["episode_length"]) for i in infos) == [(0.0, 3.0), (4.0, 4.0)]
    assert env.masks.tolist() == [True, True, False]  # the next episode's agents
    assert unflatten(obs, env.structured_observation_space)["hp"].tolist()[:2] == [9, 9]


def test_pettingzoo_seeding_is_reproducible():
    def run(seed):
        env = PettingZooPufferEnv(Arena)
        out = [env.reset(seed=seed)[0].copy()]
        out += [env.step(np.ones(3, np.int32))[0].copy() for _ in range(9)]
        return np.stack(out)

    assert np.array_equal(run(3), run(3)) and not np.array_equal(run(3), run(4))


class TakeTurns(AECEnv):
    """A two-player AEC env: each takes 3 turns, reward = action; Box observations."""

    metadata = {"name": "take_turns_v0", "is_parallelizable": True}

    def __init__(self):
        super().__init__()
        self.possible_agents = ["p0", "p1"]
        self.observation_spaces = {a: spaces.Box(0, 10, (2,), np.float32) for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(2) for a in self.possible_agents}

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def observe(self, agent):
        return np.array([self.turns, self.possible_agents.index(agent)], np.float32)

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {} for a in self.agents}
        self.turns = 0
        self._index = 0
        self.agent_selection = self.agents[0]

    def step(self, action):
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0
        self.rewards = {a: 0.0 for a in self.agents}
        self.rewards[agent] = float(action)
        self.turns += 1
        if self.turns >= 6:
            self.truncations = {a: True for a in self.agents}
        self._index = (self._index + 1) % 2
        self.agent_selection = self.agents[self._index]
        self._accumulate_rewards()


def test_aec_env_is_converted():
    env = PettingZooPufferEnv(TakeTurns)
    assert env.num_agents == 2
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [[0, 0], [0, 1]] and env.masks.all()
    finished = []
    for _ in range(3):
        obs, rewards, terminals, truncations, infos = env.step(np.array([1, 0], np.int32))
        finished += infos
    assert truncations.all() and not terminals.any()
    assert sorted(i["episode_return"] for i in finished) == [0.0, 3.0]
    assert obs[:, 0].tolist() == [0, 0]  # auto-reset


def test_pettingzoo_agents_must_share_spaces():
    class Mixed(Arena):
        def action_space(self, agent):
            return spaces.Discrete(2 if agent == "agent_2" else 3)

    with pytest.raises(ValueError, match="agent_2"):
        PettingZooPufferEnv(Mixed())
    with pytest.raises(TypeError, match="pettingzoo"):
        PettingZooPufferEnv(42)
