"""Buffers, the PufferEnv base class and episode tracking."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from puffer_core import Buffers, EpisodeTracker, PufferEnv

OBS = spaces.Box(0, 255, (2, 3), np.uint8)
ACT = spaces.MultiDiscrete([3, 2])


def test_allocate_gives_zeroed_buffers_of_the_right_layout():
    buf = Buffers.allocate(OBS, ACT, 4)
    assert buf.observations.shape == (4, 2, 3) and buf.observations.dtype == np.uint8
    assert buf.actions.shape == (4, 2) and buf.actions.dtype == np.int32
    assert buf.rewards.dtype == np.float32 and buf.rewards.shape == (4,)
    for name in ("terminals", "truncations", "masks"):
        assert getattr(buf, name).dtype == bool and getattr(buf, name).shape == (4,)
    assert not buf.observations.any() and not buf.rewards.any() and buf.masks.all()
    buf.check(OBS, ACT, 4)
    with pytest.raises(ValueError, match="positive int"):
        Buffers.allocate(OBS, ACT, 0)
    with pytest.raises(ValueError, match="positive int"):
        Buffers.allocate(OBS, ACT, 2.0)


def test_slices_are_views_of_the_parent():
    buf = Buffers.allocate(OBS, ACT, 6)
    part = buf.slice(2, 4)
    part.check(OBS, ACT, 2)
    part.rewards[:] = [1, 2]
    part.observations[1] = 7
    part.terminals[0] = True
    assert buf.rewards.tolist() == [0, 0, 1, 2, 0, 0]
    assert (buf.observations[3] == 7).all() and buf.terminals[2] and buf.terminals.sum() == 1


@pytest.mark.parametrize(
    "name, bad, message",
    [
        ("observations", np.zeros((4, 2, 3), np.float32), "dtype uint8"),
        ("observations", np.zeros((4, 6), np.uint8), r"shape \(4, 2, 3\)"),
        ("actions", np.zeros((4, 2), np.int64), "dtype int32"),
        ("rewards", np.zeros(3, np.float32), r"shape \(4,\)"),
        ("masks", np.zeros(4, np.uint8), "dtype bool"),
        ("terminals", [False] * 4, "numpy array"),
        ("rewards", np.zeros(8, np.float32)[::2], "C-contiguous"),
    ],
)
def test_check_refuses_wrong_buffers(name, bad, message):
    buf = Buffers.allocate(OBS, ACT, 4)
    setattr(buf, name, bad)
    with pytest.raises(ValueError, match=message):
        buf.check(OBS, ACT, 4)


class Echo(PufferEnv):
    """Reward = action; the episode of a slot ends (terminal) every `period` steps, truncates at `limit`."""

    def __init__(self, buf=None, num_agents=3, period=3, limit=100):
        self.single_observation_space = spaces.Box(-1, 10, (1,), np.float32)
        self.single_action_space = spaces.Discrete(4)
        self.num_agents = num_agents
        super().__init__(buf)
        self.period, self.limit, self.t = period, limit, 0
        self.tracker = EpisodeTracker(num_agents)

    def reset(self, seed=None):
        self.t = 0
        self.observations[:] = 0
        return self.observations, []

    def step(self, actions):
        actions = self.write_actions(actions)
        self.t += 1
        self.rewards[:] = actions
        self.observations[:, 0] = self.t
        self.terminals[:] = self.t % self.period == 0
        self.truncations[:] = self.t % self.limit == 0
        return self.observations, self.rewards, self.terminals, self.truncations, self.tracker.update(
            self.rewards, self.terminals, self.truncations, self.masks
        )


def test_env_uses_given_buffers_in_place():
    shared = Buffers.allocate(Echo().single_observation_space, spaces.Discrete(4), 6)
    env = Echo(buf=shared.slice(3, 6))
    shared.masks[:] = False
    env2 = Echo(buf=shared.slice(0, 3))
    assert env2.masks.all() and not shared.masks[3:].any()  # init marks its own slots live only
    env.reset()
    obs, rewards, *_ = env.step(np.array([1, 2, 3]))
    assert obs is env.observations and rewards is env.rewards
    assert shared.rewards.tolist() == [0, 0, 0, 1, 2, 3] and (shared.observations[3:] == 1).all()
    with pytest.raises(ValueError, match="buffer 'observations'"):
        Echo(buf=Buffers.allocate(spaces.Box(-1, 10, (2,), np.float32), spaces.Discrete(4), 3))
    assert env.observation_space.shape == (3, 1)
    assert env.action_space == spaces.MultiDiscrete([4, 4, 4])


def test_write_actions_validates_copies_and_skips_its_own_buffer():
    env = Echo()
    env.reset()
    given = np.array([3, 0, 1], np.int64)
    assert env.write_actions(given) is env.actions
    assert env.actions.tolist() == [3, 0, 1] and env.actions.dtype == np.int32
    given[0] = 0
    assert env.actions[0] == 3  # a copy, not a reference to the caller's array
    env.actions[:] = [9, 9, 9]  # the vectorizer validated what it wrote: no second check
    assert env.write_actions(env.actions) is env.actions
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.array([0, 4, 0]))
    with pytest.raises(ValueError, match="integers"):
        env.step(np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.array([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        env.step(1)


def test_non_contiguous_actions_are_copied_not_misread():
    env = Echo()
    env.reset()
    wide = np.array([[1, 9], [2, 9], [3, 9]])
    env.step(wide[:, 0])
    assert env.rewards.tolist() == [1, 2, 3]


def test_subclass_must_set_spaces_first():
    class Incomplete(PufferEnv):
        def __init__(self):
            self.single_observation_space = spaces.Box(0, 1, (1,))
            super().__init__()

    with pytest.raises(TypeError, match="single_action_space"):
        Incomplete()


def test_gpu_env_cannot_take_host_buffers():
    class OnDevice(PufferEnv):
        device = "cuda:0"
        single_observation_space = spaces.Box(0, 1, (1,))
        single_action_space = spaces.Discrete(2)
        num_agents = 2

    env = OnDevice()
    assert not hasattr(env, "observations")
    with pytest.raises(ValueError, match="cuda:0"):
        OnDevice(buf=Buffers.allocate(OnDevice.single_observation_space, OnDevice.single_action_space, 2))


def test_episode_tracker_reports_finished_episodes():
    env = Echo(num_agents=2, period=3, limit=5)
    env.reset()
    infos = []
    for _ in range(5):
        infos.append(env.step(np.array([1, 2]))[-1])
    assert infos[:2] == [[], []]
    assert infos[2] == [
        {"episode_return": 3.0, "episode_length": 3.0},
        {"episode_return": 6.0, "episode_length": 3.0},
    ]
    assert infos[3] == []
    # step 5 truncates: the second episode lasted 2 steps
    assert [i["episode_length"] for i in infos[4]] == [2.0, 2.0]


def test_episode_tracker_ignores_masked_slots():
    tracker = EpisodeTracker(3)
    rewards = np.array([1.0, 5.0, 2.0], np.float32)
    ended = np.zeros(3, bool)
    masks = np.array([True, False, True])
    assert tracker.update(rewards, ended, ended, masks) == []
    terminals = np.array([True, True, False])
    infos = tracker.update(rewards, terminals, ended, masks)
    assert infos == [{"episode_return": 2.0, "episode_length": 2.0}]  # slot 1 is masked: not an episode
    assert tracker.returns.tolist() == [0.0, 0.0, 4.0] and tracker.lengths.tolist() == [0, 0, 2]
    tracker.reset()
    assert not tracker.returns.any() and not tracker.lengths.any()
