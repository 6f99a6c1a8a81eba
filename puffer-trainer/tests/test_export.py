"""`puffer export`: the C forward pass equals torch's for the default policies, and a policy trained on
ocean/squared scores in pure C (ocean_play) what it scores in `puffer eval`."""

from __future__ import annotations

import math
import re
import subprocess
import zlib

import numpy as np
import pytest
import torch
from gymnasium import spaces
from shell_helpers import BATCH, ENV_ID, tiny_kwargs
from torch import nn

from puffer_kernels.inference import CPolicy, encode_policy
from puffer_trainer import train
from puffer_trainer.cli import main
from puffer_trainer.config import Config
from puffer_trainer.evaluation import evaluate_checkpoint
from puffer_trainer.export import ExportError, describe, export_checkpoint, policy_spec
from puffer_trainer.policies import Policy, make_policy

TOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # Tiny forward passes: on a busy machine extra OpenMP threads only spin (10x slower here with 2).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))  # per test, same every run


class FakeVec:
    def __init__(self, obs_space, act_space, structured=None):
        self.single_observation_space = obs_space
        self.single_action_space = act_space
        self.structured_observation_space = structured


def build(obs_space, act_space, kind="mlp", seed=0, **policy) -> Policy:
    """A default policy with every parameter random (the default init has zero biases and tiny heads)."""
    torch.manual_seed(seed)
    config = Config("x/y")
    config.policy.kind = kind
    for key, value in policy.items():
        setattr(config.policy, key, value)
    net = make_policy(config, FakeVec(obs_space, act_space))
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.ndim > 1 else 10
            p.normal_(0.0, 1.0 / math.sqrt(fan_in))
    return net.eval()


def sample_obs(space: spaces.Box, batch: int, rng: np.random.Generator) -> np.ndarray:
    if space.dtype == np.uint8:
        return rng.integers(0, 256, size=(batch, *space.shape), dtype=np.uint8)
    return rng.standard_normal((batch, *space.shape)).astype(np.float32)


def torch_out(net: Policy, obs: torch.Tensor, state=None, norm=None):
    """What C's forward returns: action parameters then the value, ``[B, params + 1]``."""
    x = obs
    if norm is not None:
        x = (obs.float() - norm["mean"].float()) / (norm["var"].float() + 1e-8).sqrt()
    with torch.no_grad():
        params, value, state = net(x, state)
    if isinstance(params, tuple):
        params = params[0]
    return torch.cat([params, value[:, None]], 1).numpy(), state


def check_feed_forward(net, obs_space, act_space, rng, norm=None, batch=16):
    model = CPolicy.from_bytes(encode_policy(policy_spec(net, obs_space, act_space, norm)))
    obs = sample_obs(obs_space, batch, rng)
    expected, _ = torch_out(net, torch.from_numpy(obs), norm=norm)
    got = model.forward(obs)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= TOL
    return model, got


MLP_SPACES = [
    spaces.Box(-1, 1, (6,), np.float32),
    spaces.Box(0, 2, (25,), np.uint8),  # squared's grid: cast, not scaled
    spaces.Box(-1, 1, (3, 4), np.float32),
]
ACTION_SPACES = [
    spaces.Discrete(4),
    spaces.Discrete(3, start=-1),
    spaces.MultiDiscrete([2, 5, 3]),
    spaces.MultiBinary(4),
    spaces.Box(-1, 1, (2,), np.float32),
]


@pytest.mark.parametrize("obs_space", MLP_SPACES, ids=lambda s: f"{s.dtype}{s.shape}")
@pytest.mark.parametrize("activation,num_layers", [("gelu", 1), ("relu", 3), ("tanh", 2)])
def test_mlp_matches_torch(rng, obs_space, activation, num_layers):
    net = build(obs_space, spaces.Discrete(5), activation=activation, num_layers=num_layers, hidden_size=64)
    check_feed_forward(net, obs_space, spaces.Discrete(5), rng)


@pytest.mark.parametrize("act_space", ACTION_SPACES, ids=repr)
def test_every_action_space(rng, act_space):
    obs_space = spaces.Box(-1, 1, (6,), np.float32)
    net = build(obs_space, act_space, hidden_size=32)
    model, out = check_feed_forward(net, obs_space, act_space, rng)
    greedy = model.act(out, greedy=True)
    with torch.no_grad():
        params, _, _ = net(torch.from_numpy(sample_obs(obs_space, 1, rng)))
    if isinstance(act_space, spaces.Box):
        np.testing.assert_array_equal(greedy, out[:, :2])
        assert not np.allclose(model.act(out, seed=1), out[:, :2])  # sampled: the mean plus noise
        return
    dist = net.dist
    starts = [dist.start] if dist.kind == "discrete" else dist.start_array.tolist()
    at = 0
    for d, n in enumerate(dist.nvec):
        np.testing.assert_array_equal(greedy[:, d], out[:, at : at + n].argmax(1) + starts[d])
        at += n
    sampled = model.act(out, seed=3)
    assert (sampled >= np.array(starts)).all() and (sampled < np.array(starts) + np.array(dist.nvec)).all()


CNN_SPACES = [
    spaces.Box(0, 255, (10, 10, 3), np.uint8),  # small grid, channels last
    spaces.Box(0, 255, (84, 84, 4), np.uint8),  # Atari frames: the Nature-DQN stack
    spaces.Box(-1, 1, (4, 9, 9), np.float32),  # channels first
    spaces.Box(0, 255, (8, 8), np.uint8),  # one channel, no channel axis
]


@pytest.mark.parametrize("obs_space", CNN_SPACES, ids=lambda s: f"{s.dtype}{s.shape}")
def test_cnn_matches_torch(rng, obs_space):
    net = build(obs_space, spaces.Discrete(6), kind="cnn", hidden_size=64)
    check_feed_forward(net, obs_space, spaces.Discrete(6), rng, batch=4)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_observation_normalizer_from_the_checkpoint(rng, kind):
    obs_space = spaces.Box(0, 255, (10, 10, 3), np.uint8) if kind == "cnn" else MLP_SPACES[0]
    net = build(obs_space, spaces.Discrete(3), kind=kind, hidden_size=32)
    shape = obs_space.shape
    norm = {  # the float64 buffers a normalize_obs run saves as state["obs_norm"]
        "mean": torch.from_numpy(rng.standard_normal(shape) * 3),
        "var": torch.from_numpy(rng.random(shape) * 5 + 0.1),
        "count": torch.tensor(1000.0, dtype=torch.float64),
    }
    model, _ = check_feed_forward(net, obs_space, spaces.Discrete(3), rng, norm=norm, batch=4)
    assert model.layers[0] == "normalize" and "scale" not in model.layers


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_lstm_state_carried_over_100_steps(rng, kind):
    obs_space = (
        spaces.Box(0, 255, (8, 8, 2), np.uint8) if kind == "cnn" else spaces.Box(-1, 1, (7,), np.float32)
    )
    act_space = spaces.MultiDiscrete([3, 2])
    net = build(obs_space, act_space, kind=kind, hidden_size=32, lstm=True, lstm_hidden_size=24)
    model = CPolicy.from_bytes(encode_policy(policy_spec(net, obs_space, act_space)))
    assert model.state_size == 48
    batch = 3
    state_c = model.initial_state(batch)
    state_t = net.initial_state(batch)
    worst = 0.0
    for step in range(100):
        obs = sample_obs(obs_space, batch, rng)
        expected, state_t = torch_out(net, torch.from_numpy(obs), state_t)
        worst = max(worst, float(np.abs(model.forward(obs, state_c) - expected).max()))
        if step == 60:  # an episode ends for agent 1: both reset its memory
            state_c[1] = 0
            state_t = tuple(s.clone() for s in state_t)
            for s in state_t:
                s[1] = 0
    h, c = state_t
    assert np.abs(state_c - torch.cat([h, c], 1).numpy()).max() <= TOL
    assert worst <= TOL


# -- what cannot be exported ---------------------------------------------------------------------------------
def test_unsupported_modules_are_listed():
    obs_space, act_space = spaces.Box(-1, 1, (6,), np.float32), spaces.Discrete(3)
    net = build(obs_space, act_space, hidden_size=16)
    net.encoder = nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Dropout())
    with pytest.raises(ExportError) as info:
        policy_spec(net, obs_space, act_space)
    message = str(info.value)
    assert "encoder.1 (torch.nn.modules.activation.SiLU)" in message
    assert "encoder.2 (torch.nn.modules.dropout.Dropout)" in message
    assert "only MLPEncoder, CNNEncoder and StructuredEncoder are exportable" in message

    deep = build(obs_space, act_space, hidden_size=16, lstm=True, lstm_hidden_size=16)
    deep.lstm = nn.LSTM(16, 16, num_layers=2, batch_first=True)
    with pytest.raises(ExportError, match=r"lstm \(num_layers=2"):
        policy_spec(deep, obs_space, act_space)

    class MyPolicy(Policy):
        pass

    sub = MyPolicy(net.encoder, 16, act_space, (6,))
    with pytest.raises(ExportError, match="cannot export .*MyPolicy: only puffer_trainer's default Policy"):
        policy_spec(sub, obs_space, act_space)

    wide = spaces.Box(-1, 1, (6,), np.float64)
    with pytest.raises(ExportError, match="observation dtype float64"):
        policy_spec(build(wide, act_space, hidden_size=16), wide, act_space)


STRUCTURED = spaces.Dict(
    {
        "pos": spaces.Box(-5, 5, (2,), np.float32),
        "kind": spaces.Discrete(3, start=-1),
        "grid": spaces.Box(0, 9, (2, 2), np.uint8),
        "far": spaces.Box(-2, 2, (3,), np.float64),
        "flags": spaces.MultiBinary(4),
        "ids": spaces.Box(-3, 3, (2,), np.int16),  # small values: the outputs stay near 1 (absolute TOL)
    }
)


@pytest.mark.parametrize("lstm", [False, True])
def test_structured_observations_match_torch(rng, lstm):
    from puffer_core.flatten import flatten, flatten_space

    flat = flatten_space(STRUCTURED)
    act_space = spaces.Discrete(4)
    config = Config("x/y")
    config.policy.lstm, config.policy.hidden_size, config.policy.lstm_hidden_size = lstm, 32, 16
    torch.manual_seed(0)
    net = make_policy(config, FakeVec(flat, act_space, structured=STRUCTURED)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.3)
    spec = policy_spec(net, flat, act_space)
    model = CPolicy.from_bytes(encode_policy(spec))
    assert model.layers[0] == "unpack"
    leaves = describe(spec)["layers"][0]["leaves"]  # policy.json lists them
    assert len(leaves) == len(STRUCTURED.spaces) and sum(leaves, []) == spec.layers[0].ints
    STRUCTURED.seed(int(rng.integers(1 << 30)))
    state_c, state_t = model.initial_state(5), (net.initial_state(5) if lstm else None)
    for _ in range(3 if lstm else 1):
        obs = np.stack([flatten(STRUCTURED.sample(), STRUCTURED) for _ in range(5)])
        expected, state_t = torch_out(net, torch.from_numpy(obs), state_t)
        assert np.abs(model.forward(obs, state_c if lstm else None) - expected).max() <= TOL
    bad = obs.copy()
    kind = next(leaf for leaf in net.encoder.leaves if leaf[3] == 3)  # the Discrete leaf: int64 bytes
    bad[2, kind[0] : kind[0] + 8] = np.frombuffer(np.int64(7).tobytes(), np.uint8)
    with pytest.raises(ValueError, match=r"row 2: leaf \d holds class 8, outside \[0, 3\) after start -1"):
        model.forward(bad, state_c if lstm else None)


# -- ocean/squared: trained in Python, played in C -----------------------------------------------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    result = train(ENV_ID, total_timesteps=8 * BATCH, run_name="ex", seed=1, **tiny_kwargs(root / "runs"))
    out = root / "out"
    exported = export_checkpoint(ENV_ID, result.checkpoint, out)
    assert exported.compiler_output == ""  # the runner and infer.c build -Wall -Wextra clean
    assert exported.command[:2] == [str(out / "ocean_play"), str(out / "policy.bin")]
    return result.checkpoint, out


def play(out, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(out / "ocean_play"), str(out / "policy.bin"), *args], capture_output=True, text=True, timeout=60
    )


def stats_of(line: str) -> dict[str, float]:
    head, _, body = line.partition(" steps: ")
    return {k: float(v) for k, v in (item.split(" ") for item in body.strip().split(", "))}


def test_export_writes_the_files_and_the_runner(exported, capsys):
    checkpoint, out = exported
    assert {p.name for p in out.iterdir()} == {"policy.bin", "policy.json", "ocean_play", "libocean.so"}
    model = CPolicy(out / "policy.bin")
    assert (
        model.meta["env_id"] == ENV_ID
        and model.meta["env.size"] == "5"
        and model.meta["env.num_envs"] == "16"
    )
    assert model.layers == ["linear", "gelu", "linear", "heads"] and model.act_n == [5]


@pytest.mark.parametrize("episodes", [1, 50])
def test_squared_scores_in_c_what_it_scores_in_python(exported, episodes):
    checkpoint, out = exported
    run = play(out, "--episodes", str(episodes), "--deterministic")
    assert run.returncode == 0, run.stderr
    line = run.stdout.splitlines()[0]
    assert line.startswith(f"{ENV_ID}: {episodes} episode(s) in ")
    python = evaluate_checkpoint(ENV_ID, checkpoint, episodes=episodes, deterministic=True)
    assert f"in {python.steps} steps:" in line  # the same trajectories, step for step
    c_stats = stats_of(line)
    assert set(c_stats) == set(python.stats)
    for key, value in python.stats.items():
        assert c_stats[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_recurrent_policy_plays_the_same_in_c(tmp_path):
    """The runner keeps each agent's LSTM state and clears it when its episode ends, as `puffer eval` does."""
    result = train(
        ENV_ID,
        total_timesteps=4 * BATCH,
        run_name="lstm",
        policy={"lstm": True, "lstm_hidden_size": 16},
        **tiny_kwargs(tmp_path / "runs"),
    )
    out = export_checkpoint(ENV_ID, result.checkpoint, tmp_path / "out")
    assert CPolicy(out.policy).state_size == 32
    run = play(tmp_path / "out", "--episodes", "40", "--deterministic")
    assert run.returncode == 0, run.stderr
    python = evaluate_checkpoint(ENV_ID, result.checkpoint, episodes=40, deterministic=True)
    line = run.stdout.splitlines()[0]
    assert f"40 episode(s) in {python.steps} steps:" in line
    for key, value in python.stats.items():
        assert stats_of(line)[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_sampled_play_agrees_with_python_in_distribution(exported):
    checkpoint, out = exported
    runs = [play(out, "--episodes", "2000", "--seed", str(seed)) for seed in (0, 0, 1)]
    assert runs[0].stdout == runs[1].stdout != runs[2].stdout  # seeded
    c_score = stats_of(runs[0].stdout.splitlines()[0])["score"]
    py_score = evaluate_checkpoint(ENV_ID, checkpoint, episodes=2000).stats["score"]
    # score is +-1 per episode: the difference of two 2000-episode means has a standard error <= 0.032
    assert abs(c_score - py_score) < 0.15, (c_score, py_score)


def test_runner_writes_frames(exported, tmp_path):
    import puffer_core

    _, out = exported
    run = play(out, "--episodes", "2", "--num-envs", "1", "--deterministic", "--frames", str(tmp_path))
    assert run.returncode == 0, run.stderr
    steps = int(re.search(r"in (\d+) steps", run.stdout).group(1))
    frames = sorted(tmp_path.glob("frame_*.ppm"))
    assert len(frames) == steps + 1 and f"wrote {steps + 1} frames" in run.stdout
    env = puffer_core.make(ENV_ID, num_envs=1, size=5, seed=0)
    env.reset(seed=0)
    expected = np.asarray(env.render())
    env.close()
    data = frames[0].read_bytes()
    header = f"P6\n{expected.shape[1]} {expected.shape[0]}\n255\n".encode()
    assert data.startswith(header)
    np.testing.assert_array_equal(
        np.frombuffer(data[len(header) :], np.uint8).reshape(expected.shape), expected
    )


def test_runner_errors_are_clear(exported, tmp_path):
    _, out = exported
    bad = tmp_path / "cut.bin"
    bad.write_bytes((out / "policy.bin").read_bytes()[:-10])
    run = subprocess.run([str(out / "ocean_play"), str(bad)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "policy file truncated" in run.stderr
    bad.write_bytes(b"PUFFPOL\0" + b"\x02" + bytes(80))
    run = subprocess.run([str(out / "ocean_play"), str(bad)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "policy format version 2, but this library reads version 1" in run.stderr
    run = play(out, "--param", "size=7")
    assert (
        run.returncode == 2 and "the policy reads 25 uint8 observations, env squared writes 49" in run.stderr
    )
    run = play(out, "--param", "nope=1")
    assert run.returncode == 2 and "env squared has no parameter 'nope'; it has: size" in run.stderr
    run = play(out, "--episodes", "0")
    assert run.returncode == 2 and "--episodes needs a whole number >= 1" in run.stderr


def test_export_cli_options_and_errors(exported, tmp_path, capsys):
    checkpoint, _ = exported
    assert main(["export", ENV_ID, "--checkpoint", str(checkpoint), "--out", str(tmp_path / "c")]) == 0
    assert f"built {tmp_path / 'c' / 'ocean_play'}; play it in pure C:" in capsys.readouterr().out
    bare = tmp_path / "bare"
    assert main(["export", ENV_ID, "--checkpoint", str(checkpoint), "--out", str(bare), "--no-runner"]) == 0
    assert {p.name for p in bare.iterdir()} == {"policy.bin", "policy.json"}
    assert "runner not built (--no-runner)" in capsys.readouterr().out
    code = main(["export", "ocean/cartpole", "--checkpoint", str(checkpoint), "--out", str(tmp_path)])
    assert code == 2 and "was trained on 'ocean/squared', not 'ocean/cartpole'" in capsys.readouterr().err
    code = main(
        [
            "export",
            ENV_ID,
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(tmp_path / "x"),
            "--cc",
            "no-such-compiler-here",
        ]
    )
    assert code == 2 and "no C compiler 'no-such-compiler-here' found" in capsys.readouterr().err
