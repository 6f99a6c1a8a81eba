"""Default policies: shapes for every action space, LSTM step/sequence agreement, CNN, structured obs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from puffer_trainer.config import Config
from puffer_trainer.policies import ActionDist, CNNEncoder, MLPEncoder, Policy, StructuredEncoder, make_policy


class FakeVec:
    def __init__(self, obs_space, act_space, structured=None):
        self.single_observation_space = obs_space
        self.single_action_space = act_space
        self.structured_observation_space = structured


ACTION_SPACES = [
    spaces.Discrete(4),
    spaces.Discrete(3, start=-1),
    spaces.MultiDiscrete([3, 3]),
    spaces.MultiDiscrete([2, 5, 3]),
    spaces.MultiBinary(4),
    spaces.Box(-1, 1, (2,), np.float32),
]


@pytest.mark.parametrize("act_space", ACTION_SPACES, ids=repr)
@pytest.mark.parametrize("lstm", [False, True])
def test_policy_shapes_and_env_actions(act_space, lstm):
    torch.manual_seed(0)
    config = Config("x/y")
    config.policy.lstm = lstm
    vec = FakeVec(spaces.Box(-1, 1, (6,), np.float32), act_space)
    policy = make_policy(config, vec)
    dist = ActionDist(act_space)
    obs = torch.randn(5, 6)
    state = policy.initial_state(5) if lstm else None
    params, value, new_state = policy(obs, state)
    assert value.shape == (5,)
    actions, logp = dist.sample(params)
    assert actions.shape == (5, *dist.buffer_shape) and actions.dtype == dist.buffer_dtype
    assert logp.shape == (5,)
    env_actions = dist.to_env(actions)
    assert act_space.contains(env_actions[0].astype(act_space.dtype)) or isinstance(act_space, spaces.Box)
    logp2, entropy = dist.log_prob_entropy(params, actions)
    assert torch.allclose(logp, logp2, atol=1e-5)
    assert entropy.shape == (5,) and (entropy > 0).all()
    # A [B, T] batch gives [B, T] outputs.
    seq = torch.randn(3, 4, 6)
    if lstm:
        params, value, _ = policy(seq, None)
    else:
        params, value, _ = policy(seq.reshape(12, 6))
        value = value.reshape(3, 4)
    assert value.shape == (3, 4)


def test_discrete_log_prob_and_entropy_match_torch_distributions():
    dist = ActionDist(spaces.MultiDiscrete([3, 4]))
    logits = torch.randn(7, 7)
    actions = torch.stack([torch.randint(0, 3, (7,)), torch.randint(0, 4, (7,))], -1).int()
    logp, ent = dist.log_prob_entropy(logits, actions)
    c1 = torch.distributions.Categorical(logits=logits[:, :3])
    c2 = torch.distributions.Categorical(logits=logits[:, 3:])
    expected = c1.log_prob(actions[:, 0].long()) + c2.log_prob(actions[:, 1].long())
    assert torch.allclose(logp, expected, atol=1e-5)
    assert torch.allclose(ent, c1.entropy() + c2.entropy(), atol=1e-5)


def test_gaussian_log_prob_and_entropy_match_torch_distributions():
    dist = ActionDist(spaces.Box(-1, 1, (3,), np.float32))
    mean, log_std = torch.randn(4, 3), torch.randn(4, 3) * 0.3
    actions = torch.randn(4, 3)
    logp, ent = dist.log_prob_entropy((mean, log_std), actions)
    normal = torch.distributions.Normal(mean, log_std.exp())
    assert torch.allclose(logp, normal.log_prob(actions).sum(-1), atol=1e-5)
    assert torch.allclose(ent, normal.entropy().sum(-1), atol=1e-5)


def test_sampling_follows_the_distribution():
    torch.manual_seed(0)
    dist = ActionDist(spaces.Discrete(3))
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3]])).expand(20000, 3)
    actions, _ = dist.sample(logits)
    freq = torch.bincount(actions.long(), minlength=3).float() / 20000
    assert torch.allclose(freq, torch.tensor([0.2, 0.5, 0.3]), atol=0.02)


def test_discrete_start_offsets_reach_the_env():
    dist = ActionDist(spaces.Discrete(3, start=-1))
    assert dist.to_env(torch.tensor([0, 2], dtype=torch.int32)).tolist() == [-1, 1]
    md = ActionDist(spaces.MultiDiscrete([2, 2], start=[1, 5]))
    assert md.to_env(torch.tensor([[0, 1]], dtype=torch.int32)).tolist() == [[1, 6]]


def test_lstm_sequence_equals_stepping():
    torch.manual_seed(0)
    config = Config("x/y")
    config.policy.lstm = True
    policy = make_policy(config, FakeVec(spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(3)))
    obs = torch.randn(2, 6, 5)
    seq_params, seq_values, (h_seq, c_seq) = policy(obs, None)
    state = policy.initial_state(2)
    for t in range(6):
        params, value, state = policy(obs[:, t], state)
        assert torch.allclose(params, seq_params[:, t], atol=1e-5)
        assert torch.allclose(value, seq_values[:, t], atol=1e-5)
    assert torch.allclose(state[0], h_seq, atol=1e-5) and torch.allclose(state[1], c_seq, atol=1e-5)


@pytest.mark.parametrize("shape", [(84, 84, 4), (4, 84, 84), (11, 11), (8, 8, 3)])
def test_cnn_encoder_shapes(shape):
    enc = CNNEncoder(shape, 64)
    out = enc(torch.randint(0, 255, (3, *shape), dtype=torch.uint8))
    assert out.shape == (3, 64)


def test_cnn_policy_from_config():
    config = Config("x/y")
    config.policy.kind = "cnn"
    policy = make_policy(config, FakeVec(spaces.Box(0, 255, (42, 42, 3), np.uint8), spaces.Discrete(6)))
    params, value, _ = policy(torch.zeros(2, 42, 42, 3, dtype=torch.uint8))
    assert params.shape == (2, 6) and value.shape == (2,)
    with pytest.raises(ValueError, match="policy.kind"):
        config.policy.kind = "transformer"
        make_policy(config, FakeVec(spaces.Box(0, 1, (4,), np.float32), spaces.Discrete(2)))


def test_structured_observations_are_unflattened_with_the_layout():
    from puffer_core.flatten import flatten, flatten_space

    space = spaces.Dict(
        {
            "pos": spaces.Box(-5, 5, (2,), np.float32),
            "kind": spaces.Discrete(3),
            "grid": spaces.Box(0, 9, (2, 2), np.uint8),
        }
    )
    flat_space = flatten_space(space)
    samples = [space.sample() for _ in range(4)]
    flat = torch.from_numpy(np.stack([flatten(s, space) for s in samples]))
    enc = StructuredEncoder(tuple(flat_space.shape), space, 8)
    # Read back the features the encoder builds, by replacing its linear layer with the identity.
    width = enc.linear.in_features
    enc.linear = torch.nn.Linear(width, width, bias=False)
    with torch.no_grad():
        enc.linear.weight.copy_(torch.eye(width))
    out = enc(flat)
    for i, s in enumerate(samples):
        row = out[i]
        expected_parts = []
        for key in space.spaces:  # Dict keys in the space's own (sorted) order
            value = s[key]
            if key == "kind":
                part = np.eye(3)[value]
            else:
                part = np.asarray(value, dtype=np.float32).reshape(-1)
            expected_parts.append(part)
        expected = torch.nn.functional.gelu(torch.tensor(np.concatenate(expected_parts), dtype=torch.float32))
        assert torch.allclose(row, expected, atol=1e-5)


def test_make_policy_uses_structured_encoder_only_for_nested_spaces():
    config = Config("x/y")
    flat_box = spaces.Box(-1, 1, (4,), np.float32)
    policy = make_policy(config, FakeVec(flat_box, spaces.Discrete(2), structured=flat_box))
    assert isinstance(policy.encoder, MLPEncoder)


def test_parameter_count_of_the_breakout_sized_lstm_policy():
    config = Config("x/y")
    config.policy.lstm = True
    policy = make_policy(config, FakeVec(spaces.Box(0, 1, (118,), np.float32), spaces.Discrete(3)))
    assert isinstance(policy, Policy)
    count = sum(p.numel() for p in policy.parameters())
    assert math.isclose(count, 148_000, rel_tol=0.01)


@pytest.mark.parametrize("activation", ["gelu", "relu", "tanh"])
def test_mlp_depth_and_activation_from_config(activation):
    config = Config("x/y")
    config.policy.num_layers = 3
    config.policy.activation = activation
    config.policy.hidden_size = 8
    policy = make_policy(config, FakeVec(spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(2)))
    encoder = policy.encoder
    assert len(encoder.hidden) == 2
    obs = torch.randn(4, 5)
    # The encoder is obs -> linear -> act -> (linear -> act) x 2, with the activation named in the config.
    act = {"gelu": torch.nn.functional.gelu, "relu": torch.relu, "tanh": torch.tanh}[activation]
    x = act(encoder.linear(obs))
    for layer in encoder.hidden:
        x = act(layer(x))
    assert torch.allclose(encoder(obs), x)


def test_bad_depth_or_activation_is_a_clear_error():
    config = Config("x/y")
    vec = FakeVec(spaces.Box(-1, 1, (5,), np.float32), spaces.Discrete(2))
    config.policy.activation = "swish"
    with pytest.raises(ValueError, match=r"policy.activation must be one of \['gelu', 'relu', 'tanh'\]"):
        make_policy(config, vec)
    config.policy.activation = "relu"
    config.policy.num_layers = 0
    with pytest.raises(ValueError, match="policy.num_layers must be >= 1"):
        make_policy(config, vec)
    config.policy.kind = "cnn"
    config.policy.num_layers = 2
    with pytest.raises(ValueError, match="num_layers must be 1 for the cnn policy"):
        make_policy(config, FakeVec(spaces.Box(0, 255, (42, 42, 3), np.uint8), spaces.Discrete(2)))
