"""MuonWithSGD: same parameters as torch.optim.Muon + SGD on real policies; state round trips; batching."""

from __future__ import annotations

import copy
import io
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from puffer_trainer.config import Config
from puffer_trainer.optim import CombinedOptimizer, MuonWithSGD, build_scheduler, split_muon_parameters
from puffer_trainer.policies import make_policy

LR, MOMENTUM = 0.05, 0.9

# Both implementations run the same ops in the same dtypes (and, for tall matrices, on the same operand
# layouts), so on the CPU build the tests were written on they agree bitwise. A different BLAS (or the
# zero-padded merged stack) may order a bf16 product's sums differently, which flips the last bit of some
# elements of an orthogonalized update: a relative error of at most 2^-8 (bf16's precision) in how far a
# tensor moved. Both optimizers get the same gradients (computed on the reference copy): with gradients of
# their own, a last-bit difference in the parameters changes the next gradient slightly, and Newton-Schulz
# amplifies the weakest directions of a gradient several hundred times (slope 3.4 at zero, 5 steps), so the
# copies would drift apart for a reason that has nothing to do with the optimizer. A real difference in the
# math (momentum, Nesterov, lr scale, weight decay) moves tensors by several percent differently (checked
# below), so this bound tells them apart.
REL_TOL = 2.0**-8


class FakeVec:
    def __init__(self, obs_space: spaces.Space, act_space: spaces.Space) -> None:
        self.single_observation_space = obs_space
        self.single_action_space = act_space


def build_policy(kind: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """A small default policy and a [B, T, *obs] batch: MLP + LSTM, or CNN + LSTM (conv kernels: SGD)."""
    torch.manual_seed(0)
    config = Config("x/y")
    config.policy.hidden_size = 32
    config.policy.lstm = True
    config.policy.lstm_hidden_size = 32  # the LSTM's two [128, 32] matrices: tall, one shape
    if kind == "cnn":
        config.policy.kind = "cnn"
        vec = FakeVec(spaces.Box(0, 255, (7, 7, 3), np.uint8), spaces.Discrete(5))
        obs = torch.randint(0, 256, (6, 4, 7, 7, 3), dtype=torch.uint8)
    else:
        # A square hidden matrix, and an input layer [32, 8] that is the transpose of the heads' [8, 32]:
        # the two share one Newton-Schulz stack.
        config.policy.num_layers = 2
        vec = FakeVec(spaces.Box(-1, 1, (8,), np.float32), spaces.MultiDiscrete([3, 4]))
        obs = torch.randn(6, 4, 8)
    return make_policy(config, vec), obs


def loss_of(policy: torch.nn.Module, obs: torch.Tensor) -> torch.Tensor:
    params, value, _ = policy(obs, None)
    return torch.logsumexp(params, -1).pow(2).mean() + (value - 1.0).pow(2).mean()


def torch_pair(policy: torch.nn.Module, momentum: float = MOMENTUM, wd: float = 0.0) -> torch.optim.Optimizer:
    matrices, others = split_muon_parameters(policy)
    return CombinedOptimizer([
        torch.optim.Muon(matrices, lr=LR, momentum=momentum, nesterov=True, weight_decay=wd,
                         adjust_lr_fn="original"),
        torch.optim.SGD(others, lr=LR, momentum=momentum, nesterov=True, weight_decay=wd),
    ])  # fmt: skip


def ours(policy: torch.nn.Module, wd: float = 0.0, merge: bool | None = None) -> MuonWithSGD:
    matrices, others = split_muon_parameters(policy)
    return MuonWithSGD(matrices, others, lr=LR, momentum=MOMENTUM, weight_decay=wd, merge_shapes=merge)


def train_shared(runs: list, obs: torch.Tensor, steps: int, scheduled: bool = False) -> None:
    """Step every (policy, optimizer) of ``runs`` on the gradients of the first policy's loss."""
    scheds = [build_scheduler(opt, steps, True, 0.1) for _, opt in runs] if scheduled else []
    for step in range(steps):
        first = runs[0][0]
        for _, opt in runs:
            opt.zero_grad(set_to_none=True)
        loss_of(first, obs + 0.1 * step if obs.is_floating_point() else obs).backward()
        for policy, _ in runs[1:]:
            for p, q in zip(first.parameters(), policy.parameters()):
                q.grad = p.grad.clone()
        for _, opt in runs:
            opt.step()
        for sched in scheds:
            sched.step()


def train(
    policy: torch.nn.Module, opt: torch.optim.Optimizer, obs: torch.Tensor, steps: int, sched=None
) -> None:
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        loss_of(policy, obs + 0.1 * step if obs.is_floating_point() else obs).backward()
        opt.step()
        if sched is not None:
            sched.step()


def relative_errors(start, reference, other) -> dict[str, float]:
    """Per tensor: |other's move - reference's move| / |reference's move| (Frobenius norms)."""
    ref_params, other_params = dict(reference.named_parameters()), dict(other.named_parameters())
    out = {}
    for name, p0 in start.named_parameters():
        moved = (ref_params[name] - p0).norm()
        assert moved > 0, f"{name} did not move"
        out[name] = ((other_params[name] - ref_params[name]).norm() / moved).item()
    return out


@pytest.mark.parametrize(
    ("kind", "weight_decay", "merge"),
    [
        ("mlp", 0.0, False),
        ("mlp", 0.05, False),
        ("cnn", 0.0, False),
        ("cnn", 0.05, False),
        ("mlp", 0.05, True),
    ],
)
def test_same_parameters_as_torch_muon_and_sgd(kind, weight_decay, merge):
    start, obs = build_policy(kind)
    ref_policy, new_policy = copy.deepcopy(start), copy.deepcopy(start)
    ref_opt, new_opt = torch_pair(ref_policy, wd=weight_decay), ours(new_policy, weight_decay, merge)
    kinds = {name: p.ndim for name, p in start.named_parameters()}
    assert any(n == 4 for n in kinds.values()) == (kind == "cnn")  # conv kernels take the SGD path
    # The bound can fail: a 2% different momentum moves tensors several times REL_TOL differently.
    near = copy.deepcopy(start)
    near_opt = torch_pair(near, momentum=MOMENTUM - 0.02, wd=weight_decay)
    # Cosine annealing on all: the learning rate differs at every step.
    train_shared([(ref_policy, ref_opt), (new_policy, new_opt), (near, near_opt)], obs, 5, scheduled=True)
    assert all(g["lr"] < LR for g in new_opt.param_groups)
    assert [g["lr"] for g in new_opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
    errors = relative_errors(start, ref_policy, new_policy)
    assert max(errors.values()) <= REL_TOL, errors
    assert max(relative_errors(start, ref_policy, near).values()) > 4 * REL_TOL


def test_weight_decay_is_decoupled_for_matrices_and_l2_for_the_rest():
    policy, _ = build_policy("mlp")
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    opt = ours(policy, wd=0.1)
    for p in policy.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for name, p in policy.named_parameters():
        if p.ndim == 2:  # Muon of a zero gradient is zero: only the decay (1 - lr * wd) moves it
            expected = before[name] * (1 - LR * 0.1)
        else:  # SGD: d = wd * p, buffer = d, Nesterov step d + momentum * d
            expected = before[name] - LR * (0.1 * before[name] + MOMENTUM * 0.1 * before[name])
        torch.testing.assert_close(p.detach(), expected, rtol=1e-6, atol=1e-7, msg=name)


def test_state_dict_round_trip_mid_run_continues_identically():
    policy, obs = build_policy("mlp")
    opt = ours(policy, wd=0.01)
    sched = build_scheduler(opt, 8, True, 0.1)
    train(policy, opt, obs, 3, sched)
    buf = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)  # what checkpoint loading does
    resumed = copy.deepcopy(policy)
    matrices, others = split_muon_parameters(resumed)
    opt2 = MuonWithSGD(matrices, others, lr=LR, momentum=MOMENTUM, weight_decay=0.01)
    sched2 = build_scheduler(opt2, 8, True, 0.1)
    opt2.load_state_dict(saved["optimizer"])
    sched2.load_state_dict(saved["scheduler"])
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    train(policy, opt, obs, 3, sched)
    train(resumed, opt2, obs, 3, sched2)
    for (name, a), b in zip(policy.named_parameters(), resumed.parameters()):
        assert torch.equal(a, b), name


def test_loads_the_combined_optimizer_checkpoint_layout():
    start, obs = build_policy("cnn")
    ref_policy = copy.deepcopy(start)
    ref_opt = torch_pair(ref_policy, wd=0.01)
    train(ref_policy, ref_opt, obs, 3)
    new_policy = copy.deepcopy(ref_policy)
    new_opt = ours(new_policy, wd=0.01)
    new_opt.load_state_dict(ref_opt.state_dict())  # {"optimizers": [muon, sgd]}
    assert all(g["ns_steps"] == 5 for g in new_opt.param_groups)  # our keys survive SGD's group
    mid = copy.deepcopy(ref_policy)
    train_shared([(ref_policy, ref_opt), (new_policy, new_opt)], obs, 3)
    errors = relative_errors(mid, ref_policy, new_policy)
    assert max(errors.values()) <= REL_TOL, errors


def test_mismatched_state_is_a_clear_error():
    policy, obs = build_policy("mlp")
    opt = ours(policy)
    train(policy, opt, obs, 1)
    state = opt.state_dict()
    other, _ = build_policy("cnn")
    with pytest.raises(ValueError, match="parameters, this optimizer's has"):
        ours(other).load_state_dict(state)
    # Same counts, other shapes: the momentum buffer's shape is named.
    wider = copy.deepcopy(policy)
    wider.encoder.linear.weight = torch.nn.Parameter(torch.zeros(32, 9))
    with pytest.raises(ValueError, match=r"shape \(32, 8\).*\(32, 9\)"):
        ours(wider).load_state_dict(state)
    swapped = {"state": {}, "param_groups": state["param_groups"][::-1]}
    with pytest.raises(ValueError, match="is for Nesterov SGD"):
        ours(policy).load_state_dict(swapped)
    adam = torch.optim.AdamW(policy.parameters()).state_dict()
    with pytest.raises(ValueError, match="1 param groups, this MuonWithSGD has 2"):
        ours(policy).load_state_dict(adam)


def test_bad_arguments_are_errors():
    policy, _ = build_policy("cnn")
    conv = next(p for p in policy.parameters() if p.ndim == 4)
    with pytest.raises(ValueError, match="2-D parameters only"):
        MuonWithSGD([conv], lr=0.1)
    with pytest.raises(ValueError, match="lr must be a float"):
        MuonWithSGD([p for p in policy.parameters() if p.ndim == 2], lr=torch.tensor(0.1))
    opt = ours(policy)
    with pytest.raises(ValueError, match="needs 'orthogonalize'"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(3))]})
    with pytest.raises(ValueError, match="2-D parameters only"):
        opt.add_param_group({"params": torch.nn.Parameter(torch.zeros(3)), "orthogonalize": True})
    assert len(opt.param_groups) == 2  # refused groups are not added
    with pytest.raises(ValueError, match="momentum > 0"):
        MuonWithSGD([], [conv], lr=0.1, momentum=0.0)


def test_parameters_without_gradients_are_left_alone():
    policy, obs = build_policy("mlp")
    frozen = policy.heads.weight
    before = frozen.detach().clone()
    opt = ours(policy)
    loss_of(policy, obs).backward()
    frozen.grad = None
    opt.step()
    assert torch.equal(frozen, before) and frozen not in opt.state


@pytest.mark.parametrize("merge", [False, True])
def test_newton_schulz_runs_once_per_shape_not_per_matrix(merge):
    from torch.profiler import ProfilerActivity, profile

    policy, obs = build_policy("mlp")
    shapes = {tuple(sorted(p.shape)) for p in policy.parameters() if p.ndim == 2}
    matrices = sum(p.ndim == 2 for p in policy.parameters())
    assert (len(shapes), matrices) == (3, 5)  # [32, 8] + [8, 32], [32, 32], [128, 32] x 2
    opt = ours(policy, merge=merge)
    loss_of(policy, obs).backward()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        opt.step()
    counts = {e.key: e.count for e in prof.key_averages()}
    products = sum(counts.get(k, 0) for k in ("aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm"))
    # 3 products per Newton-Schulz step, 5 steps, one stack per shape (merged: one zero-padded stack)
    assert products == 3 * 5 * (1 if merge else len(shapes))


def test_adjusted_lr_is_torchs_original_rule():
    from puffer_trainer.muon import adjusted_lr

    assert adjusted_lr(0.1, "original", (512, 128)) == pytest.approx(0.1 * 2.0)
    assert adjusted_lr(0.1, "original", (4, 128)) == 0.1
    assert adjusted_lr(0.1, "match_rms_adamw", (16, 64)) == pytest.approx(0.1 * 0.2 * math.sqrt(64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("merge", [None, False])  # None: merged on CUDA
def test_cuda_step_matches_and_never_syncs(merge):
    start, obs = build_policy("mlp")
    ref_policy, new_policy = copy.deepcopy(start).cuda(), copy.deepcopy(start).cuda()
    ref_opt, new_opt = torch_pair(ref_policy, wd=0.01), ours(new_policy, wd=0.01, merge=merge)
    train_shared([(ref_policy, ref_opt), (new_policy, new_opt)], obs.cuda(), 2)
    for opt in (ref_opt, new_opt):
        opt.zero_grad()
    loss_of(ref_policy, obs.cuda() + 0.2).backward()
    for p, q in zip(ref_policy.parameters(), new_policy.parameters()):
        q.grad = p.grad.clone()
    ref_opt.step()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        new_opt.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    errors = relative_errors(start.cuda(), ref_policy, new_policy)
    assert max(errors.values()) <= REL_TOL, errors


def test_trainer_resumes_from_a_checkpoint_of_the_combined_layout(tmp_path):
    from puffer_trainer import Trainer, load_config

    config = load_config("ocean/squared")
    config.env.update({"num_envs": 16})
    config.train.update_epochs = 1
    config.train.horizon = 8
    config.train.batch_size = config.train.minibatch_size = 128
    config.train.optimizer = "muon"
    trainer = Trainer(config)
    try:
        trainer.evaluate()
        trainer.train()
        state = trainer.state_dict()
        # What a checkpoint of the earlier layout held: torch's pair, stepped once on the trained policy.
        policy = copy.deepcopy(trainer.policy)
        pair = torch_pair(policy)
        for p in policy.parameters():
            p.grad = torch.ones_like(p)
        pair.step()
        state["optimizer"] = pair.state_dict()
        path = tmp_path / "old.pt"
        torch.save(state, path)
        trainer.load_state_dict(torch.load(path, weights_only=True))
        for p, q in zip(policy.parameters(), trainer.policy.parameters()):
            assert torch.equal(
                trainer.optimizer.state[q]["momentum_buffer"], pair.state[p]["momentum_buffer"]
            )
        trainer.evaluate()
        trainer.train()
        state["optimizer"] = torch.optim.AdamW(policy.parameters()).state_dict()
        with pytest.raises(ValueError, match="optimizer state does not match.*param groups"):
            trainer.load_state_dict(state)
    finally:
        trainer.close()


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_learning_rate_tensors_give_the_float_learning_rate_updates(kind):
    """The mode CUDA graphs need: the learning rate read from a tensor that the scheduler's floats refill."""
    start, obs = build_policy(kind)
    float_policy, tensor_policy = copy.deepcopy(start), copy.deepcopy(start)
    float_opt, tensor_opt = ours(float_policy, wd=0.05), ours(tensor_policy, wd=0.05)
    tensor_opt.use_lr_tensors("cpu")
    scheds = [build_scheduler(opt, 5, True, 0.1) for opt in (float_opt, tensor_opt)]
    for step in range(5):
        for opt in (float_opt, tensor_opt):
            opt.zero_grad(set_to_none=True)
        loss_of(float_policy, obs + 0.1 * step if obs.is_floating_point() else obs).backward()
        for p, q in zip(float_policy.parameters(), tensor_policy.parameters()):
            q.grad = p.grad.clone()
        tensor_opt.sync_lr_tensors()
        expected = [g["lr"] for g in float_opt.param_groups]
        assert [t.item() for t in tensor_opt._lr_tensors] == pytest.approx(expected)
        for opt in (float_opt, tensor_opt):
            opt.step()
        for sched in scheds:
            sched.step()
    errors = relative_errors(start, float_policy, tensor_policy)
    assert max(errors.values()) <= 1e-5, errors  # only the order of two float32 products differs
    stale = copy.deepcopy(start)  # without sync_lr_tensors the first learning rate would stay: it must show
    stale_opt = ours(stale, wd=0.05)
    stale_opt.use_lr_tensors("cpu")
    sched = build_scheduler(stale_opt, 5, True, 0.1)
    for step in range(5):
        stale_opt.zero_grad(set_to_none=True)
        loss_of(stale, obs + 0.1 * step if obs.is_floating_point() else obs).backward()
        stale_opt.step()
        sched.step()
    assert max(relative_errors(start, float_policy, stale).values()) > 1e-3
