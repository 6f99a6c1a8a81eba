"""The serial backend: every env in this process, writing into slices of one big set of buffers."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from ..errors import APIUsageError
from .base import EnvCreator, EnvProbe, VecEnv, _close_quietly, reset_envs, step_envs
from .memory import MemoryGuard
from .shared import SharedBuffers, block_layout

__all__ = ["Serial", "Passthrough"]


class Serial(VecEnv):
    """All envs stepped in turn in the calling process, zero copy.

    With ``batch_size < num_envs`` the envs form fixed groups of ``batch_size`` envs that ``recv`` hands out
    in round-robin order; ``send`` steps the group of the last ``recv``. Made by
    :func:`puffer_core.vector.make`.
    """

    def __init__(
        self, creator: EnvCreator, probe: EnvProbe, num_envs: int, batch_size: int, seed: int | None
    ) -> None:
        self._init_common(probe, num_envs, batch_size)
        self._seed = seed
        self.envs: list[Any] = []
        self._shared = SharedBuffers(
            block_layout(probe.single_observation_space, probe.single_action_space, self.num_agents)
        )
        self.buffers = self._shared.buffers
        try:
            ape = self.agents_per_env
            guard = MemoryGuard(num_envs, "the serial vector env")
            for i in range(num_envs):
                env = creator(
                    buf=self.buffers.slice(i * ape, (i + 1) * ape), seed=None if seed is None else seed + i
                )
                self.envs.append(env)
                probe.check_same(env, i)
                guard.check(i + 1)
        except BaseException:
            self._close()
            self.closed = True
            raise
        envs_per_batch = batch_size
        self._batch_envs = [
            self.envs[b * envs_per_batch : (b + 1) * envs_per_batch] for b in range(self._num_batches)
        ]
        self._batch_views = []
        for b in range(self._num_batches):
            view = self.buffers.slice(b * self.agents_per_batch, (b + 1) * self.agents_per_batch)
            self._batch_views.append(view)
        self._ready: deque[int] = deque()
        self._infos: list[list[dict[str, float]]] = [[] for _ in range(self._num_batches)]

    def _async_reset(self, seed: int | None) -> None:
        self._ready.clear()
        for b, envs in enumerate(self._batch_envs):
            self._infos[b] = reset_envs(envs, seed, b * self.batch_size)
            self._ready.append(b)

    def _recv(self) -> tuple[Any, Any, Any, Any, list[dict[str, float]], np.ndarray, Any]:
        if not self._ready:
            raise APIUsageError("recv() called before async_reset()")
        b = self._ready.popleft()
        self._awaiting_send = b
        infos, self._infos[b] = self._infos[b], []
        return self._handout(b, infos)

    def _send(self, batch: int, actions: np.ndarray) -> None:
        view = self._batch_views[batch]
        np.copyto(view.actions, actions, casting="unsafe")
        self._infos[batch] = step_envs(self._batch_envs[batch])
        self._ready.append(batch)

    def _close(self) -> None:
        for env in self.envs:
            _close_quietly(env)
        self.envs = []
        self._shared.close()


class Passthrough(VecEnv):
    """One GPU-native env (``env.device != "cpu"``) behind the vector API, with no host buffers.

    ``recv``/``step`` return exactly what the env returns (tensors on its device); actions go to the env
    untouched, and the env validates them.
    """

    def __init__(self, env: Any, probe: EnvProbe, seed: int | None) -> None:
        self._init_common(probe, 1, 1)
        self._seed = seed
        self.env = env
        self._pending: tuple[Any, ...] | None = None

    def _async_reset(self, seed: int | None) -> None:
        obs, infos = self.env.reset(seed=seed)
        self._pending = (obs, self.env.rewards, self.env.terminals, self.env.truncations, infos)

    def _recv(self) -> tuple[Any, Any, Any, Any, list[dict[str, float]], np.ndarray, Any]:
        if self._pending is None:
            raise APIUsageError("recv() called before async_reset()")
        obs, rewards, terminals, truncations, infos = self._pending
        self._pending = None
        self._awaiting_send = 0
        return obs, rewards, terminals, truncations, infos, self._batch_env_ids[0], self.env.masks

    def send(self, actions: Any) -> None:
        self._check_open()
        if self._awaiting_send is None:
            raise APIUsageError("send() called before recv(): call async_reset() then recv() first")
        self._pending = tuple(self.env.step(actions))
        self._awaiting_send = None

    def _close(self) -> None:
        _close_quietly(self.env)
