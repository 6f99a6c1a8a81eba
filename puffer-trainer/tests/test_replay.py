"""Prioritized segment replay and the advantage kernel as the trainer calls it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from puffer_trainer.advantage import compute_advantages
from puffer_trainer.replay import anneal_beta, sample_segments, sample_uniform_segments, segment_priorities


def test_alpha_zero_is_uniform_with_unit_weights():
    adv = torch.randn(8, 5)
    probs = segment_priorities(adv, torch.ones(8, dtype=torch.bool), alpha=0.0)
    assert torch.allclose(probs, torch.full((8,), 1 / 8))
    rows, weights = sample_segments(probs, 4, beta=0.4)
    assert len(set(rows.tolist())) == 4  # distinct rows
    assert torch.allclose(weights, torch.ones(4))


def test_priorities_follow_summed_absolute_advantage():
    adv = torch.tensor([[1.0, -1.0], [0.0, 4.0], [0.5, 0.5], [-2.0, 0.0]])
    probs = segment_priorities(adv, torch.ones(4, dtype=torch.bool), alpha=0.5)
    expected = torch.tensor([2.0, 4.0, 1.0, 2.0]) ** 0.5
    assert torch.allclose(probs, expected / expected.sum(), atol=1e-6)


def test_sampling_frequencies_match_priorities():
    torch.manual_seed(0)
    adv = torch.tensor([[1.0], [2.0], [3.0], [10.0]])
    probs = segment_priorities(adv, torch.ones(4, dtype=torch.bool), alpha=1.0)
    counts = torch.zeros(4)
    for _ in range(4000):
        rows, _ = sample_segments(probs, 1, beta=1.0)
        counts[rows] += 1
    assert torch.allclose(counts / counts.sum(), probs, atol=0.02)


def test_importance_weights_are_n_p_to_the_minus_beta():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    rows, weights = sample_segments(probs, 4, beta=0.7)
    assert torch.allclose(weights, (4 * probs[rows]) ** -0.7)
    # The rarest row gets the largest correction.
    assert weights[rows == 0].item() == pytest.approx(weights.max().item())


def test_invalid_rows_are_never_drawn():
    adv = torch.ones(6, 3) * 100
    valid = torch.tensor([True, False, True, False, True, True])
    for alpha in (0.0, 0.8):
        probs = segment_priorities(adv, valid, alpha)
        assert (probs[~valid] == 0).all()
        rows, weights = sample_segments(probs, 4, beta=0.5)
        assert valid[rows].all()
        # N counts drawable rows only, so uniform-over-valid still weighs 1.
        if alpha == 0:
            assert torch.allclose(weights, torch.ones(4))


def test_too_few_drawable_rows_sample_with_replacement():
    probs = segment_priorities(torch.ones(4, 2), torch.tensor([True, False, False, False]), 0.0)
    rows, _ = sample_segments(probs, 3, beta=0.5)
    assert rows.tolist() == [0, 0, 0]


def test_zero_advantage_rows_stay_drawable_and_nonfinite_rows_do_not_poison():
    adv = torch.tensor([[0.0, 0.0], [float("inf"), 1.0], [1.0, 1.0]])
    probs = segment_priorities(adv, torch.ones(3, dtype=torch.bool), 0.6)
    assert torch.isfinite(probs).all() and (probs > 0).all()


def test_beta_anneals_from_beta0_to_one():
    assert anneal_beta(0.2, 0.0) == pytest.approx(0.2)
    assert anneal_beta(0.2, 0.5) == pytest.approx(0.6)
    assert anneal_beta(0.2, 1.0) == 1.0 and anneal_beta(0.2, 3.0) == 1.0


def test_negative_alpha_is_refused():
    with pytest.raises(ValueError, match="prio_alpha"):
        segment_priorities(torch.ones(2, 2), torch.ones(2, dtype=torch.bool), -1.0)


def reference_puff(values, rewards, dones, importance, gamma, lam, rho_clip, c_clip):
    segments, horizon = values.shape
    adv = np.zeros_like(values)
    for s in range(segments):
        last = 0.0
        for t in range(horizon - 2, -1, -1):
            nonterminal = 1.0 - dones[s, t + 1]
            rho = min(importance[s, t], rho_clip)
            c = min(importance[s, t], c_clip)
            delta = rho * (rewards[s, t + 1] + gamma * values[s, t + 1] * nonterminal - values[s, t])
            last = delta + gamma * lam * c * last * nonterminal
            adv[s, t] = last
    return adv


def test_trainer_advantages_match_the_reference_recurrence():
    rng = np.random.default_rng(0)
    shape = (5, 9)
    values = rng.normal(size=shape).astype(np.float32)
    rewards = rng.normal(size=shape).astype(np.float32)
    dones = (rng.random(shape) < 0.2).astype(np.float32)
    importance = rng.uniform(0.2, 2.0, size=shape).astype(np.float32)
    out = torch.zeros(shape)
    compute_advantages(
        torch.from_numpy(values), torch.from_numpy(rewards), torch.from_numpy(dones),
        torch.from_numpy(importance), out, 0.97, 0.9, 1.0, 0.8,
    )  # fmt: skip
    expected = reference_puff(values, rewards, dones, importance, 0.97, 0.9, 1.0, 0.8)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert (out[:, -1] == 0).all()


def test_uniform_draw_matches_alpha_zero_sampling():
    """The prio_alpha = 0 fast path: distinct valid rows, weights 1, every valid row equally likely."""
    torch.manual_seed(0)
    valid = torch.tensor([True, False, True, True, False, True])
    counts = torch.zeros(6)
    for _ in range(3000):
        rows, weights = sample_uniform_segments(6, 2, valid, drawable=4)
        assert len(set(rows.tolist())) == 2 and valid[rows].all()
        assert torch.equal(weights, torch.ones(2))
        counts[rows] += 1
    assert (counts[~valid] == 0).all()
    assert torch.allclose(counts[valid] / counts.sum(), torch.full((4,), 0.25), atol=0.02)
    rows, _ = sample_uniform_segments(5, 5)  # every row valid: a permutation
    assert sorted(rows.tolist()) == list(range(5))


def test_uniform_draw_with_too_few_or_no_valid_rows():
    valid = torch.tensor([False, True, False, False])
    rows, weights = sample_uniform_segments(4, 3, valid)
    assert rows.tolist() == [1, 1, 1] and torch.equal(weights, torch.ones(3))
    rows, _ = sample_uniform_segments(4, 4, torch.zeros(4, dtype=torch.bool))  # none valid: all rows
    assert sorted(rows.tolist()) == [0, 1, 2, 3]
