"""puffer-kernels: advantage estimators (puff advantage, GAE, V-trace) in C and CUDA, called through cffi.

Importing this package loads no library and imports no torch; the compiled libraries are opened on the
first call that needs them. ``puffer_kernels.inference`` writes and runs policy files for the C inference
library (``csrc/infer.h``).
"""

from .api import (
    CUDA_VARIANTS,
    cuda_available,
    gae,
    puff_advantage,
    puff_advantage_cuda_variant,
    puff_advantage_naive_cuda,
    puff_advantage_serial_cpu,
    vtrace,
)

__version__ = "0.1.0"

__all__ = [
    "CUDA_VARIANTS",
    "cuda_available",
    "gae",
    "puff_advantage",
    "puff_advantage_cuda_variant",
    "puff_advantage_naive_cuda",
    "puff_advantage_serial_cpu",
    "vtrace",
]
