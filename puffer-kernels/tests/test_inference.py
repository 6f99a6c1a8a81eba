"""The C inference library (csrc/infer.c): every layer against torch, sampling, policy files good and bad."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from puffer_kernels import _loader
from puffer_kernels.inference import (
    LEAF_DTYPES,
    CPolicy,
    Layer,
    PolicyFileError,
    PolicySpec,
    c_files,
    encode_policy,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional
HEADER = Path(__file__).resolve().parents[1] / "src" / "puffer_kernels" / "csrc" / "infer.h"
TOL = 1e-4


def lib():
    return _loader.infer_lib()


def ptr(a: np.ndarray, kind: str = "float *"):
    assert a.flags.c_contiguous
    return _loader.ffi.cast(kind, a.ctypes.data)


def f32(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def t(a: np.ndarray):
    return torch.from_numpy(a)


# -- binding ------------------------------------------------------------------------------------------------
def _declarations(text: str) -> dict[str, str]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S).replace("PINF_API", "")
    found = {}
    for m in re.finditer(r"([\w\s\*]+?)\b(pinf_\w+)\s*\(([^)]*)\)\s*;", text):
        found[m.group(2)] = " ".join((m.group(1) + "(" + m.group(3) + ")").split())
    return found


def test_cdef_matches_header_and_model_layout():
    header = _declarations(HEADER.read_text())
    assert header == _declarations(_loader.INFER_CDEF)
    assert len(header) == 24
    assert lib().pinf_model_sizeof() == _loader.ffi.sizeof("PinfModel")


# -- layers against torch ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rows,n_in,n_out", [(1, 1, 1), (3, 7, 5), (4, 64, 33), (2, 257, 130)])
def test_linear(rng, rows, n_in, n_out):
    x, w, b = f32(rng, rows, n_in), f32(rng, n_out, n_in), f32(rng, n_out)
    y = np.empty((rows, n_out), np.float32)
    lib().pinf_linear(ptr(x), ptr(w), ptr(b), ptr(y), rows, n_in, n_out)
    np.testing.assert_allclose(y, F.linear(t(x), t(w), t(b)).numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize(
    "name,reference",
    [("relu", F.relu), ("gelu", F.gelu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid)],
)
def test_activations(rng, name, reference):
    x = f32(rng, 1000, scale=4.0)
    expected = reference(t(x.copy())).numpy()
    getattr(lib(), f"pinf_{name}")(ptr(x), x.size)
    np.testing.assert_allclose(x, expected, atol=1e-6, rtol=1e-6)


def test_layernorm(rng):
    x, g, b = f32(rng, 5, 48, scale=3.0) + 2.0, f32(rng, 48), f32(rng, 48)
    y = np.empty_like(x)
    lib().pinf_layernorm(ptr(x), ptr(g), ptr(b), ptr(y), 5, 48, 1e-5)
    np.testing.assert_allclose(y, F.layer_norm(t(x), (48,), t(g), t(b), 1e-5).numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize(
    "in_c,h,w,out_c,kh,kw,stride,pad",
    [
        (1, 5, 5, 2, 3, 3, (1, 1), (0, 0)),
        (4, 84, 84, 32, 8, 8, (4, 4), (0, 0)),
        (3, 9, 7, 5, 3, 2, (2, 1), (1, 2)),
    ],
)
def test_conv2d(rng, in_c, h, w, out_c, kh, kw, stride, pad):
    x, wt, b = f32(rng, in_c, h, w), f32(rng, out_c, in_c, kh, kw, scale=0.2), f32(rng, out_c)
    expected = F.conv2d(t(x)[None], t(wt), t(b), stride=stride, padding=pad)[0].numpy()
    y = np.empty(expected.shape, np.float32)
    lib().pinf_conv2d(ptr(x), ptr(wt), ptr(b), ptr(y), in_c, h, w, out_c, kh, kw, *stride, *pad)
    np.testing.assert_allclose(y, expected, atol=TOL, rtol=0)


def test_conv_model_with_stride_and_padding(rng):
    """The model runs convolutions through unfolded patches (not pinf_conv2d): the same numbers."""
    x = rng.integers(0, 256, (3, 7, 9, 2), dtype=np.uint8)
    w1, b1 = f32(rng, 4, 2, 3, 2, scale=0.2), f32(rng, 4)
    w2, b2 = f32(rng, 3, 4, 2, 2, scale=0.2), f32(rng, 3)
    layers = [
        Layer("scale", (7 * 9 * 2,), [np.array([1 / 255], np.float32)]),
        Layer("hwc_to_chw", (7, 9, 2)),
        Layer("conv2d", (2, 7, 9, 4, 3, 2, 2, 1, 1, 2), [w1, b1]),  # out 4 x 4 x 12
        Layer("relu", (4 * 4 * 12,)),
        Layer("conv2d", (4, 4, 12, 3, 2, 2, 1, 3, 0, 0), [w2, b2]),  # out 3 x 3 x 4
        Layer("linear", (36, 3, 1), [f32(rng, 3, 36), f32(rng, 3)]),
    ]
    model = CPolicy.from_bytes(encode_policy(PolicySpec("uint8", (7, 9, 2), layers, "categorical", [2], [0])))
    h = t(x).float().mul(np.float32(1 / 255)).permute(0, 3, 1, 2)
    h = F.relu(F.conv2d(h, t(w1), t(b1), stride=(2, 1), padding=(1, 2)))
    h = F.conv2d(h, t(w2), t(b2), stride=(1, 3)).flatten(1)
    expected = F.linear(h, t(layers[-1].weights[0]), t(layers[-1].weights[1])).numpy()
    np.testing.assert_allclose(model.forward(x), expected, atol=TOL, rtol=0)


def test_hwc_to_chw(rng):
    x = f32(rng, 6, 7, 3)
    y = np.empty((3, 6, 7), np.float32)
    lib().pinf_hwc_to_chw(ptr(x), ptr(y), 6, 7, 3)
    np.testing.assert_array_equal(y, x.transpose(2, 0, 1))


def test_set_max_is_torch_max_over_items(rng):
    x = f32(rng, 9, 16)
    y = np.empty(16, np.float32)
    lib().pinf_set_max(ptr(x), ptr(y), 9, 16)
    np.testing.assert_array_equal(y, t(x).max(0).values.numpy())


def test_embedding_and_its_bounds(rng):
    table = f32(rng, 10, 4)
    idx = np.array([3, 0, 9, 3], np.int32)
    y = np.empty((4, 4), np.float32)
    assert lib().pinf_embedding(ptr(idx, "int32_t *"), ptr(table), ptr(y), 4, 10, 4) == 0
    np.testing.assert_array_equal(y, F.embedding(t(idx).long(), t(table)).numpy())
    for bad in (-1, 10):
        idx[2] = bad
        assert lib().pinf_embedding(ptr(idx, "int32_t *"), ptr(table), ptr(y), 4, 10, 4) == -1


def test_lstm_cell_over_100_steps(rng):
    n_in, hidden = 12, 16
    cell = torch.nn.LSTMCell(n_in, hidden)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.from_numpy(f32(rng, *p.shape, scale=0.3)))
    w = [p.detach().numpy().copy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    h, c = np.zeros(hidden, np.float32), np.zeros(hidden, np.float32)
    gates = np.empty(8 * hidden, np.float32)
    th, tc = torch.zeros(1, hidden), torch.zeros(1, hidden)
    worst = 0.0
    for _ in range(100):
        x = f32(rng, n_in)
        lib().pinf_lstm_cell(ptr(x), ptr(h), ptr(c), *map(ptr, w), ptr(gates), n_in, hidden)
        with torch.no_grad():
            th, tc = cell(t(x)[None], (th, tc))
        worst = max(worst, float(np.abs(h - th[0].numpy()).max()), float(np.abs(c - tc[0].numpy()).max()))
    assert worst <= TOL


# -- actions ------------------------------------------------------------------------------------------------
def test_argmax_takes_the_first_maximum():
    logits = np.array([0.0, 2.0, 2.0, -1.0], np.float32)
    assert lib().pinf_argmax(ptr(logits), 4) == 1


def test_sampling_follows_softmax_and_its_seed():
    logits = np.array([1.0, 0.0, -1.0, 2.0, -50.0], np.float32)
    rng = _loader.ffi.new("PinfRng *")
    lib().pinf_rng_seed(rng, 7)
    draws = np.array([lib().pinf_sample_logits(ptr(logits), 5, rng) for _ in range(40_000)])
    freq = np.bincount(draws, minlength=5) / draws.size
    expected = torch.softmax(t(logits).double(), 0).numpy()
    # 40k draws: the standard error of each frequency is at most 0.0025
    np.testing.assert_allclose(freq, expected, atol=0.012)
    assert freq[4] == 0.0
    again = _loader.ffi.new("PinfRng *")
    lib().pinf_rng_seed(again, 7)
    assert [lib().pinf_sample_logits(ptr(logits), 5, again) for _ in range(100)] == draws[:100].tolist()


# -- whole models --------------------------------------------------------------------------------------------
def object_list_spec(rng: np.random.Generator) -> tuple[PolicySpec, dict]:
    """An object-list policy: per-item linear + ReLU, max over the set, layer norm, tanh, heads."""
    items, feats, width = 6, 5, 8
    w = {
        "w1": f32(rng, width, feats),
        "b1": f32(rng, width),
        "g": f32(rng, width),
        "beta": f32(rng, width),
        "wh": f32(rng, 3 + 1, width),
        "bh": f32(rng, 4),
    }
    layers = [
        Layer("linear", (feats, width, items), [w["w1"], w["b1"]]),
        Layer("relu", (items * width,)),
        Layer("set_max", (items, width)),
        Layer("layernorm", (1, width, 1e-5), [w["g"], w["beta"]]),
        Layer("tanh", (width,)),
        Layer("linear", (width, 4, 1), [w["wh"], w["bh"]]),
    ]
    spec = PolicySpec(
        "float32", (items, feats), layers, "categorical", [3], [0], meta={"env_id": "test/objects"}
    )
    return spec, w


def test_object_list_model_matches_torch(rng):
    spec, w = object_list_spec(rng)
    model = CPolicy.from_bytes(encode_policy(spec))
    assert model.layers == ["linear", "relu", "set_max", "layernorm", "tanh", "linear", "heads"]
    assert model.meta == {"env_id": "test/objects"} and model.state_size == 0
    obs = f32(rng, 11, 6, 5)
    x = F.relu(F.linear(t(obs), t(w["w1"]), t(w["b1"]))).max(1).values
    x = torch.tanh(F.layer_norm(x, (8,), t(w["g"]), t(w["beta"]), 1e-5))
    expected = F.linear(x, t(w["wh"]), t(w["bh"])).numpy()
    out = model.forward(obs)
    np.testing.assert_allclose(out, expected, atol=TOL, rtol=0)
    np.testing.assert_array_equal(model.act(out, greedy=True)[:, 0], expected[:, :3].argmax(1))


def test_embedding_model_rejects_bad_indices_at_run_time(rng):
    table, wh = f32(rng, 4, 3), f32(rng, 3, 6)
    layers = [
        Layer("embedding", (2, 4, 3), [table]),
        Layer("linear", (6, 3, 1), [wh, np.zeros(3, np.float32)]),
    ]
    model = CPolicy.from_bytes(encode_policy(PolicySpec("uint8", (2,), layers, "categorical", [2], [0])))
    obs = np.array([[0, 3], [2, 1]], np.uint8)
    expected = F.linear(F.embedding(t(obs).long(), t(table)).reshape(2, 6), t(wh)).numpy()
    np.testing.assert_allclose(model.forward(obs), expected, atol=TOL, rtol=0)
    with pytest.raises(
        ValueError, match=r"row 1: embedding index 4 at position 0 is not a whole number in \[0, 4\)"
    ):
        model.forward(np.array([[0, 3], [4, 1]], np.uint8))


def test_unpack_reads_every_leaf_dtype_from_the_bytes(rng):
    """A flattened Dict observation: typed leaves packed as bytes, a category one-hot encoded."""
    leaves = [  # dtype, count, values
        ("float16", 3, np.array([1.5, -0.0001, 65504], np.float16)),
        ("int8", 2, np.array([-128, 7], np.int8)),
        ("int32", 1, np.array([-70000], np.int32)),
        ("int64", 1, np.array([2], np.int64)),  # a category: classes 4, start -1 -> one-hot at 3
        ("float64", 2, np.array([0.25, -3.5], np.float64)),
        ("bool", 3, np.array([True, False, True])),
        ("uint8", 1, np.array([200], np.uint8)),
        ("int16", 1, np.array([-2], np.int16)),
        ("float32", 1, np.array([np.pi], np.float32)),
    ]
    table, chunks, offset, expected = [], [], 0, []
    for dtype, count, values in leaves:
        classes, start = (4, -1) if dtype == "int64" else (0, 0)
        table += [offset, LEAF_DTYPES[dtype], count, classes, start]
        chunks.append(values.astype(values.dtype.newbyteorder("<")).tobytes())
        offset += len(chunks[-1])
        expected += list(np.eye(4)[values[0] - start]) if classes else list(values.astype(np.float32))
    obs = np.frombuffer(b"".join(chunks), np.uint8)[None]
    width = len(expected)
    eye = np.eye(width, dtype=np.float32)
    layers = [
        Layer("unpack", (len(leaves), obs.shape[1]), ints=table),
        Layer("linear", (width, width, 1), [eye, np.zeros(width, np.float32)]),
    ]
    model = CPolicy.from_bytes(
        encode_policy(
            PolicySpec(
                "uint8",
                obs.shape[1:],
                layers,
                "gaussian",
                [width - 1],
                log_std=np.zeros(width - 1, np.float32),
            )
        )
    )
    np.testing.assert_array_equal(model.forward(obs)[0], np.array(expected, np.float32))
    table[0] = obs.shape[1] - 1  # the float16 leaf would run past the bytes
    with pytest.raises(PolicyFileError, match=r"layer 0 \(unpack\): leaf 0 \(offset \d+, dtype 5, count 3"):
        encode_policy(
            PolicySpec(
                "uint8",
                obs.shape[1:],
                layers,
                "gaussian",
                [width - 1],
                log_std=np.zeros(width - 1, np.float32),
            )
        )


def test_gaussian_actions_and_start_offsets(rng):
    wh = f32(rng, 3, 2)
    spec = PolicySpec(
        "float32",
        (2,),
        [Layer("linear", (2, 3, 1), [wh, np.zeros(3, np.float32)])],
        "gaussian",
        [2],
        log_std=np.array([-1.0, 0.5], np.float32),
    )
    model = CPolicy.from_bytes(encode_policy(spec))
    out = model.forward(np.zeros((20_000, 2), np.float32) + 1.0)
    mean = out[0, :2]
    np.testing.assert_array_equal(model.act(out[:1], greedy=True)[0], mean)
    actions = model.act(out, seed=3)
    np.testing.assert_allclose(actions.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(actions.std(0), np.exp([-1.0, 0.5]), rtol=0.05)
    cat = PolicySpec(
        "float32",
        (2,),
        [Layer("linear", (2, 6, 1), [f32(rng, 6, 2), np.zeros(6, np.float32)])],
        "categorical",
        [2, 3],
        [1, -1],
    )
    model = CPolicy.from_bytes(encode_policy(cat))
    out = model.forward(f32(rng, 50, 2))
    acts = model.act(out, greedy=True)
    np.testing.assert_array_equal(acts[:, 0], out[:, :2].argmax(1) + 1)
    np.testing.assert_array_equal(acts[:, 1], out[:, 2:5].argmax(1) - 1)


def test_installed_sources_compile_into_a_c_program(rng, tmp_path):
    """What an embedding C program does: compile infer.c from the installed package, load, run."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    spec, _ = object_list_spec(rng)
    (tmp_path / "p.bin").write_bytes(encode_policy(spec))
    obs = f32(rng, 6, 5)
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "infer.h"\n'
        "int main(int argc, char **argv) {\n"
        "  PinfModel m; char err[256]; float obs[30], out[4], ws[256];\n  if (argc < 2) return 1;\n"
        '  if (pinf_model_load(&m, argv[1], err, sizeof err)) { fprintf(stderr, "%s\\n", err); return 2; }\n'
        '  for (int i = 0; i < 30; i++) if (scanf("%f", &obs[i]) != 1) return 3;\n'
        "  if (pinf_workspace_floats(&m) > 256) return 5;\n"
        "  if (pinf_forward(&m, obs, 1, NULL, out, ws, 256, err, sizeof err)) return 4;\n"
        '  for (int i = 0; i < 4; i++) printf("%.9g\\n", out[i]);\n'
        "  pinf_model_free(&m); return 0;\n}\n"
    )
    files = c_files()
    exe = tmp_path / "main"
    subprocess.run(
        [
            cc,
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-DPINF_STATIC",
            f"-I{files.include_dir}",
            str(tmp_path / "main.c"),
            str(files.source),
            "-o",
            str(exe),
            "-lm",
        ],
        check=True,
    )
    run = subprocess.run(
        [str(exe), str(tmp_path / "p.bin")],
        input=" ".join(f"{v:.9g}" for v in obs.ravel()),
        capture_output=True,
        text=True,
        check=True,
    )
    expected = CPolicy.from_bytes(encode_policy(spec)).forward(obs[None])[0]
    np.testing.assert_allclose(np.array(run.stdout.split(), np.float32), expected, atol=1e-6)


# -- bad files: a clear error, never a crash -----------------------------------------------------------------
def small_file(rng) -> bytes:
    return encode_policy(object_list_spec(rng)[0])


def recrc(data: bytes | bytearray) -> bytes:
    data = bytearray(data)
    data[56:60] = struct.pack("<I", zlib.crc32(bytes(data[64:])))
    return bytes(data)


def test_every_truncation_is_refused(rng):
    data = small_file(rng)
    for size in [0, 7, 8, 63, 64, 65, 100, len(data) // 2, len(data) - 4, len(data) - 1]:
        with pytest.raises(PolicyFileError, match="shorter than the 64-byte header|truncated|bad magic"):
            CPolicy.from_bytes(data[:size])
    for size in range(len(data)):  # every cut, quickly: only that it never crashes
        with pytest.raises(PolicyFileError):
            CPolicy.from_bytes(data[:size])


def test_bad_headers_and_bodies_are_named(rng, tmp_path):
    data = small_file(rng)
    layer0 = 64  # first layer record: op, in, out, groups
    first_weight = len(data) - 4 * struct.unpack_from("<Q", data, 48)[0]

    def patch(offset: int, fmt: str, value, fix_crc: bool = True) -> bytes:
        out = bytearray(data)
        struct.pack_into(fmt, out, offset, value)
        return recrc(out) if fix_crc and offset >= 64 else bytes(out)

    cases = {
        "bad magic": b"NOTAPOL\0" + data[8:],
        "format version 2, but this library reads version 1": patch(8, "<I", 2),
        "unknown observation dtype 7": patch(16, "<I", 7),
        "observation rank 4 outside 1..3": patch(20, "<I", 4),
        "1 trailing bytes": data + b"\0",
        "CRC-32": patch(len(data) - 4, "<f", 1.5, fix_crc=False),
        "unknown op 99": patch(layer0, "<i", 99),
        "5 groups of 5 inputs do not match its input width 30": patch(layer0 + 12, "<i", 5),
        "weight 0 is not finite": patch(first_weight, "<f", float("nan")),
        "the last layer must be heads": patch(layer0 + 6 * 48, "<i", 4),
    }
    for message, bad in cases.items():
        with pytest.raises(PolicyFileError, match=re.escape(message)):
            CPolicy.from_bytes(bad)
    (tmp_path / "short.bin").write_bytes(data[:100])
    with pytest.raises(PolicyFileError, match="short.bin: policy file truncated: 100 bytes, the header says"):
        CPolicy(tmp_path / "short.bin")
    with pytest.raises(PolicyFileError, match="does not exist"):
        CPolicy(tmp_path / "missing.bin")


def test_parse_needs_no_initialized_model_and_free_is_safe_after_it(rng):
    data = small_file(rng)
    ffi = _loader.ffi
    buf = ffi.new("char[]", data)
    model = ffi.new("PinfModel *")
    ffi.memmove(model, b"\xff" * ffi.sizeof("PinfModel"), ffi.sizeof("PinfModel"))  # stack garbage
    assert lib().pinf_model_parse(model, buf, len(data), ffi.NULL, 0) == 0
    assert model.owned == ffi.NULL
    value = ffi.new("char[64]")
    assert lib().pinf_model_meta(model, b"env_id", value, 64) == 0 and ffi.string(value) == b"test/objects"
    assert lib().pinf_model_meta(model, b"env_id", value, 12) == -1  # too long for the buffer
    assert lib().pinf_model_meta(model, b"env", value, 64) == -1  # whole keys only
    lib().pinf_model_free(model)  # frees nothing: the bytes are the caller's
    assert lib().pinf_model_meta(model, b"env_id", value, 64) == -1  # freed: an empty model


def test_random_corruption_never_crashes(rng):
    data = small_file(rng)
    for _ in range(300):
        bad = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            bad[rng.integers(0, 64 + 7 * 48)] = rng.integers(0, 256)
        try:  # with the CRC fixed up, the parser's own checks must catch it (or accept a consistent file)
            model = CPolicy.from_bytes(recrc(bad))
        except PolicyFileError:
            continue
        out = model.forward(np.zeros((2, *model.obs_shape), model.obs_dtype))
        assert out.shape == (2, model.out_size)


def test_inconsistent_specs_are_refused_before_writing(rng):
    spec, _ = object_list_spec(rng)
    spec.act_n = [4]  # 4 logits + value = 5, but the heads give 4
    with pytest.raises(PolicyFileError, match="heads: 4 logits \\+ 1 value do not match the output width 4"):
        encode_policy(spec)
