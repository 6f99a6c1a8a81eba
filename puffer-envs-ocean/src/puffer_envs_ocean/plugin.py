"""puffer-core plugin: registers every Ocean env as ``ocean/<name>`` (entry point group ``puffer.envs``).

Each env module ``puffer_envs_ocean.<name>`` holds one ``OceanEnv`` subclass and a ``SPEC`` dict with
``description``, ``default_kwargs`` and ``train_config`` (trainer sections ``train``/``vec``/``policy``/...).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import puffer_core

from .env import OceanEnv

__all__ = ["ENV_MODULES", "puffer_env_specs", "env_class"]

#: Env modules in registration order; each also names its C env file ``csrc/<name>.c``.
ENV_MODULES = ("squared", "password", "cartpole", "pong", "breakout", "snake", "connect4", "tetris")


def _module(name: str) -> Any | None:
    qualified = f"{__package__}.{name}"
    if importlib.util.find_spec(qualified) is None:  # an env still being written is not registered yet
        return None
    return importlib.import_module(qualified)


def env_class(module: Any) -> type[OceanEnv]:
    """The single OceanEnv subclass defined in ``module``."""
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, OceanEnv) and v.__module__ == module.__name__
    ]
    if len(found) != 1:
        raise TypeError(f"{module.__name__} must define exactly one OceanEnv subclass, found {found}")
    return found[0]


@puffer_core.hookimpl
def puffer_env_specs() -> list[puffer_core.EnvSpec]:
    specs = []
    for name in ENV_MODULES:
        module = _module(name)
        if module is None:
            continue
        spec = module.SPEC
        specs.append(
            puffer_core.EnvSpec(
                id=f"ocean/{name}",
                creator=env_class(module),
                default_kwargs=dict(spec.get("default_kwargs", {})),
                train_config=spec.get("train_config"),
                description=spec.get("description", ""),
            )
        )
    return specs
