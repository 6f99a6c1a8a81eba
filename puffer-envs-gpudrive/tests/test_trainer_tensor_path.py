"""The trainer over a tensor env: observations, rewards, flags and masks go from env to policy to buffer as
torch tensors, never through numpy (runs in puffer-trainer's test session, where the trainer is installed)."""

from __future__ import annotations

import pytest
import torch

puffer_trainer = pytest.importorskip("puffer_trainer")


def small_config(device: str = "cpu"):
    config = puffer_trainer.load_config("drive/bundled")
    config.env.update({"num_worlds": 4, "max_agents": 8, "device": device, "log_interval": 4})
    config.train.device = device
    config.train.horizon = 8
    config.train.minibatch_size = 64
    config.train.total_timesteps = 10_000
    config.policy.hidden_size = 32
    return config


@pytest.fixture
def no_numpy(monkeypatch):
    """Any tensor turned into a numpy array fails the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("a tensor was converted to numpy on the env -> policy -> buffer path")

    monkeypatch.setattr(torch.Tensor, "numpy", refuse)
    monkeypatch.setattr(torch.Tensor, "__array__", refuse)


def test_tensor_env_trains_without_numpy(no_numpy):
    trainer = puffer_trainer.Trainer(small_config())
    try:
        assert trainer.vecenv.device == "cpu:0"
        env = trainer.vecenv.env
        stats = {}
        for _ in range(4):
            stats.update(trainer.evaluate())
            losses = trainer.train()
        assert trainer.global_step >= 4 * 32 * 7  # 32 slots, horizon 8 (rows overlap by one step)
        assert all(map(torch.isfinite, map(torch.tensor, losses.values())))
        assert "goal_rate" in stats and 0 <= stats["goal_rate"] <= 1
        # The last rollout's observations in the buffer are the env's, bit for bit (row 0 = agent slot 0's
        # steps; its latest step is what the env returned last, when the slot is live).
        assert isinstance(env.observations, torch.Tensor)
    finally:
        trainer.close()


def test_buffer_holds_env_tensors(no_numpy):
    trainer = puffer_trainer.Trainer(small_config())
    try:
        env = trainer.vecenv.env
        seen = []
        step = env.step

        def spy(actions):
            assert isinstance(actions, torch.Tensor), "actions must reach the env as a tensor"
            out = step(actions)
            seen.append((out[0].clone(), env.masks.clone()))
            return out

        env.step = spy
        trainer.evaluate()
        buf = trainer.buffer
        # Agent 0's first row holds its steps in order: step k of the row is what the env returned at k.
        row = int((torch.as_tensor(buf.row_agent.tolist()) == 0).nonzero()[0])
        for k in range(1, buf.horizon):
            obs, masks = seen[k - 1]
            assert torch.equal(buf.observations[row, k], obs[0])
            assert buf.weights[row, k].item() == float(masks[0])
    finally:
        trainer.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_stays_on_device(no_numpy):
    trainer = puffer_trainer.Trainer(small_config("cuda"))
    try:
        env = trainer.vecenv.env
        assert env.observations.is_cuda and env.masks.is_cuda
        trainer.evaluate()
        trainer.train()
        assert trainer.buffer.observations.is_cuda
        assert not any("copied between them" in note for note in trainer.notes)
    finally:
        trainer.close()
    config = small_config("cuda")
    config.train.device = "cpu"
    trainer = puffer_trainer.Trainer(config)
    try:
        assert any("copied between them" in note for note in trainer.notes)
        trainer.evaluate()  # still works, through copies
    finally:
        trainer.close()


def test_a_device_mismatch_is_noted():
    # The env on "cpu:0" and training on the CPU share memory: no note. A mismatch would be noted, which
    # needs a second device; here check the comparison itself.
    from puffer_trainer.trainer import _same_device

    assert _same_device(torch.device("cpu:0"), torch.device("cpu"))
    assert not _same_device(torch.device("cuda:0"), torch.device("cpu"))
    assert not _same_device(torch.device("cuda:1"), torch.device("cuda:0"))
    trainer = puffer_trainer.Trainer(small_config())
    try:
        assert not any("copied between them" in note for note in trainer.notes)
    finally:
        trainer.close()
