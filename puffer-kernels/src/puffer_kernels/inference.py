"""Policy files for the C inference library (``csrc/infer.c``): write them, load and run them from Python.

A policy file is one flat binary: a 64-byte header, a table of layer records (op + 11 int32 parameters),
the action sizes, ``key=value`` metadata and all float32 weights (layout: ``csrc/infer.c`` and
docs/export.md). :func:`encode_policy` writes one from a :class:`PolicySpec` and checks it by parsing it
with the C library; :class:`CPolicy` loads one and runs its forward pass in C (what the tests compare with
torch). :func:`c_files` says where the header and source are, for C programs that embed the library.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import _loader

__all__ = [
    "ACT_KINDS",
    "FORMAT_VERSION",
    "OPS",
    "CFiles",
    "CPolicy",
    "Layer",
    "PolicyFileError",
    "PolicySpec",
    "c_files",
    "encode_policy",
    "write_policy",
]

FORMAT_VERSION = 1
MAGIC = b"PUFFPOL\0"
HEADER_BYTES = 64
LAYER_INTS = 12

#: Layer ops by name, as numbered in ``infer.h`` (``enum PinfOp``).
OPS: dict[str, int] = {
    "normalize": 1,
    "scale": 2,
    "linear": 3,
    "relu": 4,
    "gelu": 5,
    "tanh": 6,
    "sigmoid": 7,
    "layernorm": 8,
    "conv2d": 9,
    "hwc_to_chw": 10,
    "set_max": 11,
    "embedding": 12,
    "lstm": 13,
    "heads": 14,
    "unpack": 15,
}
#: Leaf dtypes of the ``unpack`` op (``PINF_LEAF_*``).
LEAF_DTYPES = {"uint8": 0, "int8": 1, "int16": 2, "int32": 3, "int64": 4, "float16": 5, "float32": 6,
               "float64": 7, "bool": 8}  # fmt: skip
ACT_KINDS = {"categorical": 0, "gaussian": 1}
OBS_DTYPES = {"uint8": 0, "float32": 1}


class PolicyFileError(ValueError):
    """A policy file (or spec) is malformed: truncated, corrupt, of another version, or inconsistent."""


@dataclass
class Layer:
    """One layer record: ``op`` (a key of :data:`OPS`), its int parameters and its weight arrays in order.

    Parameters and weight order per op are listed in ``infer.h``; ``eps`` of ``layernorm`` is passed as a
    float in ``params`` and stored as its float32 bits.
    """

    op: str
    params: tuple[float, ...]
    weights: list[np.ndarray] = field(default_factory=list)
    #: ``unpack``: 5 ints per leaf (byte offset, LEAF_DTYPES code, count, classes, start); its third
    #: parameter (where the table starts in the file's ints) is filled in by :func:`encode_policy`.
    ints: list[int] = field(default_factory=list)


@dataclass
class PolicySpec:
    """Everything a policy file holds."""

    obs_dtype: str  # "uint8" or "float32"
    obs_shape: tuple[int, ...]
    layers: list[Layer]
    act_kind: str  # "categorical" or "gaussian"
    act_n: list[int]  # categorical: choices per action dim; gaussian: [dims]
    act_start: list[int] = field(default_factory=list)  # categorical: the space's start per dim
    log_std: np.ndarray | None = None  # gaussian
    meta: dict[str, str] = field(default_factory=dict)


def _layer_ints(layer: Layer) -> list[int]:
    if layer.op not in OPS:
        raise PolicyFileError(f"unknown layer op {layer.op!r}; known: {sorted(OPS)}")
    params = list(layer.params)
    if layer.op == "layernorm" and len(params) == 3:  # eps as float32 bits
        params[2] = struct.unpack("<i", struct.pack("<f", float(params[2])))[0]
    if len(params) > LAYER_INTS - 1:
        raise PolicyFileError(f"layer {layer.op} has {len(params)} parameters, at most {LAYER_INTS - 1}")
    ints = [OPS[layer.op], *(int(p) for p in params)]
    return ints + [0] * (LAYER_INTS - len(ints))


def encode_policy(spec: PolicySpec) -> bytes:
    """The policy file of ``spec`` as bytes, checked by parsing it with the C library.

    Raises:
        PolicyFileError: the spec is inconsistent (the C parser's message says where).
    """
    if spec.obs_dtype not in OBS_DTYPES:
        raise PolicyFileError(f"obs_dtype must be one of {sorted(OBS_DTYPES)}, got {spec.obs_dtype!r}")
    if spec.act_kind not in ACT_KINDS:
        raise PolicyFileError(f"act_kind must be one of {sorted(ACT_KINDS)}, got {spec.act_kind!r}")
    shape = [int(d) for d in spec.obs_shape]
    if not 1 <= len(shape) <= 3:
        raise PolicyFileError(f"observation rank must be 1..3, got shape {tuple(shape)}")
    shape += [1] * (3 - len(shape))
    dims = len(spec.act_n) if spec.act_kind == "categorical" else int(spec.act_n[0])
    layers = [*spec.layers, Layer("heads", (ACT_KINDS[spec.act_kind], dims))]
    table: list[int] = []
    records = b""
    for layer in layers:
        if layer.op == "unpack":  # its leaf table goes into the ints, where its third parameter points
            record = Layer(layer.op, (len(layer.ints) // 5, layer.params[1], len(table)))
            table += [int(v) for v in layer.ints]
        else:
            record = layer
        records += struct.pack(f"<{LAYER_INTS}i", *_layer_ints(record))
    if spec.act_kind == "categorical":
        table += [*spec.act_n, *(list(spec.act_start) or [0] * dims)]
    ints = np.asarray(table, dtype="<i4").tobytes()
    for key, value in spec.meta.items():
        if "=" in key or "\n" in key or "\n" in str(value) or "\0" in key + str(value):
            raise PolicyFileError(f"metadata {key!r}={value!r}: keys hold no '=', and neither holds newlines")
    meta = "".join(f"{k}={v}\n" for k, v in spec.meta.items()).encode()
    meta += b"\0" * (-len(meta) % 4)
    arrays = [np.asarray(w, dtype="<f4").reshape(-1) for layer in spec.layers for w in layer.weights]
    if spec.act_kind == "gaussian":
        if spec.log_std is None:
            raise PolicyFileError("a gaussian policy needs log_std")
        arrays.append(np.asarray(spec.log_std, dtype="<f4").reshape(-1))
    weights = np.concatenate(arrays).tobytes() if arrays else b""
    body = records + ints + meta + weights
    header = struct.pack(
        "<8sIIII3IIIIQII",
        MAGIC,
        FORMAT_VERSION,
        HEADER_BYTES,
        OBS_DTYPES[spec.obs_dtype],
        len(spec.obs_shape),
        *shape,
        len(layers),
        len(ints) // 4,
        len(meta),
        len(weights) // 4,
        zlib.crc32(body),
        0,
    )
    data = header + body
    CPolicy.from_bytes(data).close()  # the C parser is the one judge of a valid file
    return data


def write_policy(spec: PolicySpec, path: str | os.PathLike[str]) -> Path:
    """Encode ``spec`` and write it to ``path`` (through a temporary file: a failure leaves no half file)."""
    data = encode_policy(spec)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


class CPolicy:
    """A policy file parsed by the C library; :meth:`forward` and :meth:`act` run in C.

    Raises:
        PolicyFileError: the file is missing, truncated, corrupt or inconsistent (the C parser's message).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        lib = _loader.infer_lib()
        self._model = _loader.ffi.new("PinfModel *")
        self._keep: Any = None
        err = _loader.ffi.new("char[512]")
        if not Path(path).is_file():
            raise PolicyFileError(f"policy file {str(path)!r} does not exist")
        if lib.pinf_model_load(self._model, os.fsencode(path), err, 512) != 0:
            raise PolicyFileError(f"{path}: {_loader.ffi.string(err).decode(errors='replace')}")
        self._owned = True
        self._setup()

    @classmethod
    def from_bytes(cls, data: bytes) -> CPolicy:
        """Parse a policy file held in memory (kept alive by the returned object)."""
        self = cls.__new__(cls)
        lib = _loader.infer_lib()
        self._model = _loader.ffi.new("PinfModel *")
        # cffi's char arrays are malloc'd (16-byte aligned): the parser needs 4-byte alignment
        self._keep = _loader.ffi.new("char[]", max(len(data), 1))
        _loader.ffi.memmove(self._keep, data, len(data))
        err = _loader.ffi.new("char[512]")
        if lib.pinf_model_parse(self._model, self._keep, len(data), err, 512) != 0:
            raise PolicyFileError(_loader.ffi.string(err).decode(errors="replace"))
        self._owned = False
        self._setup()
        return self

    def _setup(self) -> None:
        m = self._model
        self.obs_dtype = np.dtype(np.uint8 if m.obs_dtype == 0 else np.float32)
        self.obs_shape = tuple(int(m.obs_shape[i]) for i in range(m.obs_ndim))
        self.out_size = int(m.out_size)
        self.param_size = int(m.param_size)
        self.state_size = int(m.state_size)
        self.act_kind = "categorical" if m.act_kind == 0 else "gaussian"
        self.act_dims = int(m.act_dims)
        self.act_n = [int(m.act_n[i]) for i in range(self.act_dims)] if self.act_kind == "categorical" else []
        self.layers = [
            {v: k for k, v in OPS.items()}.get(int(m.layers[i].op), "?") for i in range(m.num_layers)
        ]
        raw = bytes(_loader.ffi.buffer(m.meta, m.meta_bytes)).rstrip(b"\0").decode()
        self.meta = dict(line.split("=", 1) for line in raw.splitlines() if "=" in line)
        self._workspace = np.zeros(max(int(m.workspace), 1), dtype=np.float32)

    def initial_state(self, batch: int) -> np.ndarray:
        """Zero recurrent state ``[batch, state_size]`` (per LSTM: its h then its c)."""
        return np.zeros((batch, self.state_size), dtype=np.float32)

    def forward(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        """``[batch, out_size]`` outputs (action parameters, then the value); updates ``state`` in place."""
        lib, ffi = _loader.infer_lib(), _loader.ffi
        obs = np.asarray(obs)
        if obs.dtype != self.obs_dtype or tuple(obs.shape[1:]) != self.obs_shape:
            raise ValueError(
                f"obs must be {self.obs_dtype} [batch, {', '.join(map(str, self.obs_shape))}], got "
                f"{obs.dtype} {tuple(obs.shape)}"
            )
        obs = np.ascontiguousarray(obs)
        batch = obs.shape[0]
        if self.state_size:
            if (
                state is None
                or state.dtype != np.float32
                or state.shape != (batch, self.state_size)
                or not state.flags.c_contiguous
            ):
                raise ValueError(
                    f"this policy is recurrent: pass state as a contiguous float32 [{batch}, "
                    f"{self.state_size}] array (initial_state(batch))"
                )
        out = np.empty((batch, self.out_size), dtype=np.float32)
        err = ffi.new("char[512]")
        state_ptr = ffi.cast("float *", state.ctypes.data) if self.state_size else ffi.NULL
        code = lib.pinf_forward(
            self._model,
            ffi.cast("void *", obs.ctypes.data),
            batch,
            state_ptr,
            ffi.cast("float *", out.ctypes.data),
            ffi.cast("float *", self._workspace.ctypes.data),
            self._workspace.size,
            err,
            512,
        )
        if code != 0:
            raise ValueError(ffi.string(err).decode(errors="replace"))
        return out

    def act(self, out: np.ndarray, greedy: bool = False, seed: int = 0) -> np.ndarray:
        """Actions from :meth:`forward`'s output: int32 ``[batch, dims]`` or float32 for gaussian."""
        lib, ffi = _loader.infer_lib(), _loader.ffi
        out = np.ascontiguousarray(out, dtype=np.float32)
        batch = out.shape[0]
        dtype = np.int32 if self.act_kind == "categorical" else np.float32
        actions = np.empty((batch, self.act_dims), dtype=dtype)
        rng = ffi.new("PinfRng *")
        lib.pinf_rng_seed(rng, seed)
        err = ffi.new("char[512]")
        code = lib.pinf_act(
            self._model, ffi.cast("float *", out.ctypes.data), batch, int(greedy), rng,
            ffi.cast("void *", actions.ctypes.data), err, 512,
        )  # fmt: skip
        if code != 0:
            raise ValueError(ffi.string(err).decode(errors="replace"))
        return actions

    def close(self) -> None:
        """Release the file buffer (from a path); the object is unusable afterwards."""
        if getattr(self, "_owned", False):
            _loader.infer_lib().pinf_model_free(self._model)
            self._owned = False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


@dataclass(frozen=True)
class CFiles:
    """The inference library's C files in the installed package: compile ``source`` into your program."""

    include_dir: Path
    header: Path
    source: Path


def c_files() -> CFiles:
    """Where ``infer.h`` and ``infer.c`` are installed (``cc -I include_dir source ... -lm``)."""
    folder = Path(__file__).resolve().parent / "csrc"
    files = CFiles(folder, folder / "infer.h", folder / "infer.c")
    missing = [str(p) for p in (files.header, files.source) if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"puffer-kernels was installed without its C sources ({missing})")
    return files
