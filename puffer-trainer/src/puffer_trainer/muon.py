"""Muon for weight matrices and Nesterov SGD for the other tensors: one optimizer with few kernel launches.

:class:`MuonWithSGD` computes exactly what ``torch.optim.Muon`` (matrices) and
``torch.optim.SGD(nesterov=True)`` (biases, norms, conv kernels) compute when stepped side by side, op for op
and in the same dtypes, but:

* the elementwise work (momentum, Nesterov, weight decay, update) runs as ``torch._foreach_*`` ops over all
  tensors of a group at once instead of a loop of small ops per tensor;
* Newton-Schulz runs on stacks: the matrices of one shape (a tall matrix joins the group of its transpose) are
  stacked and iterated with ``torch.bmm``/``torch.baddbmm``, so launches scale with the number of distinct
  shapes, not of matrices;
* nothing in :meth:`MuonWithSGD.step` reads a tensor's value on the host (no device synchronization).

Small RL policies are launch-bound on GPUs: with ``torch.optim.Muon`` the optimizer step was the largest
single item of a PPO epoch's host time (``benchmarks/results/profile_epoch_h200_2026-11-30.txt``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["MERGE_LIMIT", "NS_COEFFICIENTS", "NS_EPS", "NS_STEPS", "MuonWithSGD", "orthogonalize"]

#: Newton-Schulz quintic coefficients, steps and norm floor of Keller Jordan's Muon (torch.optim.Muon's
#: defaults).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
NS_EPS = 1e-7

# Group keys that only one kind of group has: how a group saved by torch.optim.Muon / SGD is recognized.
_MUON_ONLY = ("ns_coefficients", "ns_steps", "eps", "adjust_lr_fn")
_SGD_ONLY = ("dampening",)


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size | tuple[int, ...]) -> float:
    """Muon's per-matrix learning rate: ``"original"`` (or None) ``lr * sqrt(max(1, rows / cols))``,
    ``"match_rms_adamw"`` ``0.2 * lr * sqrt(max(rows, cols))`` (torch.optim.Muon's two rules)."""
    rows, cols = shape[0], shape[1]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * (0.2 * math.sqrt(max(rows, cols)))
    raise ValueError(f"adjust_lr_fn must be 'original', 'match_rms_adamw' or None, got {adjust_lr_fn!r}")


def newton_schulz_stack(
    stack: Tensor, coefficients: tuple[float, float, float], steps: int, eps: float
) -> Tensor:
    """Orthogonalize each wide matrix (rows <= cols) of ``stack [n, rows, cols]`` in bf16 as torch.optim.Muon.

    Each matrix is scaled to unit Frobenius norm (floored at ``eps``), then ``steps`` quintic iterations
    ``X <- a X + (b G + c G^2) X`` with ``G = X X^T`` push its singular values towards 1. Returns a new bf16
    tensor.
    """
    a, b, c = coefficients
    x = stack.to(torch.bfloat16)
    norm = torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True)
    x = x.div_(norm.clamp_(min=eps))
    for _ in range(steps):
        gram = torch.bmm(x, x.mT)
        gram_update = torch.baddbmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.baddbmm(x, gram_update, x, beta=a)
    return x


#: Largest zero-padded stack (elements) into which ``merge_shapes`` puts matrices of different shapes: 4M
#: bf16 elements (8 MB), whose products a GPU does in microseconds, far below the cost of the launches saved.
MERGE_LIMIT = 1 << 22


def _stack(updates: list[Tensor], wide: list[int], tall: list[int]) -> Tensor:
    """The wide members, then the tall ones transposed: ``[n, rows, cols]`` with rows <= cols."""
    if wide and tall:
        return torch.stack([updates[i] for i in wide] + [updates[i].mT for i in tall])
    if tall:
        # A view, as torch.optim.Muon's `.T`: the first products see the same operand layout as there, which
        # on CPU makes the results bitwise equal to torch's (a transposed copy rounds differently).
        return torch.stack([updates[i] for i in tall]).mT
    return torch.stack([updates[i] for i in wide])


def _unstack(
    x: Tensor, updates: list[Tensor], wide: list[int], tall: list[int], out: list[Tensor | None]
) -> None:
    """Write the blocks of ``x`` (wide members, then tall ones transposed) into ``out`` as contiguous tensors
    of the updates' dtype (float32 for float32 parameters: the final fused ``_foreach_add_`` needs that)."""
    dtype = updates[(wide or tall)[0]].dtype
    if wide:
        for i, u in zip(wide, x[: len(wide)].to(dtype, memory_format=torch.contiguous_format).unbind(0)):
            out[i] = u
    if tall:
        back = x[len(wide) :].mT.to(dtype, memory_format=torch.contiguous_format)
        for i, u in zip(tall, back.unbind(0)):
            out[i] = u


def orthogonalize(
    updates: list[Tensor],
    coefficients: tuple[float, float, float],
    steps: int,
    eps: float,
    merge_shapes: bool = False,
) -> list[Tensor]:
    """Newton-Schulz of every matrix in ``updates``, batched; results in the same order, dtype and shape.

    A tall matrix is orthogonalized as its transpose (as torch.optim.Muon does), so it shares the stack of the
    wide matrices of that shape. With ``merge_shapes``, all shapes of one device and dtype go into a single
    stack, each matrix zero-padded to the largest rows and columns (up to :data:`MERGE_LIMIT` elements): zero
    rows and columns stay zero through every iteration and add nothing to the norm or to any product, so the
    math is unchanged (bf16 sums may round their last bit differently); the launches then no longer grow with
    the number of shapes.
    """
    classes: dict[tuple[Any, ...], tuple[list[int], list[int]]] = {}
    for i, u in enumerate(updates):
        rows, cols = u.shape
        wide, tall = classes.setdefault((u.device, u.dtype, min(rows, cols), max(rows, cols)), ([], []))
        (tall if rows > cols else wide).append(i)
    out: list[Tensor | None] = [None] * len(updates)
    merged: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for key in classes:
        merged.setdefault(key[:2] if merge_shapes else key, []).append(key)
    for keys in merged.values():
        n = sum(len(classes[k][0]) + len(classes[k][1]) for k in keys)
        rows, cols = max(k[2] for k in keys), max(k[3] for k in keys)
        if len(keys) == 1 or n * rows * cols > MERGE_LIMIT:
            for k in keys:
                wide, tall = classes[k]
                _unstack(newton_schulz_stack(_stack(updates, wide, tall), coefficients, steps, eps),
                         updates, wide, tall, out)  # fmt: skip
            continue
        x = torch.zeros((n, rows, cols), dtype=torch.bfloat16, device=keys[0][0])
        at = 0
        for k in keys:
            wide, tall = classes[k]
            for i in wide:
                x[at, : k[2], : k[3]].copy_(updates[i])  # the bf16 cast torch.optim.Muon does, in the copy
                at += 1
            for i in tall:
                x[at, : k[2], : k[3]].copy_(updates[i].mT)
                at += 1
        x = newton_schulz_stack(x, coefficients, steps, eps)
        at = 0
        for k in keys:
            wide, tall = classes[k]
            size = len(wide) + len(tall)
            _unstack(x[at : at + size, : k[2], : k[3]], updates, wide, tall, out)
            at += size
    return out  # type: ignore[return-value]


class MuonWithSGD(torch.optim.Optimizer):
    """Muon on weight matrices, Nesterov momentum SGD on everything else: one optimizer, batched kernels.

    The same math as stepping ``torch.optim.Muon(matrices, ...)`` and
    ``torch.optim.SGD(others, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)`` together
    (bitwise equal on the CPU, except that a stack mixing a wide matrix with a tall one's transpose, or the
    zero-padded stack of ``merge_shapes``, may round the last bit of a bf16 product differently):

    * Muon (``orthogonalize=True`` groups): ``buf <- lerp(buf, g, 1 - momentum)``; the update is
      ``lerp(g, buf, momentum)`` (Nesterov) or ``buf``, orthogonalized by Newton-Schulz in bf16; the parameter
      decays by ``1 - lr * weight_decay`` (decoupled) and moves by ``-adjusted_lr * update``.
    * SGD (``orthogonalize=False`` groups): ``d = g + weight_decay * p`` (coupled L2);
      ``buf <- momentum * buf + d`` (``buf = d`` on the first step);
      ``p <- p - lr * (d + momentum * buf)`` (Nesterov) or ``p - lr * buf``.

    Param groups work with LR schedulers as usual (each holds ``lr``). ``state_dict()`` is the standard
    optimizer layout; :meth:`load_state_dict` also takes the ``{"optimizers": [muon, sgd]}`` layout that
    :class:`puffer_trainer.optim.CombinedOptimizer` saved for the same parameters.

    Args:
        matrices: 2-D parameters for Muon.
        others: parameters for Nesterov SGD (any shape).
        lr: learning rate of both (a float: a tensor would need a host read per step).
        momentum: Muon's and SGD's momentum.
        weight_decay: Muon's decoupled and SGD's coupled (L2) weight decay, as in torch.
        nesterov: Nesterov momentum for both (SGD then needs ``momentum > 0``).
        ns_coefficients, ns_steps, eps: Newton-Schulz iteration (torch.optim.Muon's defaults).
        adjust_lr_fn: Muon's per-shape learning rate rule, ``"original"`` or ``"match_rms_adamw"``.
        merge_shapes: orthogonalize matrices of different shapes in one zero-padded stack (see
            :func:`orthogonalize`); None: on CUDA, where launches cost far more than the padded products, not
            on the CPU, where the products dominate.
    """

    def __init__(
        self,
        matrices: Iterable[Tensor],
        others: Iterable[Tensor] = (),
        *,
        lr: float = 1e-3,
        momentum: float = 0.95,
        weight_decay: float = 0.0,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        ns_steps: int = NS_STEPS,
        eps: float = NS_EPS,
        adjust_lr_fn: str | None = "original",
        merge_shapes: bool | None = None,
    ) -> None:
        if isinstance(lr, Tensor) or not lr >= 0.0:
            raise ValueError(
                f"lr must be a float >= 0 (a tensor would need a host read each step), got {lr!r}"
            )
        if not momentum >= 0.0:
            raise ValueError(f"momentum must be >= 0, got {momentum}")
        if not weight_decay >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        if len(tuple(ns_coefficients)) != 3:
            raise ValueError(f"ns_coefficients must be 3 floats (a, b, c), got {ns_coefficients!r}")
        if not 0 < int(ns_steps) < 100:
            raise ValueError(f"ns_steps must be in [1, 99], got {ns_steps}")
        adjusted_lr(1.0, adjust_lr_fn, (1, 1))  # validates the name
        defaults = {
            "lr": float(lr),
            "momentum": float(momentum),
            "weight_decay": float(weight_decay),
            "nesterov": bool(nesterov),
            "ns_coefficients": tuple(float(c) for c in ns_coefficients),
            "ns_steps": int(ns_steps),
            "eps": float(eps),
            "adjust_lr_fn": adjust_lr_fn,
        }
        groups = [
            {"params": list(matrices), "orthogonalize": True},
            {"params": list(others), "orthogonalize": False},
        ]
        groups = [g for g in groups if g["params"]]
        if not groups:
            raise ValueError("MuonWithSGD got no parameters")
        super().__init__(groups, defaults)
        self.merge_shapes = merge_shapes
        #: One 0-d tensor per group holding its ``lr`` (see :meth:`use_lr_tensors`), or None.
        self._lr_tensors: list[Tensor] | None = None

    def use_lr_tensors(self, device: torch.device | str) -> None:
        """Read each group's learning rate from a 0-d tensor on ``device`` instead of the float ``lr``.

        For CUDA-graph capture (:class:`puffer_trainer.cuda_graphs.GraphedOptimizerStep`): a captured step
        replays the float it saw at capture, while a tensor's value is read at every replay.
        :meth:`sync_lr_tensors` copies the groups' ``lr`` (which schedulers keep setting) into the tensors;
        the update then rounds as ``p - (lr * u) * scale`` instead of ``p - (lr * scale) * u``.
        """
        self._lr_tensors = [
            torch.tensor(float(g["lr"]), dtype=torch.float32, device=device) for g in self.param_groups
        ]

    def sync_lr_tensors(self) -> None:
        """Copy every group's ``lr`` into its tensor (no host sync; no-op without :meth:`use_lr_tensors`)."""
        if self._lr_tensors is not None:
            for tensor, group in zip(self._lr_tensors, self.param_groups):
                tensor.fill_(float(group["lr"]))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; it must say ``orthogonalize`` (True: Muon, 2-D parameters only; False: SGD)."""
        if "orthogonalize" not in param_group:
            raise ValueError("a MuonWithSGD param group needs 'orthogonalize': True (Muon) or False (SGD)")
        # Checked before the group is added, so that a refused group leaves the optimizer as it was.
        param_group["orthogonalize"] = bool(param_group["orthogonalize"])
        params = param_group["params"]
        param_group["params"] = [params] if isinstance(params, Tensor) else list(params)
        setting = {key: param_group.get(key, self.defaults[key]) for key in ("nesterov", "momentum")}
        if param_group["orthogonalize"]:
            bad = [tuple(p.shape) for p in param_group["params"] if p.ndim != 2]
            if bad:
                raise ValueError(f"Muon (orthogonalize=True) takes 2-D parameters only, got shapes {bad}")
        elif setting["nesterov"] and setting["momentum"] <= 0:
            raise ValueError("Nesterov SGD needs momentum > 0 (set nesterov=False for plain SGD)")
        super().add_param_group(param_group)

    def _gather(self, group: Mapping[str, Any]) -> tuple[list[Tensor], list[Tensor], list[Tensor | None]]:
        params, grads, bufs = [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse or torch.is_complex(p):
                raise RuntimeError(
                    f"MuonWithSGD supports dense real tensors only, got a {p.grad.layout} "
                    f"{p.dtype} gradient of shape {tuple(p.shape)}"
                )
            params.append(p)
            grads.append(p.grad)
            bufs.append(self.state[p].get("momentum_buffer"))
        return params, grads, bufs

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """One update of every parameter that has a gradient (``closure`` re-evaluates the loss, optional)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for k, group in enumerate(self.param_groups):
            lr_tensor = self._lr_tensors[k] if self._lr_tensors is not None else None
            if group["orthogonalize"]:
                self._muon_step(group, lr_tensor)
            else:
                self._sgd_step(group, lr_tensor)
        return loss

    def _muon_step(self, group: Mapping[str, Any], lr_tensor: Tensor | None = None) -> None:
        params, grads, bufs = self._gather(group)
        if not params:
            return
        for k, p in enumerate(params):
            if bufs[k] is None:  # torch.optim.Muon starts its (EMA) momentum at zero
                bufs[k] = self.state[p]["momentum_buffer"] = torch.zeros_like(p.grad)
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        torch._foreach_lerp_(bufs, grads, 1 - momentum)
        updates = torch._foreach_lerp(grads, bufs, momentum) if group["nesterov"] else bufs
        merge = self.merge_shapes if self.merge_shapes is not None else params[0].device.type == "cuda"
        updates = orthogonalize(updates, group["ns_coefficients"], group["ns_steps"], group["eps"], merge)
        if wd != 0:  # torch multiplies by 1 - lr * 0 = 1 otherwise: skipping it changes nothing
            torch._foreach_mul_(params, 1 - lr * wd if lr_tensor is None else 1 - lr_tensor * wd)
        if lr_tensor is not None:  # the updates are fresh tensors: scaled in place by the learning rate
            torch._foreach_mul_(updates, lr_tensor)
        # One fused add per distinct learning-rate scale (one per shape class, usually two or three).
        by_alpha: dict[float, tuple[list[Tensor], list[Tensor]]] = {}
        for p, u in zip(params, updates):
            rate = lr if lr_tensor is None else 1.0
            ps, us = by_alpha.setdefault(-adjusted_lr(rate, group["adjust_lr_fn"], p.shape), ([], []))
            ps.append(p)
            us.append(u)
        for alpha, (ps, us) in by_alpha.items():
            torch._foreach_add_(ps, us, alpha=alpha)

    def _sgd_step(self, group: Mapping[str, Any], lr_tensor: Tensor | None = None) -> None:
        params, grads, bufs = self._gather(group)
        if not params:
            return
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        steps = torch._foreach_add(grads, params, alpha=wd) if wd != 0 else grads
        if momentum != 0:
            have = [k for k, b in enumerate(bufs) if b is not None]
            if have:
                old = [bufs[k] for k in have]
                torch._foreach_mul_(old, momentum)
                torch._foreach_add_(old, [steps[k] for k in have])
            for k, b in enumerate(bufs):
                if b is None:  # torch.optim.SGD's first step: the buffer is the step itself
                    bufs[k] = self.state[params[k]]["momentum_buffer"] = steps[k].detach().clone()
            # Out of place: torch's foreach SGD adds into the gradients themselves; ours leaves them intact.
            steps = torch._foreach_add(steps, bufs, alpha=momentum) if group["nesterov"] else bufs
        if lr_tensor is None:
            torch._foreach_add_(params, steps, alpha=-lr)
        else:  # out of place: steps may be the momentum buffers themselves
            torch._foreach_sub_(params, torch._foreach_mul(steps, lr_tensor))

    # -- checkpoints ----------------------------------------------------------------------------------------
    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:  # type: ignore[override]
        """Restore :meth:`state_dict`'s output, or the ``{"optimizers": [muon, sgd]}`` layout that
        ``CombinedOptimizer(Muon, SGD)`` saved, or a lone ``torch.optim.Muon``/``SGD`` state for the same
        groups.

        Raises:
            ValueError: the state is for other parameter groups, group sizes, kinds or tensor shapes (the
                message names which).
        """
        if not isinstance(state_dict, Mapping):
            raise ValueError(f"optimizer state must be a dict, got {type(state_dict).__name__}")
        if "optimizers" in state_dict:
            state_dict = self._merge_combined(state_dict["optimizers"])
        if "param_groups" not in state_dict or "state" not in state_dict:
            raise ValueError(
                f"optimizer state needs 'state' and 'param_groups', got keys {sorted(state_dict)}"
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"optimizer state has {len(saved_groups)} param groups, this MuonWithSGD has "
                f"{len(self.param_groups)} ({self._describe()})"
            )
        groups = []
        for k, (saved, ours) in enumerate(zip(saved_groups, self.param_groups)):
            kind = _group_kind(saved)
            if kind is not None and kind != ours["orthogonalize"]:
                raise ValueError(
                    f"optimizer state group {k} is for {_kind_name(kind)}, this optimizer's group {k} is "
                    f"{_kind_name(ours['orthogonalize'])} ({self._describe()})"
                )
            if not ours["orthogonalize"] and (saved.get("dampening", 0) != 0 or saved.get("maximize", False)):
                raise ValueError(
                    f"optimizer state group {k} is SGD with dampening or maximize, which "
                    "MuonWithSGD does not do"
                )
            if len(saved["params"]) != len(ours["params"]):
                raise ValueError(
                    f"optimizer state group {k} ({_kind_name(ours['orthogonalize'])}) has "
                    f"{len(saved['params'])} parameters, this optimizer's has {len(ours['params'])}"
                )
            # Our keys with the saved values: a group saved by torch.optim.SGD lacks Muon's keys and has
            # SGD-only ones (dampening, foreach, ...), which would otherwise replace ours wholesale.
            merged = {key: value for key, value in ours.items() if key != "params"}
            merged.update(
                {key: value for key, value in saved.items() if key in merged or key == "initial_lr"}
            )
            merged["params"] = saved["params"]
            merged["orthogonalize"] = ours["orthogonalize"]
            groups.append(merged)
        saved_ids = {
            i: p for g, ours in zip(groups, self.param_groups) for i, p in zip(g["params"], ours["params"])
        }
        for index, entry in state_dict["state"].items():
            p = saved_ids.get(index)
            if p is None:
                raise ValueError(f"optimizer state holds state for parameter {index!r}, which no group lists")
            if not isinstance(entry, Mapping):
                raise ValueError(
                    f"optimizer state for parameter {index!r} must be a dict, got {type(entry).__name__}"
                )
            buf = entry.get("momentum_buffer")
            if buf is not None and tuple(buf.shape) != tuple(p.shape):
                raise ValueError(
                    f"optimizer state's momentum buffer {index!r} has shape {tuple(buf.shape)}, its "
                    f"parameter here has shape {tuple(p.shape)}"
                )
        # Copies: torch's loader keeps a tensor that already has the right dtype and device, so state taken
        # from a live optimizer would otherwise be updated in place by both.
        state = {
            index: {key: v.clone() if isinstance(v, Tensor) else v for key, v in entry.items()}
            for index, entry in state_dict["state"].items()
        }
        super().load_state_dict({"state": state, "param_groups": groups})

    def _merge_combined(self, parts: Any) -> dict[str, Any]:
        """``CombinedOptimizer([Muon, SGD])``'s ``{"optimizers": [...]}`` as one standard state dict."""
        if not isinstance(parts, (list, tuple)) or not all(isinstance(s, Mapping) for s in parts):
            raise ValueError("optimizer state 'optimizers' must be a list of optimizer state dicts")
        state: dict[int, Any] = {}
        groups: list[dict[str, Any]] = []
        offset = 0
        for part in parts:
            if "param_groups" not in part or "state" not in part:
                raise ValueError(
                    f"an optimizer state in 'optimizers' lacks 'state'/'param_groups': {sorted(part)}"
                )
            ids: dict[Any, int] = {}
            for group in part["param_groups"]:
                renumbered = []
                for old in group["params"]:
                    ids[old] = offset
                    renumbered.append(offset)
                    offset += 1
                groups.append({**group, "params": renumbered})
            for old, entry in part["state"].items():
                if old not in ids:
                    raise ValueError(
                        f"an optimizer state in 'optimizers' has state for unlisted parameter {old!r}"
                    )
                state[ids[old]] = entry
        return {"state": state, "param_groups": groups}

    def _describe(self) -> str:
        return ", ".join(
            f"group {k}: {_kind_name(g['orthogonalize'])}, {len(g['params'])} parameters"
            for k, g in enumerate(self.param_groups)
        )

    def __repr__(self) -> str:
        return f"MuonWithSGD({self._describe()}, merge_shapes={self.merge_shapes})"


def _group_kind(group: Mapping[str, Any]) -> bool | None:
    """True for a Muon group, False for SGD, None when the saved group does not say."""
    if "orthogonalize" in group:
        return bool(group["orthogonalize"])
    if any(key in group for key in _MUON_ONLY):
        return True
    if any(key in group for key in _SGD_ONLY):
        return False
    return None


def _kind_name(orthogonalize: bool) -> str:
    return "Muon (weight matrices)" if orthogonalize else "Nesterov SGD (other tensors)"
