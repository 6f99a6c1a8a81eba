"""``puffer export``: a trained policy as a C inference file, and for ocean envs a C program that plays it.

:func:`policy_spec` turns a policy (the default :class:`~puffer_trainer.policies.Policy` with an MLP, CNN or
structured encoder and an optional LSTM, behind the observation normalizer it was trained with) into the
layer list of puffer-kernels' C inference library; any module it cannot translate exactly is listed in an
:class:`ExportError`. :func:`export_checkpoint` writes ``policy.bin`` (the one flat file the C library
loads) and ``policy.json`` (the same architecture, readable), and for an env that describes itself to C
(``env.native_runtime()``, which ocean envs have) compiles ``ocean_play`` with the system C compiler: the
runner source shipped here, ``infer.c`` from the installed puffer-kernels, linked against a copy of the
installed ``libocean`` placed next to it, so the folder runs on its own.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from .checkpoint import CheckpointError, load_checkpoint

__all__ = ["ExportError", "ExportResult", "export_checkpoint", "policy_spec", "build_runner"]

#: ObsNormalizer's eps (not saved in checkpoints; the normalizer divides by sqrt(var + eps)).
OBS_NORM_EPS = 1e-8
RUNNER_SOURCE = Path(__file__).resolve().parent / "csrc" / "ocean_play.c"


class ExportError(ValueError):
    """The policy cannot be exported: the message lists every module (or setting) the C library lacks."""


@dataclass
class ExportResult:
    """What :func:`export_checkpoint` wrote."""

    policy: Path
    description: Path
    runner: Path | None = None
    runner_note: str = ""
    command: list[str] = field(default_factory=list)
    compiler_output: str = ""  # the compiler's warnings, if any (the runner builds -Wall -Wextra clean)


# -- torch module -> layer list ------------------------------------------------------------------------------
def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).contiguous().numpy()


def _activation_name(fn: Any) -> str | None:
    from .policies import ACTIVATIONS

    return next((name for name, f in ACTIVATIONS.items() if f is fn), None)


def policy_spec(
    policy: nn.Module,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    obs_norm: dict[str, torch.Tensor] | None = None,
    meta: dict[str, str] | None = None,
) -> Any:
    """The :class:`puffer_kernels.inference.PolicySpec` computing exactly what ``policy`` computes.

    Args:
        policy: a :class:`~puffer_trainer.policies.Policy` (exact class, not a subclass: its forward must be
            the one translated here).
        observation_space, action_space: the env's single-agent spaces.
        obs_norm: the checkpoint's ``obs_norm`` buffers (``mean``, ``var``) when it was trained with
            ``normalize_obs``.
        meta: ``key=value`` strings stored in the file.

    Raises:
        ExportError: listing every unsupported module or setting.
    """
    from puffer_kernels.inference import Layer, PolicySpec

    from .policies import CNNEncoder, MLPEncoder, Policy, StructuredEncoder

    problems: list[str] = []
    if type(policy) is not Policy:
        raise ExportError(
            f"cannot export {type(policy).__module__}.{type(policy).__name__}: only puffer_trainer's default "
            "Policy (MLP, CNN or structured encoder, optional LSTM) is supported"
        )
    known = (
        Policy, MLPEncoder, CNNEncoder, StructuredEncoder, nn.Linear, nn.Conv2d, nn.ReLU, nn.Flatten,
        nn.Sequential, nn.ModuleList, nn.LSTM,
    )  # fmt: skip
    for name, module in policy.named_modules():
        if type(module) not in known and name != "encoder":  # the encoder's own entry says why, below
            problems.append(f"{name or '(root)'} ({type(module).__module__}.{type(module).__name__})")

    if not isinstance(observation_space, spaces.Box):
        problems.append(f"observation space {observation_space} (a Box is needed)")
    obs_dtype = np.dtype(observation_space.dtype) if isinstance(observation_space, spaces.Box) else None
    if obs_dtype is not None and obs_dtype not in (np.dtype(np.uint8), np.dtype(np.float32)):
        problems.append(f"observation dtype {obs_dtype} (the C library reads uint8 and float32)")
    obs_shape = tuple(int(d) for d in getattr(observation_space, "shape", ()) or ())
    if not 1 <= len(obs_shape) <= 3:
        problems.append(f"observation shape {obs_shape} (rank 1 to 3)")
    if obs_dtype is None or not 1 <= len(obs_shape) <= 3:  # nothing below can be built without them
        raise ExportError("cannot export this policy; unsupported: " + "; ".join(problems))

    layers: list[Any] = []
    size = int(np.prod(obs_shape))
    if obs_norm is not None:
        mean = obs_norm["mean"].to(torch.float64).float().reshape(-1)
        std = (obs_norm["var"].to(torch.float64).float() + OBS_NORM_EPS).sqrt().reshape(-1)
        if mean.numel() != size or std.numel() != size:
            raise ExportError(f"obs_norm buffers have {mean.numel()} elements, the observation {size}")
        layers.append(Layer("normalize", (size,), [_array(mean), _array(std)]))
    # The normalizer hands the encoder float observations, so the CNN's uint8 scaling is skipped then.
    raw_uint8 = obs_dtype == np.dtype(np.uint8) and obs_norm is None

    encoder = policy.encoder
    if type(encoder) is MLPEncoder:
        act = _activation_name(encoder.act)
        if act is None:
            problems.append(f"encoder.act ({encoder.act!r}: not one of the activations gelu, relu, tanh)")
        linears = [encoder.linear, *encoder.hidden]
        for lin in linears:
            layers.append(_linear(lin, size))
            layers.append(Layer(act or "relu", (lin.out_features,)))
            size = lin.out_features
    elif type(encoder) is CNNEncoder:
        layers_cnn, size = _cnn_layers(encoder, obs_shape, raw_uint8, problems)
        layers += layers_cnn
    elif type(encoder) is StructuredEncoder:
        if obs_norm is not None or obs_dtype != np.dtype(np.uint8):
            problems.append(
                "encoder (StructuredEncoder: reads the uint8 bytes of its leaves, no normalizer)"
            )
        else:
            layers.append(_unpack_layer(encoder, size, problems))
            act = _activation_name(encoder.act) or "relu"
            layers += [_linear(encoder.linear, encoder.linear.in_features), Layer(act, (encoder.out_size,))]
            size = encoder.out_size
            if _activation_name(encoder.act) is None:
                problems.append(f"encoder.act ({encoder.act!r}: not one of the activations gelu, relu, tanh)")
    else:
        problems.append(
            f"encoder ({type(encoder).__module__}.{type(encoder).__name__}: only MLPEncoder, CNNEncoder and "
            "StructuredEncoder are exportable)"
        )
        size = getattr(encoder, "out_size", size)

    if policy.is_recurrent:
        lstm = policy.lstm
        if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size or not lstm.bias:
            problems.append(
                f"lstm (num_layers={lstm.num_layers}, bidirectional={lstm.bidirectional}, "
                f"proj_size={lstm.proj_size}, bias={lstm.bias}: one biased unidirectional layer is supported)"
            )
        elif lstm.input_size != size:
            problems.append(f"lstm (input size {lstm.input_size}, the encoder gives {size})")
        else:
            weights = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0]
            layers.append(Layer("lstm", (lstm.input_size, lstm.hidden_size), [_array(w) for w in weights]))
            size = lstm.hidden_size
    if problems:
        raise ExportError("cannot export this policy; unsupported: " + "; ".join(problems))
    layers.append(_linear(policy.heads, size))

    dist = policy.dist
    if dist.kind == "box":
        act_kind, act_n, act_start = "gaussian", [dist.dim], []
        log_std = _array(policy.log_std)
    else:
        act_kind, act_n, log_std = "categorical", list(dist.nvec), None
        if dist.kind == "discrete":
            act_start = [int(dist.start)]
        else:
            act_start = [int(s) for s in dist.start_array.tolist()]
    return PolicySpec(
        obs_dtype=str(obs_dtype),
        obs_shape=obs_shape,
        layers=layers,
        act_kind=act_kind,
        act_n=act_n,
        act_start=act_start,
        log_std=log_std,
        meta=dict(meta or {}),
    )


def _linear(lin: nn.Linear, width: int) -> Any:
    from puffer_kernels.inference import Layer

    if lin.in_features != width:
        raise ExportError(f"a Linear takes {lin.in_features} inputs but receives {width}")
    bias = lin.bias if lin.bias is not None else torch.zeros(lin.out_features)
    return Layer("linear", (lin.in_features, lin.out_features, 1), [_array(lin.weight), _array(bias)])


def _unpack_layer(encoder: nn.Module, size: int, problems: list[str]) -> Any:
    """StructuredEncoder's leaves (byte offset, dtype, elements, classes, start) as the C ``unpack`` table."""
    from puffer_kernels.inference import LEAF_DTYPES, Layer

    table: list[int] = []
    for offset, nbytes, dtype, n_classes, start in encoder.leaves:
        name = str(dtype).removeprefix("torch.")
        if name not in LEAF_DTYPES:
            problems.append(f"encoder leaf at byte {offset} of dtype {name}")
            continue
        itemsize = torch.empty((), dtype=dtype).element_size()
        table += [int(offset), LEAF_DTYPES[name], int(nbytes) // itemsize, int(n_classes), int(start)]
    return Layer("unpack", (len(table) // 5, size), ints=table)


def _cnn_layers(encoder: nn.Module, obs_shape: tuple[int, ...], raw_uint8: bool, problems: list[str]):
    """CNNEncoder.forward as layers: uint8 scaling, channels-last permute, the conv stack, the linear."""
    from puffer_kernels.inference import Layer

    layers: list[Any] = []
    size = int(np.prod(obs_shape))
    if raw_uint8:
        layers.append(Layer("scale", (size,), [np.array([1.0 / 255.0], dtype=np.float32)]))
    if len(obs_shape) == 2:  # forward adds a channel axis: last when channels_last, else first
        c, h, w = 1, obs_shape[0], obs_shape[1]
    elif encoder.channels_last:
        h, w, c = obs_shape
        if c > 1:
            layers.append(Layer("hwc_to_chw", (h, w, c)))
    else:
        c, h, w = obs_shape
    for index, module in enumerate(encoder.convs):
        where = f"encoder.convs.{index}"
        if isinstance(module, nn.Conv2d):
            plain = (module.dilation == (1, 1) and module.groups == 1 and module.padding_mode == "zeros"
                     and isinstance(module.padding, tuple))  # fmt: skip
            if not plain or module.in_channels != c:
                problems.append(f"{where} (Conv2d with dilation, groups, non-zero padding mode or "
                                f"{module.in_channels} channels for {c})")  # fmt: skip
                return layers, size
            (kh, kw), (sh, sw), (ph, pw) = module.kernel_size, module.stride, module.padding
            bias = module.bias if module.bias is not None else torch.zeros(module.out_channels)
            layers.append(Layer("conv2d", (c, h, w, module.out_channels, kh, kw, sh, sw, ph, pw),
                                [_array(module.weight), _array(bias)]))  # fmt: skip
            c, h, w = module.out_channels, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
            size = c * h * w
        elif isinstance(module, nn.ReLU):
            layers.append(Layer("relu", (size,)))
        elif not isinstance(module, nn.Flatten):
            problems.append(f"{where} ({type(module).__name__})")
    layers.append(_linear(encoder.linear, size))
    layers.append(Layer("relu", (encoder.linear.out_features,)))
    return layers, encoder.linear.out_features


def describe(spec: Any) -> dict[str, Any]:
    """A spec's architecture as plain data (what ``policy.json`` holds), weights as offsets and shapes."""
    offset = 0
    rows = []
    for layer in spec.layers:
        weights = []
        for w in layer.weights:
            weights.append({"offset": offset, "shape": list(np.shape(w))})
            offset += int(np.size(w))
        row = {"op": layer.op, "params": list(layer.params), "weights": weights}
        if layer.ints:  # unpack: (byte offset, dtype code, count, classes, start) per leaf
            row["leaves"] = [layer.ints[i : i + 5] for i in range(0, len(layer.ints), 5)]
        rows.append(row)
    heads: dict[str, Any] = {"kind": spec.act_kind, "sizes": list(spec.act_n)}
    if spec.act_kind == "categorical":
        heads["start"] = list(spec.act_start)
    else:
        heads["log_std"] = {"offset": offset, "shape": [int(np.size(spec.log_std))]}
        offset += int(np.size(spec.log_std))
    return {
        "format": "puffer policy file, version 1 (docs/export.md)",
        "observation": {"dtype": spec.obs_dtype, "shape": list(spec.obs_shape)},
        "layers": rows,
        "heads": heads,
        "output": "per row: action parameters (logits or means), then the value",
        "num_weights": offset,
        "meta": dict(spec.meta),
    }


# -- checkpoint -> files ----------------------------------------------------------------------------------
def export_checkpoint(
    env_id: str,
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    runner: bool = True,
    compiler: str | None = None,
) -> ExportResult:
    """Export the policy of ``checkpoint`` (trained on ``env_id``) into ``out_dir``.

    Writes ``policy.bin`` and ``policy.json``; with ``runner`` and an env that has ``native_runtime()``
    (ocean envs) also ``ocean_play`` and a copy of ``libocean`` (see :func:`build_runner`).

    Raises:
        CheckpointError: the checkpoint is unreadable or for another env.
        ExportError: the policy has modules the C library cannot run, or the runner does not compile.
    """
    import puffer_core

    from .config import Config
    from .evaluation import restore_policy

    state = load_checkpoint(checkpoint)
    config = Config.from_dict(state["config"])
    if config.env_id != env_id:  # before making the env: the saved env kwargs are another env's
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} was trained on {config.env_id!r}, not {env_id!r}"
        )
    env = puffer_core.make(env_id, **dict(config.env))
    try:
        policy, config, state = restore_policy(checkpoint, env, env_id, state)
        obs_norm = state.get("obs_norm") if isinstance(state.get("obs_norm"), dict) else None
        meta = {"env_id": env_id, **{f"env.{k}": _meta_value(v) for k, v in dict(config.env).items()}}
        meta.update({
            "policy.kind": str(config.policy.kind),
            "global_step": str(state["puffer"].get("global_step", "")),
            "exported_by": f"puffer-trainer {_version()}",
        })  # fmt: skip
        native = getattr(env, "native_runtime", None)
        runtime = native() if callable(native) else None
        if runtime is not None:  # the env as made, registered defaults included: what the runner recreates
            meta.update({f"env.{name}": _meta_value(value) for name, value in runtime.params})
            meta["env.num_envs"] = str(int(runtime.num_envs))
        spec = policy_spec(policy, env.single_observation_space, env.single_action_space, obs_norm, meta)
    finally:
        env.close()

    from puffer_kernels.inference import write_policy

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = ExportResult(write_policy(spec, out / "policy.bin"), out / "policy.json")
    result.description.write_text(json.dumps(describe(spec), indent=2) + "\n")
    if not runner:
        result.runner_note = "runner not built (--no-runner)"
    elif runtime is None:
        result.runner_note = f"{env_id} has no C runtime (native_runtime()); only the policy file was written"
    else:
        result.runner, result.compiler_output = build_runner(runtime, out, compiler)
        result.command = [str(result.runner), str(result.policy), "--episodes", "10"]
    return result


def _meta_value(value: Any) -> str:
    if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return str(value)


def _version() -> str:
    from . import __version__

    return str(__version__)


def _compiler(compiler: str | None) -> list[str]:
    """The C compiler command: the argument, else $CC, else the one Python was built with, else cc."""
    text = compiler or os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    command = shlex.split(text)
    if not command or shutil.which(command[0]) is None:
        if compiler is None and shutil.which("cc"):
            return ["cc"]
        raise ExportError(
            f"no C compiler {command[0] if command else text!r} found to build the runner; install one "
            "(gcc or clang), set CC, or pass --no-runner to write the policy file only"
        )
    return command


def build_runner(runtime: Any, out_dir: Path, compiler: str | None = None) -> tuple[Path, str]:
    """Compile ``ocean_play`` into ``out_dir`` against a copy of ``runtime.library`` placed beside it.

    Returns the program's path and the compiler's output (its warnings; empty when clean).
    The program finds the library through an ``$ORIGIN`` rpath, so the folder can be moved as a whole.
    """
    from puffer_kernels.inference import c_files

    files = c_files()
    library = Path(runtime.library)
    local = out_dir / library.name
    shutil.copy2(library, local)
    exe = out_dir / ("ocean_play.exe" if sys.platform == "win32" else "ocean_play")
    command = [
        *_compiler(compiler), "-std=c11", "-O3", "-Wall", "-Wextra", "-DPINF_STATIC",
        f"-I{files.include_dir}", f"-I{runtime.include_dir}",
        str(RUNNER_SOURCE), str(files.source), "-o", str(exe), str(local), "-lm",
    ]  # fmt: skip
    if sys.platform.startswith("linux"):
        command.append("-Wl,-rpath,$ORIGIN")
    elif sys.platform == "darwin":
        command.append("-Wl,-rpath,@loader_path")
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ExportError(
            f"compiling the runner failed ({shlex.join(command)}):\n"
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )
    return exe, (proc.stderr + proc.stdout).strip()
