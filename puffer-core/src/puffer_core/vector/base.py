"""What every vector env shares: the env creator, the probe that learns spaces, the API and its checks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from ..errors import APIUsageError
from ..spaces import action_buffer_layout, joint_space, validate_actions

__all__ = ["EnvCreator", "EnvProbe", "VecEnv", "resolve_creator", "probe_env"]

EnvCreator = Callable[..., Any]


def _make_registered(env_id: str, buf: Any = None, seed: int | None = None, **kwargs: Any) -> Any:
    from ..registry import make

    return make(env_id, buf=buf, seed=seed, **kwargs)


def resolve_creator(env_creator_or_id: str | EnvCreator, env_kwargs: dict[str, Any] | None) -> EnvCreator:
    """A picklable ``creator(buf=..., seed=...)`` for an env id or a creator callable plus its kwargs."""
    if env_kwargs is not None and not isinstance(env_kwargs, dict):
        raise TypeError(f"env_kwargs must be a dict or None, got {type(env_kwargs).__name__}")
    kwargs = dict(env_kwargs or {})
    if isinstance(env_creator_or_id, str):
        from ..registry import spec

        spec(env_creator_or_id)  # unknown ids fail here, listing the closest ones, before anything starts
        return functools.partial(_make_registered, env_creator_or_id, **kwargs)
    if not callable(env_creator_or_id):
        raise TypeError(
            "env_creator_or_id must be an env id such as 'gym/CartPole-v1' or a callable "
            f"creator(buf=..., seed=..., **env_kwargs), got {type(env_creator_or_id).__name__}"
        )
    return functools.partial(env_creator_or_id, **kwargs) if kwargs else env_creator_or_id


@dataclass(frozen=True)
class EnvProbe:
    """What the vectorizer learns from one env before allocating buffers for all of them."""

    single_observation_space: spaces.Space
    single_action_space: spaces.Space
    agents_per_env: int
    device: str
    emulated: bool
    structured_observation_space: spaces.Space | None
    structured_action_space: spaces.Space | None

    @classmethod
    def of(cls, env: Any) -> EnvProbe:
        for attr in ("single_observation_space", "single_action_space", "num_agents"):
            if not hasattr(env, attr):
                raise TypeError(
                    f"the env creator must return a PufferEnv; {type(env).__name__} has no {attr!r} "
                    "(wrap gymnasium/pettingzoo envs with puffer_core.emulation)"
                )
        num_agents = env.num_agents
        if not isinstance(num_agents, (int, np.integer)) or num_agents < 1:
            raise ValueError(f"{type(env).__name__}.num_agents must be a positive int, got {num_agents!r}")
        return cls(
            single_observation_space=env.single_observation_space,
            single_action_space=env.single_action_space,
            agents_per_env=int(num_agents),
            device=str(getattr(env, "device", "cpu")),
            emulated=bool(getattr(env, "emulated", False)),
            structured_observation_space=getattr(env, "structured_observation_space", None),
            structured_action_space=getattr(env, "structured_action_space", None),
        )

    def check_same(self, env: Any, index: int) -> None:
        """Raise ValueError unless env number ``index`` has the spaces and agent count of the probe."""
        other = EnvProbe.of(env)
        for attr in ("single_observation_space", "single_action_space", "agents_per_env", "device"):
            if getattr(other, attr) != getattr(self, attr):
                raise ValueError(
                    f"env {index} has {attr}={getattr(other, attr)!r} but the first env has "
                    f"{getattr(self, attr)!r}: every env of a vector env must match"
                )


def probe_env(creator: EnvCreator, seed: int | None) -> tuple[EnvProbe, Any]:
    """Make one env with private buffers and read its spaces; returns the probe and the env to close."""
    env = creator(buf=None, seed=seed)
    try:
        return EnvProbe.of(env), env
    except BaseException:
        _close_quietly(env)
        raise


def step_envs(envs: list[Any]) -> list[dict[str, float]]:
    """Step each env with the actions already in its buffer; the infos of all of them, in order."""
    infos: list[dict[str, float]] = []
    for env in envs:
        env_infos = env.step(env.actions)[4]
        if env_infos:
            infos.extend(env_infos)
    return infos


def reset_envs(envs: list[Any], seed: int | None, first: int) -> list[dict[str, float]]:
    """Reset each env, env ``k`` (global index ``first + k``) with seed ``seed + first + k``; their infos."""
    infos: list[dict[str, float]] = []
    for k, env in enumerate(envs):
        env_infos = env.reset(seed=None if seed is None else seed + first + k)[1]
        if env_infos:
            infos.extend(env_infos)
    return infos


def _close_quietly(env: Any) -> None:
    try:
        env.close()
    except Exception:  # closing after a failure must not hide the failure
        pass


def check_sizes(num_envs: Any, num_workers: Any, batch_size: Any) -> tuple[int, int, int]:
    """Validate ``num_envs``, ``num_workers`` and ``batch_size`` (in envs); return them as ints."""
    for name, value in (("num_envs", num_envs), ("num_workers", num_workers), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    num_envs, num_workers, batch_size = int(num_envs), int(num_workers), int(batch_size)
    if num_envs % num_workers:
        raise ValueError(f"num_envs={num_envs} must be a multiple of num_workers={num_workers}")
    envs_per_worker = num_envs // num_workers
    if batch_size > num_envs or num_envs % batch_size:
        raise ValueError(f"batch_size={batch_size} (in envs) must divide num_envs={num_envs}")
    if batch_size % envs_per_worker:
        raise ValueError(
            f"batch_size={batch_size} must be a multiple of the envs per worker "
            f"(num_envs/num_workers = {envs_per_worker}): a batch is made of whole workers"
        )
    return num_envs, num_workers, batch_size


_UNSIGNED = {n: np.dtype(f"u{n}") for n in (1, 2, 4, 8)}


class ActionCheck:
    """Validates a batch of actions in a couple of vectorized numpy operations per ``send``.

    The common case (right shape, integer actions in ``[0, n)``, or finite floats) is accepted on a fast
    path; anything else goes to :func:`puffer_core.spaces.validate_actions`, which has the final word and
    raises the ValueError naming the expected and received shape, dtype or range.
    """

    def __init__(self, space: spaces.Space, num_agents: int) -> None:
        self.space, self.num_agents = space, num_agents
        shape, dtype = action_buffer_layout(space)
        self.shape = (num_agents, *shape)
        self.discrete = dtype.kind in "iu"
        self.high: Any = None
        if isinstance(space, spaces.Discrete) and int(space.start) == 0:
            self.high = int(space.n) - 1
        elif isinstance(space, spaces.MultiDiscrete) and not np.any(space.start):
            self.high = (np.asarray(space.nvec) - 1).astype(np.uint64)
        elif isinstance(space, spaces.MultiBinary):
            self.high = 1
        self.scalar_high = isinstance(self.high, int)

    def __call__(self, actions: Any) -> np.ndarray:
        array = np.asarray(actions)
        if array.shape == self.shape:
            kind = array.dtype.kind
            if self.discrete:
                if self.high is not None and kind in "iu" and array.size:
                    # Negative values seen as unsigned are huge, so one comparison checks both bounds.
                    unsigned = array.view(_UNSIGNED[array.dtype.itemsize]) if kind == "i" else array
                    if self.scalar_high:
                        if unsigned.max() <= self.high:
                            return array
                    elif not (unsigned > self.high).any():
                        return array
            elif kind == "f":
                if np.isfinite(array).all():
                    return array
            elif kind in "iu":
                return array
        return validate_actions(actions, self.space, self.num_agents)


class VecEnv:
    """A batch of envs stepped together. Use :func:`puffer_core.vector.make` to create one.

    The async API lets inference overlap with env stepping::

        vec.async_reset(seed=0)
        while True:
            obs, rewards, terminals, truncations, infos, env_ids, masks = vec.recv()
            vec.send(policy(obs))

    and the sync API is built on it (only when ``batch_size == num_envs``): ``obs, infos = vec.reset(seed)``,
    ``obs, rewards, terminals, truncations, infos = vec.step(actions)``.

    .. warning::
        Every returned array is a **view of a reused buffer** (shared memory for multiprocessing): the next
        ``send``/``step`` overwrites it in place. Copy what you keep.

    Attributes:
        single_observation_space, single_action_space: spaces of one agent.
        num_envs: number of envs. num_agents: agent slots over all envs.
        agents_per_batch: agent slots returned by one ``recv`` (``batch_size * agents per env``).
        device: ``"cpu"``, or the device of a GPU-native env passed through by the serial backend.
        structured_observation_space, structured_action_space: the original nested spaces of emulated
            envs (see :mod:`puffer_core.emulation`), else ``None``.
    """

    single_observation_space: spaces.Space
    single_action_space: spaces.Space
    num_envs: int
    num_agents: int
    agents_per_env: int
    batch_size: int
    agents_per_batch: int
    device: str = "cpu"
    emulated: bool = False
    structured_observation_space: spaces.Space | None = None
    structured_action_space: spaces.Space | None = None

    def _init_common(self, probe: EnvProbe, num_envs: int, batch_size: int) -> None:
        self.single_observation_space = probe.single_observation_space
        self.single_action_space = probe.single_action_space
        self.agents_per_env = probe.agents_per_env
        self.num_envs = num_envs
        self.num_agents = num_envs * probe.agents_per_env
        self.batch_size = batch_size
        self.agents_per_batch = batch_size * probe.agents_per_env
        self.device = probe.device
        self.emulated = probe.emulated
        self.structured_observation_space = probe.structured_observation_space
        self.structured_action_space = probe.structured_action_space
        self.closed = False
        # Each batch is a fixed, contiguous range of agent slots, so recv() never has to gather (copy).
        self._num_batches = num_envs // batch_size
        ids = []
        for b in range(self._num_batches):
            env_ids = np.arange(b * self.agents_per_batch, (b + 1) * self.agents_per_batch, dtype=np.int64)
            env_ids.flags.writeable = False
            ids.append(env_ids)
        self._batch_env_ids = ids
        self._check_actions = ActionCheck(self.single_action_space, self.agents_per_batch)
        self._first_reset = True
        self._seed: int | None = None
        self._awaiting_send: int | None = None  # batch handed out by recv, waiting for its actions

    # -- spaces of one batch --------------------------------------------------------------------------------
    @property
    def observation_space(self) -> spaces.Space:
        """Space of the observations of one batch (``agents_per_batch`` agents)."""
        return joint_space(self.single_observation_space, self.agents_per_batch)

    @property
    def action_space(self) -> spaces.Space:
        """Space of the actions of one batch (``agents_per_batch`` agents)."""
        return joint_space(self.single_action_space, self.agents_per_batch)

    # -- the API -----------------------------------------------------------------------------------------
    def async_reset(self, seed: int | None = None) -> None:
        """Reset every env; env ``i`` gets seed ``seed + i``. Then call :meth:`recv`.

        The first reset without a seed uses the seed given to :func:`~puffer_core.vector.make`, so a vector
        env is deterministic by default; later resets without a seed continue each env's random stream.
        """
        self._check_open()
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        if seed is None and self._first_reset:
            seed = self._seed
        self._first_reset = False
        self._awaiting_send = None
        self._async_reset(None if seed is None else int(seed))

    def recv(self) -> tuple[Any, Any, Any, Any, list[dict[str, float]], np.ndarray, Any]:
        """The next ready batch: ``(obs, rewards, terminals, truncations, infos, env_ids, masks)``.

        ``env_ids`` holds the global agent-slot indices of the batch (a contiguous range). Arrays are views
        of reused buffers.
        """
        self._check_open()
        if self._awaiting_send is not None:
            raise APIUsageError(
                "recv() called twice without send(): send the actions of the last batch first"
            )
        return self._recv()

    def send(self, actions: Any) -> None:
        """Step the agents of the last :meth:`recv` with ``actions`` of shape ``[agents_per_batch, *act]``.

        Raises ValueError naming the expected and received shape, dtype or range; nothing is clipped.
        """
        self._check_open()
        if self._awaiting_send is None:
            raise APIUsageError("send() called before recv(): call async_reset() then recv() first")
        batch = self._awaiting_send
        checked = self._check_actions(actions)
        self._send(batch, checked)
        self._awaiting_send = None

    def reset(self, seed: int | None = None) -> tuple[Any, list[dict[str, float]]]:
        """Reset every env and return ``(observations, infos)`` of all agents (views of reused buffers)."""
        self._check_sync("reset")
        self.async_reset(seed)
        obs, _, _, _, infos, _, _ = self.recv()
        return obs, infos

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, list[dict[str, float]]]:
        """Step every env: ``(observations, rewards, terminals, truncations, infos)`` (reused buffers).

        Envs reset automatically: an agent whose ``terminals`` or ``truncations`` is set already holds the
        first observation of its next episode.
        """
        self._check_sync("step")
        if self._awaiting_send is None:
            raise APIUsageError("step() called before reset()")
        self.send(actions)
        obs, rewards, terminals, truncations, infos, _, _ = self.recv()
        return obs, rewards, terminals, truncations, infos

    def close(self) -> None:
        """Close every env and free the buffers (shared memory included). Safe to call twice."""
        if getattr(self, "closed", True):
            return
        self.closed = True
        self._close()

    def __enter__(self) -> VecEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_envs={self.num_envs}, batch_size={self.batch_size}, "
            f"num_agents={self.num_agents})"
        )

    # -- helpers -----------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if getattr(self, "closed", True):
            raise APIUsageError(f"{type(self).__name__} is closed")

    def _check_sync(self, what: str) -> None:
        if self.batch_size != self.num_envs:
            raise APIUsageError(
                f"{what}() needs batch_size == num_envs ({self.batch_size} != {self.num_envs}); "
                "use async_reset()/recv()/send() with smaller batches"
            )

    # -- what backends implement ---------------------------------------------------------------------------
    def _async_reset(self, seed: int | None) -> None:
        raise NotImplementedError

    def _recv(self) -> tuple[Any, Any, Any, Any, list[dict[str, float]], np.ndarray, Any]:
        raise NotImplementedError

    def _send(self, batch: int, actions: np.ndarray) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _handout(
        self, b: int, infos: list[dict[str, float]]
    ) -> tuple[Any, Any, Any, Any, list[dict[str, float]], np.ndarray, Any]:
        """What ``recv`` returns for batch ``b``: views of its slice of the buffers (``_batch_views``, which
        each backend builds) and its agent ids."""
        view = self._batch_views[b]
        return (
            view.observations,
            view.rewards,
            view.terminals,
            view.truncations,
            infos,
            self._batch_env_ids[b],
            view.masks,
        )
