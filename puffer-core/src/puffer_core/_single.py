"""Make one env object holding one copy of an env, for the single-env views (gymnasium, pettingzoo)."""

from __future__ import annotations

from typing import Any

from .env import PufferEnv


def make_one_copy(env_id_or_env: str | PufferEnv, kwargs: dict[str, Any]) -> PufferEnv:
    """``env_id_or_env`` itself when it is a PufferEnv (``kwargs`` must be empty), else the registered env
    made with ``kwargs`` and, for envs that batch copies in one object (a ``num_envs`` default, as ocean's),
    ``num_envs=1`` unless given: a single-env view shows one copy."""
    if isinstance(env_id_or_env, PufferEnv):
        if kwargs:
            raise TypeError(f"kwargs {sorted(kwargs)} are only used with an env id, not with an env object")
        return env_id_or_env
    if not isinstance(env_id_or_env, str):
        raise TypeError(f"expected an env id or a PufferEnv, got {type(env_id_or_env).__name__}")
    from .registry import make, spec

    kwargs = dict(kwargs)
    if "num_envs" in spec(env_id_or_env).default_kwargs:
        kwargs.setdefault("num_envs", 1)
    seed = kwargs.pop("seed", None)
    return make(env_id_or_env, seed=seed, **kwargs)


def check_cpu(env: PufferEnv, view: str) -> None:
    if getattr(env, "device", "cpu") != "cpu":
        raise ValueError(f"a {view} view needs numpy buffers; {type(env).__name__} lives on {env.device!r}")
