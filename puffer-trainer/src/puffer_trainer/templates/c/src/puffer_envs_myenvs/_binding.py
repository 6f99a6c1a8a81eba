"""cffi (ABI mode) binding to the ``chase`` shared library built from ``csrc/chase.c``.

The library is opened on the first env made, never at import. ``PUFFER_MYENVS_LIB`` points at another build
(a debug or sanitizer build, say).
"""

from __future__ import annotations

import functools
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import cffi

ABI_VERSION = 1

ffi = cffi.FFI()
ffi.cdef(
    """
    typedef struct Chase Chase;
    int chase_abi_version(void);
    size_t chase_bytes(int num_agents);
    int chase_init(Chase *c, int num_agents, int size, int max_steps, float *obs, const int32_t *actions,
                   float *rewards, uint8_t *terminals, uint8_t *truncations, float *final_obs, char *err,
                   int errlen);
    void chase_reset(Chase *c, uint64_t seed);
    int chase_step(Chase *c);
    void chase_drain_log(Chase *c, double *out);
    """
)


def _file_names() -> list[str]:
    if sys.platform == "win32":
        return ["chase.dll", "libchase.dll"]
    if sys.platform == "darwin":
        return ["libchase.dylib", "libchase.so"]
    return ["libchase.so"]


def library_path() -> Path:
    """Where the compiled library is: ``$PUFFER_MYENVS_LIB``, else inside this package."""
    override = os.environ.get("PUFFER_MYENVS_LIB")
    if override:
        if not Path(override).is_file():
            raise FileNotFoundError(f"PUFFER_MYENVS_LIB={override!r} is not a file")
        return Path(override)
    folders: list[Any] = [Path(__file__).resolve().parent]
    try:  # editable installs keep the compiled library apart from the sources
        folders.append(resources.files(__package__))
    except (TypeError, ModuleNotFoundError):
        pass
    for folder in folders:
        for name in _file_names():
            found = folder.joinpath(name)
            if found.is_file():
                return Path(str(found))
    raise FileNotFoundError(
        f"the compiled chase library is not in {[str(f) for f in folders]}: reinstall this package "
        "(pip install .) or point PUFFER_MYENVS_LIB at a build of it"
    )


@functools.lru_cache(maxsize=1)
def lib() -> Any:
    """The opened library (once per process)."""
    library = ffi.dlopen(str(library_path()))
    if library.chase_abi_version() != ABI_VERSION:
        raise ImportError(
            f"the chase library has ABI version {library.chase_abi_version()}, this binding expects "
            f"{ABI_VERSION}: rebuild the package"
        )
    return library
