"""PPO loss terms, and the Trainer around them: masks, non-finite losses, optimizers, state round trip."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import torch
from gymnasium import spaces

import puffer_core
from puffer_trainer import NonFiniteLossError, Trainer
from puffer_trainer.config import Config, load_config
from puffer_trainer.ppo import ppo_loss

# -- the loss ---------------------------------------------------------------------------------------------


def loss_inputs(b=4, t=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    new_logp = torch.randn(b, t, generator=g).mul(0.1).requires_grad_()
    return dict(
        new_logprob=new_logp,
        entropy=torch.rand(b, t, generator=g).requires_grad_(),
        new_value=torch.randn(b, t, generator=g).requires_grad_(),
        old_logprob=torch.zeros(b, t),
        old_value=torch.randn(b, t, generator=g),
        advantages=torch.randn(b, t, generator=g),
        weights=torch.ones(b, t),
        segment_weights=torch.ones(b),
        clip_coef=0.2,
        vf_clip_coef=0.5,
        vf_coef=0.5,
        ent_coef=0.01,
    )


def test_masked_steps_do_not_change_loss_or_gradients():
    a = loss_inputs()
    a["weights"][:, 2] = 0
    a["weights"][3] = 0
    b = {
        k: (v.detach().clone().requires_grad_(v.requires_grad) if torch.is_tensor(v) else v)
        for k, v in a.items()
    }
    # Garbage where the weight is zero.
    for key in ("advantages", "old_value", "old_logprob"):
        b[key][:, 2] = 1e4
        b[key][3] = -1e4
    out_a, out_b = ppo_loss(**a), ppo_loss(**b)
    assert torch.allclose(out_a.loss, out_b.loss, atol=1e-5)
    out_a.loss.backward()
    out_b.loss.backward()
    for key in ("new_logprob", "new_value", "entropy"):
        assert torch.allclose(a[key].grad, b[key].grad, atol=1e-6)
        assert (a[key].grad[:, 2] == 0).all() and (a[key].grad[3] == 0).all()


def test_policy_loss_is_clipped():
    a = loss_inputs(b=1, t=1)
    a["weights"] = torch.ones(1, 1)
    a["advantages"] = torch.ones(1, 1)
    a["norm_adv"] = False
    # ratio = e^0.5 > 1.2 with a positive advantage: the clipped branch, no gradient to the policy.
    a["new_logprob"] = torch.full((1, 1), 0.5, requires_grad=True)
    out = ppo_loss(**a)
    out.policy_loss.backward()
    assert a["new_logprob"].grad.abs().max() == 0
    assert out.clipfrac.item() == 1.0
    assert out.policy_loss.item() == pytest.approx(-1.2)


def test_value_loss_is_clipped_around_the_old_value():
    a = loss_inputs(b=1, t=1)
    a.update(norm_adv=False, vf_clip_coef=0.1)
    a["old_value"] = torch.zeros(1, 1)
    a["advantages"] = torch.full((1, 1), 1.0)  # return = 1
    a["new_value"] = torch.full((1, 1), 2.0, requires_grad=True)
    out = ppo_loss(**a)
    # max((2-1)^2, (0.1-1)^2) = 1 -> 0.5
    assert out.value_loss.item() == pytest.approx(0.5)


def test_segment_weights_scale_the_policy_loss():
    a = loss_inputs()
    a["norm_adv"] = False
    base = ppo_loss(**a).policy_loss
    a["segment_weights"] = torch.full((4,), 3.0)
    assert ppo_loss(**a).policy_loss.item() == pytest.approx(3 * base.item(), rel=1e-5)


def test_advantages_are_normalized_over_live_steps_only():
    a = loss_inputs(b=1, t=4)
    a["advantages"] = torch.tensor([[1.0, 3.0, 100.0, 0.0]])
    a["weights"] = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    a["new_logprob"] = torch.zeros(1, 4, requires_grad=True)
    out = ppo_loss(**a)
    # live advantages 1 and 3 normalize to -1 and +1: ratio 1, so the policy loss is -mean = 0
    assert out.policy_loss.item() == pytest.approx(0.0, abs=1e-5)


# -- the Trainer ------------------------------------------------------------------------------------------


def small_config(env_id="ocean/squared", **train):
    config = load_config(env_id)
    config.env.update({"num_envs": 16})
    config.train.horizon = 8
    config.train.batch_size = 16 * 8 * 2
    config.train.minibatch_size = 64
    config.train.total_timesteps = 10_000
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


class NaNValue(torch.nn.Module):
    """Wraps a policy; its value turns NaN once ``poison`` is set."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.poison = False

    def forward(self, obs, state=None):
        params, value, state = self.inner(obs, state)
        if self.poison:
            value = value * float("nan")
        return params, value, state


def test_non_finite_loss_raises_before_the_optimizer_step():
    config = small_config()
    probe = Trainer(config)
    policy = NaNValue(probe.policy)
    probe.close()
    trainer = Trainer(config, policy=policy)
    try:
        trainer.evaluate()
        trainer.train()
        trainer.evaluate()
        before = [p.detach().clone() for p in trainer.policy.parameters()]
        policy.poison = True
        with pytest.raises(NonFiniteLossError, match="value_loss") as info:
            trainer.train()
        assert info.value.term == "value_loss" and info.value.step == trainer.global_step
        assert str(trainer.global_step) in str(info.value)
        for old, new in zip(before, trainer.policy.parameters()):
            assert torch.equal(old, new)
    finally:
        trainer.close()


@pytest.mark.parametrize("optimizer", ["adam", "muon"])
def test_state_dict_round_trip(optimizer, tmp_path):
    config = small_config(optimizer=optimizer)
    config.policy.lstm = True
    trainer = Trainer(config)
    for _ in range(2):
        trainer.evaluate()
        trainer.train()
    state = trainer.state_dict()
    path = tmp_path / "state.pt"
    torch.save(state, path)
    loaded = torch.load(path, weights_only=True)
    other = Trainer(config)
    other.load_state_dict(loaded)
    assert other.global_step == trainer.global_step and other.epoch == trainer.epoch
    for a, b in zip(trainer.policy.state_dict().values(), other.policy.state_dict().values()):
        assert torch.equal(a, b)
    opt_a, opt_b = trainer.optimizer.state_dict(), other.optimizer.state_dict()
    buf = io.BytesIO()
    torch.save(opt_a, buf)
    assert _tensors(opt_a) and all(torch.equal(x, y) for x, y in zip(_tensors(opt_a), _tensors(opt_b)))
    assert other.scheduler.state_dict()["last_epoch"] == trainer.scheduler.state_dict()["last_epoch"]
    assert other.optimizer.param_groups[0]["lr"] == pytest.approx(trainer.optimizer.param_groups[0]["lr"])
    # Same RNG: the next random draws agree.
    torch.set_rng_state(state["rng"]["torch"])
    x = torch.rand(3)
    other.load_state_dict(loaded)
    assert torch.equal(torch.rand(3), x)
    trainer.close()
    other.close()


def _tensors(obj):
    if torch.is_tensor(obj):
        return [obj]
    if isinstance(obj, dict):
        return [t for k in sorted(obj, key=str) for t in _tensors(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    return []


def test_mismatched_state_is_a_clear_error():
    config = small_config()
    trainer = Trainer(config)
    state = trainer.state_dict()
    config2 = small_config()
    config2.policy.hidden_size = 32
    other = Trainer(config2)
    with pytest.raises(ValueError, match="policy"):
        other.load_state_dict(state)
    trainer.close()
    other.close()


def test_muon_orthogonalizes_every_matrix_and_steps_vectors_with_momentum():
    from puffer_trainer.optim import MuonWithSGD

    config = small_config(optimizer="muon", learning_rate=0.05, update_epochs=1)
    config.train.minibatch_size = config.train.batch_size  # one optimizer step per update
    config.policy.lstm = True
    trainer = Trainer(config)
    assert isinstance(trainer.optimizer, MuonWithSGD)
    muon, sgd = trainer.optimizer.param_groups
    assert muon["orthogonalize"] and not sgd["orthogonalize"] and sgd["nesterov"]
    names = {id(p): n for n, p in trainer.policy.named_parameters()}
    matrices = {names[id(p)] for p in muon["params"]}
    vectors = {names[id(p)] for p in sgd["params"]}
    assert matrices == {n for n, p in trainer.policy.named_parameters() if p.ndim == 2}
    assert "heads.weight" in matrices and "encoder.linear.weight" in matrices
    assert vectors == {n for n, p in trainer.policy.named_parameters() if p.ndim != 2}
    assert all(g["lr"] == 0.05 for g in trainer.optimizer.param_groups)  # one learning rate for both
    # One optimizer step: the LSTM's recurrent matrix [4H, H] moves by lr * sqrt(4H / H) times an
    # orthogonalized direction: Newton-Schulz puts the leading singular values near 1 (a raw gradient step
    # would spread them over orders of magnitude).
    weight = trainer.policy.lstm.weight_hh_l0
    before = weight.detach().clone()
    trainer.evaluate()
    trainer.train()
    singular = torch.linalg.svdvals((weight.detach() - before) / (0.05 * 2.0))
    assert torch.all((singular[:8] > 0.5) & (singular[:8] < 1.5)), singular
    trainer.close()


def test_kron_without_heavyball_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "heavyball", None)
    with pytest.raises(ImportError, match="heavyball"):
        Trainer(small_config(optimizer="kron"))


def test_unknown_optimizer_and_bad_sizes_are_errors():
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(small_config(optimizer="sgd"))
    with pytest.raises(ValueError, match="multiple of train.horizon"):
        Trainer(small_config(batch_size=100))
    with pytest.raises(ValueError, match="minibatch_size"):
        Trainer(small_config(minibatch_size=4096))


class MaskedEnv(puffer_core.PufferEnv):
    """4 agents; agent 2 is a padded slot (always masked) whose rewards are huge garbage."""

    def __init__(self, buf=None, seed=None):
        self.single_observation_space = spaces.Box(-1, 1, (3,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.num_agents = 4
        super().__init__(buf)
        self.rng = np.random.default_rng(seed)
        self.t = 0

    def _fill(self):
        self.observations[:] = self.rng.uniform(-1, 1, (4, 3))
        self.masks[:] = True
        self.masks[2] = False

    def reset(self, seed=None):
        self._fill()
        return self.observations, []

    def step(self, actions):
        self.write_actions(actions)
        self.t += 1
        self.rewards[:] = (self.actions == 1).astype(np.float32)
        self.rewards[2] = 1e6
        self.terminals[:] = self.t % 10 == 0
        self.truncations[:] = False
        self._fill()
        return self.observations, self.rewards, self.terminals, self.truncations, []


def test_masked_agents_never_train():
    import puffer_core.vector

    config = Config("test/masked")
    config.train.horizon = 8
    config.train.batch_size = 4 * 8 * 4
    config.train.minibatch_size = 32
    config.train.total_timesteps = 5000
    config.train.learning_rate = 0.01
    vec = puffer_core.vector.make(MaskedEnv, num_envs=2, seed=0)
    trainer = Trainer(config, vecenv=vec)
    try:
        for _ in range(3):
            trainer.evaluate()
            rows_of_padded = np.isin(trainer.buffer.row_agent, [2, 6])
            assert rows_of_padded.any()
            assert (trainer.buffer.weights[torch.from_numpy(rows_of_padded)] == 0).all()
            stats = trainer.train()
            # 1e6 rewards of the padded slot would blow the value loss up if they trained.
            assert stats["value_loss"] < 10
    finally:
        vec.close()


class _FakeEvent:
    def record(self):
        pass

    def synchronize(self):
        pass


def test_staged_uploads_match_direct_copies(monkeypatch):
    """The pinned-staging path used on CUDA, run with plain CPU tensors: same data, same training."""
    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    config = small_config()
    direct, staged = Trainer(config), Trainer(config)
    capacity = staged.num_agents
    staged._pinned = (
        torch.empty((capacity, *staged.obs_shape), dtype=staged.buffer.observations.dtype),
        torch.empty(4 * capacity),
    )
    staged._device_staging = tuple(torch.empty_like(t) for t in staged._pinned)
    staged.buffer._pinned = torch.empty(3 * capacity, dtype=torch.int64)
    staged.buffer._indices = torch.empty(3, capacity, dtype=torch.int64)
    try:
        for epoch in range(2):
            for trainer in (direct, staged):  # the same random draws for both
                torch.manual_seed(epoch)
                trainer.evaluate()
            for name in ("observations", "actions", "rewards", "dones", "weights", "values"):
                assert torch.equal(getattr(direct.buffer, name), getattr(staged.buffer, name)), name
            for trainer in (direct, staged):
                torch.manual_seed(epoch)
                trainer.train()
    finally:
        direct.close()
        staged.close()


def test_kron_trains_and_round_trips_when_heavyball_is_installed():
    pytest.importorskip("heavyball")
    trainer = Trainer(small_config(optimizer="kron"))
    try:
        for _ in range(2):
            trainer.evaluate()
            assert np.isfinite(trainer.train()["value_loss"])
        buf = io.BytesIO()
        torch.save(trainer.state_dict(), buf)
        buf.seek(0)
        trainer.load_state_dict(torch.load(buf, weights_only=True))
    finally:
        trainer.close()


def masked_env_config(**train):
    config = Config("test/masked")
    config.train.horizon = 8
    config.train.batch_size = 4 * 8 * 4
    config.train.minibatch_size = 32
    config.train.total_timesteps = 5000
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


def test_rewards_are_clipped_only_when_configured():
    import puffer_core.vector

    for clip, expected_max in ((0.0, 1e6), (2.0, 2.0)):
        vec = puffer_core.vector.make(MaskedEnv, num_envs=1, seed=0)
        trainer = Trainer(masked_env_config(reward_clip=clip), vecenv=vec)
        try:
            trainer.evaluate()
            assert trainer.buffer.rewards.max().item() == pytest.approx(expected_max)
        finally:
            vec.close()


def test_observation_normalization_tracks_live_agents():
    import puffer_core.vector

    vec = puffer_core.vector.make(MaskedEnv, num_envs=2, seed=0)
    trainer = Trainer(masked_env_config(normalize_obs=True, batch_size=8 * 8 * 16), vecenv=vec)
    try:
        trainer.evaluate()
        norm = trainer.obs_norm
        # 6 live agents of 8 per step; the buffer holds uniform(-1, 1) observations.
        assert norm.count.item() == pytest.approx(trainer.global_step * 6 / 8)
        # About 770 samples: 4 standard errors of tolerance.
        assert torch.allclose(norm.mean.float(), torch.zeros(3), atol=0.08)
        assert torch.allclose(norm.var.float(), torch.full((3,), 1 / 3), atol=0.06)
        trainer.train()
        assert "obs_norm" in trainer.state_dict()
    finally:
        vec.close()
    assert masked_env_config().train.normalize_obs is False  # off unless configured
