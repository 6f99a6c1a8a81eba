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
    #: Clamp rewards to ``[-reward_clip, reward_clip]`` before learning; 0 leaves them as they are.
    reward_clip: float = 0.0
    #: Normalize observations by running mean and variance (over live agent slots).
    normalize_obs: bool = False
    #: Torch intra-op threads; 0 picks half the cores not used by env workers (1 on a 2-core machine).
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
        if section == "env_id":
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
    file_data = None if path is None else _read_config_file(env_id, path)
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
        return device, "set in the config"
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
    data["__source__"] = f"config file {str(file)!r}"
    return data


def _layered(
    env_id: str,
    registered: dict[str, Any],
    device_layer: tuple[str, dict[str, Any]] | None,
    file_data: dict[str, Any] | None,
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
        data = {k: v for k, v in file_data.items() if k != "__source__"}
        merge_sections(config, data, source=file_data["__source__"])
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
