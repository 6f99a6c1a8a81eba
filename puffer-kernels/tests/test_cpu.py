"""The C library against the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from advantage_reference import assert_close, gae_ref, puff_advantage_ref, random_inputs, vtrace_ref

import puffer_kernels as pk

SCALARS = dict(gamma=0.99, gae_lambda=0.95, rho_clip=1.0, c_clip=1.0)


def poisoned(shape) -> np.ndarray:
    return np.full(shape, np.nan, dtype=np.float32)


def run_puff(values, rewards, dones, importance, **kw) -> np.ndarray:
    out = poisoned(values.shape)
    ret = pk.puff_advantage(values, rewards, dones, importance, out, **{**SCALARS, **kw})
    assert ret is out
    return out


# Shapes cover: one row, rows not a multiple of the 8-row block, a single 256-step tile, several tiles
# with a short last one, and the horizon-1 / horizon-2 corner cases.
SHAPES = [
    (1, 1),
    (1, 2),
    (3, 2),
    (1, 7),
    (5, 64),
    (8, 128),
    (13, 255),
    (17, 256),
    (9, 257),
    (31, 600),
    (400, 33),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("num_threads", [None, 1, 3])
def test_puff_advantage_matches_reference(rng, shape, num_threads):
    v, r, d, imp = random_inputs(rng, *shape)
    kw = dict(gamma=0.97, gae_lambda=0.9, rho_clip=1.3, c_clip=0.8)
    out = run_puff(v, r, d, imp, num_threads=num_threads, **kw)
    assert_close(out, puff_advantage_ref(v, r, d, imp, **kw), f"shape {shape}")
    assert (out[:, -1] == 0).all()


def test_many_rows_threaded_equals_single_thread(rng):
    v, r, d, imp = random_inputs(rng, 3001, 96)
    one = run_puff(v, r, d, imp, num_threads=1)
    many = run_puff(v, r, d, imp, num_threads=4)
    auto = run_puff(v, r, d, imp)
    # Same arithmetic per row whatever the split: bitwise equal.
    np.testing.assert_array_equal(one, many)
    np.testing.assert_array_equal(one, auto)
    assert_close(one, puff_advantage_ref(v, r, d, imp, **SCALARS))


def test_all_dones_gives_one_step_deltas(rng):
    v, r, _, imp = random_inputs(rng, 6, 40)
    d = np.ones_like(v)
    out = run_puff(v, r, d, imp)
    # Every next step starts a new episode: A_t = rho_t * (r_{t+1} - V_t), nothing bootstrapped.
    expect = np.minimum(imp[:, :-1], 1.0).astype(np.float64) * (r[:, 1:] - v[:, :-1])
    assert_close(out[:, :-1], expect)
    assert_close(out, puff_advantage_ref(v, r, d, imp, **SCALARS))


@pytest.mark.parametrize("where", [0, 1, -1])
def test_done_positions(rng, where):
    v, r, _, imp = random_inputs(rng, 4, 50)
    d = np.zeros_like(v)
    d[:, where] = 1.0
    out = run_puff(v, r, d, imp)
    assert_close(out, puff_advantage_ref(v, r, d, imp, **SCALARS))
    if where == -1:
        # The last transition ends an episode: step horizon-2 does not bootstrap from the last value.
        expect = np.minimum(imp[:, -2], 1.0) * (r[:, -1].astype(np.float64) - v[:, -2])
        assert_close(out[:, -2], expect)


def test_done_at_t0_has_no_effect(rng):
    # dones[0] belongs to a transition before the segment: it must not change anything.
    v, r, d, imp = random_inputs(rng, 4, 30)
    d[:, 0] = 0.0
    a = run_puff(v, r, d, imp)
    d[:, 0] = 1.0
    np.testing.assert_array_equal(run_puff(v, r, d, imp), a)


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_importance_far_from_clips(rng, scale):
    v, r, d, imp = random_inputs(rng, 10, 70)
    imp = (imp * scale).astype(np.float32)
    kw = dict(rho_clip=1.0, c_clip=0.9)
    out = run_puff(v, r, d, imp, **kw)
    assert_close(out, puff_advantage_ref(v, r, d, imp, **{**SCALARS, **kw}))
    if scale > 1:  # every ratio is above both clips: any larger importance gives the same result
        np.testing.assert_array_equal(out, run_puff(v, r, d, np.full_like(imp, 1e30), **kw))
    else:  # every ratio below both clips: clips make no difference
        np.testing.assert_array_equal(out, run_puff(v, r, d, imp, rho_clip=1e30, c_clip=1e30))


def test_unit_importance_equals_gae(rng):
    v, r, d, _ = random_inputs(rng, 12, 90)
    out = run_puff(v, r, d, np.ones_like(v), rho_clip=5.0, c_clip=5.0)
    g = pk.gae(v, r, d, poisoned(v.shape), gamma=0.99, gae_lambda=0.95)
    assert_close(out, gae_ref(v, r, d, 0.99, 0.95))
    assert_close(g, out)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (7, 3), (9, 256), (20, 300)])
def test_gae_matches_reference(rng, shape):
    v, r, d, _ = random_inputs(rng, *shape, done_p=0.1)
    out = poisoned(shape)
    assert pk.gae(v, r, d, out, gamma=0.95, gae_lambda=0.8) is out
    assert_close(out, gae_ref(v, r, d, 0.95, 0.8))


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (7, 3), (9, 256), (20, 300)])
@pytest.mark.parametrize("gae_lambda", [1.0, 0.9])
def test_vtrace_matches_reference(rng, shape, gae_lambda):
    v, r, d, imp = random_inputs(rng, *shape, done_p=0.1)
    vs, pg = poisoned(shape), poisoned(shape)
    ret = pk.vtrace(v, r, d, imp, vs, pg, gamma=0.97, rho_clip=1.2, c_clip=0.9, gae_lambda=gae_lambda)
    assert ret[0] is vs and ret[1] is pg
    vs_ref, pg_ref = vtrace_ref(v, r, d, imp, 0.97, 1.2, 0.9, gae_lambda)
    assert_close(vs, vs_ref, "vs")
    assert_close(pg, pg_ref, "pg_advantages")
    np.testing.assert_array_equal(vs[:, -1], v[:, -1])


def test_empty_buffers_are_a_no_op():
    for shape in [(0, 5), (4, 0), (0, 0)]:
        z = np.zeros(shape, np.float32)
        pk.puff_advantage(z, z.copy(), z.copy(), z.copy(), np.zeros(shape, np.float32), **SCALARS)
        pk.gae(z, z.copy(), z.copy(), np.zeros(shape, np.float32), gamma=0.9, gae_lambda=0.9)
        pk.vtrace(
            z,
            z.copy(),
            z.copy(),
            z.copy(),
            np.zeros(shape, np.float32),
            np.zeros(shape, np.float32),
            gamma=0.9,
        )


def test_read_only_inputs_are_fine(rng):
    v, r, d, imp = random_inputs(rng, 3, 20)
    for a in (v, r, d, imp):
        a.flags.writeable = False
    assert_close(run_puff(v, r, d, imp), puff_advantage_ref(v, r, d, imp, **SCALARS))


def test_serial_baseline_matches(rng):
    v, r, d, imp = random_inputs(rng, 11, 77)
    out = poisoned(v.shape)
    pk.puff_advantage_serial_cpu(v, r, d, imp, out, **SCALARS)
    assert_close(out, puff_advantage_ref(v, r, d, imp, **SCALARS))


def test_nan_propagates_not_hidden(rng):
    v, r, d, imp = random_inputs(rng, 2, 10)
    imp[0, 4] = np.nan
    out = run_puff(v, r, d, imp)
    assert np.isnan(out[0, :5]).all() and not np.isnan(out[0, 5:]).any()
    assert not np.isnan(out[1]).any()


def test_torch_cpu_tensors(rng):
    torch = pytest.importorskip("torch")
    v, r, d, imp = random_inputs(rng, 9, 65)
    tv, tr, td, ti = (torch.from_numpy(a) for a in (v, r, d, imp))
    out = torch.full(v.shape, float("nan"))
    assert pk.puff_advantage(tv, tr, td, ti, out, **SCALARS) is out
    assert_close(out.numpy(), puff_advantage_ref(v, r, d, imp, **SCALARS))
    # a contiguous view with a storage offset: data_ptr() includes the offset
    big = torch.full((10, 65), float("nan"))
    pk.puff_advantage(tv, tr, td, ti, big[1:], **SCALARS)
    assert_close(big[1:].numpy(), puff_advantage_ref(v, r, d, imp, **SCALARS))
    assert torch.isnan(big[0]).all()
    # numpy and CPU torch buffers may be mixed: both are host memory
    mixed = np.full(v.shape, np.nan, np.float32)
    pk.puff_advantage(tv, r, td, imp, mixed, **SCALARS)
    np.testing.assert_array_equal(mixed, out.numpy())
