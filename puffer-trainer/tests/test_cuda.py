"""The Trainer on a GPU (skipped where torch has no CUDA): pinned uploads, CUDA advantage, fused AdamW."""

from __future__ import annotations

import pytest
import torch

from puffer_trainer import Trainer, load_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def cuda_config(**train):
    config = load_config("ocean/squared")
    config.env.update({"num_envs": 64})
    config.train.device = "cuda"
    config.train.horizon = 8
    config.train.minibatch_size = 128
    config.train.total_timesteps = 50_000
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


def run_epochs(trainer, n):
    losses = None
    for _ in range(n):
        trainer.evaluate()
        losses = trainer.train()
    return losses


def test_cuda_training_uses_fused_adam_and_stays_finite():
    trainer = Trainer(cuda_config(prio_alpha=0.8))
    try:
        assert trainer.optimizer.param_groups[0]["fused"] is True
        losses = run_epochs(trainer, 3)
        assert all(torch.isfinite(torch.tensor(v)) for k, v in losses.items() if k != "explained_variance")
        assert all(p.is_cuda and torch.isfinite(p).all() for p in trainer.policy.parameters())
        assert trainer.global_step > 0
    finally:
        trainer.close()


def test_cuda_checkpoint_restores_weights_and_fused_optimizer_state():
    first = Trainer(cuda_config())
    try:
        run_epochs(first, 2)
        state = first.state_dict()
    finally:
        first.close()
    second = Trainer(cuda_config(seed=7))
    try:
        second.load_state_dict(state)
        assert second.global_step == state["global_step"] > 0
        for name, tensor in second.policy.state_dict().items():
            assert torch.equal(tensor, state["policy"][name]), name
        saved = state["optimizer"]["state"]
        loaded = second.optimizer.state_dict()["state"]
        assert saved.keys() == loaded.keys()
        for key in saved:
            for field in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(saved[key][field].cpu(), loaded[key][field].cpu()), (key, field)
            assert loaded[key]["exp_avg"].is_cuda  # fused AdamW needs its state beside the weights
        run_epochs(second, 1)  # the restored fused optimizer steps
        assert all(torch.isfinite(p).all() for p in second.policy.parameters())
    finally:
        second.close()
