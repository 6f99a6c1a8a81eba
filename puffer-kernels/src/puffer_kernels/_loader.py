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

# Must match csrc/infer.h (tests/test_inference.py checks the declarations and sizeof(PinfModel)).
INFER_CDEF = """
typedef struct PinfLayer {
    int32_t op; int32_t p[11]; const float *w; int64_t in, out; int64_t state_at;
} PinfLayer;
typedef struct PinfModel {
    int obs_dtype; int obs_ndim; int obs_shape[3]; int64_t obs_size; int num_layers; PinfLayer layers[64];
    int act_kind; int act_dims; const int32_t *act_n; const int32_t *act_start; const int32_t *ints;
    int64_t num_ints; const float *log_std;
    int64_t param_size; int64_t out_size; int64_t state_size; int64_t max_width; int64_t workspace;
    const char *meta; int64_t meta_bytes; const float *weights; int64_t num_weights; void *owned;
} PinfModel;
typedef struct PinfRng { uint64_t s; } PinfRng;
int pinf_model_parse(PinfModel *m, const void *data, size_t size, char *err, size_t errlen);
int pinf_model_load(PinfModel *m, const char *path, char *err, size_t errlen);
void pinf_model_free(PinfModel *m);
int pinf_model_meta(const PinfModel *m, const char *key, char *out, size_t cap);
int64_t pinf_workspace_floats(const PinfModel *m);
size_t pinf_model_sizeof(void);
int pinf_forward(const PinfModel *m, const void *obs, int64_t batch, float *state, float *out,
                 float *workspace, int64_t workspace_floats, char *err, size_t errlen);
int pinf_act(const PinfModel *m, const float *out, int64_t batch, int greedy, PinfRng *rng,
             void *actions, char *err, size_t errlen);
void pinf_rng_seed(PinfRng *r, uint64_t seed);
uint64_t pinf_rng_u64(PinfRng *r);
double pinf_rng_uniform(PinfRng *r);
int pinf_argmax(const float *logits, int n);
int pinf_sample_logits(const float *logits, int n, PinfRng *r);
void pinf_linear(const float *x, const float *w, const float *b, float *y, int64_t rows,
                 int64_t in, int64_t out);
void pinf_relu(float *x, int64_t n);
void pinf_gelu(float *x, int64_t n);
void pinf_tanh(float *x, int64_t n);
void pinf_sigmoid(float *x, int64_t n);
void pinf_layernorm(const float *x, const float *gamma, const float *beta, float *y, int64_t rows,
                    int64_t dim, float eps);
void pinf_conv2d(const float *x, const float *w, const float *b, float *y, int in_c, int in_h,
                 int in_w, int out_c, int kh, int kw, int stride_h, int stride_w, int pad_h,
                 int pad_w);
void pinf_hwc_to_chw(const float *x, float *y, int h, int w, int c);
void pinf_set_max(const float *x, float *y, int64_t items, int64_t dim);
int pinf_embedding(const int32_t *idx, const float *table, float *y, int64_t count, int64_t num,
                   int64_t dim);
void pinf_lstm_cell(const float *x, float *h, float *c, const float *w_ih, const float *w_hh,
                    const float *b_ih, const float *b_hh, float *gates, int64_t in, int64_t hidden);
"""

CPU_LIB = "puffer_advantage"
CUDA_LIB = "puffer_advantage_cuda"
INFER_LIB = "puffer_infer"

HOW_TO_GET_CUDA = (
    "reinstall puffer-kernels on a machine with the CUDA toolkit (nvcc on PATH, or CUDACXX set) with "
    "PUFFER_KERNELS_CUDA=ON, e.g. `PUFFER_KERNELS_CUDA=ON pip install --no-binary puffer-kernels "
    "puffer-kernels` or `PUFFER_KERNELS_CUDA=ON pip install ./puffer-kernels`"
)

ffi = cffi.FFI()
ffi.cdef(CDEF)
ffi.cdef(CUDA_CDEF)
ffi.cdef(INFER_CDEF)


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
        if any(f.name == n for stem in (CPU_LIB, CUDA_LIB, INFER_LIB) for n in _file_names(stem)):
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


@functools.cache
def infer_lib() -> Any:
    """The policy inference library (csrc/infer.c), checked to agree with the cdef's PinfModel layout."""
    path = find_library(INFER_LIB)
    if path is None:
        raise RuntimeError(
            f"puffer-kernels: the inference library {_file_names(INFER_LIB)[0]} was not found in "
            f"{[str(d) for d in _search_dirs()]}; reinstall puffer-kernels (`pip install ./puffer-kernels`)"
        )
    lib = ffi.dlopen(str(path))
    if lib.pinf_model_sizeof() != ffi.sizeof("PinfModel"):
        raise RuntimeError(
            f"{path} was built from another infer.h (sizeof(PinfModel) {lib.pinf_model_sizeof()}, the "
            f"binding expects {ffi.sizeof('PinfModel')}); reinstall puffer-kernels"
        )
    return lib
