"""Prioritized segment replay: which buffer rows a minibatch trains on, and their importance weights."""

from __future__ import annotations

import torch

__all__ = ["segment_priorities", "sample_segments", "sample_uniform_segments", "anneal_beta"]


def segment_priorities(advantages: torch.Tensor, row_valid: torch.Tensor, alpha: float) -> torch.Tensor:
    """Sampling probabilities of the rows of ``advantages [segments, horizon]``.

    The priority of a row is ``(sum_t |adv[row, t]|) ** alpha`` (``alpha = 0``: uniform). Rows where
    ``row_valid`` is False (no live agent step to train on) get probability 0, unless no row is valid.
    Non-finite sums (an overflowing reward) are treated as priority 0 rather than poisoning the draw.
    """
    if alpha < 0:
        raise ValueError(f"prio_alpha must be >= 0, got {alpha}")
    if alpha == 0:
        prio = torch.ones(advantages.shape[0], device=advantages.device, dtype=torch.float32)
    else:
        total = advantages.abs().sum(1).float()
        total = torch.nan_to_num(total, nan=0.0, posinf=0.0, neginf=0.0)
        # A tiny floor keeps rows whose advantages are all zero drawable, so the draw never runs dry.
        prio = total.pow(alpha) + 1e-8
    prio = prio * row_valid
    total = prio.sum()
    # No valid row at all: fall back to uniform (decided on the device, without a host sync).
    prio = torch.where(total > 0, prio, torch.ones_like(prio))
    return prio / prio.sum()


def sample_segments(
    probs: torch.Tensor,
    count: int,
    beta: float,
    generator: torch.Generator | None = None,
    drawable: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``count`` distinct rows by ``probs``; return ``(rows, weights)``, weights ``(N * P) ** -beta``.

    ``N`` is the number of rows with nonzero probability, so uniform sampling gives weights of exactly 1.
    When fewer than ``count`` rows are drawable, rows are drawn with replacement. Passing ``drawable`` (the
    count of nonzero probabilities, if the caller knows it) saves a device-to-host sync.
    """
    if drawable is None:
        drawable = int((probs > 0).sum())
    replacement = drawable < count
    rows = torch.multinomial(probs, count, replacement=replacement, generator=generator)
    weights = (drawable * probs[rows]).pow(-beta)
    return rows, weights


def sample_uniform_segments(
    segments: int,
    count: int,
    valid: torch.Tensor | None = None,
    drawable: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform ``prio_alpha = 0`` draw: what :func:`sample_segments` gives for uniform priorities, cheaper.

    Draws ``count`` distinct rows uniformly from the ``valid`` ones (``None``: every row is valid), with
    replacement only when fewer than ``count`` rows are drawable; the weights are exactly 1. No priorities
    are computed and, given ``drawable`` (the number of valid rows), nothing syncs with the host.
    """
    if valid is not None:
        device = valid.device
        if drawable is None:
            drawable = int(valid.sum())
        if drawable == 0:  # no valid row at all: uniform over every row, as segment_priorities falls back
            valid, drawable = None, segments
    elif drawable is None:
        drawable = segments
    weights = torch.ones(count, device=device, dtype=torch.float32)
    if drawable < count:
        probs = valid.float() if valid is not None else torch.ones(segments, device=device)
        return torch.multinomial(probs, count, replacement=True, generator=generator), weights
    if valid is None:
        return torch.randperm(segments, device=device, generator=generator)[:count], weights
    # A random subset in random order: the ``count`` smallest of uniform keys, invalid rows keyed past 1.
    keys = torch.rand(segments, device=device, generator=generator).masked_fill_(~valid, 2.0)
    return torch.topk(keys, count, largest=False).indices, weights


def anneal_beta(beta0: float, progress: float) -> float:
    """Importance exponent annealed linearly from ``beta0`` at the start to 1 at the end of training."""
    progress = min(max(progress, 0.0), 1.0)
    return beta0 + (1.0 - beta0) * progress
