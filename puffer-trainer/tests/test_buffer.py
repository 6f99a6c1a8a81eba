"""The experience buffer: row filling, overlap, stash, masks, truncation bootstrap, non-contiguous ids."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from puffer_trainer.buffer import ExperienceBuffer


def make_buffer(segments: int = 4, horizon: int = 4, num_agents: int = 2) -> ExperienceBuffer:
    return ExperienceBuffer(segments, horizon, num_agents, (2,), torch.float32, (), torch.int32)


def feed(buf, ids, step, rewards=None, terminals=None, truncations=None, masks=None, values=None, gamma=0.9):
    """One step for agents ``ids``: observation = [agent, step], action = step, value = step / 100."""
    n = len(ids)
    ids = np.asarray(ids)
    obs = torch.tensor(np.stack([ids, np.full(n, step)], 1), dtype=torch.float32)
    return buf.store(
        ids,
        obs,
        torch.full((n,), step, dtype=torch.int32),
        torch.zeros(n),
        torch.full((n,), step / 100) if values is None else torch.as_tensor(values, dtype=torch.float32),
        torch.zeros(n) if rewards is None else torch.as_tensor(rewards, dtype=torch.float32),
        torch.zeros(n, dtype=torch.bool) if terminals is None else torch.as_tensor(terminals),
        torch.zeros(n, dtype=torch.bool) if truncations is None else torch.as_tensor(truncations),
        torch.ones(n, dtype=torch.bool) if masks is None else torch.as_tensor(masks),
        gamma=gamma,
    )


def row_of(buf, agent):
    rows = [r for r in range(buf.segments) if buf.row_agent[r] == agent]
    return [buf.observations[r, :, 1].tolist() for r in rows]


def test_rows_hold_consecutive_steps_and_overlap_by_one():
    buf = make_buffer(segments=4, horizon=4, num_agents=2)
    step = 0
    while not buf.full:
        feed(buf, [0, 1], step)
        step += 1
    # Each agent fills two rows; the second starts with the last step of the first.
    assert row_of(buf, 0) == [[0, 1, 2, 3], [3, 4, 5, 6]]
    assert row_of(buf, 1) == [[0, 1, 2, 3], [3, 4, 5, 6]]
    # Observations carry their agent: no cross-agent mixing.
    for r in range(4):
        assert (buf.observations[r, :, 0] == float(buf.row_agent[r])).all()
    assert (buf.actions[:, :, None].float() == buf.observations[:, :, 1:]).all()
    weights = buf.train_weights()
    assert (weights[:, :-1] == 1).all() and (weights[:, -1] == 0).all()


def test_next_collection_starts_with_the_last_unfinished_step():
    buf = make_buffer(segments=2, horizon=3, num_agents=2)
    step = 0
    while not buf.full:
        feed(buf, [0, 1], step)
        step += 1
    assert row_of(buf, 0) == [[0, 1, 2]]
    buf.reset()
    while not buf.full:
        feed(buf, [0, 1], step)
        step += 1
    # Step 2 only bootstrapped step 1 in the first collection; it is trained on in the second.
    assert row_of(buf, 0) == [[2, 3, 4]]
    assert row_of(buf, 1) == [[2, 3, 4]]


def test_non_contiguous_unordered_ids_map_to_their_own_rows():
    buf = make_buffer(segments=4, horizon=3, num_agents=6)
    order = [np.array([5, 1]), np.array([3, 0])]
    steps = {a: 0 for a in (0, 1, 3, 5)}
    while not buf.full:
        for ids in order:
            feed_ids = ids
            n = len(feed_ids)
            obs = torch.tensor([[a, steps[a]] for a in feed_ids], dtype=torch.float32)
            zeros, no = torch.zeros(n), torch.zeros(n, dtype=torch.bool)
            actions = torch.zeros(n, dtype=torch.int32)
            buf.store(feed_ids, obs, actions, zeros, zeros, zeros, no, no, ~no, gamma=0.9)
            for a in feed_ids:
                steps[a] += 1
            if buf.full:
                break
    assert sorted(buf.row_agent.tolist()) == [0, 1, 3, 5]
    for r in range(4):
        agent = buf.row_agent[r]
        assert (buf.observations[r, :, 0] == agent).all()
        assert buf.observations[r, :, 1].tolist() == [0, 1, 2]


def test_agents_without_free_rows_wait_in_the_stash():
    buf = make_buffer(segments=1, horizon=3, num_agents=2)
    # Agent 0 takes the only row; agent 1's steps wait, always keeping the newest.
    feed(buf, [0, 1], 0)
    feed(buf, [0, 1], 1)
    feed(buf, [0, 1], 2)
    assert buf.full and row_of(buf, 0) == [[0, 1, 2]]
    buf.reset()
    feed(buf, [1, 0], 3)
    feed(buf, [1, 0], 4)
    assert buf.full
    # Agent 1 is first now: its row starts with its newest waiting step (2), never an older one.
    assert row_of(buf, 1) == [[2, 3, 4]]


def test_masked_steps_get_zero_weight():
    buf = make_buffer(segments=2, horizon=3, num_agents=2)
    feed(buf, [0, 1], 0, masks=[True, False])
    feed(buf, [0, 1], 1, masks=[True, True])
    feed(buf, [0, 1], 2, masks=[False, True])
    weights = buf.train_weights()
    r0, r1 = (int(np.flatnonzero(buf.row_agent == a)[0]) for a in (0, 1))
    assert weights[r0].tolist() == [1, 1, 0]
    assert weights[r1].tolist() == [0, 1, 0]
    assert buf.weights[r0, 2] == 0 and buf.weights[r1, 2] == 1


def test_truncation_bootstraps_from_the_last_value_before_reset():
    buf = make_buffer(segments=1, horizon=4, num_agents=1)
    gamma = 0.9
    feed(buf, [0], 0, values=[0.5])
    feed(buf, [0], 1, values=[2.0], rewards=[1.0])
    # Step 2 arrives truncated: the env already reset, the value of step 1's observation stands in.
    feed(buf, [0], 2, values=[7.0], rewards=[1.0], truncations=[True])
    # Step 3 arrives terminated: a real end, no bootstrap.
    feed(buf, [0], 3, values=[3.0], rewards=[1.0], terminals=[True])
    assert buf.rewards[0].tolist() == pytest.approx([0.0, 1.0, 1.0 + gamma * 2.0, 1.0])
    assert buf.dones[0].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_truncation_and_termination_together_is_a_termination():
    buf = make_buffer(segments=1, horizon=2, num_agents=1)
    feed(buf, [0], 0, values=[5.0])
    feed(buf, [0], 1, rewards=[1.0], terminals=[True], truncations=[True])
    assert buf.rewards[0, 1].item() == pytest.approx(1.0)


def test_bad_ids_are_refused():
    buf = make_buffer(num_agents=2)
    with pytest.raises(ValueError, match="env_ids"):
        feed(buf, [0, 2], 0)
    with pytest.raises(TypeError, match="env_ids"):
        buf.store(np.array([0.0]), *([torch.zeros(1)] * 8), gamma=0.9)


@pytest.mark.parametrize("args", [(0, 4, 1), (1, 1, 1), (1, 4, 0)])
def test_bad_sizes_are_refused(args):
    with pytest.raises(ValueError):
        ExperienceBuffer(*args, (1,), torch.float32, (), torch.int32)
