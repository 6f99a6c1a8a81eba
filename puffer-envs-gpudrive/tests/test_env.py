"""DriveEnv through puffer-core: registry ids, the serial passthrough, determinism, rendering, CUDA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import puffer_core
from puffer_envs_gpudrive.env import DriveEnv
from puffer_envs_gpudrive.render import save_gif

SMALL = dict(num_worlds=4, max_agents=8, device="cpu")


def rollout(env, steps, seed=0):
    gen = torch.Generator(device=env.torch_device).manual_seed(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs.clone()]
    for _ in range(steps):
        act = torch.randint(0, env.single_action_space.n, (env.num_agents,), generator=gen, device=gen.device)
        obs, rew, term, trunc, _ = env.step(act)
        out.append(torch.cat([obs.flatten(), rew, term.float(), trunc.float(), env.masks.float()]))
    return out


def test_registered_ids_and_vector_passthrough():
    ids = {s.id for s in puffer_core.list_envs()}
    assert {"drive/synthetic", "drive/bundled", "gpudrive/womd"} <= ids
    vec = puffer_core.vector.make("drive/bundled", num_envs=1, env_kwargs=SMALL)
    try:
        assert vec.device == "cpu:0" and vec.num_agents == 32
        obs, _ = vec.reset(seed=1)
        assert isinstance(obs, torch.Tensor) and obs.shape == (32, vec.single_observation_space.shape[0])
        obs, rew, term, trunc, infos = vec.step(torch.zeros(32, dtype=torch.long))
        assert all(isinstance(x, torch.Tensor) for x in (obs, rew, term, trunc))
        vec.async_reset(2)
        *_, masks = vec.recv()
        assert masks is vec.env.masks and masks.dtype == torch.bool and masks.any()
    finally:
        vec.close()
    with pytest.raises(ValueError, match="serial"):
        puffer_core.vector.make("drive/bundled", num_envs=1, backend="multiprocessing", env_kwargs=SMALL)


def test_same_seed_same_trajectory_and_seeds_matter():
    kwargs = dict(SMALL, scenarios="synthetic", num_scenarios=12, episode_length=20)
    a = rollout(DriveEnv(**kwargs), 45)
    b = rollout(DriveEnv(**kwargs), 45)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    c = rollout(DriveEnv(**kwargs), 45, seed=1)
    assert any(not torch.equal(x, y) for x, y in zip(a, c))  # resampled scenarios differ after resets


def test_infos_report_episode_statistics():
    env = DriveEnv(**SMALL, scenarios="bundled", episode_length=10, log_interval=10)
    env.reset(seed=0)
    infos = []
    for _ in range(10):
        infos += env.step(torch.full((env.num_agents,), 45))[4]
    assert len(infos) == 1
    info = infos[0]
    assert info["n"] >= 1 and set(info) >= {"episode_return", "episode_length", "goal_rate", "score"}
    rates = info["goal_rate"] + info["collision_rate"] + info["offroad_rate"] + info["truncation_rate"]
    assert rates >= 1 - 1e-6  # every finished episode ended one way or another (some both crash ways)


def test_render_frame_and_gif(tmp_path):
    env = DriveEnv(**SMALL, scenarios="bundled")
    env.reset(seed=0)
    frame = env.render(world=0, size=128)
    assert frame.shape == (128, 128, 3) and frame.dtype == np.uint8
    blue = (frame[..., 2] > 200) & (frame[..., 0] < 80)
    assert blue.sum() > 10  # controlled vehicles and goals are drawn
    frames = [frame]
    for _ in range(3):
        env.step(torch.full((env.num_agents,), 45))
        frames.append(env.render(0, 128))
    path = save_gif(frames, tmp_path / "drive.gif")
    assert path.read_bytes()[:6] == b"GIF89a"
    with pytest.raises(ValueError, match="world must lie"):
        env.render(world=99)


def test_device_argument_errors():
    with pytest.raises(ValueError, match="device must be"):
        DriveEnv(device="tpu-ish")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            DriveEnv(device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_cuda_agree():
    kwargs = dict(num_worlds=8, max_agents=16, num_scenarios=12, resample_scenarios=False)
    cpu = DriveEnv(device="cpu", **kwargs)
    gpu = DriveEnv(device="cuda", **kwargs)
    assert gpu.device.startswith("cuda") and gpu.observations.is_cuda
    cpu.reset(seed=0)
    gpu.reset(seed=0)
    gen = torch.Generator().manual_seed(0)
    for step in range(40):
        act = torch.randint(0, 91, (cpu.num_agents,), generator=gen)
        oc, rc, tc, uc, _ = cpu.step(act)
        og, rg, tg, ug, _ = gpu.step(act.cuda())
        assert torch.equal(cpu.masks, gpu.masks.cpu()), step
        assert torch.equal(tc, tg.cpu()) and torch.equal(uc, ug.cpu()), step
        torch.testing.assert_close(rc, rg.cpu(), atol=1e-5, rtol=0)
        torch.testing.assert_close(oc, og.cpu(), atol=1e-3, rtol=1e-3)


def test_listing_the_envs_imports_neither_torch_nor_the_simulator():
    import subprocess
    import sys

    code = (
        "import sys, puffer_core\n"
        "ids = {s.id for s in puffer_core.list_envs()}\n"
        "assert 'drive/synthetic' in ids, ids\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'puffer_envs_gpudrive.sim' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
