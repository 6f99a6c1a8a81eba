"""CUDA graphs for the rollout's per-step policy call and the optimizer step (``train.cuda_graphs``).

A small policy's rollout step on a GPU is launch-bound: the encoder, the LSTM cell, the heads and the
action sampling are a few dozen tiny kernels whose host-side launch cost is far larger than their GPU time
(profile of ocean/breakout's LSTM policy on an H200: 19 ms of GPU work in a 184 ms collection). Captured
once as a graph, the whole step is one replay.

A graph replays fixed memory: the observation is copied into a captured input tensor, the recurrent state
is read from and written back to the trainer's own state tensors (the same storage every step for a given
slice of agents), and the outputs live in the graph's pool until the next replay overwrites them, so the
caller copies them out (the experience buffer's ``store`` does) before it replays again. Random draws
(action sampling) stay correct under replay: PyTorch's CUDA generator hands each replay fresh Philox
offsets, so a seeded run is still reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["GraphedOptimizerStep", "GraphedPolicyStep", "on_side_stream"]

#: Eager calls on a side stream before capture: cuDNN/cuBLAS pick their algorithms and allocate workspaces.
WARMUP_CALLS = 3


def on_side_stream(device: torch.device, fn: Callable[[], Any], calls: int = 1) -> None:
    """Run ``fn`` ``calls`` times on a side stream, after the current stream's work and before its next.

    The warm-up that CUDA-graph capture wants: libraries create their handles and workspaces outside capture.
    """
    side = torch.cuda.Stream(device=device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(calls):
            fn()
    torch.cuda.current_stream(device).wait_stream(side)


class GraphedPolicyStep:
    """``policy(obs, state)`` plus ``sample(params)`` for one fixed batch, captured as a CUDA graph.

    Args:
        policy: the policy module (its parameters are read in place at every replay, so optimizer steps and
            ``load_state_dict`` are seen; replacing a parameter tensor object is not).
        sample: ``ActionDist.sample``: params to ``(actions, logprobs)``.
        obs: an example observation batch on the GPU: its shape and dtype are the graph's.
        state: the recurrent state tensors the step reads and updates in place (views of the trainer's state
            for this batch's agents), or ``None`` for a feed-forward policy.
        autocast: a factory for the autocast context of the forward pass (it must not cache casts: a cached
            weight cast would be frozen into the graph).
    """

    def __init__(
        self,
        policy: nn.Module,
        sample: Callable[[Any], tuple[torch.Tensor, torch.Tensor]],
        obs: torch.Tensor,
        state: tuple[torch.Tensor, ...] | None,
        autocast: Callable[[], Any],
    ) -> None:
        if obs.device.type != "cuda":
            raise ValueError(f"CUDA graphs need the observations on a CUDA device, got {obs.device}")
        self.obs = obs.clone()
        self.state = state
        self._policy, self._sample, self._autocast = policy, sample, autocast
        saved = tuple(s.clone() for s in state) if state is not None else None
        with torch.no_grad():
            on_side_stream(obs.device, self._step, WARMUP_CALLS)
        if saved is not None:  # the warm-up steps advanced the state: put it back
            for s, v in zip(state, saved):
                s.copy_(v)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.outputs = self._step()  # recorded, not run: the state is untouched until the first replay

    def _step(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with self._autocast():
            params, values, new_state = self._policy(self.obs, self.state)
            if self.state is not None:
                for s, ns in zip(self.state, new_state):
                    s.copy_(ns)
            actions, logprobs = self._sample(params)
        return actions, logprobs, values

    def __call__(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step: ``(actions, logprobs, values)``, valid until the next call; the state is updated."""
        if obs.shape != self.obs.shape:
            raise ValueError(
                f"this graph was captured for observations {tuple(self.obs.shape)}, got {tuple(obs.shape)}"
            )
        self.obs.copy_(obs)
        self.graph.replay()
        return self.outputs


class GraphedOptimizerStep:
    """Gradient clipping and ``optimizer.step()`` as one CUDA graph, replayed at every optimizer step.

    The optimizer must read its learning rates from tensors (``use_lr_tensors``/``sync_lr_tensors``, as
    :class:`~puffer_trainer.muon.MuonWithSGD` does) and never sync with the host in ``step``. The first
    call steps eagerly on a side stream (creating the optimizer's state, warming up cuBLAS); the second
    captures.
    A graph reads fixed addresses, so the gradients must stay the same tensors (zero them with
    ``zero_grad(set_to_none=False)``): when a gradient or a state tensor is a different one than at capture
    (dropped gradients, a loaded checkpoint), that call steps eagerly and the next one captures again.

    Args:
        optimizer: the optimizer of ``params``.
        params: the parameters whose gradients are clipped.
        max_grad_norm: clip the global gradient norm to this (0: no clipping).
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, params: list[torch.Tensor], max_grad_norm: float
    ) -> None:
        if not hasattr(optimizer, "use_lr_tensors"):
            raise TypeError(f"{type(optimizer).__name__} cannot read its learning rate from a tensor")
        self.optimizer, self.params, self.max_grad_norm = optimizer, list(params), float(max_grad_norm)
        self.graph: torch.cuda.CUDAGraph | None = None
        self._warm = False
        self._addresses: tuple[int, ...] = ()

    def _step(self) -> None:
        if self.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(self.params, self.max_grad_norm, foreach=True)
        self.optimizer.step()

    def _tensors(self) -> tuple[int, ...]:
        """Addresses of everything the graph reads: the gradients and the optimizer's state tensors."""
        grads = tuple(p.grad.data_ptr() if p.grad is not None else 0 for p in self.params)
        state = tuple(
            value.data_ptr()
            for entry in self.optimizer.state.values()
            for value in entry.values()
            if isinstance(value, torch.Tensor)
        )
        return grads + state

    def __call__(self) -> None:
        self.optimizer.sync_lr_tensors()  # the scheduler's current rates (a no-op before the first capture)
        if self.graph is not None and self._tensors() != self._addresses:
            self.graph = None  # other gradient or state tensors than at capture: this step runs eagerly
            self._warm = False
        if not self._warm:
            on_side_stream(self.params[0].device, self._step)
            self._warm = True
            return
        if self.graph is None:
            self.optimizer.use_lr_tensors(self.params[0].device)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._step()
            self.graph, self._addresses = graph, self._tensors()
            self.optimizer.sync_lr_tensors()
        self.graph.replay()
