"""Find env plugins through entry points and make envs by id.

Plugins are discovered lazily, on the first call that needs them, never at import. A plugin that fails to
import or whose hook raises (``sys.exit`` included) is recorded in :func:`broken_plugins` with its error and
does not hide the others. So is a plugin mistake that pluggy would otherwise skip in silence: a function
marked ``@hookimpl`` whose name matches no hook spec (a typo such as ``puffer_env_spec``), reported with the
name it should have, or a plugin module with no hook implementation at all. An id that two plugins
register is unusable (``make``/``spec`` name both plugins), is left out of :func:`list_envs`, and shows in
:func:`broken_plugins`; every other id works.
Ids under ``gym/`` make any installed gymnasium env through :mod:`puffer_core.emulation`.
"""

from __future__ import annotations

import difflib
import functools
import re
import traceback
from dataclasses import dataclass, replace
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from .errors import DuplicateEnvError, UnknownEnvError
from .hookspecs import ENTRY_POINT_GROUP, PROJECT, EnvSpec, PufferHookSpecs

__all__ = ["Registry", "BrokenPlugin", "make", "spec", "list_envs", "broken_plugins", "default_registry"]

ENV_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.:-]*$")
#: gymnasium ids may carry a namespace (``ALE/Pong-v5``), so ``gym/`` ids may have one more ``/``.
GYM_ID = re.compile(r"^gym/(?:[A-Za-z0-9][A-Za-z0-9_.:-]*/)?[A-Za-z0-9][A-Za-z0-9_.:-]*$")
GYM_FAMILY = "gym"
#: Frames of a plugin's traceback kept in :class:`BrokenPlugin` (the innermost ones, where the error is).
TRACEBACK_FRAMES = 4


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded or whose hook raised."""

    name: str
    error: str


def validate_id(env_id: Any) -> str:
    """Return ``env_id`` if it is a valid ``family/name`` id, else raise ValueError."""
    if not isinstance(env_id, str) or not (ENV_ID.match(env_id) or GYM_ID.match(env_id)):
        raise ValueError(
            "env id must look like 'family/name' (e.g. 'ocean/breakout' or 'gym/CartPole-v1'), "
            f"got {env_id!r}"
        )
    return env_id


def _format_error() -> str:
    # The innermost frames: for an ImportError deep inside a plugin, that is where the plugin failed.
    return traceback.format_exc(limit=-TRACEBACK_FRAMES).strip()


def _hook_names() -> list[str]:
    return [n for n in vars(PufferHookSpecs) if not n.startswith("_")]


def _hook_mistakes(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    """What pluggy's ``check_pending`` finds, as messages that name the hook meant, plus a plugin that
    implements no hook at all (its functions lack ``@hookimpl`` or it was the wrong module)."""
    hooks = _hook_names()
    mistakes = []
    implemented = False
    for hook_name in sorted(vars(manager.hook)):
        if hook_name.startswith("_"):
            continue
        caller = getattr(manager.hook, hook_name)
        impls = [i for i in caller.get_hookimpls() if not i.optionalhook]
        if caller.has_spec():
            implemented = implemented or bool(caller.get_hookimpls())
        elif impls:
            close = difflib.get_close_matches(hook_name, hooks, n=1, cutoff=0.6)
            meant = f"did you mean {close[0]!r}?" if close else f"the hooks are {', '.join(map(repr, hooks))}"
            mistakes.append(f"hook implementation {hook_name!r} matches no hook spec: {meant}")
    if not implemented and not mistakes:
        undecorated = [h for h in hooks if callable(getattr(plugin, h, None))]
        why = (
            f"{', '.join(map(repr, undecorated))} is not decorated with @puffer_core.hookimpl"
            if undecorated
            else f"it defines none of {', '.join(map(repr, hooks))}"
        )
        mistakes.append(f"the plugin implements no hook: {why}")
    return mistakes


def _make_gymnasium_env(gym_id: str, buf: Any = None, seed: int | None = None, **kwargs: Any) -> Any:
    import gymnasium

    from .emulation import GymnasiumPufferEnv

    return GymnasiumPufferEnv(functools.partial(gymnasium.make, gym_id, **kwargs), buf=buf, seed=seed)


class Registry:
    """Env specs from plugins. ``Registry()`` scans the ``puffer.envs`` entry points on first use."""

    def __init__(self, entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        self.entry_point_group = entry_point_group
        self._specs: dict[str, EnvSpec] | None = None
        self._broken: list[BrokenPlugin] = []
        self._conflicts: dict[str, list[str]] = {}
        self._extra_plugins: list[tuple[str, object]] = []

    # -- discovery ---------------------------------------------------------------------------------------
    def add_plugin(self, plugin: ModuleType | object, name: str | None = None) -> None:
        """Register a plugin object directly (a module or instance with ``@hookimpl`` functions)."""
        self._extra_plugins.append((name or getattr(plugin, "__name__", repr(plugin)), plugin))
        self._specs = None

    def reload(self) -> None:
        """Forget what was found and scan again on next use (e.g. after installing a plugin)."""
        self._specs = None

    def _load(self) -> dict[str, EnvSpec]:
        if self._specs is not None:
            return self._specs
        broken: list[BrokenPlugin] = []
        plugins: list[tuple[str, object]] = []
        if self.entry_point_group:
            for entry_point in metadata.entry_points(group=self.entry_point_group):
                try:
                    plugins.append((entry_point.name, entry_point.load()))
                except (Exception, SystemExit):  # a broken third-party plugin must not break the others
                    broken.append(BrokenPlugin(entry_point.name, _format_error()))
        plugins.extend(self._extra_plugins)

        specs: dict[str, EnvSpec] = {}
        conflicts: dict[str, list[str]] = {}
        for name, plugin in plugins:
            try:
                # One manager per plugin: the same module listed twice is then a duplicate, not a crash.
                manager = pluggy.PluginManager(PROJECT)
                manager.add_hookspecs(PufferHookSpecs)
                manager.register(plugin, name=name)
                mistakes = _hook_mistakes(manager, plugin)
                if mistakes:  # reported, but the plugin's well-named hooks still count
                    broken.append(BrokenPlugin(name, "; ".join(mistakes)))
                found = [s for result in manager.hook.puffer_env_specs() for s in (result or [])]
                ids = set()
                for env_spec in found:
                    if not isinstance(env_spec, EnvSpec):
                        raise TypeError(f"puffer_env_specs must return EnvSpec objects, got {env_spec!r}")
                    validate_id(env_spec.id)
                    if env_spec.id.split("/")[0] == GYM_FAMILY:
                        raise ValueError(
                            f"the family 'gym/' is reserved for gymnasium ids, got {env_spec.id!r}"
                        )
                    if not callable(env_spec.creator):
                        raise TypeError(
                            f"the creator of {env_spec.id!r} is not callable: {env_spec.creator!r}"
                        )
                    if env_spec.id in ids:
                        raise DuplicateEnvError(f"env id {env_spec.id!r} is registered twice by {name!r}")
                    ids.add(env_spec.id)
            except (Exception, SystemExit):
                broken.append(BrokenPlugin(name, _format_error()))
                continue
            for env_spec in found:
                if env_spec.id in conflicts:
                    conflicts[env_spec.id].append(name)
                elif env_spec.id in specs:
                    conflicts[env_spec.id] = [specs.pop(env_spec.id).plugin, name]
                else:
                    specs[env_spec.id] = replace(env_spec, plugin=name)
        # Neither claimant wins (which one would depend on install order): the id is unusable until one
        # plugin is removed, and says so; the plugins' other ids stay usable.
        for env_id, names in conflicts.items():
            broken.append(BrokenPlugin(" + ".join(names), self._conflict_message(env_id, names)))
        self._specs, self._broken, self._conflicts = specs, broken, conflicts
        return specs

    @staticmethod
    def _conflict_message(env_id: str, names: list[str]) -> str:
        return (
            f"env id {env_id!r} is registered by {len(names)} plugins: {', '.join(repr(n) for n in names)}; "
            "it is unusable until all but one of them are uninstalled"
        )

    # -- queries -----------------------------------------------------------------------------------------
    def list_envs(self) -> list[EnvSpec]:
        """Specs of every env registered by plugins, sorted by id (``gym/`` ids are not listed)."""
        return [s for _, s in sorted(self._load().items())]

    def broken_plugins(self) -> list[BrokenPlugin]:
        """Plugins that failed to load, with their errors, and ids claimed by several plugins."""
        self._load()
        return list(self._broken)

    def spec(self, env_id: str) -> EnvSpec:
        """The spec of ``env_id``; raises :class:`UnknownEnvError` listing the closest ids."""
        validate_id(env_id)
        specs = self._load()
        if env_id in specs:
            return specs[env_id]
        if env_id in self._conflicts:
            raise DuplicateEnvError(self._conflict_message(env_id, self._conflicts[env_id]))
        family, name = env_id.split("/", 1)
        if family == GYM_FAMILY:
            import gymnasium

            if name in gymnasium.registry:
                return EnvSpec(
                    env_id,
                    creator=functools.partial(_make_gymnasium_env, name),
                    description=f"gymnasium {name} through emulation",
                    plugin="puffer-core",
                )
            candidates = [f"{GYM_FAMILY}/{gid}" for gid in gymnasium.registry]
        else:
            candidates = list(specs)
        close = difflib.get_close_matches(env_id, candidates, n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        broken = f" ({len(self._broken)} plugin(s) failed to load: see puffer_core.broken_plugins())"
        raise UnknownEnvError(
            f"unknown env id {env_id!r}{hint}" + (broken if self._broken else "")
        )

    def make(self, env_id: str, *, buf: Any = None, seed: int | None = None, **kwargs: Any) -> Any:
        """Make env ``env_id`` with its default kwargs overridden by ``kwargs``."""
        env_spec = self.spec(env_id)
        return env_spec.creator(buf=buf, seed=seed, **{**env_spec.default_kwargs, **kwargs})


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The process-wide registry over installed entry points (created on first use)."""
    return Registry()


def make(env_id: str, *, buf: Any = None, seed: int | None = None, **kwargs: Any) -> Any:
    """Make a registered env: ``puffer_core.make("ocean/squared", num_envs=64)``."""
    return default_registry().make(env_id, buf=buf, seed=seed, **kwargs)


def spec(env_id: str) -> EnvSpec:
    """The :class:`EnvSpec` of a registered env id."""
    return default_registry().spec(env_id)


def list_envs() -> list[EnvSpec]:
    """Every env registered by installed plugins."""
    return default_registry().list_envs()


def broken_plugins() -> list[BrokenPlugin]:
    """Installed plugins that failed to load, with their errors."""
    return default_registry().broken_plugins()
