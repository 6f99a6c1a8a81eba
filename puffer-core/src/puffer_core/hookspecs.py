"""The contract between Puffer and env plugins (pluggy hook specifications).

A plugin is a plain module with functions decorated by :data:`hookimpl`, published under the entry-point
group ``puffer.envs``::

    # pyproject.toml of a third-party package
    [project.entry-points."puffer.envs"]
    my_envs = "my_envs.plugin"

    # my_envs/plugin.py
    from puffer_core import EnvSpec, hookimpl

    @hookimpl
    def puffer_env_specs():
        return [EnvSpec("mine/maze", creator=make_maze, description="a tiny maze")]

Importing the plugin module must not register anything by itself: Puffer calls the hook when it needs
the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

PROJECT = "puffer"
#: Entry-point group plugins publish their hook module under.
ENTRY_POINT_GROUP = "puffer.envs"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class EnvSpec:
    """Everything Puffer knows about one registered env.

    Attributes:
        id: ``family/name``, lower-case letters, digits, ``_``, ``-`` and ``.`` (e.g. ``ocean/breakout``).
        creator: called as ``creator(buf=..., seed=..., **kwargs)`` and returns a
            :class:`~puffer_core.env.PufferEnv`.
        default_kwargs: env kwargs used unless the caller overrides them.
        train_config: the env's default training config, sections of plain data the trainer layers over its
            own (e.g. ``{"train": {"learning_rate": 0.01}, "vec": {"num_env_objects": 8}}``).
        description: one line for ``puffer list``.
        plugin: name of the plugin that registered it (filled in by the registry).
    """

    id: str
    creator: Callable[..., Any]
    default_kwargs: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] | None = None
    description: str = ""
    plugin: str = ""


class PufferHookSpecs:
    """Hooks an env plugin may implement."""

    @hookspec
    def puffer_env_specs(self) -> list[EnvSpec]:
        """Return the :class:`EnvSpec` of every env this plugin provides."""
