"""PPO over a full experience buffer: :func:`ppo_update` (one update, read top to bottom) and its loss.

One update, as :func:`ppo_update` does it:

1. before every minibatch, recompute the puff advantage (GAE with V-trace clipping) of the whole buffer with
   the current importance ratios and values;
2. draw the minibatch's rows: uniformly, or by priority ``(sum |adv|)^alpha`` with importance weights;
3. forward the rows through the policy (an LSTM runs each row from a zero state), take the clipped PPO loss
   of :func:`ppo_loss`, and backpropagate;
4. write the new ratios and values back into the buffer, so the next minibatch's advantages use them;
5. every ``accumulate_minibatches`` minibatches: agree with the other ranks, average the gradients, clip
   them and step the optimizer.

Collection, checkpoints and logging live elsewhere (``trainer.py``, ``run.py``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .advantage import compute_advantages
from .errors import NonFiniteLossError
from .replay import anneal_beta, sample_segments, sample_uniform_segments, segment_priorities

__all__ = [
    "NonFiniteLossError", "PPOLoss", "ppo_loss", "ppo_update", "weighted_mean", "normalize_advantages"
]  # fmt: skip

#: Statistics ppo_update reports as means over minibatches (importance: the sampled steps' mean ratio).
STAT_TERMS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "importance")


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


def ppo_update(
    buffer: Any,
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: Any,
    sync: Any,
    *,
    minibatch_segments: int,
    progress: float = 0.0,
    obs_norm: nn.Module | None = None,
    forward: Any = None,
    autocast: Any = None,
    action_dist: Any = None,
    global_step: int = 0,
    epoch: int = 0,
    optimizer_step: Any = None,
) -> dict[str, float]:
    """One PPO update over a full :class:`~puffer_trainer.buffer.ExperienceBuffer`; returns loss statistics.

    Args:
        buffer: the experience, ``[segments, horizon]`` rows; its values and importance are updated in place.
        policy: the policy being trained (``forward`` may be a compiled version of it).
        optimizer: stepped every ``config.accumulate_minibatches`` minibatches.
        config: the ``[train]`` section (:class:`~puffer_trainer.config.TrainConfig`).
        sync: a :class:`~puffer_trainer.distributed.Collectives` (a no-op in a single process).
        minibatch_segments: rows per minibatch.
        progress: the fraction of training done, which anneals the replay's importance exponent.
        obs_norm: observation normalizer, frozen here.
        autocast: a context for the forward pass (bf16 autocast); none by default.
        action_dist: the :class:`~puffer_trainer.policies.ActionDist` of the action space (default:
            ``policy.dist``).
        global_step, epoch: named in a :class:`NonFiniteLossError`.
        optimizer_step: replaces step 5's clipping and ``optimizer.step()`` (a
            :class:`~puffer_trainer.cuda_graphs.GraphedOptimizerStep`); the gradients are then zeroed in
            place, so they stay the tensors its graph reads.

    Raises:
        NonFiniteLossError: a loss term became NaN/inf; no optimizer step was taken with it.
    """
    tc = config
    buf = buffer
    forward = policy if forward is None else forward
    autocast = contextlib.nullcontext() if autocast is None else autocast
    segments = buf.segments
    device = buf.observations.device
    recurrent = bool(getattr(policy, "is_recurrent", False))
    obs_shape = tuple(buf.observations.shape[2:])
    dist = policy.dist if action_dist is None else action_dist

    beta = anneal_beta(tc.prio_beta0, progress)
    weights = buf.train_weights()
    row_valid = weights.sum(1) > 0
    # Every valid row keeps a nonzero draw probability (see segment_priorities); none valid -> uniform.
    n_valid = int(row_valid.sum())
    drawable = n_valid or segments
    # prio_alpha == 0 draws uniformly over the valid rows: no priorities to compute from the advantages.
    uniform = tc.prio_alpha == 0
    uniform_pool = row_valid if 0 < n_valid < segments else None
    # A uniform minibatch of every row is the whole buffer; its order cannot change a mean over rows, so
    # train on the buffer itself instead of a gathered permutation of it.
    whole_buffer = uniform and uniform_pool is None and minibatch_segments == segments
    unit_weights = torch.ones(segments, device=device)
    # The normalizer is frozen while training: normalize the whole buffer once, not every minibatch.
    observations = buf.observations if obs_norm is None else obs_norm(buf.observations)
    buf.importance.fill_(1.0)
    n_minibatches = max(1, tc.update_epochs * segments // minibatch_segments)
    accumulate = int(tc.accumulate_minibatches)
    learning_rate = float(optimizer.param_groups[0]["lr"])
    stat_sum: torch.Tensor | None = None
    policy.train()
    keep_grads = optimizer_step is not None
    optimizer.zero_grad(set_to_none=not keep_grads)
    for mb in range(n_minibatches):
        # 1. advantages of the whole buffer, with the ratios and values the last minibatches left
        compute_advantages(
            buf.values, buf.rewards, buf.dones, buf.importance, buf.advantages,
            tc.gamma, tc.gae_lambda, tc.vtrace_rho_clip, tc.vtrace_c_clip,
        )  # fmt: skip
        # 2. the minibatch's rows
        rows: torch.Tensor | slice
        if whole_buffer:
            rows, segment_weights = slice(None), unit_weights
        elif uniform:
            rows, segment_weights = sample_uniform_segments(
                segments, minibatch_segments, uniform_pool, drawable, device=device
            )
        else:
            probs = segment_priorities(buf.advantages * weights, row_valid, tc.prio_alpha)
            rows, segment_weights = sample_segments(probs, minibatch_segments, beta, drawable=drawable)
        obs = observations[rows]
        mb_weights = weights[rows]
        # 3. forward, loss, backward
        with autocast:
            if recurrent:
                params, new_value, _ = forward(obs, None)
            else:
                params, new_value, _ = forward(obs.reshape(-1, *obs_shape), None)
                params = _reshape_params(params, obs.shape[:2])
                new_value = new_value.reshape(obs.shape[:2])
        new_logprob, entropy = dist.log_prob_entropy(params, buf.actions[rows])
        out = ppo_loss(
            new_logprob, entropy, new_value.float(), buf.logprobs[rows], buf.values[rows],
            buf.advantages[rows], mb_weights, segment_weights,
            tc.clip_coef, tc.vf_clip_coef, tc.vf_coef, tc.ent_coef, tc.norm_adv,
        )  # fmt: skip
        (out.loss / accumulate).backward()
        # Checked after queuing the backward pass (a device keeps busy during this one host sync) and before
        # anything is written to the buffer or the optimizer steps; the caller drops the gradients.
        bad = out.first_non_finite()
        if bad is not None:
            raise NonFiniteLossError(bad, global_step, epoch, mb)
        # 4. the new ratios and values go back into the buffer
        with torch.no_grad():
            buf.importance[rows] = out.ratio.detach().float()
            buf.values[rows] = new_value.detach().float()
            terms = [getattr(out, name).detach().float() for name in STAT_TERMS[:-1]]
            terms.append(weighted_mean(out.ratio.detach(), mb_weights))
            stacked = torch.stack(terms)  # one running sum instead of one per term: fewer launches
            stat_sum = stacked if stat_sum is None else stat_sum + stacked
        # 5. the optimizer step
        if (mb + 1) % accumulate == 0 or mb == n_minibatches - 1:
            # Agreeing first is cheap, and a rank whose loss went bad never joins the gradient all-reduce, so
            # every rank learns of it here and stops with the same diagnosis.
            sync.agree("train", global_step=global_step, epoch=epoch)
            sync.average_gradients(policy.parameters())
            if optimizer_step is not None:
                optimizer_step()
            else:
                if tc.max_grad_norm > 0:
                    nn.utils.clip_grad_norm_(policy.parameters(), tc.max_grad_norm)
                optimizer.step()
            optimizer.zero_grad(set_to_none=not keep_grads)

    with torch.no_grad():
        returns = buf.advantages + buf.values
        mean_ret = weighted_mean(returns, weights)
        var_ret = weighted_mean((returns - mean_ret) ** 2, weights)
        mean_adv = weighted_mean(buf.advantages, weights)
        var_adv = weighted_mean((buf.advantages - mean_adv) ** 2, weights)
        explained = torch.where(var_ret > 0, 1.0 - var_adv / var_ret, float("nan"))
        # Every statistic in one device-to-host copy.
        values = torch.cat([stat_sum, explained.float().reshape(1)]).tolist()
    stats = {k: v / n_minibatches for k, v in zip(STAT_TERMS, values)}
    stats["explained_variance"] = values[-1]
    stats["learning_rate"] = learning_rate
    stats["prio_beta"] = beta
    return stats


def _reshape_params(params: Any, lead: torch.Size) -> Any:
    if isinstance(params, tuple):
        return tuple(p.reshape(*lead, p.shape[-1]) for p in params)
    return params.reshape(*lead, params.shape[-1])
