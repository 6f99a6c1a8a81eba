"""PPO loss terms over weighted ``[segments, horizon]`` minibatches, and the non-finite loss diagnosis."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import NonFiniteLossError

__all__ = ["NonFiniteLossError", "PPOLoss", "ppo_loss", "weighted_mean", "normalize_advantages"]


def weighted_mean(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(x * w) / sum(w)`` over steps with ``w > 0`` (0 when every weight is 0)."""
    return torch.where(weights > 0, x * weights, 0.0).sum() / weights.sum().clamp(min=1e-8)


def normalize_advantages(adv: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit std over the steps with nonzero weight."""
    mean = weighted_mean(adv, weights)
    var = weighted_mean((adv - mean) ** 2, weights)
    return (adv - mean) / (var.sqrt() + 1e-8)


@dataclass
class PPOLoss:
    """The terms of one minibatch's loss (0-d tensors) and diagnostics."""

    loss: torch.Tensor
    policy_loss: torch.Tensor
    value_loss: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    clipfrac: torch.Tensor
    ratio: torch.Tensor

    def first_non_finite(self) -> str | None:
        """Name of the first non-finite term, or None (one device sync)."""
        terms = torch.stack([self.policy_loss, self.value_loss, self.entropy, self.loss]).detach()
        if bool(torch.isfinite(terms).all()):
            return None
        for name in ("policy_loss", "value_loss", "entropy", "loss"):
            if not bool(torch.isfinite(getattr(self, name)).all()):
                return name
        return "loss"


def ppo_loss(
    new_logprob: torch.Tensor,
    entropy: torch.Tensor,
    new_value: torch.Tensor,
    old_logprob: torch.Tensor,
    old_value: torch.Tensor,
    advantages: torch.Tensor,
    weights: torch.Tensor,
    segment_weights: torch.Tensor,
    clip_coef: float,
    vf_clip_coef: float,
    vf_coef: float,
    ent_coef: float,
    norm_adv: bool = True,
) -> PPOLoss:
    """Clipped PPO loss on ``[B, T]`` tensors.

    Args:
        weights: per-step weights (0 for masked or bootstrap-only steps): every term is a weighted mean.
        segment_weights: ``[B]`` prioritized-replay importance weights, scaling the policy loss of each row.
        advantages: puff advantages; value targets are ``advantages + old_value``.
    """
    # Masked steps may hold anything (a dead agent's garbage): neutralize them so nothing non-finite can
    # leak into the weighted means or their gradients (0 * inf is NaN).
    live = weights > 0
    # The mask and denominator of every weighted mean below, computed once (as weighted_mean would).
    denom = weights.sum().clamp(min=1e-8)

    def wmean(x: torch.Tensor) -> torch.Tensor:
        return torch.where(live, x * weights, 0.0).sum() / denom

    advantages = torch.where(live, advantages, 0.0)
    old_logprob = torch.where(live, old_logprob, new_logprob.detach())
    old_value = torch.where(live, old_value, new_value.detach().float())
    returns = advantages + old_value
    logratio = new_logprob - old_logprob
    ratio = logratio.exp()
    if norm_adv:
        mean = wmean(advantages)
        centered = advantages - mean
        adv = centered / (wmean(centered**2).sqrt() + 1e-8)
    else:
        adv = advantages
    adv = adv * segment_weights.unsqueeze(-1)
    pg1 = -adv * ratio
    pg2 = -adv * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    policy_loss = wmean(torch.max(pg1, pg2))

    new_value = new_value.float()
    v_unclipped = (new_value - returns) ** 2
    v_clipped = (old_value + torch.clamp(new_value - old_value, -vf_clip_coef, vf_clip_coef) - returns) ** 2
    value_loss = 0.5 * wmean(torch.max(v_unclipped, v_clipped))

    entropy_mean = wmean(entropy)
    loss = policy_loss + vf_coef * value_loss - ent_coef * entropy_mean
    with torch.no_grad():
        approx_kl = wmean((ratio - 1) - logratio)
        clipfrac = wmean(((ratio - 1).abs() > clip_coef).float())
    return PPOLoss(loss, policy_loss, value_loss, entropy_mean, approx_kl, clipfrac, ratio)
