"""``OceanEnv``: the PufferEnv base class of every Ocean env; a subclass only names its C env."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from puffer_core import Buffers, PufferEnv

from ._binding import _lib, env_info, ffi, layout

__all__ = ["OceanEnv"]

_ERR_LEN = 512
RENDER_MODES = ("rgb_array", "ansi")


def _int_arg(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _seed_arg(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
    return int(seed)


class OceanEnv(PufferEnv):
    """N copies of one C env stepped in one call, writing straight into puffer-core's buffers.

    Args:
        num_envs: how many env instances this object steps per call (each has ``agents_per_env`` agents).
        buf: the buffers to write into (a vectorizer's slice); ``None`` allocates private ones.
        seed: seeds instance ``i`` from ``(seed, i)``; ``None`` draws a fresh seed from the OS.
        render_mode: ``"rgb_array"`` (``render()`` returns ``uint8 [H, W, 3]``) or ``"ansi"`` (text, for
            grid games).
        log_interval: finished-episode statistics are aggregated in C and returned as one info dict (with
            ``n`` = number of episodes averaged) at most every ``log_interval`` steps. 1 reports every step.
        **params: the env's own parameters (see ``param_specs()``); unknown names or out-of-range values
            raise.
    """

    #: name of the C env (``OceanEnvDef.name``); set by subclasses
    c_name: ClassVar[str]

    def __init__(
        self,
        num_envs: int = 1,
        buf: Buffers | None = None,
        seed: int | None = None,
        render_mode: str | None = "rgb_array",
        log_interval: int = 16,
        **params: Any,
    ) -> None:
        self._handle = None
        self.num_envs = _int_arg("num_envs", num_envs, 1)
        self.log_interval = _int_arg("log_interval", log_interval, 1)
        if render_mode not in (None, *RENDER_MODES):
            raise ValueError(f"render_mode must be one of {RENDER_MODES} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.info = info = env_info(self.c_name)
        self.params = self.resolve_params(params)
        values = [self.params[p.name] for p in info.params]
        lay = layout(self.c_name, values)
        self.agents_per_env = int(lay.agents)
        self.num_agents = self.num_envs * self.agents_per_env
        obs_shape = tuple(int(lay.obs_shape[d]) for d in range(int(lay.obs_ndim)))
        self.render_size = (int(lay.render_height), int(lay.render_width))
        low, high = self.observation_bounds(obs_shape)
        self.single_observation_space = spaces.Box(
            low=low, high=high, shape=obs_shape, dtype=np.dtype(info.obs_dtype)
        )
        if info.act_dims == 0:
            self.single_action_space = spaces.Discrete(info.act_n[0])
        else:
            self.single_action_space = spaces.MultiDiscrete(np.array(info.act_n, dtype=np.int64))
        super().__init__(buf)

        # the seed in use: reset() without a seed after construction reseeds with it
        self._seed = _seed_arg(seed) if seed is not None else int(np.random.SeedSequence().entropy) % 2**64
        self._seeded_reset_pending = True
        self._lib = lib = _lib()
        err = ffi.new("char[]", _ERR_LEN)
        handle = lib.ocean_create(
            self.c_name.encode(),
            ffi.new("double[]", values) if values else ffi.NULL,
            len(values),
            self.num_envs,
            self._seed,
            ffi.cast("void *", self.observations.ctypes.data),
            ffi.cast("int32_t *", self.actions.ctypes.data),
            ffi.cast("float *", self.rewards.ctypes.data),
            ffi.cast("uint8_t *", self.terminals.ctypes.data),
            ffi.cast("uint8_t *", self.truncations.ctypes.data),
            ffi.cast("uint8_t *", self.masks.ctypes.data),
            err,
            _ERR_LEN,
        )
        if handle == ffi.NULL:
            raise ValueError(f"{type(self).__name__}: {ffi.string(err).decode()}")
        self._handle = handle
        # Auto-reset overwrites the observation that ended an episode; C copies it here first (only when an
        # episode ends, so it costs nothing on other steps). Always private to this object, also with an
        # external `buf`: a vectorizer's shared buffers have no room for it, and only serial-backend views
        # (gymnasium, SB3, pettingzoo) read it.
        self.final_observations = np.zeros_like(self.observations)
        lib.ocean_set_final_obs(handle, ffi.cast("void *", self.final_observations.ctypes.data))
        self._step_fn = lib.ocean_step
        self._log_peek = lib.ocean_log_peek(handle)
        self._log_out = ffi.new("double[]", max(1, len(info.log_names)))
        self._steps_since_log = 0
        self._act_ints = max(1, info.act_dims)

    def observation_bounds(self, shape: tuple[int, ...]) -> tuple[Any, Any]:
        """Box bounds of one agent's observation: the C declaration's scalars (override for per-element
        bounds)."""
        return self.info.obs_low, self.info.obs_high

    def native_runtime(self) -> Any:
        """This env for a C program (:class:`~puffer_envs_ocean.native.NativeRuntime`): its C name, resolved
        params, number of copies, and where ``ocean.h`` and ``libocean`` are installed."""
        from .native import NativeRuntime, include_dir, library_path

        params = tuple((p.name, float(self.params[p.name])) for p in self.info.params)
        return NativeRuntime(self.c_name, params, self.num_envs, include_dir(), library_path())

    # -- parameters -------------------------------------------------------------------------------------
    @classmethod
    def param_specs(cls) -> dict[str, Any]:
        """The env's parameters: name -> :class:`~puffer_envs_ocean._binding.ParamInfo` (default, range,
        doc)."""
        return {p.name: p for p in env_info(cls.c_name).params}

    def resolve_params(self, given: dict[str, Any]) -> dict[str, float | int]:
        """Defaults overridden by ``given``; raises TypeError/ValueError naming the bad param."""
        specs = self.param_specs()
        unknown = sorted(set(given) - set(specs))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unknown parameter(s) {unknown}; it takes num_envs, buf, seed, "
                f"render_mode, log_interval and {sorted(specs)}"
            )
        resolved: dict[str, float | int] = {}
        for name, spec in specs.items():
            value = given.get(name, spec.default)
            if isinstance(value, (bool, np.bool_)) and spec.integer and (spec.min, spec.max) == (0, 1):
                value = int(value)  # an on/off parameter: True/False read as the 1/0 it is declared as
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{type(self).__name__} parameter {name!r} must be a number, got {value!r}")
            number = float(value)
            whole = spec.integer and not (np.isfinite(number) and number == int(number))
            if not np.isfinite(number) or not spec.min <= number <= spec.max or whole:
                kind = "a whole number" if spec.integer else "a number"
                raise ValueError(
                    f"{type(self).__name__} parameter {name}={value!r} is out of range: expected {kind} in "
                    f"[{spec.min:g}, {spec.max:g}] ({spec.doc})"
                )
            resolved[name] = int(number) if spec.integer else number
        return resolved

    # -- the PufferEnv API ------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, list[dict[str, float]]]:
        """Start new episodes everywhere. ``seed`` reseeds; ``None`` continues the RNG streams (the first
        reset after construction reseeds with the constructor's seed, so ``make(seed=s).reset()`` repeats)."""
        self._check_open()
        if seed is not None:
            self._seed = _seed_arg(seed)
            reseed = True
        else:
            reseed = self._seeded_reset_pending
        self._seeded_reset_pending = False
        self._lib.ocean_reset(self._handle, int(reseed), self._seed)
        self._lib.ocean_log(self._handle, ffi.NULL, 0)  # episodes cut by a reset are not statistics
        self._steps_since_log = 0
        return self.observations, []

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, float]]]:
        """Step every instance once (auto-resetting finished episodes); returns views of the buffers."""
        if self._handle is None:
            self._check_open()
        if actions is not self.actions:
            self.write_actions(actions)
        status = self._step_fn(self._handle)
        if status != 0:
            raise ValueError(self._bad_action_message(-int(status) - 1))
        self._seeded_reset_pending = False
        self._steps_since_log += 1
        infos: list[dict[str, float]] = []
        if self._steps_since_log >= self.log_interval:
            self._steps_since_log = 0
            if self._log_peek.count > 0:
                infos.append(self._drain_log())
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def write_actions(self, actions: Any) -> np.ndarray:
        """Copy ``actions`` into the action buffer. An int32 array of the right shape is copied without a
        Python range check, because C checks every action before stepping (and raises through ``step``)."""
        if actions is self.actions:
            return self.actions
        if (
            isinstance(actions, np.ndarray)
            and actions.dtype == np.int32
            and actions.shape == self.actions.shape
        ):
            np.copyto(self.actions, actions)
            return self.actions
        return super().write_actions(actions)

    def _bad_action_message(self, flat_index: int) -> str:
        agent, dim = divmod(flat_index, self._act_ints)
        value = int(self.actions.reshape(-1)[flat_index])
        high = self.info.act_n[dim] - 1
        where = f"agent {agent}" + (f", dimension {dim}" if self.info.act_dims else "")
        return (
            f"action {value} for {where} is out of range: expected 0 <= action <= {high}; nothing was stepped"
        )

    def _drain_log(self) -> dict[str, float]:
        count = self._lib.ocean_log(self._handle, self._log_out, len(self.info.log_names))
        if count <= 0:
            return {}
        info = {name: self._log_out[k] / count for k, name in enumerate(self.info.log_names)}
        info["n"] = float(count)
        return info

    def flush_log(self) -> list[dict[str, float]]:
        """Statistics of episodes finished since the last info dict, now (e.g. at the end of an
        evaluation)."""
        self._check_open()
        self._steps_since_log = 0
        return [self._drain_log()] if self._log_peek.count > 0 else []

    # -- rendering --------------------------------------------------------------------------------------
    def render(self, env_index: int = 0) -> Any:
        """Instance ``env_index`` drawn by C: an RGB ``uint8 [H, W, 3]`` array, or text in ``"ansi"`` mode."""
        self._check_open()
        index = _int_arg("env_index", env_index, 0)
        if index >= self.num_envs:
            raise ValueError(f"env_index must be < num_envs={self.num_envs}, got {index}")
        if self.render_mode == "ansi":
            if not self.info.has_ansi:
                raise NotImplementedError(
                    f"{type(self).__name__} has no ansi render; use render_mode='rgb_array'"
                )
            capacity = 1 << 16
            out = ffi.new("char[]", capacity)
            if self._lib.ocean_render_ansi(self._handle, index, out, capacity) < 0:
                raise RuntimeError("ocean_render_ansi failed")
            return ffi.string(out).decode()
        if not self.info.has_render:
            raise NotImplementedError(f"{type(self).__name__} has no rgb render")
        height, width = self.render_size
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        pixels = ffi.cast("uint8_t *", frame.ctypes.data)
        ok = self._lib.ocean_render(self._handle, index, pixels, width, height)
        if ok != 0:
            raise RuntimeError("ocean_render failed")
        return frame

    # -- state access for tests and tools ---------------------------------------------------------------
    def state_pointer(self, env_index: int, pointer_type: str) -> Any:
        """cffi pointer of type ``pointer_type`` to instance ``env_index``'s C state (see
        ``_binding.state_type``)."""
        self._check_open()
        if not 0 <= env_index < self.num_envs:
            raise ValueError(f"env_index must be in [0, {self.num_envs}), got {env_index}")
        return ffi.cast(pointer_type, self._lib.ocean_env_state(self._handle, env_index))

    # -- lifetime ---------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._handle is None:
            raise RuntimeError(f"{type(self).__name__} is closed")

    def close(self) -> None:
        """Free the C instances. Safe to call twice."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None:
            self._lib.ocean_close(handle)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass
