"""The simulator against hand-computed cases: kinematics, collisions, off-road, goals, episodes, masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import straight_scenario
from puffer_envs_gpudrive.env import DriveEnv
from puffer_envs_gpudrive.sim import bicycle_step, box_overlaps, box_touches_segments

NOOP = 6 * 7 + 3  # steer index 6 (0 rad), accel index 3 (0 m/s^2)


def t(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_bicycle_straight_acceleration():
    x, y, h, v = bicycle_step(t(0.0), t(0.0), t(0.0), t(5.0), t(0.0), t(2.0), t(4.0), 0.1, 30.0)
    assert v.item() == pytest.approx(5.2)
    assert x.item() == pytest.approx(0.52)
    assert y.item() == pytest.approx(0.0) and h.item() == pytest.approx(0.0)


def test_bicycle_turn_by_hand():
    # delta = 0.5 rad, v' = 10 m/s, L = 4 m, heading pi/4, dt = 0.1.
    x, y, h, v = bicycle_step(t(1.0), t(2.0), t(math.pi / 4), t(10.0), t(0.5), t(0.0), t(4.0), 0.1, 30.0)
    beta = math.atan(0.5 * math.tan(0.5))
    assert x.item() == pytest.approx(1.0 + 10 * math.cos(math.pi / 4 + beta) * 0.1, abs=1e-5)
    assert y.item() == pytest.approx(2.0 + 10 * math.sin(math.pi / 4 + beta) * 0.1, abs=1e-5)
    assert h.item() == pytest.approx(math.pi / 4 + 10 * math.cos(beta) * math.tan(0.5) / 4 * 0.1, abs=1e-5)


def test_bicycle_speed_limit_and_heading_wrap():
    _, _, h, v = bicycle_step(t(0.0), t(0.0), t(math.pi - 0.01), t(29.9), t(0.5), t(3.0), t(4.0), 0.1, 30.0)
    assert v.item() == pytest.approx(30.0)
    assert -math.pi <= h.item() < 0  # crossed pi, wrapped


def boxes(*specs):
    """(x, y, heading, length, width) per box, all in world 0."""
    arr = torch.tensor(specs, dtype=torch.float32)[None]
    return arr[..., :2], arr[..., 2], arr[..., 3], arr[..., 4]


def test_collision_cases():
    present = torch.ones(1, 2, dtype=torch.bool)
    pos, h, ln, w = boxes((0, 0, 0, 4, 2), (3.9, 0, 0, 4, 2))  # overlap by 0.1 m along x
    assert box_overlaps(pos, h, ln, w, present).tolist() == [[True, True]]
    pos, h, ln, w = boxes((0, 0, 0, 4, 2), (4.1, 0, 0, 4, 2))  # 0.1 m apart
    assert box_overlaps(pos, h, ln, w, present).tolist() == [[False, False]]
    # Rotated 45 degrees: the axis-aligned bounding boxes overlap but the boxes do not (corner gap).
    pos, h, ln, w = boxes((0, 0, 0, 2, 2), (2.3, 2.3, math.pi / 4, 2, 2))
    assert box_overlaps(pos, h, ln, w, present).tolist() == [[False, False]]
    pos, h, ln, w = boxes((0, 0, 0, 2, 2), (1.5, 1.5, math.pi / 4, 2, 2))
    assert box_overlaps(pos, h, ln, w, present).tolist() == [[True, True]]
    # An absent object collides with nothing.
    pos, h, ln, w = boxes((0, 0, 0, 4, 2), (1, 0, 0, 4, 2))
    assert box_overlaps(pos, h, ln, w, torch.tensor([[True, False]])).tolist() == [[False, False]]


def test_offroad_cases():
    pos, h, ln, w = boxes((0, 0, 0, 4, 2))
    seg = lambda a, b: (torch.tensor([[a]], dtype=torch.float32), torch.tensor([[b]], dtype=torch.float32))  # noqa: E731
    valid = torch.ones(1, 1, dtype=torch.bool)
    a, b = seg((-10, 0.9), (10, 0.9))  # crosses the box (half width 1)
    assert box_touches_segments(pos, h, ln, w, a, b, valid).item()
    a, b = seg((-10, 1.1), (10, 1.1))  # passes beside it
    assert not box_touches_segments(pos, h, ln, w, a, b, valid).item()
    a, b = seg((-0.5, 0.0), (0.5, 0.2))  # wholly inside
    assert box_touches_segments(pos, h, ln, w, a, b, valid).item()
    a, b = seg((2.5, -3), (3.5, 3))  # diagonal, near the front but outside (x >= 2.5 > 2)
    assert not box_touches_segments(pos, h, ln, w, a, b, valid).item()
    a, b = seg((1.5, -3), (2.5, 3))  # diagonal through the front edge
    assert box_touches_segments(pos, h, ln, w, a, b, valid).item()
    # Rotated 90 degrees the box is 2 wide in x: a line at y = 1.5 now crosses it.
    pos, h, ln, w = boxes((0, 0, math.pi / 2, 4, 2))
    a, b = seg((-10, 1.5), (10, 1.5))
    assert box_touches_segments(pos, h, ln, w, a, b, valid).item()
    assert not box_touches_segments(pos, h, ln, w, a, b, torch.zeros(1, 1, dtype=torch.bool)).item()


def make_env(scenarios, **kwargs):
    defaults = dict(device="cpu", num_worlds=1, max_agents=4, resample_scenarios=False)
    defaults["non_controlled"] = "static"
    return DriveEnv(scenarios=scenarios, **{**defaults, **kwargs})


def test_goal_reward_terminal_and_mask():
    # Vehicle 0 starts at 10 m/s, goal 3.05 m ahead: after step 1 it is 2.05 m away, after step 2 1.05 m.
    # Vehicle 1 stays far from its goal, so the world keeps running.
    scenario = straight_scenario([(0, 0), (0, 5)], [(3.05, 0), (50, 5)], speed=10.0)
    env = make_env([scenario], goal_reward=1.0)
    env.reset(seed=0)
    assert env.masks.tolist() == [True, True, False, False]
    actions = torch.full((4,), NOOP)
    _, rew, term, trunc, _ = env.step(actions)
    assert rew[0].item() == 0 and not term[0]
    _, rew, term, trunc, _ = env.step(actions)
    assert rew[0].item() == pytest.approx(1.0) and term[0] and not trunc[0]
    assert env.masks.tolist() == [False, True, False, False]  # done, waiting for the world to reset
    _, rew, term, _, _ = env.step(actions)
    assert rew[0].item() == 0 and not term[0]  # a finished agent earns nothing more
    assert not env.observations[0].any()


def test_collision_and_offroad_end_episodes_with_their_rewards():
    # Vehicles 0 and 1 overlap from the start (driving into each other); vehicle 2 sits across an edge.
    starts = [(0, 0), (3.5, 0), (0, 9.5), (-60, -5)]
    scenario = straight_scenario(starts, [(50, 0), (50, 0), (50, 9), (0, -5)])
    env = make_env([scenario], collision_reward=-0.5, offroad_reward=-0.25)
    env.reset(seed=0)
    _, rew, term, trunc, _ = env.step(torch.full((4,), NOOP))
    assert rew.tolist() == [-0.5, -0.5, -0.25, 0.0]
    assert term.tolist() == [True, True, True, False]
    assert env.masks.tolist() == [False, False, False, True]
    # Without ending the episode, the penalty repeats and the agent stays live.
    env = make_env([scenario], end_on_collision=False, end_on_offroad=False, offroad_reward=-0.25)
    env.reset(seed=0)
    for _ in range(2):
        _, rew, term, _, _ = env.step(torch.full((4,), NOOP))
        assert rew.tolist() == [-0.5, -0.5, -0.25, 0.0] and not term.any()
    assert env.observations[0, 5].item() == 1.0  # the ego "collided" flag


def test_time_limit_is_truncation_and_world_resets():
    scenario = straight_scenario([(0, 0)], [(50, 0)])
    env = make_env([scenario], episode_length=5)
    env.reset(seed=0)
    for _ in range(5):
        obs, rew, term, trunc, _ = env.step(torch.full((4,), NOOP))
    assert trunc[0] and not term[0]
    # The step that truncated returns the next episode's first observation, slot live again.
    assert env.masks[0] and env.sim.t[0].item() == 0
    assert torch.allclose(env.sim.pos[0, 0], torch.tensor([0.0, 0.0]))


def test_masks_follow_each_worlds_controlled_count():
    one = straight_scenario([(0, 0)], [(50, 0)], name="one")
    three = straight_scenario([(0, 0), (0, 5), (-20, 0)], [(50, 0), (50, 5), (30, 0)], name="three")
    env = make_env([one, three], num_worlds=4, max_agents=4)
    env.reset(seed=0)
    per_world = env.masks.view(4, 4).sum(1).tolist()
    assert per_world == [1, 3, 1, 3]
    capped = make_env([one, three], num_worlds=2, max_agents=4, max_controlled=2)
    capped.reset(seed=0)
    assert capped.masks.view(2, 4).sum(1).tolist() == [1, 2]
    # The third vehicle is uncontrolled: it is a partner in the others' observations.
    assert (capped.observations.view(2, 4, -1)[1, 0, 6:13] != 0).any()


def test_uncontrolled_objects_replay_their_logs():
    scenario = straight_scenario([(0, 0), (0, 5)], [(50, 0), (50, 5)], speed=0.0)
    scenario.position[1, :, 0] = np.arange(91, dtype=np.float32)  # the log moves 1 m per step
    scenario.expert[1] = True
    env = make_env([scenario], non_controlled="log")
    env.reset(seed=0)
    for _ in range(3):
        env.step(torch.full((4,), NOOP))
    assert env.sim.pos[0, 1, 0].item() == pytest.approx(3.0)
    assert env.masks.tolist() == [True, False, False, False]


def test_partner_and_goal_observations_are_in_the_ego_frame():
    scenario = straight_scenario([(0, 0), (10, 5)], [(0, 20), (50, 5)])
    scenario.heading[0] = math.pi / 2  # vehicle 0 faces +y: its goal is straight ahead
    env = make_env([scenario])
    env.reset(seed=0)
    obs = env.observations[0]
    assert obs[3].item() == pytest.approx(20 / 100, abs=1e-5) and obs[4].item() == pytest.approx(0, abs=1e-5)
    # Partner at world (+10, +5): for a vehicle facing +y that is 5 m ahead, 10 m to the right.
    assert obs[7].item() == pytest.approx(5 / 50, abs=1e-5)
    assert obs[8].item() == pytest.approx(-10 / 50, abs=1e-5)


def test_action_errors_name_the_problem():
    env = make_env([straight_scenario([(0, 0)], [(50, 0)])])
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        env.step(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 91\)"):
        env.step(torch.full((4,), 91))
    with pytest.raises(ValueError, match="integer"):
        env.step(torch.zeros(4))
    cont = make_env([straight_scenario([(0, 0)], [(50, 0)])], action_type="continuous", clip_continuous=False)
    cont.reset(seed=0)
    with pytest.raises(ValueError, match="finite and within"):
        cont.step(torch.full((4, 2), 5.0))
    with pytest.raises(TypeError, match="unknown DriveEnv argument"):
        make_env([], num_wrolds=3)


def test_continuous_actions_drive_the_bicycle():
    env = make_env([straight_scenario([(0, 0)], [(50, 0)])], action_type="continuous")
    env.reset(seed=0)
    act = torch.zeros(4, 2)
    act[0] = torch.tensor([0.0, 2.0])
    env.step(act)
    assert env.sim.speed[0, 0].item() == pytest.approx(0.2)
    assert env.sim.pos[0, 0, 0].item() == pytest.approx(0.02)
