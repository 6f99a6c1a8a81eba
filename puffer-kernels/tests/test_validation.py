"""Every validation rule: bad input raises a clear TypeError/ValueError before any pointer reaches C."""

from __future__ import annotations

import numpy as np
import pytest

import puffer_kernels as pk
from puffer_kernels import _loader, api

NAMES = ["values", "rewards", "dones", "importance", "advantages"]
SCALARS = dict(gamma=0.99, gae_lambda=0.95, rho_clip=1.0, c_clip=1.0)


def buffers(shape=(4, 16)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {n: rng.random(shape, dtype=np.float32) for n in NAMES}


def call(bufs: dict, **kw):
    return pk.puff_advantage(*(bufs[n] for n in NAMES), **{**SCALARS, **kw})


def untouched_after(bufs: dict, exc, match: str, **kw) -> None:
    before = bufs["advantages"].copy() if isinstance(bufs["advantages"], np.ndarray) else None
    with pytest.raises(exc, match=match):
        call(bufs, **kw)
    if before is not None and bufs["advantages"].shape == before.shape:
        np.testing.assert_array_equal(bufs["advantages"], before)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.dtype(">f4")])
def test_wrong_dtype(name, dtype):
    b = buffers()
    b[name] = b[name].astype(dtype)
    untouched_after(b, TypeError, f"{name} must have dtype float32")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(64,), (2, 4, 8)])
def test_not_2d(name, shape):
    b = buffers()
    b[name] = np.zeros(shape, np.float32)
    untouched_after(b, ValueError, f"{name} must be 2-D")


@pytest.mark.parametrize("name", NAMES[1:])
def test_shape_mismatch(name):
    b = buffers()
    b[name] = np.zeros((4, 15), np.float32)
    untouched_after(b, ValueError, f"{name} has shape \\(4, 15\\) but values has shape \\(4, 16\\)")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["transposed", "strided", "fortran"])
def test_non_contiguous_is_refused(name, kind):
    b = buffers()
    if kind == "transposed":
        b[name] = np.zeros((16, 4), np.float32).T
    elif kind == "strided":
        b[name] = np.zeros((4, 32), np.float32)[:, ::2]
    else:
        b[name] = np.asfortranarray(np.zeros((4, 16), np.float32))
    untouched_after(b, ValueError, f"{name} must be C-contiguous")


@pytest.mark.parametrize("name", NAMES)
def test_misaligned(name):
    b = buffers()
    raw = np.zeros(4 * 16 * 4 + 1, np.uint8)
    b[name] = np.frombuffer(raw.data, dtype=np.float32, count=64, offset=1).reshape(4, 16)
    if name == "advantages":  # frombuffer of a writable buffer is writable; alignment is checked first
        assert b[name].flags.writeable
    untouched_after(b, ValueError, f"{name} is not aligned")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("obj", [[[0.0] * 16] * 4, 3.0, "x"])
def test_not_an_array(name, obj):
    b = buffers()
    b[name] = obj
    untouched_after(b, TypeError, f"{name} must be a numpy.ndarray or torch.Tensor")


def test_read_only_output():
    b = buffers()
    b["advantages"].flags.writeable = False
    untouched_after(b, ValueError, "advantages is read-only")


@pytest.mark.parametrize("name", NAMES[:4])
def test_output_overlapping_an_input(name):
    b = buffers()
    b["advantages"] = b[name]
    untouched_after(b, ValueError, f"advantages overlaps {name}")
    big = np.zeros((5, 16), np.float32)
    b[name], b["advantages"] = big[:4], big[1:]  # partial overlap
    with pytest.raises(ValueError, match=f"advantages overlaps {name}"):
        call(b)


def test_vtrace_outputs_must_not_overlap_each_other():
    b = buffers()
    with pytest.raises(ValueError, match="pg_advantages overlaps vs|vs overlaps pg_advantages"):
        pk.vtrace(
            b["values"],
            b["rewards"],
            b["dones"],
            b["importance"],
            b["advantages"],
            b["advantages"],
            gamma=0.9,
        )


@pytest.mark.parametrize("scalar", ["gamma", "gae_lambda", "rho_clip", "c_clip"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e39])
def test_non_finite_scalars(scalar, value):
    untouched_after(buffers(), ValueError, f"{scalar} must be finite", **{scalar: value})


@pytest.mark.parametrize("scalar", ["rho_clip", "c_clip"])
@pytest.mark.parametrize("value", [0.0, -1.0, 1e-46])  # 1e-46 rounds to 0 in float32
def test_clips_must_be_positive(scalar, value):
    untouched_after(buffers(), ValueError, f"{scalar} must be > 0", **{scalar: value})


@pytest.mark.parametrize("scalar", ["gamma", "gae_lambda", "rho_clip", "c_clip"])
@pytest.mark.parametrize("value", [True, "0.9", None, np.array([0.9])])
def test_scalar_types(scalar, value):
    untouched_after(buffers(), TypeError, f"{scalar} must be a real number", **{scalar: value})


def test_numpy_scalars_and_ints_are_accepted():
    b = buffers()
    call(b, gamma=np.float32(0.99), gae_lambda=np.float64(0.95), rho_clip=1, c_clip=np.int64(2))


def test_scalars_are_keyword_only():
    b = buffers()
    with pytest.raises(TypeError):
        pk.puff_advantage(*(b[n] for n in NAMES), 0.99, 0.95, 1.0, 1.0)  # type: ignore[misc]


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_num_threads(value):
    untouched_after(buffers(), ValueError, "num_threads must be None", num_threads=value)


def test_gae_and_vtrace_share_the_rules():
    b = buffers()
    b["dones"] = b["dones"].astype(np.float64)
    with pytest.raises(TypeError, match="dones must have dtype float32"):
        pk.gae(b["values"], b["rewards"], b["dones"], b["advantages"], gamma=0.9, gae_lambda=0.9)
    b = buffers()
    with pytest.raises(ValueError, match="c_clip must be > 0"):
        pk.vtrace(*(b[n] for n in NAMES), np.zeros((4, 16), np.float32), gamma=0.9, c_clip=0.0)
    with pytest.raises(ValueError, match="gae_lambda must be finite"):
        pk.gae(b["values"], b["rewards"], b["dones"], b["advantages"], gamma=0.9, gae_lambda=float("nan"))


def test_torch_rules():
    torch = pytest.importorskip("torch")
    b = {n: torch.rand(4, 16) for n in NAMES}
    b["values"] = b["values"].double()
    with pytest.raises(TypeError, match="values must have dtype torch.float32"):
        call(b)
    b = {n: torch.rand(4, 16) for n in NAMES}
    b["rewards"] = torch.rand(16, 4).t()
    with pytest.raises(ValueError, match="rewards must be contiguous"):
        call(b)
    b = {n: torch.rand(4, 16) for n in NAMES}
    b["dones"] = torch.rand(4, 16, device="meta")
    with pytest.raises(ValueError, match="dones is on device meta"):
        call(b)
    b = {n: torch.rand(4, 16) for n in NAMES}
    b["importance"] = torch.rand(4, 16).to_sparse()
    with pytest.raises(TypeError, match="importance must be a dense"):
        call(b)
    b = {n: torch.rand(4, 16) for n in NAMES}
    b["advantages"] = b["values"][:, :]  # a view of the same memory
    with pytest.raises(ValueError, match="advantages overlaps values"):
        call(b)


def test_c_library_checks_its_own_arguments():
    """Bounds checks in C too, for callers that bypass the Python layer."""
    lib = _loader.cpu_lib()
    ffi = _loader.ffi
    a = np.zeros((2, 4), np.float32)
    p = ffi.cast("float *", a.ctypes.data)
    null = ffi.NULL
    assert lib.puff_advantage_cpu(p, p, p, p, p, -1, 4, 0.9, 0.9, 1.0, 1.0, 1) == 2
    assert lib.puff_advantage_cpu(p, p, p, p, p, 2, -4, 0.9, 0.9, 1.0, 1.0, 1) == 2
    assert lib.puff_advantage_cpu(p, p, null, p, p, 2, 4, 0.9, 0.9, 1.0, 1.0, 1) == 1
    assert lib.puff_advantage_cpu(p, p, p, p, p, 2, 4, float("nan"), 0.9, 1.0, 1.0, 1) == 3
    assert lib.puff_advantage_cpu(p, p, p, p, p, 2, 4, 0.9, 0.9, 0.0, 1.0, 1) == 3
    assert lib.puff_gae_cpu(p, p, p, null, 2, 4, 0.9, 0.9, 1) == 1
    assert lib.puff_vtrace_cpu(p, p, p, p, p, null, 2, 4, 0.9, 0.9, 1.0, 1.0, 1) == 1
    assert lib.puff_advantage_serial_cpu(p, p, p, p, p, 2, 4, 0.9, float("inf"), 1.0, 1.0) == 3
    assert lib.puff_advantage_cpu(null, null, null, null, null, 0, 4, 0.9, 0.9, 1.0, 1.0, 1) == 0


def test_missing_cuda_library_message(monkeypatch):
    """A CUDA call without the CUDA library says how to get it."""
    monkeypatch.setattr(_loader, "find_library", lambda stem: None)
    _loader.cuda_lib.cache_clear()
    try:
        assert pk.cuda_available() is False
        with pytest.raises(RuntimeError, match="PUFFER_KERNELS_CUDA=ON"):
            api._require_cuda()
    finally:
        _loader.cuda_lib.cache_clear()
