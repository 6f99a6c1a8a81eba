"""The CUDA library against the numpy reference (skipped without a GPU, torch.cuda or the CUDA library)."""

from __future__ import annotations

import numpy as np
import pytest
from advantage_reference import assert_close, gae_ref, puff_advantage_ref, random_inputs, vtrace_ref

import puffer_kernels as pk
from puffer_kernels import _loader, api

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to torch"),
    pytest.mark.skipif(_loader.find_library(_loader.CUDA_LIB) is None, reason="CUDA library not built"),
]

SCALARS = dict(gamma=0.97, gae_lambda=0.9, rho_clip=1.3, c_clip=0.8)
VARIANTS = [
    "auto",
    "warp_scan",
    "warp_scan_k1",
    "warp_scan_k2",
    "warp_scan_k4",
    "warp_scan_k8",
    "tiled",
    "naive",
]
# Horizons around every lane width (32*K for K = 1, 2, 4, 8), odd ones (no vector loads), several chunks.
SHAPES = [
    (1, 1),
    (1, 2),
    (3, 2),
    (1, 7),
    (5, 31),
    (9, 32),
    (5, 33),
    (8, 64),
    (13, 65),
    (9, 127),
    (17, 128),
    (9, 129),
    (33, 256),
    (31, 257),
    (5, 1000),
    (40, 1023),
    (300, 96),
    (1000, 31),
    (7, 4096),
]


def cuda(*arrays):
    return [torch.from_numpy(a).cuda() for a in arrays]


def nan_like(x):
    return torch.full_like(x, float("nan"))


def test_cuda_available():
    assert pk.cuda_available()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_puff_advantage_variants(rng, variant, shape):
    v, r, d, imp = random_inputs(rng, *shape, done_p=0.1)
    tv, tr, td, ti = cuda(v, r, d, imp)
    out = nan_like(tv)
    pk.puff_advantage_cuda_variant(tv, tr, td, ti, out, variant=variant, **SCALARS)
    assert_close(out.cpu().numpy(), puff_advantage_ref(v, r, d, imp, **SCALARS), f"{variant} {shape}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_unaligned_buffers(rng, variant):
    # Views at an odd element offset: the vectorized paths must fall back, not misread.
    rows, horizon = 37, 256
    v, r, d, imp = random_inputs(rng, rows, horizon)
    bufs = []
    for a in (v, r, d, imp, np.full_like(v, np.nan)):
        flat = torch.empty(rows * horizon + 3, device="cuda")
        view = flat[1 : 1 + rows * horizon].view(rows, horizon)
        view.copy_(torch.from_numpy(a))
        bufs.append(view)
    pk.puff_advantage_cuda_variant(*bufs, variant=variant, **SCALARS)
    assert_close(bufs[4].cpu().numpy(), puff_advantage_ref(v, r, d, imp, **SCALARS), variant)


@pytest.mark.parametrize("case", ["all_dones", "done_t0", "done_t1", "done_last", "imp_high", "imp_low"])
@pytest.mark.parametrize("horizon", [2, 64, 128, 300])
def test_edge_cases(rng, case, horizon):
    v, r, d, imp = random_inputs(rng, 19, horizon)
    if case == "all_dones":
        d[:] = 1
    elif case.startswith("done_"):
        d[:] = 0
        d[:, {"done_t0": 0, "done_t1": 1, "done_last": -1}[case]] = 1
    elif case == "imp_high":
        imp *= 1000
    else:
        imp /= 1000
    out = nan_like(cuda(v)[0])
    pk.puff_advantage(*cuda(v, r, d, imp), out, **SCALARS)
    assert_close(out.cpu().numpy(), puff_advantage_ref(v, r, d, imp, **SCALARS), case)


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (11, 20), (9, 50), (33, 100), (17, 300), (4, 1025)])
def test_gae(rng, shape):
    v, r, d, _ = random_inputs(rng, *shape, done_p=0.1)
    tv, tr, td = cuda(v, r, d)
    out = nan_like(tv)
    assert pk.gae(tv, tr, td, out, gamma=0.95, gae_lambda=0.8) is out
    assert_close(out.cpu().numpy(), gae_ref(v, r, d, 0.95, 0.8))


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (11, 20), (9, 50), (33, 100), (17, 300), (4, 1025)])
@pytest.mark.parametrize("gae_lambda", [1.0, 0.9])
def test_vtrace(rng, shape, gae_lambda):
    v, r, d, imp = random_inputs(rng, *shape, done_p=0.1)
    tv, tr, td, ti = cuda(v, r, d, imp)
    vs, pg = nan_like(tv), nan_like(tv)
    pk.vtrace(tv, tr, td, ti, vs, pg, gamma=0.97, rho_clip=1.2, c_clip=0.9, gae_lambda=gae_lambda)
    vs_ref, pg_ref = vtrace_ref(v, r, d, imp, 0.97, 1.2, 0.9, gae_lambda)
    assert_close(vs.cpu().numpy(), vs_ref, "vs")
    assert_close(pg.cpu().numpy(), pg_ref, "pg")


def test_matches_cpu_library_on_a_large_buffer(rng):
    v, r, d, imp = random_inputs(rng, 4099, 256)
    cpu = np.full_like(v, np.nan)
    pk.puff_advantage(v, r, d, imp, cpu, **SCALARS)
    for variant in VARIANTS:
        out = nan_like(cuda(v)[0])
        pk.puff_advantage_cuda_variant(*cuda(v, r, d, imp), out, variant=variant, **SCALARS)
        np.testing.assert_allclose(out.cpu().numpy(), cpu, rtol=1e-5, atol=1e-4, err_msg=variant)


def test_runs_on_torchs_current_stream(rng):
    """Inputs written on a side stream just before the call: only a launch on that stream sees them."""
    v, r, d, imp = random_inputs(rng, 2048, 128)
    src = cuda(v, r, d, imp)
    dst = [torch.zeros_like(x) for x in src]
    out = torch.zeros_like(src[0])
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        torch.cuda._sleep(20_000_000)  # keep the side stream busy so a wrong stream would race ahead
        for a, b in zip(dst, src):
            a.copy_(b)
        pk.puff_advantage(*dst, out, **SCALARS)
    side.synchronize()
    assert_close(out.cpu().numpy(), puff_advantage_ref(v, r, d, imp, **SCALARS))


def test_second_device_index_is_honoured():
    if torch.cuda.device_count() < 2:
        pytest.skip("one GPU")
    x = torch.rand(4, 8, device="cuda:1")
    out = torch.full_like(x, float("nan"))
    pk.puff_advantage(x, x.clone(), torch.zeros_like(x), torch.ones_like(x), out, **SCALARS)
    assert not torch.isnan(out).any()


def test_mixed_devices_are_refused():
    x = torch.rand(4, 8)
    with pytest.raises(ValueError, match="rewards is on cuda:0 but values is on cpu"):
        pk.puff_advantage(x, x.cuda(), x, x, torch.empty_like(x), **SCALARS)
    with pytest.raises(ValueError, match="advantages is on cpu but values is on cuda:0"):
        c = x.cuda()
        pk.gae(c, c.clone(), c.clone(), torch.empty_like(x), gamma=0.9, gae_lambda=0.9)


def test_non_contiguous_cuda_refused():
    x = torch.rand(8, 4, device="cuda").t()
    y = torch.rand(4, 8, device="cuda")
    with pytest.raises(ValueError, match="dones must be contiguous"):
        pk.puff_advantage(y, y.clone(), x, y.clone(), torch.empty_like(y), **SCALARS)


def test_cuda_tensor_without_cuda_library(monkeypatch):
    monkeypatch.setattr(_loader, "cuda_lib", lambda: (None, "built without CUDA; " + _loader.HOW_TO_GET_CUDA))
    y = torch.rand(4, 8, device="cuda")
    with pytest.raises(RuntimeError, match="PUFFER_KERNELS_CUDA=ON"):
        pk.puff_advantage(y, y.clone(), y.clone(), y.clone(), torch.empty_like(y), **SCALARS)
    assert api.cuda_available() is False
