"""The experience buffer: ``[segments, horizon]`` rows of consecutive steps of one agent, on the train device.

How steps land in rows
----------------------
Every agent slot fills one row at a time with its consecutive steps. When a row is full (``horizon`` steps),
the agent's next step opens a new row, until ``segments`` rows are full and the buffer is ready to train.
Slots come from the vector env's ``env_ids`` and need not be contiguous or in order: each step is scattered
to ``(row[agent], pos[agent])`` with vectorized indexing, never a Python loop over agents.

Consecutive rows of an agent overlap by one step: the last step of a row is copied as the first step of the
agent's next row. The last step of a row only bootstraps the advantage of the step before it (the puff
advantage of ``t`` needs ``values[t+1]``), so it gets zero training weight there and is trained on in the
next row instead; no step is wasted. An agent whose step arrives while no row is free (the end of a
collection) keeps that step aside (the *stash*) and starts its next row with it.

Storage convention
------------------
``rewards[t]`` and ``dones[t]`` belong to the transition *into* step ``t`` (as the env returns them with the
observation of step ``t``); the advantage kernel reads ``rewards[t+1]``/``dones[t+1]`` for step ``t``.

Terminations and truncations
----------------------------
Both end the episode in the recurrence (``dones = 1``), but a truncation is not a real end: its return should
continue with the value of the state the agent was cut off in. Envs auto-reset, so the observation returned
with a truncation is already the next episode's first one and the true final observation is never seen. The
buffer therefore bootstraps from the value of the *last observation before the reset* (the one the agent
acted on in the truncated step): ``rewards[t+1] += gamma * V(obs[t])`` when step ``t+1`` is truncated and not
terminated. That is exact for the common time-limit case up to one step of value drift, needs nothing extra
from envs, and keeps truncation distinct from termination.

Masks
-----
``weights[t]`` is 1 for a live agent's step and 0 for dead or padded slots (``masks`` from the env); every
loss term multiplies by it, so masked steps never train.
"""

from __future__ import annotations

import numpy as np
import torch

from .cuda_graphs import on_side_stream

__all__ = ["ExperienceBuffer"]


class ExperienceBuffer:
    """Preallocated ``[segments, horizon]`` experience on ``device``.

    Args:
        segments: rows per update.
        horizon: steps per row (also the LSTM's backpropagation length).
        num_agents: agent slots of the vector env (``env_ids`` are in ``[0, num_agents)``).
        obs_shape, obs_dtype: per-step observation layout (stored as received, e.g. uint8 pixels).
        act_shape, act_dtype: per-step stored action layout.
        device: where the tensors live.
        cuda_graphs: on CUDA, replay a captured graph of a step's writes when :meth:`store` is called again
            with the same input tensors (the same storage, as a trainer with static staging buffers passes)
            and every step lands in a row: one launch instead of about twenty.
    """

    def __init__(
        self,
        segments: int,
        horizon: int,
        num_agents: int,
        obs_shape: tuple[int, ...],
        obs_dtype: torch.dtype,
        act_shape: tuple[int, ...],
        act_dtype: torch.dtype,
        device: torch.device | str = "cpu",
        cuda_graphs: bool = False,
    ) -> None:
        if segments < 1:
            raise ValueError(f"segments must be >= 1, got {segments}")
        if horizon < 2:
            raise ValueError(f"horizon must be >= 2 (one step bootstraps the one before), got {horizon}")
        if num_agents < 1:
            raise ValueError(f"num_agents must be >= 1, got {num_agents}")
        self.segments, self.horizon, self.num_agents = int(segments), int(horizon), int(num_agents)
        self.device = torch.device(device)
        s, h, dev = self.segments, self.horizon, self.device
        self.observations = torch.zeros(s, h, *obs_shape, dtype=obs_dtype, device=dev)
        self.actions = torch.zeros(s, h, *act_shape, dtype=act_dtype, device=dev)
        self.logprobs = torch.zeros(s, h, device=dev)
        self.values = torch.zeros(s, h, device=dev)
        self.rewards = torch.zeros(s, h, device=dev)
        self.dones = torch.zeros(s, h, device=dev)
        self.weights = torch.zeros(s, h, device=dev)
        self.importance = torch.ones(s, h, device=dev)
        self.advantages = torch.zeros(s, h, device=dev)

        n = self.num_agents
        self._stash = {
            "observations": torch.zeros(n, *obs_shape, dtype=obs_dtype, device=dev),
            "actions": torch.zeros(n, *act_shape, dtype=act_dtype, device=dev),
            "logprobs": torch.zeros(n, device=dev),
            "values": torch.zeros(n, device=dev),
            "rewards": torch.zeros(n, device=dev),
            "dones": torch.zeros(n, device=dev),
            "weights": torch.zeros(n, device=dev),
        }
        self.has_stash = np.zeros(n, dtype=bool)
        #: Value of each agent's latest observation, the bootstrap of a truncation on its next step.
        self.last_value = torch.zeros(n, device=dev)
        self.row = np.full(n, -1, dtype=np.int64)
        self.pos = np.zeros(n, dtype=np.int64)
        self.next_row = 0
        self.full_rows = 0
        #: Agent slot that filled each row (for inspection and tests).
        self.row_agent = np.full(s, -1, dtype=np.int64)
        cuda = self.device.type == "cuda"
        self._pinned = torch.empty(3 * n, dtype=torch.int64, pin_memory=True) if cuda else None
        # Indices land in one reused device tensor: a captured write reads them from a fixed address.
        self._indices = torch.empty(3, n, dtype=torch.int64, device=dev) if cuda else None
        self._upload_done: torch.cuda.Event | None = None
        self._use_graphs = bool(cuda_graphs) and cuda
        #: Captured writes by the identity (address, shape, dtype, strides) of their inputs, and gamma.
        self._write_graphs: dict[tuple, torch.cuda.CUDAGraph] = {}

    @property
    def full(self) -> bool:
        """True when every row is full: time to train."""
        return self.full_rows >= self.segments

    def _to_index(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def _upload(self, array: np.ndarray) -> torch.Tensor:
        """``int64 [k, n]`` host indices to the device through a reused pinned buffer (one copy, no stall)."""
        if self._pinned is None:
            return self._to_index(array)
        if self._upload_done is not None:
            self._upload_done.synchronize()  # the previous step's copy must have left the staging buffer
        k, n = array.shape
        staging = self._pinned[: k * n].view(k, n)
        staging.copy_(torch.from_numpy(array))
        out = self._indices[:k, :n]
        out.copy_(staging, non_blocking=True)
        self._upload_done = torch.cuda.Event()
        self._upload_done.record()
        return out

    def store(
        self,
        env_ids: np.ndarray,
        observations: torch.Tensor,
        actions: torch.Tensor,
        logprobs: torch.Tensor,
        values: torch.Tensor,
        rewards: torch.Tensor,
        terminals: torch.Tensor,
        truncations: torch.Tensor,
        masks: torch.Tensor,
        gamma: float,
    ) -> int:
        """Store one step of the agents ``env_ids`` (all tensors ``[len(env_ids), ...]`` on the device).

        ``rewards``, ``terminals`` and ``truncations`` are those returned with ``observations``
        (the transition into this step). Returns how many steps went into rows (the rest wait in the
        stash).
        """
        ids = np.asarray(env_ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise TypeError(f"env_ids must be a 1-D integer array, got {ids.dtype} with shape {ids.shape}")
        ids = ids.astype(np.int64)  # a private, writable copy: the env's array is reused and may be read-only
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_agents):
            raise ValueError(f"env_ids must lie in [0, {self.num_agents}), got {ids.min()}..{ids.max()}")
        row = self.row[ids]
        pos = self.pos[ids]
        need = np.flatnonzero(row < 0)
        if need.size and self.next_row < self.segments:
            take = need[: self.segments - self.next_row]
            new_rows = np.arange(self.next_row, self.next_row + take.size, dtype=np.int64)
            self.next_row += take.size
            row[take] = new_rows
            self.row_agent[new_rows] = ids[take]
            with_stash = take[self.has_stash[ids[take]]]
            pos[take] = 0
            if with_stash.size:
                # The agent's previous step opens its new row: its successor (this step) bootstraps it.
                src = self._to_index(ids[with_stash])
                r, p = self._to_index(row[with_stash]), self._to_index(pos[with_stash])
                for name, tensor in self._stash.items():
                    getattr(self, name)[r, p] = tensor[src]
                pos[with_stash] = 1
                self.has_stash[ids[with_stash]] = False

        # One upload of the step's indices (pinned and asynchronous on CUDA).
        ids_t, r, p = self._upload(np.stack([ids, row, pos]))
        inputs = (observations, actions, logprobs, values, rewards, terminals, truncations, masks)
        stored = row >= 0
        n_stored = int(stored.sum())
        if n_stored == ids.size:
            if self._use_graphs:
                self._write_graphed(ids_t, r, p, inputs, gamma)
            else:
                self._write(ids_t, r, p, inputs, gamma)
        else:
            step = self._step(ids_t, inputs, gamma)
            keep = np.flatnonzero(stored)
            if keep.size:
                sel = self._to_index(keep)
                r, p = self._to_index(row[keep]), self._to_index(pos[keep])
                for name, value in step.items():
                    getattr(self, name)[r, p] = value[sel]
            # No free row: the step waits in the stash and opens this agent's first row next time.
            wait = np.flatnonzero(~stored)
            sel, dst = self._to_index(wait), self._to_index(ids[wait])
            for name, value in step.items():
                self._stash[name][dst] = value[sel]
            self.has_stash[ids[wait]] = True

        pos[stored] += 1
        full = np.flatnonzero(stored & (pos >= self.horizon))
        if full.size:
            self.full_rows += full.size
            src_r = self._to_index(row[full])
            dst = self._to_index(ids[full])
            for name, tensor in self._stash.items():
                tensor[dst] = getattr(self, name)[src_r, self.horizon - 1]
            self.has_stash[ids[full]] = True
            row[full] = -1
            pos[full] = 0
        self.row[ids] = row
        self.pos[ids] = pos
        return n_stored

    def _step(
        self, ids_t: torch.Tensor, inputs: tuple[torch.Tensor, ...], gamma: float
    ) -> dict[str, torch.Tensor]:
        """The stored fields of one step (the truncation bootstrap applied); updates ``last_value``."""
        observations, actions, logprobs, values, rewards, terminals, truncations, masks = inputs
        terminals = terminals.to(torch.bool)
        truncations = truncations.to(torch.bool)
        cut = (truncations & ~terminals).float()
        rewards = rewards.float() + gamma * cut * self.last_value[ids_t]
        values = values.float()
        self.last_value[ids_t] = values
        return {
            "observations": observations,
            "actions": actions,
            "logprobs": logprobs.float(),
            "values": values,
            "rewards": rewards,
            "dones": (terminals | truncations).float(),
            "weights": masks.float(),
        }

    def _write(
        self,
        ids_t: torch.Tensor,
        r: torch.Tensor,
        p: torch.Tensor,
        inputs: tuple[torch.Tensor, ...],
        gamma: float,
    ) -> None:
        """Every agent of the step into its row: ``(r, p)`` of each field."""
        for name, value in self._step(ids_t, inputs, gamma).items():
            getattr(self, name)[r, p] = value

    def _write_graphed(
        self,
        ids_t: torch.Tensor,
        r: torch.Tensor,
        p: torch.Tensor,
        inputs: tuple[torch.Tensor, ...],
        gamma: float,
    ) -> None:
        """The all-stored write as a graph captured for these exact input tensors (on first use).

        A graph replays fixed addresses, so the key is each input's storage address and layout: a caller that
        hands new tensors every step (new allocations) simply captures nothing reusable and, past a few
        layouts, writes eagerly.
        """
        key = (gamma, ids_t.shape[0]) + tuple(
            (t.data_ptr(), tuple(t.shape), t.dtype, tuple(t.stride())) for t in inputs
        )
        graph = self._write_graphs.get(key)
        if graph is None:
            if len(self._write_graphs) >= 4:
                self._write(ids_t, r, p, inputs, gamma)
                return
            graph = torch.cuda.CUDAGraph()
            saved = self.last_value.clone()
            # The warm-up writes what the replay writes again, except last_value, which it must not advance.
            on_side_stream(self.device, lambda: self._write(ids_t, r, p, inputs, gamma))
            self.last_value.copy_(saved)
            with torch.cuda.graph(graph):
                self._write(ids_t, r, p, inputs, gamma)
            self._write_graphs[key] = graph
        graph.replay()

    def train_weights(self) -> torch.Tensor:
        """Per-step loss weights: the env masks, with each row's bootstrap-only last step zeroed."""
        weights = self.weights.clone()
        weights[:, -1] = 0
        return weights

    def reset(self) -> None:
        """Start collecting a new set of rows (after training on the full ones)."""
        if self.next_row and not self.full:
            # Partial rows are dropped; their agents' latest steps become stashes so nothing misaligns.
            partial = np.flatnonzero((self.row >= 0) & (self.pos > 0))
            if partial.size:
                r = self._to_index(self.row[partial])
                p = self._to_index(self.pos[partial] - 1)
                dst = self._to_index(partial)
                for name, tensor in self._stash.items():
                    tensor[dst] = getattr(self, name)[r, p]
                self.has_stash[partial] = True
        self.row[:] = -1
        self.pos[:] = 0
        self.next_row = 0
        self.full_rows = 0
        self.row_agent[:] = -1
