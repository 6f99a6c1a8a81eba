"""Finding and loading the compiled libraries through cffi's ABI mode (no compiler needed at run time).

Nothing here runs at import: the libraries are opened on the first call that needs them.
"""

from __future__ import annotations

import functools
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import cffi

# Must match csrc/advantage.h (tests/test_header.py checks it).
CDEF = """
int puff_advantage_cpu(const float *values, const float *rewards, const float *dones,
                       const float *importance, float *advantages, int64_t rows, int64_t horizon,
                       float gamma, float gae_lambda, float rho_clip, float c_clip, int num_threads);
int puff_gae_cpu(const float *values, const float *rewards, const float *dones, float *advantages,
                 int64_t rows, int64_t horizon, float gamma, float gae_lambda, int num_threads);
int puff_vtrace_cpu(const float *values, const float *rewards, const float *dones,
                    const float *importance, float *vs, float *pg_advantages, int64_t rows,
                    int64_t horizon, float gamma, float gae_lambda, float rho_clip, float c_clip,
                    int num_threads);
int puff_advantage_serial_cpu(const float *values, const float *rewards, const float *dones,
                              const float *importance, float *advantages, int64_t rows,
                              int64_t horizon, float gamma, float gae_lambda, float rho_clip,
                              float c_clip);
"""

CUDA_CDEF = """
int puff_cuda_device_count(void);
const char *puff_cuda_error_string(int code);
int puff_advantage_cuda(const float *values, const float *rewards, const float *dones,
                        const float *importance, float *advantages, int64_t rows, int64_t horizon,
                        float gamma, float gae_lambda, float rho_clip, float c_clip, int device,
                        void *stream, int variant);
int puff_advantage_naive_cuda(const float *values, const float *rewards, const float *dones,
                              const float *importance, float *advantages, int64_t rows,
                              int64_t horizon, float gamma, float gae_lambda, float rho_clip,
                              float c_clip, int device, void *stream);
int puff_gae_cuda(const float *values, const float *rewards, const float *dones, float *advantages,
                  int64_t rows, int64_t horizon, float gamma, float gae_lambda, int device,
                  void *stream);
int puff_vtrace_cuda(const float *values, const float *rewards, const float *dones,
                     const float *importance, float *vs, float *pg_advantages, int64_t rows,
                     int64_t horizon, float gamma, float gae_lambda, float rho_clip, float c_clip,
                     int device, void *stream);
"""

CPU_LIB = "puffer_advantage"
CUDA_LIB = "puffer_advantage_cuda"

HOW_TO_GET_CUDA = (
    "reinstall puffer-kernels on a machine with the CUDA toolkit (nvcc on PATH, or CUDACXX set) with "
    "PUFFER_KERNELS_CUDA=ON, e.g. `PUFFER_KERNELS_CUDA=ON pip install --no-binary puffer-kernels "
    "puffer-kernels` or `PUFFER_KERNELS_CUDA=ON pip install ./puffer-kernels`"
)

ffi = cffi.FFI()
ffi.cdef(CDEF)
ffi.cdef(CUDA_CDEF)


def _file_names(stem: str) -> list[str]:
    if sys.platform == "win32":
        return [f"{stem}.dll", f"lib{stem}.dll"]
    if sys.platform == "darwin":
        return [f"lib{stem}.dylib", f"lib{stem}.so"]
    return [f"lib{stem}.so"]


def _search_dirs() -> list[Path]:
    """Where the libraries may live, most specific first.

    PUFFER_KERNELS_LIB_DIR (explicit override), the package folder (regular install), then the files the
    installed distribution records (scikit-build-core's editable installs keep compiled files in
    site-packages while the Python files stay in the source tree).
    """
    dirs: list[Path] = []
    override = os.environ.get("PUFFER_KERNELS_LIB_DIR")
    if override:
        dirs.append(Path(override))
    dirs.append(Path(__file__).resolve().parent)
    try:
        files = metadata.files("puffer-kernels") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if any(f.name == n for stem in (CPU_LIB, CUDA_LIB) for n in _file_names(stem)):
            dirs.append(Path(str(f.locate())).resolve().parent)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def find_library(stem: str) -> Path | None:
    """Path of the compiled library `stem`, or None where it was not built/installed."""
    for d in _search_dirs():
        for name in _file_names(stem):
            p = d / name
            if p.is_file():
                return p
    return None


@functools.cache
def cpu_lib() -> Any:
    path = find_library(CPU_LIB)
    if path is None:
        raise RuntimeError(
            f"puffer-kernels: the C library {_file_names(CPU_LIB)[0]} was not found in "
            f"{[str(d) for d in _search_dirs()]}; the package was not built/installed correctly "
            "(reinstall with `pip install ./puffer-kernels`, or set PUFFER_KERNELS_LIB_DIR)"
        )
    return ffi.dlopen(str(path))


@functools.cache
def cuda_lib() -> tuple[Any | None, str]:
    """(the CUDA library, "") or (None, why it is unavailable)."""
    path = find_library(CUDA_LIB)
    if path is None:
        return None, f"puffer-kernels was built without its CUDA library; to get it, {HOW_TO_GET_CUDA}"
    try:
        return ffi.dlopen(str(path)), ""
    except OSError as e:
        return None, f"the CUDA library {path} could not be loaded ({e}); {HOW_TO_GET_CUDA}"
