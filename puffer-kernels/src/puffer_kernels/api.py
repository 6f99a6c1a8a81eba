"""Public advantage functions: validation, then one call into the C or CUDA library.

Every check runs before a pointer reaches compiled code. Policy on memory layout: inputs and outputs
must already be C-contiguous float32 2-D buffers; anything else is refused with an error naming the
argument. We never copy silently: a copy of an output would drop the result, and a consistent refusal
keeps the cost of every call visible to the caller.
"""

from __future__ import annotations

import math
import numbers
import sys
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from . import _loader

ArrayT = TypeVar("ArrayT")
_F32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class _Buffer:
    name: str
    ptr: int
    shape: tuple[int, ...]
    nbytes: int
    device: tuple[str, int]  # ("cpu", -1) or ("cuda", index)
    writable: bool


def _describe(name: str, x: Any) -> _Buffer:
    if isinstance(x, np.ndarray):
        if x.dtype != np.float32:
            raise TypeError(f"{name} must have dtype float32 (native byte order), got {x.dtype.str}")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D [segments, horizon], got shape {x.shape}")
        if not x.flags.c_contiguous:
            raise ValueError(
                f"{name} must be C-contiguous (strides {x.strides} for shape {x.shape}); "
                "pass np.ascontiguousarray(...) for an input, or a contiguous buffer for an output"
            )
        if not x.flags.aligned:
            raise ValueError(f"{name} is not aligned to 4 bytes; pass an aligned float32 array")
        return _Buffer(name, x.ctypes.data, x.shape, x.nbytes, ("cpu", -1), bool(x.flags.writeable))
    torch = sys.modules.get("torch")  # a tensor implies torch is imported already: never import it here
    if torch is not None and isinstance(x, torch.Tensor):
        if x.dtype != torch.float32:
            raise TypeError(f"{name} must have dtype torch.float32, got {x.dtype}")
        if x.layout != torch.strided:
            raise TypeError(f"{name} must be a dense (strided) tensor, got layout {x.layout}")
        if x.dim() != 2:
            raise ValueError(f"{name} must be 2-D [segments, horizon], got shape {tuple(x.shape)}")
        if not x.is_contiguous():
            raise ValueError(
                f"{name} must be contiguous (stride {x.stride()} for shape {tuple(x.shape)}); "
                "pass .contiguous() for an input, or a contiguous buffer for an output"
            )
        if x.device.type == "cpu":
            device = ("cpu", -1)
        elif x.device.type == "cuda":
            device = ("cuda", x.device.index if x.device.index is not None else torch.cuda.current_device())
        else:
            raise ValueError(f"{name} is on device {x.device}; only cpu and cuda tensors are supported")
        ptr = x.data_ptr()
        if ptr % 4:
            raise ValueError(f"{name} is not aligned to 4 bytes")
        return _Buffer(name, ptr, tuple(x.shape), x.numel() * 4, device, True)
    raise TypeError(
        f"{name} must be a numpy.ndarray or torch.Tensor, got {type(x).__module__}.{type(x).__name__}"
    )


def _scalar(name: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    f = float(value)
    # Checked as the float32 the kernels receive: 1e39 is finite in Python but inf in float32.
    f32 = float(np.float32(f)) if math.isfinite(f) and abs(f) <= _F32_MAX else math.inf
    if not math.isfinite(f32):
        raise ValueError(f"{name} must be finite (as float32), got {value!r}")
    if positive and not f32 > 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return f32


def _num_threads(num_threads: int | None) -> int:
    if num_threads is None:
        return 0
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral) or num_threads < 1:
        raise ValueError(f"num_threads must be None (automatic) or an int >= 1, got {num_threads!r}")
    return int(num_threads)


def _check(inputs: dict[str, Any], outputs: dict[str, Any]) -> tuple[list[_Buffer], tuple[str, int]]:
    """Validate all buffers together; returns them (inputs first) and their common device."""
    bufs = [_describe(n, x) for n, x in inputs.items()] + [_describe(n, x) for n, x in outputs.items()]
    first = bufs[0]
    for b in bufs[1:]:
        if b.shape != first.shape:
            raise ValueError(
                f"{b.name} has shape {b.shape} but {first.name} has shape {first.shape}; all must match"
            )
    for b in bufs[1:]:
        if b.device != first.device:
            raise ValueError(f"{b.name} is on {_dev(b.device)} but {first.name} is on {_dev(first.device)}")
    outs = bufs[len(inputs) :]
    for o in outs:
        if not o.writable:
            raise ValueError(f"{o.name} is read-only; pass a writable output buffer")
    # An output sharing memory with another buffer would be overwritten while still being read.
    for o in outs:
        for b in bufs:
            if b is not o and o.nbytes and b.nbytes and o.ptr < b.ptr + b.nbytes and b.ptr < o.ptr + o.nbytes:
                raise ValueError(
                    f"{o.name} overlaps {b.name}; outputs must not share memory with other buffers"
                )
    return bufs, first.device


def _trace_scalars(gamma: Any, gae_lambda: Any, rho_clip: Any, c_clip: Any) -> tuple[float, ...]:
    """The scalars of puff advantage and V-trace, validated in the order the C functions take them."""
    return (
        _scalar("gamma", gamma),
        _scalar("gae_lambda", gae_lambda),
        _scalar("rho_clip", rho_clip, positive=True),
        _scalar("c_clip", c_clip, positive=True),
    )


def _check_puff_buffers(
    values: Any, rewards: Any, dones: Any, importance: Any, advantages: Any
) -> tuple[list[_Buffer], tuple[str, int]]:
    """:func:`_check` for the four inputs and one output of every puff-advantage entry point."""
    return _check(
        {"values": values, "rewards": rewards, "dones": dones, "importance": importance},
        {"advantages": advantages},
    )


def _dev(device: tuple[str, int]) -> str:
    return "cpu" if device[0] == "cpu" else f"cuda:{device[1]}"


def _ptrs(bufs: list[_Buffer]) -> list[Any]:
    return [_loader.ffi.cast("float *", b.ptr) for b in bufs]


def _cpu_call(fn_name: str, *args: Any) -> None:
    rc = getattr(_loader.cpu_lib(), fn_name)(*args)
    if rc != 0:  # validation above should make this unreachable
        raise RuntimeError(f"puffer-kernels: {fn_name} rejected its arguments (code {rc})")


def _require_cuda() -> Any:
    lib, why = _loader.cuda_lib()
    if lib is None:
        raise RuntimeError(f"got CUDA tensors but {why}")
    return lib


def _cuda_call(device: tuple[str, int], fn_name: str, *args: Any, extra: tuple[int, ...] = ()) -> None:
    """Run fn(*args, device, stream, *extra), queued on torch's current stream of `device`."""
    lib = _require_cuda()
    torch = sys.modules["torch"]
    index = device[1]
    with torch.cuda.device(index):
        stream = torch.cuda.current_stream(index).cuda_stream
        rc = getattr(lib, fn_name)(*args, index, _loader.ffi.cast("void *", stream), *extra)
    if rc != 0:
        msg = _loader.ffi.string(lib.puff_cuda_error_string(rc)).decode()
        raise RuntimeError(f"puffer-kernels: {fn_name} failed: {msg} (code {rc})")


def puff_advantage(
    values: ArrayT,
    rewards: ArrayT,
    dones: ArrayT,
    importance: ArrayT,
    advantages: ArrayT,
    *,
    gamma: float,
    gae_lambda: float,
    rho_clip: float,
    c_clip: float,
    num_threads: int | None = None,
) -> ArrayT:
    """Puff advantage (GAE with V-trace importance clipping), written into ``advantages`` in place.

    All buffers are float32 ``[segments, horizon]``, C-contiguous, on one device: numpy arrays or CPU
    torch tensors (C library), or CUDA torch tensors (CUDA library, queued on torch's current stream of
    the tensors' device and not synchronized). Per row, backwards over time, with ``last = 0``::

        nonterminal = 1 - dones[t+1]
        rho = min(importance[t], rho_clip); c = min(importance[t], c_clip)
        delta = rho * (rewards[t+1] + gamma * values[t+1] * nonterminal - values[t])
        last = delta + gamma * gae_lambda * c * last * nonterminal
        advantages[t] = last            # for t = horizon-2 .. 0
        advantages[horizon-1] = 0

    ``rewards[t+1]``/``dones[t+1]`` belong to the transition out of step t. Scalars are keyword-only and
    must be finite as float32; clips must be > 0. ``num_threads`` (CPU only; None = automatic, 1 = the
    calling thread) caps the threads the C library uses. Non-contiguous, wrongly typed, mismatched,
    mixed-device or overlapping buffers raise TypeError/ValueError naming the argument; nothing is copied.
    NaN in the data propagates to the affected outputs. Returns ``advantages``.
    """
    scalars = _trace_scalars(gamma, gae_lambda, rho_clip, c_clip)
    threads = _num_threads(num_threads)
    bufs, device = _check_puff_buffers(values, rewards, dones, importance, advantages)
    rows, horizon = bufs[0].shape
    if device[0] == "cpu":
        _cpu_call("puff_advantage_cpu", *_ptrs(bufs), rows, horizon, *scalars, threads)
    else:
        _cuda_call(device, "puff_advantage_cuda", *_ptrs(bufs), rows, horizon, *scalars, extra=(0,))
    return advantages


def gae(
    values: ArrayT,
    rewards: ArrayT,
    dones: ArrayT,
    advantages: ArrayT,
    *,
    gamma: float,
    gae_lambda: float,
    num_threads: int | None = None,
) -> ArrayT:
    """Generalized advantage estimation, written into ``advantages`` in place.

    Same buffers, devices and rules as :func:`puff_advantage`, without importance weights::

        delta = rewards[t+1] + gamma * values[t+1] * (1 - dones[t+1]) - values[t]
        A[t] = delta + gamma * gae_lambda * (1 - dones[t+1]) * A[t+1];  A[horizon-1] = 0

    Equals ``puff_advantage`` with importance = 1 and clips >= 1. Returns ``advantages``.
    """
    scalars = (_scalar("gamma", gamma), _scalar("gae_lambda", gae_lambda))
    threads = _num_threads(num_threads)
    bufs, device = _check({"values": values, "rewards": rewards, "dones": dones}, {"advantages": advantages})
    rows, horizon = bufs[0].shape
    if device[0] == "cpu":
        _cpu_call("puff_gae_cpu", *_ptrs(bufs), rows, horizon, *scalars, threads)
    else:
        _cuda_call(device, "puff_gae_cuda", *_ptrs(bufs), rows, horizon, *scalars)
    return advantages


def vtrace(
    values: ArrayT,
    rewards: ArrayT,
    dones: ArrayT,
    importance: ArrayT,
    vs: ArrayT,
    pg_advantages: ArrayT,
    *,
    gamma: float,
    rho_clip: float = 1.0,
    c_clip: float = 1.0,
    gae_lambda: float = 1.0,
    num_threads: int | None = None,
) -> tuple[ArrayT, ArrayT]:
    """V-trace targets ``vs`` and policy-gradient advantages, written into the two outputs in place.

    Same buffers, devices and rules as :func:`puff_advantage` (IMPALA, Espeholt et al. 2018, with the
    optional lambda of its appendix folded into the trace coefficient)::

        A = puff_advantage(values, rewards, dones, importance, gamma, gae_lambda, rho_clip, c_clip)
        vs[t] = values[t] + A[t]                       # vs[horizon-1] = values[horizon-1]
        pg_advantages[t] = min(importance[t], rho_clip)
                           * (rewards[t+1] + gamma * vs[t+1] * (1 - dones[t+1]) - values[t])
        pg_advantages[horizon-1] = 0

    Returns ``(vs, pg_advantages)``.
    """
    scalars = _trace_scalars(gamma, gae_lambda, rho_clip, c_clip)
    threads = _num_threads(num_threads)
    bufs, device = _check(
        {"values": values, "rewards": rewards, "dones": dones, "importance": importance},
        {"vs": vs, "pg_advantages": pg_advantages},
    )
    rows, horizon = bufs[0].shape
    if device[0] == "cpu":
        _cpu_call("puff_vtrace_cpu", *_ptrs(bufs), rows, horizon, *scalars, threads)
    else:
        _cuda_call(device, "puff_vtrace_cuda", *_ptrs(bufs), rows, horizon, *scalars)
    return vs, pg_advantages


def cuda_available() -> bool:
    """True when the CUDA library was built, loads, and sees at least one GPU. Never imports torch."""
    lib, _ = _loader.cuda_lib()
    return lib is not None and lib.puff_cuda_device_count() > 0


# ---- Baselines and kernel variants, for benchmarks and tests ----


def puff_advantage_serial_cpu(
    values: ArrayT,
    rewards: ArrayT,
    dones: ArrayT,
    importance: ArrayT,
    advantages: ArrayT,
    *,
    gamma: float,
    gae_lambda: float,
    rho_clip: float,
    c_clip: float,
) -> ArrayT:
    """:func:`puff_advantage` through the plain one-row-at-a-time C loop (the CPU benchmark baseline)."""
    scalars = _trace_scalars(gamma, gae_lambda, rho_clip, c_clip)
    bufs, device = _check_puff_buffers(values, rewards, dones, importance, advantages)
    if device[0] != "cpu":
        raise ValueError(f"puff_advantage_serial_cpu needs CPU buffers, got {_dev(device)}")
    _cpu_call("puff_advantage_serial_cpu", *_ptrs(bufs), *bufs[0].shape, *scalars)
    return advantages


CUDA_VARIANTS = {
    "auto": 0,
    "warp_scan": 1,
    "tiled": 2,
    "naive": 3,
    "warp_scan_k1": 11,
    "warp_scan_k2": 12,
    "warp_scan_k4": 14,
    "warp_scan_k8": 18,
}


def puff_advantage_cuda_variant(
    values: ArrayT,
    rewards: ArrayT,
    dones: ArrayT,
    importance: ArrayT,
    advantages: ArrayT,
    *,
    gamma: float,
    gae_lambda: float,
    rho_clip: float,
    c_clip: float,
    variant: str = "auto",
) -> ArrayT:
    """:func:`puff_advantage` on CUDA tensors through a named kernel (a key of ``CUDA_VARIANTS``).

    ``"naive"`` is one thread per row reading global memory directly (the CUDA benchmark baseline),
    ``"tiled"`` stages 32-row tiles through shared memory, ``"warp_scan"`` (the default behind "auto")
    runs one warp per row with a scan over time; ``"warp_scan_kN"`` fixes N steps per lane.
    """
    if variant not in CUDA_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(CUDA_VARIANTS)}, got {variant!r}")
    scalars = _trace_scalars(gamma, gae_lambda, rho_clip, c_clip)
    bufs, device = _check_puff_buffers(values, rewards, dones, importance, advantages)
    if device[0] != "cuda":
        raise ValueError(f"puff_advantage_cuda_variant needs CUDA tensors, got {_dev(device)}")
    rows, horizon = bufs[0].shape
    _cuda_call(
        device, "puff_advantage_cuda", *_ptrs(bufs), rows, horizon, *scalars, extra=(CUDA_VARIANTS[variant],)
    )
    return advantages


def puff_advantage_naive_cuda(
    values: ArrayT,
    rewards: ArrayT,
    dones: ArrayT,
    importance: ArrayT,
    advantages: ArrayT,
    *,
    gamma: float,
    gae_lambda: float,
    rho_clip: float,
    c_clip: float,
) -> ArrayT:
    """:func:`puff_advantage` through the naive one-thread-per-row CUDA kernel (benchmark baseline)."""
    return puff_advantage_cuda_variant(
        values,
        rewards,
        dones,
        importance,
        advantages,
        gamma=gamma,
        gae_lambda=gae_lambda,
        rho_clip=rho_clip,
        c_clip=c_clip,
        variant="naive",
    )
