"""Optimizers: AdamW, Muon (weight matrices) + Nesterov SGD (the rest), PSGD-Kron (heavyball); cosine LR."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .muon import MuonWithSGD

__all__ = ["CombinedOptimizer", "MuonWithSGD", "build_optimizer", "build_scheduler", "split_muon_parameters"]


class CombinedOptimizer(torch.optim.Optimizer):
    """Several optimizers stepped together, seen by LR schedulers as one (their param groups are shared).

    ``state_dict()`` holds each child's state dict, so a checkpoint restores all of them.
    """

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        if not optimizers:
            raise ValueError("CombinedOptimizer needs at least one optimizer")
        self.optimizers = list(optimizers)
        # Skip Optimizer.__init__: the children own the groups; we only expose the same dicts.
        self.defaults: dict[str, Any] = {}
        self._optimizer_step_pre_hooks = {}
        self._optimizer_step_post_hooks = {}
        self._optimizer_state_dict_pre_hooks = {}
        self._optimizer_state_dict_post_hooks = {}
        self._optimizer_load_state_dict_pre_hooks = {}
        self._optimizer_load_state_dict_post_hooks = {}

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [g for opt in self.optimizers for g in opt.param_groups]

    @property
    def state(self) -> dict[Any, Any]:  # type: ignore[override]
        merged: dict[Any, Any] = {}
        for opt in self.optimizers:
            merged.update(opt.state)
        return merged

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        for opt in self.optimizers:
            opt.step()
        return None

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        states = state_dict.get("optimizers") if isinstance(state_dict, dict) else None
        if not isinstance(states, list) or len(states) != len(self.optimizers):
            raise ValueError(
                f"optimizer state holds {len(states) if isinstance(states, list) else 'no'} optimizers, "
                f"this one has {len(self.optimizers)} (was it saved with another optimizer setting?)"
            )
        for opt, state in zip(self.optimizers, states):
            opt.load_state_dict(state)

    def __repr__(self) -> str:
        return f"CombinedOptimizer({', '.join(type(o).__name__ for o in self.optimizers)})"


def split_muon_parameters(policy: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split trainable parameters into (weight matrices, everything else) for Muon.

    Every 2-D weight goes to Muon, the input layer and the heads included, as in the reference trainer
    (PufferLib 3.0 runs heavyball's Muon over every parameter, whose orthogonalization leaves vectors alone).
    """
    trainable = [p for p in policy.parameters() if p.requires_grad]
    return [p for p in trainable if p.ndim == 2], [p for p in trainable if p.ndim != 2]


def build_optimizer(policy: nn.Module, train: Any) -> torch.optim.Optimizer:
    """The optimizer named by ``train.optimizer``: ``adam``, ``muon`` or ``kron``."""
    name = str(train.optimizer).lower()
    lr = float(train.learning_rate)
    betas = (float(train.adam_beta1), float(train.adam_beta2))

    def adam(params: list[nn.Parameter]) -> torch.optim.Optimizer:
        # The fused CUDA kernel updates every tensor in one launch; small policies are launch-bound on GPUs.
        fused = all(p.device.type == "cuda" and p.dtype.is_floating_point for p in params) or None
        return torch.optim.AdamW(
            params,
            lr=lr,
            betas=betas,
            eps=float(train.adam_eps),
            weight_decay=float(train.weight_decay),
            fused=fused,
        )

    params = [p for p in policy.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the policy has no trainable parameters")
    if name == "adam":
        return adam(params)
    if name == "muon":
        matrices, others = split_muon_parameters(policy)
        # One learning rate for both groups, with the reference's semantics: each matrix's Nesterov momentum
        # is orthogonalized (Newton-Schulz) and scaled by sqrt(max(1, rows / cols)) ("original"); biases,
        # norms and conv kernels take the plain Nesterov momentum step. An Adam group would need a learning
        # rate two orders of magnitude smaller than Muon's. MuonWithSGD computes what torch.optim.Muon and
        # torch.optim.SGD(nesterov=True) stepped together did, in a fraction of the kernel launches.
        return MuonWithSGD(
            matrices,
            others,
            lr=lr,
            momentum=float(train.adam_beta1),
            nesterov=True,
            weight_decay=float(train.weight_decay),
            adjust_lr_fn="original",
        )
    if name == "kron":
        try:
            import heavyball
        except ImportError:
            raise ImportError(
                "optimizer 'kron' (PSGD-Kron) needs the heavyball package: pip install 'puffer-trainer[kron]'"
            ) from None
        kron = getattr(heavyball, "PSGDKron", None) or getattr(heavyball, "ForeachPSGDKron", None)
        utils = getattr(heavyball, "utils", None)
        if all(p.device.type == "cpu" for p in params) and hasattr(utils, "compile_mode"):
            # heavyball torch.compiles its update by default; Inductor on CPU needs a C++ toolchain and
            # failed here, so a CPU run uses heavyball's eager path (process-wide: heavyball has no per-
            # optimizer switch).
            utils.compile_mode = None
        if kron is None:
            raise ImportError(f"heavyball {getattr(heavyball, '__version__', '?')} has no PSGDKron optimizer")
        return kron(params, lr=lr, weight_decay=float(train.weight_decay))
    raise ValueError(f"train.optimizer must be 'adam', 'muon' or 'kron', got {train.optimizer!r}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_epochs: int, anneal: bool, min_lr_ratio: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """Cosine annealing from the base LR to ``base * min_lr_ratio`` over ``total_epochs`` (or constant)."""
    total = max(int(total_epochs), 1)
    ratio = float(min_lr_ratio)

    def factor(epoch: int) -> float:
        if not anneal:
            return 1.0
        progress = min(epoch, total) / total
        return ratio + (1.0 - ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
