"""Plain numpy reference implementations (float64), written straight from the formulas in README.md.

Loops run over time exactly as the issue states them; rows are vectorized only to keep the tests fast.
"""

from __future__ import annotations

import numpy as np


def _f64(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def puff_advantage_ref(values, rewards, dones, importance, gamma, gae_lambda, rho_clip, c_clip) -> np.ndarray:
    v, r, d, imp = _f64(values, rewards, dones, importance)
    rows, horizon = v.shape
    adv = np.zeros((rows, horizon))
    last = np.zeros(rows)
    for t in range(horizon - 2, -1, -1):
        nonterminal = 1.0 - d[:, t + 1]
        rho = np.minimum(imp[:, t], rho_clip)
        c = np.minimum(imp[:, t], c_clip)
        delta = rho * (r[:, t + 1] + gamma * v[:, t + 1] * nonterminal - v[:, t])
        last = delta + gamma * gae_lambda * c * last * nonterminal
        adv[:, t] = last
    return adv


def gae_ref(values, rewards, dones, gamma, gae_lambda) -> np.ndarray:
    v, r, d = _f64(values, rewards, dones)
    rows, horizon = v.shape
    adv = np.zeros((rows, horizon))
    last = np.zeros(rows)
    for t in range(horizon - 2, -1, -1):
        nonterminal = 1.0 - d[:, t + 1]
        delta = r[:, t + 1] + gamma * v[:, t + 1] * nonterminal - v[:, t]
        last = delta + gamma * gae_lambda * nonterminal * last
        adv[:, t] = last
    return adv


def vtrace_ref(values, rewards, dones, importance, gamma, rho_clip, c_clip, gae_lambda):
    """IMPALA's recursion, written independently of puff_advantage_ref: vs_t - V_t from vs_{t+1}."""
    v, r, d, imp = _f64(values, rewards, dones, importance)
    rows, horizon = v.shape
    vs = v.copy()
    pg = np.zeros((rows, horizon))
    for t in range(horizon - 2, -1, -1):
        nonterminal = 1.0 - d[:, t + 1]
        rho = np.minimum(imp[:, t], rho_clip)
        c = gae_lambda * np.minimum(imp[:, t], c_clip)
        delta = rho * (r[:, t + 1] + gamma * v[:, t + 1] * nonterminal - v[:, t])
        vs[:, t] = v[:, t] + delta + gamma * c * nonterminal * (vs[:, t + 1] - v[:, t + 1])
    for t in range(horizon - 1):
        rho = np.minimum(imp[:, t], rho_clip)
        pg[:, t] = rho * (r[:, t + 1] + gamma * vs[:, t + 1] * (1.0 - d[:, t + 1]) - v[:, t])
    return vs, pg


def assert_close(out, ref, what: str = "") -> None:
    """Match to 1e-5 relative: elementwise rtol 1e-5, with an absolute floor of 1e-5 of the output's scale
    (float32 rounding of a sum of O(1) terms cannot reach below that), and no NaN anywhere."""
    out = np.asarray(out, dtype=np.float64)
    assert not np.isnan(out).any(), f"{what}: NaN in output (unwritten or wrong element)"
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * scale, err_msg=what)


def random_inputs(rng: np.random.Generator, rows: int, horizon: int, done_p: float = 0.05):
    values = rng.standard_normal((rows, horizon)).astype(np.float32)
    rewards = rng.standard_normal((rows, horizon)).astype(np.float32)
    dones = (rng.random((rows, horizon)) < done_p).astype(np.float32)
    importance = rng.uniform(0.2, 2.5, (rows, horizon)).astype(np.float32)
    return values, rewards, dones, importance
