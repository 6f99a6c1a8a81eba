"""Puff advantage (GAE with V-trace clipping) through puffer-kernels: C on CPU tensors, CUDA on GPU."""

from __future__ import annotations

import torch

__all__ = ["compute_advantages"]


def compute_advantages(
    values: torch.Tensor,
    rewards: torch.Tensor,
    dones: torch.Tensor,
    importance: torch.Tensor,
    advantages: torch.Tensor,
    gamma: float,
    gae_lambda: float,
    rho_clip: float,
    c_clip: float,
) -> torch.Tensor:
    """Write puff advantages of ``[segments, horizon]`` float32 buffers into ``advantages`` and return it.

    Per row, backwards from ``horizon - 2`` (``advantages[:, -1]`` is 0)::

        nonterminal = 1 - dones[t+1];  rho = min(importance[t], rho_clip);  c = min(importance[t], c_clip)
        delta = rho * (rewards[t+1] + gamma * values[t+1] * nonterminal - values[t])
        adv[t] = delta + gamma * gae_lambda * c * adv[t+1] * nonterminal
    """
    try:
        import puffer_kernels
    except ImportError as exc:  # a dependency, but say clearly what is missing
        raise ImportError("puffer-trainer needs puffer-kernels: pip install puffer-kernels") from exc
    puffer_kernels.puff_advantage(
        values,
        rewards,
        dones,
        importance,
        advantages,
        gamma=gamma,
        gae_lambda=gae_lambda,
        rho_clip=rho_clip,
        c_clip=c_clip,
    )
    return advantages
