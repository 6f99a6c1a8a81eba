"""Default policies and action distributions.

A policy is any ``torch.nn.Module`` whose ``forward(obs, state=None)`` returns ``(params, value, state)``:

* ``params``: logits ``[..., n]`` for ``Discrete``, concatenated logits ``[..., sum(nvec)]`` for
  ``MultiDiscrete``/``MultiBinary``, and a ``(mean, log_std)`` pair for ``Box`` actions.
* ``value``: ``[...]`` state values.
* ``state``: the new recurrent state, or ``None`` for feed-forward policies.

Feed-forward policies get ``obs`` of shape ``[N, *obs_shape]``. A recurrent policy sets
``is_recurrent = True``, implements ``initial_state(batch, device)`` returning a tuple of ``[batch, ...]``
tensors, and accepts both one step (``obs [B, *obs_shape]`` with ``state``) and a whole segment
(``obs [B, T, *obs_shape]``, ``state=None`` meaning zeros, outputs ``[B, T, ...]``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

__all__ = [
    "ActionDist",
    "ObsNormalizer",
    "MLPEncoder",
    "CNNEncoder",
    "StructuredEncoder",
    "Policy",
    "make_policy",
    "layer_init",
]


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights with gain ``std`` and constant bias: the usual PPO initialization."""
    nn.init.orthogonal_(layer.weight, std)
    if getattr(layer, "bias", None) is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


# -- action distributions ---------------------------------------------------------------------------------
class ActionDist:
    """Sampling, log-probabilities and entropy for one action space, batched over leading axes."""

    def __init__(self, space: spaces.Space) -> None:
        self.space = space
        if isinstance(space, spaces.Discrete):
            self.kind = "discrete"
            self.nvec = [int(space.n)]
            self.start = int(space.start)
            self.shape: tuple[int, ...] = ()
        elif isinstance(space, (spaces.MultiDiscrete, spaces.MultiBinary)):
            self.kind = "multidiscrete"
            if isinstance(space, spaces.MultiBinary):
                nvec = np.full(space.shape, 2)
                start = np.zeros(space.shape, dtype=np.int64)
            else:
                nvec, start = np.asarray(space.nvec), np.asarray(space.start)
            self.shape = tuple(nvec.shape)
            self.nvec = [int(n) for n in nvec.reshape(-1)]
            self.start_array = torch.as_tensor(start.reshape(-1), dtype=torch.int32)
            self.start = 0
        elif isinstance(space, spaces.Box):
            self.kind = "box"
            self.shape = tuple(space.shape)
            self.dim = int(np.prod(space.shape))
        else:
            raise TypeError(
                f"unsupported action space {type(space).__name__}: expected Discrete, MultiDiscrete, "
                "MultiBinary or Box"
            )

    @property
    def param_size(self) -> int:
        """Width of the policy's action head."""
        return self.dim if self.kind == "box" else sum(self.nvec)

    @property
    def buffer_dtype(self) -> torch.dtype:
        return torch.float32 if self.kind == "box" else torch.int32

    @property
    def buffer_shape(self) -> tuple[int, ...]:
        """Per-step shape of stored actions (indices for discrete spaces, values for Box)."""
        if self.kind == "discrete":
            return ()
        if self.kind == "multidiscrete":
            return (len(self.nvec),)
        return (self.dim,)

    def _split(self, logits: torch.Tensor) -> list[torch.Tensor] | torch.Tensor:
        if len(set(self.nvec)) == 1:
            return logits.unflatten(-1, (len(self.nvec), self.nvec[0]))
        return list(torch.split(logits, self.nvec, dim=-1))

    @torch.no_grad()
    def sample(self, params: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample actions and their log-probabilities (without gradient)."""
        if self.kind == "box":
            mean, log_std = params
            action = mean + torch.randn_like(mean) * log_std.exp()
            return action, self._normal_logprob(mean, log_std, action)
        logits = params if self.kind == "discrete" else self._split(params)
        if isinstance(logits, list):
            acts, logps = zip(*(self._sample_cat(lg) for lg in logits))
            return torch.stack(acts, -1).int(), torch.stack(logps, -1).sum(-1)
        action, logp = self._sample_cat(logits)
        if self.kind == "multidiscrete":
            logp = logp.sum(-1)
        return action.int(), logp

    @staticmethod
    def _sample_cat(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = logits.float()
        log_probs = torch.log_softmax(logits, -1)
        # Gumbel-max draws a categorical sample in one pass without building a probability table copy.
        uniform = torch.rand_like(log_probs).clamp_(min=1e-20)
        action = (log_probs - torch.log(-torch.log(uniform))).argmax(-1)
        return action, log_probs.gather(-1, action.unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def _normal_logprob(mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        var = torch.exp(2 * log_std)
        logp = -((action - mean) ** 2) / (2 * var) - log_std - 0.5 * math.log(2 * math.pi)
        return logp.sum(-1)

    def log_prob_entropy(self, params: Any, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of stored ``actions`` and the distribution's entropy, both ``[...]``."""
        if self.kind == "box":
            mean, log_std = params
            mean, log_std = mean.float(), log_std.float()
            entropy = (0.5 + 0.5 * math.log(2 * math.pi) + log_std).sum(-1).expand(mean.shape[:-1])
            return self._normal_logprob(mean, log_std, actions.float()), entropy
        if self.kind == "discrete":
            log_probs = torch.log_softmax(params.float(), -1)
            logp = log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
            entropy = -(log_probs.exp() * log_probs).sum(-1)
            return logp, entropy
        parts = self._split(params.float())
        if isinstance(parts, list):
            logps, ents = [], []
            for i, part in enumerate(parts):
                lp = torch.log_softmax(part, -1)
                logps.append(lp.gather(-1, actions[..., i].long().unsqueeze(-1)).squeeze(-1))
                ents.append(-(lp.exp() * lp).sum(-1))
            return torch.stack(logps, -1).sum(-1), torch.stack(ents, -1).sum(-1)
        lp = torch.log_softmax(parts, -1)
        logp = lp.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1).sum(-1)
        return logp, -(lp.exp() * lp).sum(-1).sum(-1)

    def to_env(self, actions: torch.Tensor) -> np.ndarray:
        """Stored actions as the numpy array the env expects (with the space's ``start`` offsets)."""
        if self.kind == "box":
            out = actions.reshape(actions.shape[0], *self.shape)
            return out.cpu().numpy()
        if self.kind == "discrete":
            if self.start:
                actions = actions + self.start
            return actions.cpu().numpy()
        out = actions
        if bool(self.start_array.any()):
            out = out + self.start_array.to(out.device)
        return out.reshape(actions.shape[0], *self.shape).cpu().numpy()


# -- encoders ---------------------------------------------------------------------------------------------
#: Activations the default policies offer (``policy.activation``). Exact GELU costs about a tenth of a
#: small MLP's update time on CPUs; ReLU and tanh are cheaper there.
ACTIVATIONS = {"gelu": nn.functional.gelu, "relu": nn.functional.relu, "tanh": torch.tanh}


def activation_fn(name: str) -> Any:
    """The function for ``policy.activation`` (ValueError listing the choices for an unknown name)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"policy.activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None


class MLPEncoder(nn.Module):
    """Flatten the observation (cast to float), then ``num_layers`` linear layers, each activated."""

    def __init__(
        self, obs_shape: tuple[int, ...], hidden_size: int, num_layers: int = 1, activation: str = "gelu"
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"policy.num_layers must be >= 1, got {num_layers}")
        self.obs_shape = tuple(obs_shape)
        self.act = activation_fn(activation)
        self.linear = layer_init(nn.Linear(int(np.prod(obs_shape)), hidden_size))
        self.hidden = nn.ModuleList(
            layer_init(nn.Linear(hidden_size, hidden_size)) for _ in range(num_layers - 1)
        )
        self.out_size = hidden_size

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(obs.shape[0], -1)
        if x.dtype != self.linear.weight.dtype:
            x = x.to(self.linear.weight.dtype)
        x = self.act(self.linear(x))
        for layer in self.hidden:
            x = self.act(layer(x))
        return x


class CNNEncoder(nn.Module):
    """Convolutions for images ``[H, W, C]`` or ``[C, H, W]``; uint8 pixels are scaled to [0, 1]."""

    def __init__(self, obs_shape: tuple[int, ...], hidden_size: int) -> None:
        super().__init__()
        if len(obs_shape) not in (2, 3):
            raise ValueError(f"the CNN policy needs image observations [H, W(, C)], got shape {obs_shape}")
        shape = tuple(obs_shape) if len(obs_shape) == 3 else (*obs_shape, 1)
        self.channels_last = shape[-1] <= 4 and shape[0] > 4
        c, h, w = (shape[2], shape[0], shape[1]) if self.channels_last else shape
        self.obs_shape = tuple(obs_shape)
        if min(h, w) >= 36:  # Atari-sized frames: the classic Nature-DQN stack
            convs = [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
        else:  # small grids: keep resolution
            convs = [(32, 3, 1), (64, 3, 1)]
        layers: list[nn.Module] = []
        in_c = c
        for out_c, k, s in convs:
            k = min(k, h, w)
            layers += [layer_init(nn.Conv2d(in_c, out_c, k, s)), nn.ReLU()]
            h, w = (h - k) // s + 1, (w - k) // s + 1
            in_c = out_c
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.linear = layer_init(nn.Linear(in_c * h * w, hidden_size))
        self.out_size = hidden_size
        self._c = c

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs
        scale = x.dtype == torch.uint8
        x = x.to(self.linear.weight.dtype)
        if scale:
            x = x * (1.0 / 255.0)
        if len(self.obs_shape) == 2:
            x = x.unsqueeze(-1) if self.channels_last else x.unsqueeze(1)
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return nn.functional.relu(self.linear(self.convs(x)))


class StructuredEncoder(nn.Module):
    """Unflatten emulated (Dict/Tuple) observations with ``puffer_core.emulation.layout``, encode the leaves.

    The flat observation is the byte image of all leaves; each leaf is viewed with its own dtype, cast to
    float (``Discrete`` leaves one-hot) and concatenated before one linear layer.
    """

    def __init__(
        self,
        flat_shape: tuple[int, ...],
        structured_space: spaces.Space,
        hidden_size: int,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        from puffer_core import emulation

        self.act = activation_fn(activation)
        self.leaves = []
        width = 0
        for leaf in emulation.layout(structured_space):
            n_classes = int(leaf.space.n) if isinstance(leaf.space, spaces.Discrete) else 0
            dtype = torch_dtype(leaf.dtype)
            nbytes = int(np.prod(leaf.shape)) * torch.empty((), dtype=dtype).element_size()
            start = int(getattr(leaf.space, "start", 0)) if n_classes else 0
            self.leaves.append((int(leaf.offset), nbytes, dtype, n_classes, start))
            width += n_classes if n_classes else int(np.prod(leaf.shape))
        self.linear = layer_init(nn.Linear(width, hidden_size))
        self.out_size = hidden_size

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        flat = obs.reshape(obs.shape[0], -1)
        if flat.dtype != torch.uint8:
            flat = flat.contiguous().view(torch.uint8)
        parts = []
        for offset, nbytes, dtype, n_classes, start in self.leaves:
            leaf = flat[:, offset : offset + nbytes].contiguous().view(dtype).reshape(flat.shape[0], -1)
            if n_classes:  # a Discrete leaf is a category, not a magnitude
                leaf = nn.functional.one_hot((leaf[:, 0] - start).long(), n_classes)
            parts.append(leaf.to(self.linear.weight.dtype))
        return self.act(self.linear(torch.cat(parts, -1)))


_NP_TO_TORCH = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
    np.dtype(np.float16): torch.float16,
    np.dtype(np.uint8): torch.uint8,
    np.dtype(np.int8): torch.int8,
    np.dtype(np.int16): torch.int16,
    np.dtype(np.int32): torch.int32,
    np.dtype(np.int64): torch.int64,
    np.dtype(bool): torch.bool,
}


def torch_dtype(dtype: Any) -> torch.dtype:
    """The torch dtype of a numpy dtype (TypeError naming it when torch has none)."""
    try:
        return _NP_TO_TORCH[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"no torch dtype for observation dtype {dtype!r}") from None


# -- the policy -------------------------------------------------------------------------------------------
class Policy(nn.Module):
    """Encoder, optional LSTM, action head and value head.

    Args:
        encoder: maps ``[N, *obs_shape]`` to ``[N, encoder_out]``.
        encoder_out: the encoder's output width.
        action_space: the single-agent action space.
        lstm_hidden_size: wrap the encoder in an LSTM of this width (``None``: feed-forward).
    """

    def __init__(
        self,
        encoder: nn.Module,
        encoder_out: int,
        action_space: spaces.Space,
        obs_shape: tuple[int, ...],
        lstm_hidden_size: int | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.dist = ActionDist(action_space)
        self.obs_ndim = len(obs_shape)
        self.is_recurrent = lstm_hidden_size is not None
        width = encoder_out
        if self.is_recurrent:
            self.lstm = nn.LSTM(encoder_out, lstm_hidden_size, batch_first=True)
            for name, param in self.lstm.named_parameters():
                if "bias" in name:
                    nn.init.constant_(param, 0)
                else:
                    nn.init.orthogonal_(param, 1.0)
            width = lstm_hidden_size
            self.lstm_hidden_size = lstm_hidden_size
        # Actor and critic share one Linear (rows [:param_size] act, the last row is the value): two narrow
        # layers cost about twice as much in the backward pass on CPU. Each part keeps its own init scale.
        actor = layer_init(nn.Linear(width, self.dist.param_size), std=0.01)
        critic = layer_init(nn.Linear(width, 1), std=1.0)
        self.heads = nn.Linear(width, self.dist.param_size + 1)
        with torch.no_grad():
            self.heads.weight.copy_(torch.cat([actor.weight, critic.weight]))
            self.heads.bias.copy_(torch.cat([actor.bias, critic.bias]))
        if self.dist.kind == "box":
            self.log_std = nn.Parameter(torch.zeros(self.dist.param_size))

    def initial_state(self, batch: int, device: Any = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Zero LSTM state ``(h, c)``, each ``[batch, lstm_hidden_size]``."""
        if not self.is_recurrent:
            raise TypeError("a feed-forward policy has no recurrent state")
        zeros = torch.zeros(batch, self.lstm_hidden_size, device=device)
        return zeros, zeros.clone()

    def _heads(self, hidden: torch.Tensor) -> tuple[Any, torch.Tensor]:
        both = self.heads(hidden)
        out, value = both[..., :-1], both[..., -1]
        if self.dist.kind == "box":
            return (out, self.log_std.expand_as(out)), value
        return out, value

    def forward(self, obs: torch.Tensor, state: Any = None) -> tuple[Any, torch.Tensor, Any]:
        if not self.is_recurrent:
            lead = obs.shape[: obs.ndim - self.obs_ndim]
            hidden = self.encoder(obs.reshape(-1, *obs.shape[len(lead) :]))
            params, value = self._heads(hidden)
            return _unflatten_lead(params, lead), value.reshape(lead), None
        if obs.ndim == self.obs_ndim + 1:  # one step of a batch of agents
            hidden = self.encoder(obs)
            h, c = state if state is not None else self.initial_state(obs.shape[0], obs.device)
            # The fused cell with the LSTM's own weights: the same math as one step of nn.LSTM in about a
            # third of the host time (two matmuls, one pointwise kernel on CUDA); rollouts run it each step.
            lstm = self.lstm
            h, c = torch.lstm_cell(
                hidden, (h, c), lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0
            )
            params, value = self._heads(h)
            return params, value, (h, c)
        if obs.ndim != self.obs_ndim + 2:
            raise ValueError(
                f"expected observations [B, *obs_shape] or [B, T, *obs_shape] with obs rank {self.obs_ndim}, "
                f"got shape {tuple(obs.shape)}"
            )
        b, t = obs.shape[:2]
        hidden = self.encoder(obs.reshape(b * t, *obs.shape[2:])).reshape(b, t, -1)
        if state is not None:
            state = (state[0].unsqueeze(0), state[1].unsqueeze(0))
        out, (h, c) = self.lstm(hidden, state)
        params, value = self._heads(out)
        return params, value, (h.squeeze(0), c.squeeze(0))


def _unflatten_lead(params: Any, lead: tuple[int, ...]) -> Any:
    if isinstance(params, tuple):
        return tuple(p.reshape(*lead, p.shape[-1]) for p in params)
    return params.reshape(*lead, params.shape[-1])


class ObsNormalizer(nn.Module):
    """Running mean/variance of observations (updated while collecting, frozen while training).

    Part of the trained policy: a checkpoint saves its buffers, and evaluation rebuilds it from them.
    """

    def __init__(self, shape: tuple[int, ...], eps: float = 1e-8) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.eps = eps

    @torch.no_grad()
    def update(self, obs: torch.Tensor, mask: torch.Tensor) -> None:
        x = obs[mask].double()
        n = x.shape[0]
        if n == 0:
            return
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * (n / total)
        self.var.copy_((self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total)
        self.count.copy_(total)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        mean = self.mean.float()
        std = (self.var.float() + self.eps).sqrt()
        return (obs.float() - mean) / std


def make_policy(config: Any, vecenv: Any) -> nn.Module:
    """The default policy for ``vecenv`` described by ``config.policy`` (a :class:`PolicyConfig`)."""
    pc = config.policy
    obs_space = vecenv.single_observation_space
    obs_shape = tuple(obs_space.shape)
    structured = getattr(vecenv, "structured_observation_space", None)
    if pc.kind == "mlp":
        if isinstance(structured, (spaces.Dict, spaces.Tuple)):
            if pc.num_layers != 1:
                raise ValueError("policy.num_layers must be 1 for structured (Dict/Tuple) observations")
            encoder: nn.Module = StructuredEncoder(obs_shape, structured, pc.hidden_size, pc.activation)
        else:
            encoder = MLPEncoder(obs_shape, pc.hidden_size, pc.num_layers, pc.activation)
    elif pc.kind == "cnn":
        if pc.num_layers != 1:
            raise ValueError("policy.num_layers must be 1 for the cnn policy (its depth is the conv stack)")
        encoder = CNNEncoder(obs_shape, pc.hidden_size)
    else:
        raise ValueError(f"policy.kind must be 'mlp' or 'cnn', got {pc.kind!r}")
    return Policy(
        encoder,
        pc.hidden_size,
        vecenv.single_action_space,
        obs_shape,
        lstm_hidden_size=pc.lstm_hidden_size if pc.lstm else None,
    )
