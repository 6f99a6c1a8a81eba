"""cffi (ABI mode) binding to ``libocean``, the shared library built from ``csrc/``.

The library is opened lazily, on the first env made, never at import. Set ``PUFFER_OCEAN_LIB`` to a path
to load another build (for example a debug or sanitizer build).
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cffi

__all__ = ["ffi", "lib", "EnvInfo", "ParamInfo", "env_info", "env_names", "library_path"]

ABI_VERSION = 1

CDEF = """
typedef struct OceanRng { uint64_t s; } OceanRng;
typedef struct OceanLog { double sums[16]; double count; } OceanLog;
typedef struct OceanShared { OceanLog log; void *final_obs; size_t obs_bytes; } OceanShared;
typedef struct OceanParam {
    const char *name; double default_value; double min, max; int integer; const char *doc;
} OceanParam;
typedef struct OceanHeader {
    OceanRng rng; void *obs; const int32_t *actions; float *rewards; uint8_t *terminals;
    uint8_t *truncations; uint8_t *masks; OceanShared *shared; int index; int agents;
} OceanHeader;
typedef struct OceanLayout {
    size_t state_bytes; int agents; int obs_ndim; int obs_shape[3]; int render_width, render_height;
} OceanLayout;
typedef struct OceanEnvDef {
    int abi_version; const char *name; int obs_dtype; double obs_low, obs_high;
    int act_dims; int act_n[8]; int num_params; const OceanParam *params;
    int num_log; const char *const *log_names;
    void *layout; void *init; void *reset; void *step; void *render; void *render_ansi;
} OceanEnvDef;
typedef struct OceanHandle OceanHandle;
int ocean_abi_version(void);
int ocean_env_count(void);
const OceanEnvDef *ocean_env_at(int i);
const OceanEnvDef *ocean_env_find(const char *name);
int ocean_check_params(const OceanEnvDef *def, const double *params, int num_params, char *err, int errlen);
int ocean_layout(const OceanEnvDef *def, const double *params, int num_params, OceanLayout *out,
                 char *err, int errlen);
OceanHandle *ocean_create(const char *name, const double *params, int num_params, int num_envs,
                          uint64_t seed, void *obs, int32_t *actions, float *rewards, uint8_t *terminals,
                          uint8_t *truncations, uint8_t *masks, char *err, int errlen);
void ocean_set_final_obs(OceanHandle *h, void *final_obs);
void ocean_reset(OceanHandle *h, int reseed, uint64_t seed);
int64_t ocean_step(OceanHandle *h);
double ocean_log(OceanHandle *h, double *out, int cap);
const OceanLog *ocean_log_peek(const OceanHandle *h);
int ocean_render(const OceanHandle *h, int env_index, uint8_t *rgb, int width, int height);
int ocean_render_ansi(const OceanHandle *h, int env_index, char *out, int cap);
void *ocean_env_state(OceanHandle *h, int env_index);
void ocean_close(OceanHandle *h);
"""

ffi = cffi.FFI()
ffi.cdef(CDEF)

OBS_DTYPES = {0: "uint8", 1: "float32"}


def _library_names() -> list[str]:
    if sys.platform == "win32":
        return ["ocean.dll", "libocean.dll"]
    if sys.platform == "darwin":
        return ["libocean.dylib", "libocean.so"]
    return ["libocean.so"]


def library_path() -> Path:
    """Where ``libocean`` is: ``$PUFFER_OCEAN_LIB``, else next to this package."""
    override = os.environ.get("PUFFER_OCEAN_LIB")
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"PUFFER_OCEAN_LIB={override!r} is not a file")
        return path
    candidates: list[Any] = [Path(__file__).resolve().parent]
    try:  # editable installs keep the compiled library apart from the sources
        candidates.append(resources.files("puffer_envs_ocean"))
    except (TypeError, ModuleNotFoundError):
        pass
    for folder in candidates:
        for name in _library_names():
            found = folder.joinpath(name)
            if found.is_file():
                return Path(str(found))
    raise FileNotFoundError(
        f"libocean was not found in {[str(c) for c in candidates]}; reinstall puffer-envs-ocean "
        "(pip install puffer-envs-ocean) or point PUFFER_OCEAN_LIB at a build of it"
    )


@functools.lru_cache(maxsize=1)
def _lib() -> Any:
    library = ffi.dlopen(str(library_path()))
    version = library.ocean_abi_version()
    if version != ABI_VERSION:
        raise ImportError(f"libocean ABI version {version} does not match the Python binding's {ABI_VERSION}")
    return library


class _LazyLib:
    """Opens libocean on first attribute access, so that importing the package has no side effects."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_lib(), name)


lib: Any = _LazyLib()


@dataclass(frozen=True)
class ParamInfo:
    """One env parameter as the C env declares it."""

    name: str
    default: float
    min: float
    max: float
    integer: bool
    doc: str


@dataclass(frozen=True)
class EnvInfo:
    """What a C env declares about itself: dtypes, action sizes, parameters and log fields."""

    name: str
    obs_dtype: str
    obs_low: float
    obs_high: float
    act_dims: int
    act_n: tuple[int, ...]
    params: tuple[ParamInfo, ...]
    log_names: tuple[str, ...]
    has_render: bool
    has_ansi: bool

    def param(self, name: str) -> ParamInfo:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


def _string(pointer: Any) -> str:
    return ffi.string(pointer).decode() if pointer != ffi.NULL else ""


def _definition(name: str) -> Any:
    definition = lib.ocean_env_find(name.encode())
    if definition == ffi.NULL:
        raise ValueError(f"libocean has no env named {name!r}; it has {env_names()}")
    return definition


@functools.cache
def env_info(name: str) -> EnvInfo:
    """The declaration of C env ``name``."""
    d = _definition(name)
    dims = int(d.act_dims)
    return EnvInfo(
        name=_string(d.name),
        obs_dtype=OBS_DTYPES[int(d.obs_dtype)],
        obs_low=float(d.obs_low),
        obs_high=float(d.obs_high),
        act_dims=dims,
        act_n=tuple(int(d.act_n[i]) for i in range(max(1, dims))),
        params=tuple(
            ParamInfo(
                name=_string(p.name),
                default=float(p.default_value),
                min=float(p.min),
                max=float(p.max),
                integer=bool(p.integer),
                doc=_string(p.doc),
            )
            for p in (d.params[i] for i in range(int(d.num_params)))
        ),
        log_names=tuple(_string(d.log_names[i]) for i in range(int(d.num_log))),
        has_render=d.render != ffi.NULL,
        has_ansi=d.render_ansi != ffi.NULL,
    )


def env_names() -> list[str]:
    """Names of every env compiled into libocean."""
    return [_string(lib.ocean_env_at(i).name) for i in range(lib.ocean_env_count())]


@functools.cache
def state_type(cdef: str, type_name: str) -> str:
    """Declare an env's instance struct (for tests that read or set a state) once; returns its pointer type.

    ``cdef`` must mirror the C struct exactly, starting with ``OceanHeader h;``.
    """
    ffi.cdef(cdef)
    return f"{type_name} *"


def layout(name: str, params: list[float]) -> Any:
    """``OceanLayout`` of env ``name`` under ``params`` (already validated); raises ValueError from C."""
    out = ffi.new("OceanLayout *")
    err = ffi.new("char[]", 512)
    values = ffi.new("double[]", params) if params else ffi.NULL
    if lib.ocean_layout(_definition(name), values, len(params), out, err, 512) != 0:
        raise ValueError(ffi.string(err).decode())
    return out
