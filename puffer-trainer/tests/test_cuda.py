"""The Trainer on a GPU (skipped where torch has no CUDA): pinned uploads, CUDA advantage, AdamW, graphs."""

from __future__ import annotations

import contextlib

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


# -- train.cuda_graphs: the captured rollout step -----------------------------------------------------------
def lstm_config(**train):
    config = cuda_config(**train)
    config.policy.lstm = True
    config.policy.lstm_hidden_size = 32
    return config


def test_graphed_step_matches_the_eager_policy_and_sees_weight_updates():
    from gymnasium import spaces

    from puffer_trainer.cuda_graphs import GraphedPolicyStep
    from puffer_trainer.policies import MLPEncoder, Policy

    torch.manual_seed(0)
    policy = Policy(MLPEncoder((6,), 16, 1, "gelu"), 16, spaces.Discrete(5), (6,), lstm_hidden_size=8).cuda()

    def greedy(params):  # deterministic stand-in for sampling, so eager and graph can be compared
        logp = torch.log_softmax(params.float(), -1)
        action = logp.argmax(-1)
        return action.int(), logp.gather(-1, action.unsqueeze(-1)).squeeze(-1)

    state = policy.initial_state(32, "cuda")
    eager_state = tuple(s.clone() for s in state)
    obs = torch.randn(32, 6, device="cuda")
    step = GraphedPolicyStep(policy, greedy, obs, state, contextlib.nullcontext)
    assert all(torch.equal(s, torch.zeros_like(s)) for s in state)  # capture and warm-up left it as it was
    for i in range(6):
        if i == 3:  # an optimizer step writes the weights in place: the next replay must use them
            with torch.no_grad():
                for p in policy.parameters():
                    p.add_(0.05 * torch.randn_like(p))
        obs = torch.randn(32, 6, device="cuda")
        actions, logprobs, values = step(obs)
        with torch.no_grad():
            params, eager_values, new_state = policy(obs, eager_state)
            eager_actions, eager_logprobs = greedy(params)
        eager_state = new_state
        torch.testing.assert_close(values, eager_values, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(logprobs, eager_logprobs, atol=1e-5, rtol=1e-4)
        assert torch.equal(actions, eager_actions)
        for s, e in zip(state, eager_state):  # the graph updated the caller's state tensors in place
            torch.testing.assert_close(s, e, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="captured for observations"):
        step(torch.randn(16, 6, device="cuda"))


@pytest.mark.parametrize(("bf16", "optimizer"), [(False, "adam"), (True, "adam"), (False, "muon")])
def test_cuda_graph_rollouts_are_seeded_and_train(bf16, optimizer):
    buffers = []
    for _ in range(2):
        trainer = Trainer(lstm_config(cuda_graphs=True, bf16=bf16, seed=3, optimizer=optimizer))
        try:
            trainer.evaluate()
            assert len(trainer._graphs) == 1  # one batch layout: the serial backend steps every agent
            trainer.train()
            losses = run_epochs(trainer, 2)
            # muon's step is a graph too (captured at the second optimizer step); adam keeps its fused kernel
            assert (trainer._optimizer_step is not None) == (optimizer == "muon")
            if trainer._optimizer_step is not None:
                assert trainer._optimizer_step.graph is not None
            trainer.evaluate()  # a rollout of the trained weights: the same run twice must agree here too
            buffers.append({k: getattr(trainer.buffer, k).clone() for k in ("actions", "logprobs", "values")})
            finite = [torch.isfinite(torch.tensor(v)) for k, v in losses.items() if k != "explained_variance"]
            assert all(finite) and all(torch.isfinite(p).all() for p in trainer.policy.parameters())
        finally:
            trainer.close()
    for key in buffers[0]:  # replays draw their actions from the seeded generator: the same run twice
        assert torch.equal(buffers[0][key], buffers[1][key]), key
    assert buffers[0]["actions"].float().std() > 0  # and they are draws, not one repeated action


@pytest.mark.parametrize("layout", ["all", "halves"])
def test_graphed_buffer_writes_equal_eager_writes(layout):
    import numpy as np

    from puffer_trainer.buffer import ExperienceBuffer

    # 1.5 rows per agent: some steps find a row for every agent (the captured write), others leave agents
    # waiting in the stash (the eager write); rows of an agent overlap.
    n, segments, horizon = 12, 18, 4
    layout_args = (segments, horizon, n, (3,), torch.float32, (), torch.int32, "cuda")
    buffers = [ExperienceBuffer(*layout_args, cuda_graphs=graphs) for graphs in (False, True)]
    # The same tensors every step (as the trainer's staging buffers and captured policy step hand over),
    # refilled in place with fresh data.
    inputs = [torch.zeros(n, 3, device="cuda"), torch.zeros(n, dtype=torch.int32, device="cuda")]
    inputs += [torch.zeros(n, device="cuda") for _ in range(6)]
    gen = torch.Generator(device="cuda").manual_seed(0)
    groups = [np.arange(n)] if layout == "all" else [np.arange(n // 2), np.arange(n // 2, n)]
    fields = ("observations", "actions", "logprobs", "values", "rewards", "dones", "weights", "last_value")
    graphed_steps, eager_steps = [], []
    for step in range(60):
        ids = groups[step % len(groups)]
        k = len(ids)
        views = [t[:k] for t in inputs]
        views[0].copy_(torch.randn(k, 3, device="cuda", generator=gen))
        views[1].copy_(torch.randint(0, 4, (k,), device="cuda", generator=gen))
        for v in views[2:5]:
            v.copy_(torch.randn(k, device="cuda", generator=gen))
        for v in views[5:]:  # terminal, truncation and mask flags, as float 0/1 like the staged ones
            v.copy_((torch.rand(k, device="cuda", generator=gen) < 0.3).float())
        for buffer in buffers:
            if buffer.full:
                buffer.reset()
            stored = buffer.store(ids, *views, gamma=0.9)
        (graphed_steps if stored == k else eager_steps).append(step)
        for name in fields:
            assert torch.equal(getattr(buffers[0], name), getattr(buffers[1], name)), (step, name)
        for name in buffers[0]._stash:
            assert torch.equal(buffers[0]._stash[name], buffers[1]._stash[name]), (step, name)
    assert buffers[1]._write_graphs and not buffers[0]._write_graphs
    assert graphed_steps and eager_steps  # both kinds of write were compared
