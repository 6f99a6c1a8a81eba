"""Typed training configuration: dataclasses, TOML files and command-line overrides.

Values are layered, later layers winning::

    trainer defaults  <-  the env's registered ``train_config``  <-  a TOML file  <-  CLI overrides

Every layer uses the same sections (``train``, ``vec``, ``policy``, ``run``, ``env``) and field names; ``env``
holds keyword arguments for the env's creator. Unknown sections or keys are an error that names the closest
valid ones, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import sys
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "TrainConfig",
    "VecConfig",
    "PolicyConfig",
    "RunConfig",
    "Config",
    "ConfigError",
    "load_config",
    "apply_overrides",
    "resume_config",
    "parse_bool",
    "parse_literal",
    "normalize_key",
    "BatchSizes",
    "batch_sizes",
    "AUTO_MINIBATCH",
    "DEPRECATED_KEYS",
    "SweepConfig",
    "ParamSpace",
    "DISTRIBUTIONS",
    "load_sweep_config",
]


class ConfigError(ValueError):
    """A configuration value, key or file that cannot be used."""


@dataclass
class TrainConfig:
    """PPO hyperparameters and the training device.

    ``batch_size`` is the number of buffer steps per update (``segments * horizon``; 0 picks
    ``num_agents * horizon``), ``minibatch_size`` the steps per gradient step (a multiple of ``horizon``; 0
    picks the batch, at most :data:`AUTO_MINIBATCH` steps), and ``horizon`` the segment length, which is also
    the LSTM's backpropagation-through-time length. See :func:`batch_sizes`.
    """

    #: Seeds torch, numpy, Python's ``random`` and the envs (rank ``r`` of a torchrun job uses ``seed + r``).
    seed: int = 1
    #: Torch device of the policy and the experience buffer: ``"auto"`` (a CUDA GPU when torch sees one, else
    #: the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"mps"``.
    device: str = "auto"
    #: Agent steps to train for, counted over every agent (and every rank).
    total_timesteps: int = 10_000_000
    #: Base learning rate of the optimizer.
    learning_rate: float = 0.003
    #: Cosine-anneal the learning rate over the run, down to ``learning_rate * min_lr_ratio``.
    anneal_lr: bool = True
    #: Where the annealed learning rate ends, as a fraction of ``learning_rate``.
    min_lr_ratio: float = 0.0
    #: Discount factor.
    gamma: float = 0.995
    #: GAE's lambda: the trade-off between bias (0) and variance (1) of the advantages.
    gae_lambda: float = 0.90
    #: V-trace clip of the importance ratio in each TD error (``rho_clip`` of the puff advantage).
    vtrace_rho_clip: float = 1.0
    #: V-trace clip of the importance ratio in the trace (``c_clip`` of the puff advantage).
    vtrace_c_clip: float = 1.0
    #: Prioritized replay: segments are drawn with probability ``(sum |advantage|)^prio_alpha``; 0 is uniform.
    prio_alpha: float = 0.8
    #: Prioritized replay: the importance-weight exponent at the start, annealed to 1 over the run.
    prio_beta0: float = 0.2
    #: PPO's clip range of the policy ratio.
    clip_coef: float = 0.2
    #: Weight of the value loss in the total loss.
    vf_coef: float = 2.0
    #: Clip range of the value update around the values at collection time.
    vf_clip_coef: float = 0.2
    #: Weight of the entropy bonus.
    ent_coef: float = 0.001
    #: Clip the gradient's global norm to this before each optimizer step; 0 turns clipping off.
    max_grad_norm: float = 1.5
    #: Passes over the batch per update (the number of minibatches is ``update_epochs * batch / minibatch``).
    update_epochs: int = 1
    #: Steps per gradient step, a multiple of ``horizon``; 0 picks the batch, at most :data:`AUTO_MINIBATCH`
    #: steps.
    minibatch_size: int = 0
    #: Steps per segment (a row of the experience buffer); also the LSTM's backpropagation-through-time
    #: length.
    horizon: int = 64
    #: Steps collected per update (``segments * horizon``); 0 picks ``num_agents * horizon``.
    batch_size: int = 0
    #: Minibatches whose gradients are summed before each optimizer step.
    accumulate_minibatches: int = 1
    #: Normalize the advantages of each minibatch (masked slots excluded).
    norm_adv: bool = True
    #: "adam", "muon" (every weight matrix orthogonalized, Nesterov SGD for the rest; one learning rate)
    #: or "kron".
    optimizer: str = "adam"
    #: Adam's first-moment decay (also the AdamW part of ``muon``).
    adam_beta1: float = 0.9
    #: Adam's second-moment decay.
    adam_beta2: float = 0.999
    #: Adam's epsilon.
    adam_eps: float = 1e-8
    #: Decoupled weight decay of the optimizer.
    weight_decay: float = 0.0
    #: Run the policy through ``torch.compile``.
    compile: bool = False
    #: Run the policy's forward passes under bfloat16 autocast.
    bf16: bool = False
    #: On CUDA, capture the rollout's per-step policy call and action sampling as a CUDA graph and replay it
    #: (one launch instead of dozens: small policies are launch-bound). Ignored with ``compile`` and on CPU.
    cuda_graphs: bool = False
    #: Clamp rewards to ``[-reward_clip, reward_clip]`` before learning; 0 leaves them as they are.
    reward_clip: float = 0.0
    #: Normalize observations by running mean and variance (over live agent slots).
    normalize_obs: bool = False
    #: Torch intra-op threads for learning; 0 picks every core not used by env workers or other ranks.
    torch_threads: int = 0


@dataclass
class VecConfig:
    """How the vector env is built (see ``puffer_core.vector.make``).

    ``num_env_objects`` counts the env objects the vector env holds, not agents: one object of an ocean env
    steps ``env.num_envs`` C copies (1024 by default), so the agents are
    ``num_env_objects x agents per object``. ``num_workers`` and ``batch_size`` (env objects per ``recv``)
    count env objects too. The old name ``num_envs`` is still read as a deprecated alias
    (:data:`DEPRECATED_KEYS`).
    """

    #: ``"serial"`` or ``"multiprocessing"`` (see ``puffer_core.vector.make``).
    backend: str = "serial"
    #: Env objects in the vector env (an ocean object holds ``env.num_envs`` copies).
    num_env_objects: int = 1
    #: Worker processes (multiprocessing); none picks the largest divisor of ``num_env_objects`` up to the CPU
    #: count.
    num_workers: int | None = None
    #: Env objects per ``recv``; none is all of them (synchronous), fewer steps batches asynchronously.
    batch_size: int | None = None

    @property
    def num_envs(self) -> int:
        """Deprecated alias of :attr:`num_env_objects` (kept so code written against 0.1.0 still runs)."""
        warnings.warn(_VEC_NUM_ENVS_HINT, DeprecationWarning, stacklevel=2)
        return self.num_env_objects

    @num_envs.setter
    def num_envs(self, value: int) -> None:
        warnings.warn(_VEC_NUM_ENVS_HINT, DeprecationWarning, stacklevel=2)
        self.num_env_objects = value


_VEC_NUM_ENVS_HINT = (
    "vec.num_envs is deprecated: it is now vec.num_env_objects (env objects in the vector env; "
    "env.num_envs is an ocean env's copies per object)"
)

#: Old ``(section, key)`` names still read from configs, TOML files, the CLI and ``train()`` keywords:
#: each maps to its new name, and every use adds a one-line warning to ``Config.warnings``.
DEPRECATED_KEYS: dict[tuple[str, str], str] = {("vec", "num_envs"): "num_env_objects"}


@dataclass
class PolicyConfig:
    """The default policy: ``mlp`` or ``cnn`` encoder, optionally wrapped in an LSTM."""

    #: ``"mlp"`` or ``"cnn"``: the encoder of the default policy.
    kind: str = "mlp"
    #: Width of the encoder's hidden layers and output.
    hidden_size: int = 128
    #: Linear layers of width ``hidden_size`` in the MLP encoder (1: observation -> hidden only).
    num_layers: int = 1
    #: "gelu", "relu" or "tanh", after each hidden layer of the MLP encoder.
    activation: str = "gelu"
    #: Wrap the encoder in an LSTM (state carried across steps while collecting).
    lstm: bool = False
    #: Width of the LSTM.
    lstm_hidden_size: int = 128


@dataclass
class RunConfig:
    """Run folder, checkpoints and logging (used by the shell around the Trainer)."""

    #: Folder that holds the run folders.
    run_dir: str = "runs"
    #: The run folder's name; none picks ``<family>_<name>_<UTC timestamp>``.
    run_name: str | None = None
    #: Write a checkpoint every this many epochs (and always at the end); 0: only at the end.
    checkpoint_interval: int = 200
    #: Continue from a checkpoint: a ``.pt`` path, or ``"latest"`` for the newest run of this env.
    resume: str | None = None
    #: Log to Weights & Biases (the ``wandb`` extra; offline mode when no API key is configured).
    wandb: bool = False
    #: The wandb project.
    wandb_project: str = "puffer"
    #: ``"dashboard"`` (live), ``"plain"`` (one line per interval) or ``"auto"`` (the dashboard on a
    #: terminal, else plain).
    log: str = "auto"
    #: Seconds between log lines, dashboard frames and ``metrics.jsonl`` records.
    log_interval_s: float = 1.0
    #: After SIGINT/SIGTERM, seconds to wait for the current update and checkpoint before exiting at once.
    stop_timeout_s: float = 60.0
    #: A mean episode score the run aims at: the env's ``score`` metric, else ``episode_return``. The run
    #: says when it is first reached (or that it was not), and ``curve.png`` draws it. None: no target. An
    #: env may register one in its ``train_config`` (``"run": {"score_target": 364.8}``).
    score_target: float | None = None
    #: End the run (with its final checkpoint) once ``score_target`` is reached; under torchrun rank 0's
    #: score decides for every rank.
    stop_at_target: bool = False
    #: wandb group of the run (``puffer sweep`` puts all runs of one sweep in one group).
    wandb_group: str | None = None


SECTIONS: dict[str, type] = {"train": TrainConfig, "vec": VecConfig, "policy": PolicyConfig, "run": RunConfig}


@dataclass
class Config:
    """Everything a training run needs: the env id, env kwargs and the four typed sections."""

    env_id: str
    train: TrainConfig = field(default_factory=TrainConfig)
    vec: VecConfig = field(default_factory=VecConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    run: RunConfig = field(default_factory=RunConfig)
    env: dict[str, Any] = field(default_factory=dict)
    #: One line per deprecated key that was read while building this config (printed when a run starts);
    #: not part of :meth:`to_dict`, so never saved.
    warnings: list[str] = field(default_factory=list, repr=False, compare=False)
    #: Why ``train.device`` is what it is ("auto: CUDA is available", "set by override ..."), printed when a
    #: run starts; not saved either.
    device_note: str = field(default="", repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str/int/float/bool/None, dicts): fit for TOML, JSON and ``weights_only`` loads."""
        out: dict[str, Any] = {"env_id": self.env_id}
        for name in SECTIONS:
            out[name] = dataclasses.asdict(getattr(self, name))
        out["env"] = dict(self.env)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Inverse of :meth:`to_dict`; values are type-checked and unknown keys rejected."""
        if not isinstance(data, dict) or "env_id" not in data:
            raise ConfigError("a config dict needs an 'env_id' key")
        config = cls(env_id=str(data["env_id"]))
        merge_sections(config, {k: v for k, v in data.items() if k != "env_id"}, source="config dict")
        # Saved data (a checkpoint's config) is restored, not written by the user: an old key in it is no
        # mistake to report.
        config.warnings.clear()
        return config


# -- value parsing ----------------------------------------------------------------------------------------
_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


def parse_bool(value: Any, name: str = "value") -> bool:
    """``true/false/1/0/yes/no/on/off`` (any case) or a real bool; anything else is a ConfigError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ConfigError(f"{name} must be a boolean (true/false/1/0/yes/no), got {value!r}")


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, annotation: Any, name: str) -> Any:
    """Convert ``value`` (from TOML or a CLI string) to the field's declared type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        optional = type(None) in args
        inner = [a for a in args if a is not type(None)]
        is_none = value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null"))
        if optional and is_none:
            return None
        return _coerce(value, inner[0], name)
    if annotation is bool:
        return parse_bool(value, name)
    if annotation is int:
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            text = value.strip().replace("_", "")
            try:
                return int(text)
            except ValueError:
                try:
                    as_float = float(text)
                except ValueError:
                    as_float = None
                if as_float is not None and as_float.is_integer():
                    return int(as_float)
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name} must be a string, got {value!r}")
    return value


def parse_literal(text: str) -> Any:
    """Best guess for an env kwarg given on the command line: bool, int, float, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _unknown(kind: str, key: str, valid: list[str], source: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f"; valid: {', '.join(valid)}"
    return ConfigError(f"unknown {kind} {key!r} in {source}{hint}")


def normalize_key(section: str, key: str) -> tuple[str, str]:
    """The canonical ``(section, key)`` of a config key: dashes become underscores.

    The one place where keys are normalized, for the CLI, TOML files, ``load_config`` overrides and the
    ``train()`` keyword overrides alike. Env kwargs are Python identifiers too, so ``--env.num-envs`` is
    ``num_envs`` just as ``--vec.num-env-objects`` is ``vec.num_env_objects``.
    """
    return section.strip().replace("-", "_"), key.strip().replace("-", "_")


def _deprecated(config: Config, section: str, key: str, source: str, registered: bool) -> str:
    """The new name of a deprecated key; records a warning that says where the old name was used.

    A user's own config (file, override, dict) gets a line in ``config.warnings``, printed when the run
    starts. An env's registered ``train_config`` gets a ``DeprecationWarning`` instead: whoever runs the env
    cannot edit its plugin, so printing it at every run would be noise, but the plugin's own tests show it.
    """
    name = DEPRECATED_KEYS[section, key]
    note = f"{section}.{key} ({source}) is deprecated: it is now {section}.{name}"
    if (section, key) == ("vec", "num_envs"):
        note += " (env objects, not agents)"
    if registered:
        warnings.warn(note, DeprecationWarning, stacklevel=4)
    elif note not in config.warnings:
        config.warnings.append(note)
    return name


def set_value(
    config: Config,
    section: str,
    key: str,
    value: Any,
    source: str = "override",
    registered: bool = False,
) -> None:
    """Set ``section.key`` (dashes allowed) on ``config``, converting ``value`` to the field's type.

    Deprecated keys (:data:`DEPRECATED_KEYS`) set their new name; ``registered`` says the value comes from an
    env's registered ``train_config`` (see :func:`_deprecated`).
    """
    section, key = normalize_key(section, key)
    if section == "env":
        default = config.env.get(key)
        if isinstance(value, str) and not isinstance(default, str):
            if isinstance(default, bool):
                value = parse_bool(value, f"env.{key}")
            elif default is not None:
                value = _coerce(value, type(default), f"env.{key}")
            else:
                value = parse_literal(value)
        config.env[key] = value
        return
    if section not in SECTIONS:
        raise _unknown("config section", section, [*SECTIONS, "env"], source)
    target = getattr(config, section)
    name = key
    if (section, key) in DEPRECATED_KEYS:
        name = _deprecated(config, section, key, source, registered)
    types = _field_types(type(target))
    if name not in types:
        raise _unknown(f"key in [{section}]", name, list(types), source)
    setattr(target, name, _coerce(value, types[name], f"{section}.{name}"))


def merge_sections(config: Config, data: dict[str, Any], source: str, registered: bool = False) -> None:
    """Merge ``{"train": {...}, "vec": {...}, "env": {...}}`` into ``config``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a table of sections, got {type(data).__name__}")
    for section, values in data.items():
        if section in ("env_id", SWEEP_SECTION):  # [sweep] is read by load_sweep_config, not by runs
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"section [{section}] in {source} must be a table, got {values!r}")
        if normalize_key(section, "")[0] not in (*SECTIONS, "env"):
            raise _unknown("config section", section, [*SECTIONS, "env"], source)
        for key, value in values.items():
            set_value(config, section, key, value, source, registered)


def parse_overrides(overrides: typing.Sequence[str]) -> list[tuple[str, str, str, str]]:
    """Split CLI overrides into ``(token, section, name, value)``; see :func:`apply_overrides`."""
    items = list(overrides)
    parsed = []
    i = 0
    while i < len(items):
        token = items[i]
        if not isinstance(token, str) or not token.startswith("--"):
            raise ConfigError(f"expected an override like --train.learning-rate 0.01, got {token!r}")
        body = token[2:]
        if "=" in body:
            key, value = body.split("=", 1)
            i += 1
        elif i + 1 < len(items) and not items[i + 1].startswith("--"):
            key, value = body, items[i + 1]
            i += 2
        else:
            key, value = body, "true"  # a bare flag switches a boolean on
            i += 1
        if "." not in key:
            raise ConfigError(f"override {token!r} must name a section, e.g. --train.{key}")
        section, name = key.split(".", 1)
        parsed.append((token, section, name, value))
    return parsed


def apply_overrides(config: Config, overrides: typing.Sequence[str]) -> Config:
    """Apply CLI overrides: ``--train.learning-rate 0.01``, ``--vec.num-env-objects=4``, bare
    ``--train.compile``."""
    for token, section, name, value in parse_overrides(overrides):
        set_value(config, section, name, value, source=f"override {token!r}")
    return config


#: What a resumed run may change from its checkpoint's config: how long it runs, where, and how it logs.
#: Everything else (env, layout, policy, hyperparameters) would make the resumed run a different run.
RESUME_OVERRIDABLE = {
    ("train", "total_timesteps"), ("train", "device"), ("train", "torch_threads"),
    ("run", "run_dir"), ("run", "run_name"), ("run", "resume"), ("run", "checkpoint_interval"),
    ("run", "wandb"), ("run", "wandb_project"), ("run", "log"), ("run", "log_interval_s"),
    ("run", "stop_timeout_s"), ("run", "score_target"), ("run", "stop_at_target"),
    ("run", "stop_timeout_s"), ("run", "score_target"), ("run", "wandb_group"),
}


def resume_config(
    saved: dict[str, Any], env_id: str, overrides: typing.Sequence[str] = ()
) -> tuple[Config, list[str]]:
    """The config of a resumed run: the checkpoint's, with only the overrides of :data:`RESUME_OVERRIDABLE`.

    Returns the config and one line per value that an override changed (to be printed). Any other override is
    a :class:`ConfigError` that names the value the checkpoint was trained with.
    """
    config = Config.from_dict(saved)
    if config.env_id != env_id:
        raise ConfigError(f"the checkpoint was trained on {config.env_id!r}, not {env_id!r}")
    changes = []
    for token, section, name, value in parse_overrides(overrides):
        section_key, name_key = normalize_key(section, name)
        holder = config.env if section_key == "env" else getattr(config, section_key, None)
        before = holder.get(name_key) if isinstance(holder, dict) else getattr(holder, name_key, None)
        set_value(config, section, name, value, source=f"override {token!r}")
        after = holder.get(name_key) if isinstance(holder, dict) else getattr(holder, name_key)
        if after == before or (section_key, name_key) == ("run", "resume"):
            continue  # restating the saved value is harmless
        if (section_key, name_key) not in RESUME_OVERRIDABLE:
            raise ConfigError(
                f"{section_key}.{name_key} cannot change to {after!r} when resuming: the checkpoint was "
                f"trained with {before!r} (a resumed run takes its checkpoint's config; only "
                f"{', '.join(sorted(f'{s}.{n}' for s, n in RESUME_OVERRIDABLE))} may change)"
            )
        changes.append(f"{section_key}.{name_key}: {before!r} -> {after!r}")
    check_values(config)
    return config, changes


def load_config(env_id: str, path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Resolve the config of a run on ``env_id``.

    Args:
        env_id: a registered env id; its spec's ``train_config`` is layered over the trainer defaults.
        path: optional TOML file with ``[train]``, ``[vec]``, ``[policy]``, ``[run]`` and ``[env]`` tables.
        overrides: CLI-style overrides, applied last.
    """
    import puffer_core

    spec = puffer_core.spec(env_id)
    registered = dict(spec.train_config or {})
    layers = {kind: registered.pop(kind) for kind in DEVICE_KINDS if kind in registered}
    # (its tables, the name errors give it)
    file_data = None if path is None else (_read_config_file(env_id, path), f"config file {str(path)!r}")
    # The device decides which of the env's per-device layers applies, and the file or the overrides may
    # set it: resolve it from every layer but those, then build the config with the matching one.
    config = _layered(env_id, registered, None, file_data, overrides)
    device, why = resolve_device(config.train.device)
    kind = device.split(":")[0]
    if kind in layers:
        config = _layered(env_id, registered, (kind, layers[kind]), file_data, overrides)
        why += f"; {env_id}'s registered {kind} config applies"
    config.train.device = device
    config.device_note = why
    check_values(config)
    return config


#: Keys of an env's registered ``train_config`` that hold a layer for one device kind, applied over the rest
#: of it when the run's device is of that kind: ``{"train": {...}, "cuda": {"env": {"num_envs": 8192}}}``.
DEVICE_KINDS = ("cpu", "cuda", "mps")


def resolve_device(device: str) -> tuple[str, str]:
    """``(device, why)``: ``"auto"`` becomes ``"cuda"`` when torch sees a CUDA GPU, else ``"cpu"``."""
    if device != "auto":
        return device, "set by the config or an override, not auto"
    import torch

    if torch.cuda.is_available():
        return "cuda", f"train.device auto: CUDA is available ({torch.cuda.get_device_name(0)})"
    return "cpu", "train.device auto: no CUDA GPU visible to torch"


def _read_config_file(env_id: str, path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(file)!r} does not exist") from None
    except OSError as exc:  # a folder, no permission, ...
        raise ConfigError(f"config file {str(file)!r} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(file)!r} is not a text (TOML) file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(file)!r} is not valid TOML: {exc}") from None
    if "env_id" in data and data["env_id"] != env_id:
        raise ConfigError(f"config file {str(file)!r} is for env {data['env_id']!r}, not {env_id!r}")
    return data


def _layered(
    env_id: str,
    registered: dict[str, Any],
    device_layer: tuple[str, dict[str, Any]] | None,
    file_data: tuple[dict[str, Any], str] | None,
    overrides: typing.Sequence[str],
) -> Config:
    """Trainer defaults < the env's train_config < its device layer < the config file < the overrides."""
    config = Config(env_id=env_id)
    if registered:
        merge_sections(config, registered, source=f"train_config of {env_id}", registered=True)
    if device_layer is not None:
        kind, layer = device_layer
        merge_sections(config, layer, source=f"train_config[{kind!r}] of {env_id}", registered=True)
    if file_data is not None:
        merge_sections(config, file_data[0], source=file_data[1])
    apply_overrides(config, overrides)
    return config


#: ``train.device`` values: a torch device string, or "auto" handled by the Trainer.
_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps)$")


def check_values(config: Config) -> None:
    """Refuse values no run can use, with one line that names the value and what is expected.

    Types are checked as values are set; this checks ranges and forms: a run name is one folder name (it
    must not lead outside ``run.run_dir``), step counts are positive, floats are finite, the device exists.
    """
    train, run = config.train, config.run
    name = run.run_name
    if name is not None:
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise ConfigError(
                f"run.run_name must be a single folder name inside run.run_dir (no '/', '..' or absolute "
                f"path), got {name!r}"
            )
    if train.total_timesteps <= 0:
        raise ConfigError(f"train.total_timesteps must be > 0, got {train.total_timesteps}")
    if train.device != "auto" and not _DEVICE.match(train.device):
        raise ConfigError(
            f"train.device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {train.device!r}"
        )
    for section_name, section in (("train", train), ("run", run)):
        for item in dataclasses.fields(section):
            value = getattr(section, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{section_name}.{item.name} must be a finite number, got {value!r}")
    if train.update_epochs < 1:
        raise ConfigError(f"train.update_epochs must be >= 1, got {train.update_epochs}")


#: The largest minibatch (in steps) that ``train.minibatch_size = 0`` picks.
AUTO_MINIBATCH = 8192


@dataclass(frozen=True)
class BatchSizes:
    """The sizes a Trainer uses, derived from ``TrainConfig`` and the env's agent count."""

    batch: int  #: steps per update (``segments * horizon``)
    minibatch: int  #: steps per gradient step
    horizon: int
    #: One line per size that was derived rather than set (``batch_size``/``minibatch_size`` of 0).
    notes: tuple[str, ...] = ()

    @property
    def segments(self) -> int:
        return self.batch // self.horizon

    @property
    def minibatch_segments(self) -> int:
        return self.minibatch // self.horizon


def batch_sizes(train: TrainConfig, num_agents: int) -> BatchSizes:
    """Resolve ``train.batch_size`` and ``train.minibatch_size`` for an env with ``num_agents`` agents.

    A size of 0 is derived, so the defaults work for any env: the batch is one row of ``horizon`` steps per
    agent, the minibatch is the whole batch or :data:`AUTO_MINIBATCH` steps (rounded down to a multiple of
    ``horizon``), whichever is smaller. Sizes that are set are used as they are; settings that contradict each
    other are a :class:`ConfigError` that says which values clash and how to fix them.
    """
    horizon = int(train.horizon)
    if horizon < 2:
        raise ConfigError(f"train.horizon must be >= 2, got {horizon}")
    if num_agents < 1:
        raise ConfigError(f"the env has {num_agents} agents; training needs at least one")
    for name in ("batch_size", "minibatch_size"):
        if getattr(train, name) < 0:
            raise ConfigError(f"train.{name} must be >= 0 (0 = automatic), got {getattr(train, name)}")
    notes = []
    batch = int(train.batch_size)
    if batch == 0:
        batch = num_agents * horizon
        notes.append(
            f"train.batch_size is automatic: {batch} steps ({num_agents} agent(s) x horizon {horizon})"
        )
    elif batch % horizon:
        raise ConfigError(
            f"train.batch_size ({batch}) must be a multiple of train.horizon ({horizon}), e.g. "
            f"{max(horizon, batch // horizon * horizon)}; 0 picks {num_agents * horizon} for this env"
        )
    minibatch = int(train.minibatch_size)
    if minibatch == 0:
        minibatch = min(batch, max(horizon, AUTO_MINIBATCH // horizon * horizon))
        count = max(1, batch // minibatch)
        notes.append(
            f"train.minibatch_size is automatic: {minibatch} steps ({count} minibatch(es) per update epoch)"
        )
    elif minibatch % horizon or minibatch > batch:
        source = "train.batch_size" if train.batch_size else f"automatic: {num_agents} agent(s) x horizon"
        raise ConfigError(
            f"train.minibatch_size ({minibatch}) must be a multiple of train.horizon ({horizon}) and at most "
            f"the batch ({batch} steps, {source}); lower train.minibatch_size (0 picks it), or raise "
            "train.batch_size or the number of envs"
        )
    return BatchSizes(batch, minibatch, horizon, tuple(notes))


# -- sweep search spaces ----------------------------------------------------------------------------------

#: The table of a config file (or of an env's registered ``train_config``) that ``puffer sweep`` reads. Runs
#: ignore it, so one file holds the values and the ranges they are searched in, and ``puffer train --config``
#: takes a sweep file as it is.
SWEEP_SECTION = "sweep"

#: Search distributions and what each samples (see :class:`ParamSpace`).
DISTRIBUTIONS: dict[str, str] = {
    "log": "log-uniform in [min, max] (learning rate, entropy coefficient); integers for integer keys",
    "pow2": "powers of two in [min, max] (batch, minibatch, horizon, env copies)",
    "logit": "in (0, 1), uniform in logit(x) = log(x / (1 - x)): fine steps close to 1 (gamma, gae_lambda, "
    "Adam betas, prio_alpha)",
    "uniform": "uniform in [min, max]; integers for integer keys",
    "categorical": "one of `values`",
    "bool": "false or true",
}

#: A dimension without ``min``/``max`` spans ``[center / scale, center * scale]`` (``log``, ``pow2``) or
#: ``1 - x`` in ``[(1 - center) / scale, (1 - center) * scale]`` (``logit``); these are the default scales.
DEFAULT_SCALE: dict[str, float] = {"log": 10.0, "pow2": 4.0, "logit": 10.0}

#: The space searched when neither the env nor the config file defines one: PPO's usual suspects, each
#: around the config's own value.
DEFAULT_SPACE: dict[str, dict[str, dict[str, Any]]] = {
    "train": {
        "learning_rate": {"distribution": "log"},
        "ent_coef": {"distribution": "log"},
        "gamma": {"distribution": "logit"},
        "gae_lambda": {"distribution": "logit"},
        "vf_coef": {"distribution": "log"},
        "max_grad_norm": {"distribution": "log"},
        "clip_coef": {"distribution": "log", "scale": 3.0},
        "update_epochs": {"distribution": "uniform", "min": 1, "max": 4},
        "minibatch_size": {"distribution": "pow2"},
        "horizon": {"distribution": "pow2"},
        "adam_beta1": {"distribution": "logit"},
        "adam_beta2": {"distribution": "logit"},
        "total_timesteps": {"distribution": "log", "scale": 2.0},
    }
}


@dataclass(frozen=True)
class ParamSpace:
    """One searched config value: ``section.name`` drawn from ``distribution`` (see :data:`DISTRIBUTIONS`).

    ``center`` is the value the sweep's first run uses (by default the config's own: the env's registered
    config, then the file and the overrides), and the middle of a range given by ``scale`` alone. After
    :func:`resolve_space` every dimension has its bounds and center; ``integer`` says the key holds ints.
    """

    section: str
    name: str
    distribution: str
    min: float | None = None
    max: float | None = None
    values: tuple[Any, ...] = ()
    center: Any = None
    scale: float | None = None
    integer: bool = False

    @property
    def key(self) -> str:
        """``section.name``, the dimension's name in the study."""
        return f"{self.section}.{self.name}"


@dataclass
class SweepConfig:
    """How ``puffer sweep`` searches: budget, storage, scoring, pruning, and the search space.

    Set in a config file's ``[sweep]`` table (its sub-tables ``[sweep.train.learning_rate]``... are the
    space) or with ``--sweep.KEY value`` overrides.
    """

    #: Runs (finished or pruned) the whole study may hold; several workers share the count.
    max_runs: int = 20
    #: Wall-clock seconds of training after which a run is stopped and evaluated (None: no cap).
    max_cost_s: float | None = None
    #: Wall-clock seconds this worker searches before it starts no new run (None: until max_runs).
    max_time_s: float | None = None
    #: An optuna storage URL (``sqlite:///path.db``, ``postgresql://user@host/db``); None: ``<dir>/study.db``.
    storage: str | None = None
    #: The study's name in the storage; None: the env id. The same name and storage continue a sweep.
    study_name: str | None = None
    #: Folder of the sweep's runs, table, plot and best config; None: ``<run.run_dir>/sweeps/<study>``.
    dir: str | None = None
    #: The episode statistic scored (None: the env's ``score``, else ``episode_return``).
    metric: str | None = None
    #: Episodes the final policy plays to score a run.
    eval_episodes: int = 16
    #: Evaluation stops after this many env steps even if fewer episodes finished.
    eval_max_steps: int = 100_000
    #: The sweep's best config is the cheapest on the Pareto front that scores at least this (None: the
    #: highest score; by default ``run.score_target``).
    score_target: float | None = None
    #: A run whose training score is below this percentile of the other runs' scores at the same wall-clock
    #: time is stopped (pruned); 0 turns pruning off.
    prune_percentile: float = 25.0
    #: Pruning needs at least this many other runs to compare with.
    prune_min_runs: int = 4
    #: No run is pruned in its first seconds.
    prune_warmup_s: float = 30.0
    #: Runs drawn at random before the TPE sampler models the results (the first run is the center).
    startup_runs: int = 6
    #: Seed of the sampler (each worker offsets it by its process id).
    seed: int = 0
    #: Seconds between a worker's heartbeats; a run without one for 3x this long is failed and retried.
    heartbeat_s: int = 20
    space: list[ParamSpace] = field(default_factory=list)


def _sweep_setting_types() -> dict[str, Any]:
    return {k: v for k, v in _field_types(SweepConfig).items() if k != "space"}


def parse_space(data: dict[str, Any], source: str) -> list[ParamSpace]:
    """Dimensions from ``{"train": {"learning_rate": {"distribution": "log", "min": ...}}}``.

    Checks form only (known keys, known distributions, ``min < max``); see :func:`resolve_space`.
    """
    space = []
    for section, table in data.items():
        section = normalize_key(section, "")[0]
        if section not in (*SECTIONS, "env"):
            raise _unknown("config section in [sweep]", section, [*SECTIONS, "env"], source)
        if not isinstance(table, dict):
            raise ConfigError(f"[{SWEEP_SECTION}.{section}] in {source} must be a table, got {table!r}")
        for key, spec in table.items():
            name = normalize_key(section, key)[1]
            where = f"[{SWEEP_SECTION}.{section}.{name}] in {source}"
            if section != "env":
                types = _field_types(SECTIONS[section])
                if name not in types:
                    raise _unknown(f"key in [{SWEEP_SECTION}.{section}]", name, list(types), source)
            if not isinstance(spec, dict):
                raise ConfigError(f"{where} must be a table like {{distribution = \"log\"}}, got {spec!r}")
            unknown = set(spec) - {"distribution", "min", "max", "values", "center", "scale"}
            if unknown:
                raise ConfigError(
                    f"{where} has unknown key(s) {', '.join(sorted(map(repr, unknown)))}; valid: "
                    "distribution, min, max, values, center, scale"
                )
            kind = spec.get("distribution")
            if kind not in DISTRIBUTIONS:
                raise ConfigError(
                    f"{where}: distribution must be one of {', '.join(DISTRIBUTIONS)}, got {kind!r}"
                )
            bounds = {}
            for bound in ("min", "max", "scale"):
                if bound in spec:
                    value = spec[bound]
                    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                    if not numeric or not math.isfinite(value):
                        raise ConfigError(f"{where}: {bound} must be a finite number, got {value!r}")
                    bounds[bound] = float(value)
            values = spec.get("values", ())
            if kind == "categorical":
                if not isinstance(values, list) or not values:
                    raise ConfigError(f"{where}: a categorical distribution needs a non-empty list `values`")
                if any(not isinstance(v, (bool, int, float, str)) for v in values):
                    raise ConfigError(f"{where}: values must be numbers, strings or booleans, got {values!r}")
            elif "values" in spec:
                raise ConfigError(f"{where}: `values` is only for distribution = \"categorical\"")
            if ("min" in bounds) != ("max" in bounds):
                raise ConfigError(f"{where}: give both min and max, or neither (a range around the center)")
            if "min" in bounds and not bounds["min"] < bounds["max"]:
                raise ConfigError(f"{where}: min ({bounds['min']:g}) must be below max ({bounds['max']:g})")
            if kind in ("uniform",) and "min" not in bounds:
                raise ConfigError(f"{where}: a uniform distribution needs min and max")
            if "scale" in bounds and not bounds["scale"] > 1:
                raise ConfigError(f"{where}: scale must be > 1, got {bounds['scale']:g}")
            space.append(
                ParamSpace(
                    section=section,
                    name=name,
                    distribution=kind,
                    min=bounds.get("min"),
                    max=bounds.get("max"),
                    values=tuple(values),
                    center=spec.get("center"),
                    scale=bounds.get("scale"),
                )
            )
    return space


def load_sweep_config(
    env_id: str, path: str | Path | None = None, overrides: typing.Sequence[str] = ()
) -> tuple[Config, SweepConfig]:
    """The base config of a sweep and its settings and search space.

    ``[sweep]`` comes from the env's registered ``train_config``, then the file (a space in the file replaces
    the registered one), then ``--sweep.KEY value`` overrides; with no space anywhere,
    :data:`DEFAULT_SPACE` is searched. Every other override goes to the config, as in :func:`load_config`.
    """
    import puffer_core

    run_overrides, sweep_overrides = [], []
    for token, section, name, value in parse_overrides(overrides):
        if normalize_key(section, "")[0] == SWEEP_SECTION:
            sweep_overrides.append((token, name, value))
        else:
            run_overrides.append(f"--{section}.{name}={value}")
    config = load_config(env_id, path, run_overrides)
    sweep = SweepConfig()
    layers: list[tuple[dict[str, Any], str]] = []
    registered = (puffer_core.spec(env_id).train_config or {}).get(SWEEP_SECTION)
    if registered:
        layers.append((registered, f"train_config of {env_id}"))
    if path is not None:
        data = tomllib.loads(Path(path).read_text())  # load_config above already read and checked it
        if SWEEP_SECTION in data:
            layers.append((data[SWEEP_SECTION], f"config file {str(path)!r}"))
    types = _sweep_setting_types()
    space_data: dict[str, Any] | None = None
    space_source = "the default space"
    for data, source in layers:
        if not isinstance(data, dict):
            raise ConfigError(f"[{SWEEP_SECTION}] in {source} must be a table, got {data!r}")
        tables = {k: v for k, v in data.items() if isinstance(v, dict)}
        if tables:
            space_data, space_source = tables, source
        for key, value in data.items():
            if key in tables:
                continue
            name = normalize_key(SWEEP_SECTION, key)[1]
            if name not in types:
                raise _unknown(f"key in [{SWEEP_SECTION}]", name, list(types), source)
            setattr(sweep, name, _coerce(value, types[name], f"{SWEEP_SECTION}.{name}"))
    for token, name, value in sweep_overrides:
        name = normalize_key(SWEEP_SECTION, name)[1]
        if name not in types:
            raise _unknown(f"key in [{SWEEP_SECTION}]", name, list(types), f"override {token!r}")
        setattr(sweep, name, _coerce(value, types[name], f"{SWEEP_SECTION}.{name}"))
    sweep.space = parse_space(space_data if space_data is not None else DEFAULT_SPACE, space_source)
    if sweep.score_target is None:
        sweep.score_target = config.run.score_target
    check_sweep(sweep)
    return config, sweep


def check_sweep(sweep: SweepConfig) -> None:
    """Refuse sweep settings no search can use, naming the value."""
    if sweep.max_runs < 1:
        raise ConfigError(f"sweep.max_runs must be >= 1, got {sweep.max_runs}")
    for name in ("max_cost_s", "max_time_s"):
        value = getattr(sweep, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"sweep.{name} must be a positive number of seconds, got {value!r}")
    if sweep.eval_episodes < 1 or sweep.eval_max_steps < 1:
        raise ConfigError(
            f"sweep.eval_episodes and sweep.eval_max_steps must be >= 1, got {sweep.eval_episodes} and "
            f"{sweep.eval_max_steps}"
        )
    if not 0 <= sweep.prune_percentile < 100:
        raise ConfigError(f"sweep.prune_percentile must lie in [0, 100), got {sweep.prune_percentile:g}")
    if sweep.heartbeat_s < 1:
        raise ConfigError(f"sweep.heartbeat_s must be >= 1, got {sweep.heartbeat_s}")
    if sweep.study_name is not None and not sweep.study_name.strip():
        raise ConfigError("sweep.study_name must not be empty")
    keys = [p.key for p in sweep.space]
    if not keys:
        raise ConfigError("the sweep's search space is empty: add [sweep.SECTION.KEY] tables to the config")
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ConfigError(f"the search space names {', '.join(twice)} more than once")


def current_value(
    config: Config, section: str, name: str, env_defaults: dict[str, Any] | None = None
) -> Any:
    """The value ``section.name`` has in ``config`` (an env kwarg it does not set: the env's default)."""
    if section == "env":
        if name in config.env:
            return config.env[name]
        return (env_defaults or {}).get(name)
    return getattr(getattr(config, section), name)


def _is_integer_key(section: str, name: str, value: Any) -> bool:
    if section == "env":
        return isinstance(value, int) and not isinstance(value, bool)
    annotation = _field_types(SECTIONS[section])[name]
    args = typing.get_args(annotation)
    return annotation is int or (int in args and float not in args)


def _is_pow2(value: float) -> bool:
    return value >= 1 and float(value).is_integer() and (int(value) & (int(value) - 1)) == 0


def logit(x: float) -> float:
    """``log(x / (1 - x))``, the scale on which the ``logit`` distribution is uniform."""
    return math.log(x / (1.0 - x))


def sigmoid(t: float) -> float:
    """Inverse of :func:`logit`."""
    return 1.0 / (1.0 + math.exp(-t))


def resolve_space(
    space: typing.Sequence[ParamSpace],
    config: Config,
    num_agents: int | None = None,
    env_defaults: dict[str, Any] | None = None,
) -> list[ParamSpace]:
    """Every dimension with its center, bounds and integer flag filled in from ``config``.

    A center not given is the config's value; ``train.batch_size``/``minibatch_size`` of 0 (automatic) are
    resolved for ``num_agents`` first. Bounds not given span ``scale`` (:data:`DEFAULT_SCALE`) around the
    center. A center outside its bounds, or one the distribution cannot hold (0 for ``log``, 1 for
    ``logit``, 48 for ``pow2``), is a :class:`ConfigError` that names the key and what would fix it.
    """
    resolved = []
    auto = None
    for dim in space:
        where = f"sweep dimension {dim.key}"
        current = current_value(config, dim.section, dim.name, env_defaults)
        if dim.section == "train" and dim.name in ("batch_size", "minibatch_size") and current == 0:
            if num_agents is not None:
                auto = auto or batch_sizes(config.train, num_agents)
                current = auto.batch if dim.name == "batch_size" else auto.minibatch
        center = dim.center if dim.center is not None else current
        integer = _is_integer_key(dim.section, dim.name, current if current is not None else center)
        kind, low, high = dim.distribution, dim.min, dim.max
        if kind == "bool":
            center = parse_bool(center, dim.key) if center is not None else None
            resolved.append(dataclasses.replace(dim, center=center, integer=False))
            continue
        if kind == "categorical":
            if center is not None and center not in dim.values:
                if dim.center is not None:
                    raise ConfigError(f"{where}: center {center!r} is not one of {list(dim.values)}")
                center = None  # the config's value is not a choice: the sampler picks the first run's
            resolved.append(dataclasses.replace(dim, center=center, integer=False))
            continue
        if center is None or isinstance(center, bool) or not isinstance(center, (int, float)):
            if low is None:
                raise ConfigError(
                    f"{where}: the config has no numeric value ({center!r}) to center on; give min and max"
                )
            center = None
        scale = dim.scale or DEFAULT_SCALE.get(kind, 1.0)
        if kind == "log":
            if low is None:
                if center is None or center <= 0:
                    raise ConfigError(
                        f"{where}: a log range around the config's value {center!r} needs a value > 0; "
                        "give min and max"
                    )
                low, high = center / scale, center * scale
            if low <= 0:
                raise ConfigError(f"{where}: a log distribution needs min > 0, got {low:g}")
        elif kind == "pow2":
            if low is None:
                if center is None or not _is_pow2(center):
                    raise ConfigError(
                        f"{where}: a pow2 range around the config's value {center!r} needs a power of two; "
                        "give min and max, or set the value to a power of two"
                    )
                span = max(1, round(math.log2(scale)))
                low, high = max(1, int(center) >> span), int(center) << span
            for bound in (low, high):
                if not _is_pow2(bound):
                    raise ConfigError(f"{where}: pow2 bounds must be powers of two, got {bound:g}")
            if center is not None and not _is_pow2(center):
                raise ConfigError(f"{where}: the center {center!r} is not a power of two")
            low, high, integer = int(low), int(high), True
        elif kind == "logit":
            if low is None:
                if center is None or not 0 < center < 1:
                    raise ConfigError(
                        f"{where}: a logit range around the config's value {center!r} needs a value in "
                        "(0, 1); give min and max"
                    )
                span = math.log(scale)
                low, high = sigmoid(logit(center) - span), sigmoid(logit(center) + span)
            if not 0 < low < high < 1:
                raise ConfigError(f"{where}: logit bounds must lie in (0, 1), got [{low:g}, {high:g}]")
            integer = False
        if integer and kind in ("log", "uniform"):
            low, high = math.ceil(low - 1e-9), math.floor(high + 1e-9)
            if kind == "log":
                low = max(low, 1)
            if low >= high:
                raise ConfigError(f"{where}: the integer range [{low}, {high}] holds one value; widen it")
        if center is not None and not low <= center <= high:
            raise ConfigError(
                f"{where}: the center {center!r} (the config's value unless `center` is set) lies outside "
                f"[{low:g}, {high:g}]; widen the range or set `center`"
            )
        resolved.append(dataclasses.replace(dim, min=low, max=high, center=center, integer=integer))
    return resolved
