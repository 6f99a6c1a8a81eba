"""``puffer eval``: run a checkpoint's policy on its env, report episode statistics, optionally save a GIF.

The checkpoint carries its resolved config, so the env kwargs and the policy architecture are rebuilt from it;
the policy weights are loaded with ``torch.load(weights_only=True)`` through :func:`load_checkpoint`.

Statistics cover exactly the first ``episodes`` episodes to finish (:class:`EpisodeTally`), although an env
with many agents finishes several in one step and may report them as one averaged info dict. GIF frames show
the running return of the drawn agent, in a tiny built-in pixel font (:func:`draw_text`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint import CheckpointError, load_checkpoint

__all__ = ["EvalResult", "EpisodeTally", "evaluate_checkpoint", "load_policy", "write_gif", "draw_text"]


@dataclass
class EvalResult:
    """Mean statistics of the finished episodes (``episode_return``, ``episode_length``, env metrics).

    ``episodes`` is the number asked for, unless ``max_steps`` ran out first.
    """

    episodes: int
    steps: int
    stats: dict[str, float] = field(default_factory=dict)
    render_path: Path | None = None
    frames: int = 0


def load_policy(checkpoint: str | os.PathLike[str], env: Any, env_id: str | None = None) -> tuple[Any, Any]:
    """Rebuild the default policy of ``checkpoint`` for ``env``, load its weights: ``(policy, config)``.

    A policy trained with observation normalization comes behind its normalizer (:class:`NormalizedPolicy`).
    """
    policy, config, state = restore_policy(checkpoint, env, env_id)
    if isinstance(state.get("obs_norm"), dict):  # trained with normalize_obs: the policy sees normalized obs
        from .policies import ObsNormalizer

        norm = ObsNormalizer(tuple(env.single_observation_space.shape))
        norm.load_state_dict(state["obs_norm"])
        policy = NormalizedPolicy(norm, policy).eval()
    return policy, config


def restore_policy(
    checkpoint: str | os.PathLike[str],
    env: Any,
    env_id: str | None = None,
    state: dict[str, Any] | None = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """``(policy, config, state)``: the checkpoint's default policy for ``env`` with its weights, in eval mode
    and without its observation normalizer (``state["obs_norm"]``, if any), plus the checkpoint's state.

    ``state``: the checkpoint as :func:`~puffer_trainer.checkpoint.load_checkpoint` returned it, when the
    caller has read it already (``checkpoint`` then only names it in errors).
    """
    from .config import Config
    from .policies import make_policy

    if state is None:
        state = load_checkpoint(checkpoint)
    config = Config.from_dict(state["config"])
    if env_id is not None and config.env_id != env_id:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} was trained on {config.env_id!r}, not {env_id!r}"
        )
    probe = SimpleNamespace(
        single_observation_space=env.single_observation_space,
        single_action_space=env.single_action_space,
        structured_observation_space=getattr(env, "structured_observation_space", None),
        structured_action_space=getattr(env, "structured_action_space", None),
        num_agents=env.num_agents,
    )
    policy = make_policy(config, probe)
    weights = state.get("policy", state.get("model"))
    if not isinstance(weights, dict):
        raise CheckpointError(f"checkpoint {str(checkpoint)!r} holds no policy weights ('policy' entry)")
    expected = policy.state_dict()
    wrong = [
        f"{k}: checkpoint {tuple(weights[k].shape)} vs env {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and tuple(weights[k].shape) != tuple(v.shape)
    ]
    missing = sorted(set(expected) - set(weights))
    if wrong or missing:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} does not fit env {env_id or config.env_id!r} "
            f"(different spaces or env "
            f"kwargs?): {'; '.join(wrong[:5]) or 'missing ' + ', '.join(missing[:5])}"
        )
    policy.load_state_dict(weights)
    policy.eval()
    return policy, config, state


class NormalizedPolicy(nn.Module):
    """A policy behind the observation normalizer it was trained with."""

    def __init__(self, norm: nn.Module, policy: nn.Module) -> None:
        super().__init__()
        self.norm, self.policy = norm, policy
        self.dist = getattr(policy, "dist", None)
        self.is_recurrent = bool(getattr(policy, "is_recurrent", False))

    def initial_state(self, *args: Any, **kwargs: Any) -> Any:
        return self.policy.initial_state(*args, **kwargs)

    def forward(self, obs: torch.Tensor, state: Any = None) -> Any:
        return self.policy(self.norm(obs), state)


class EpisodeTally:
    """Mean statistics of exactly the first ``limit`` finished episodes.

    Envs report finished episodes as info dicts that may each average ``n`` episodes (``"n"`` key, 1 when
    absent). Dicts are taken in the order they arrive until ``limit`` episodes are counted; when the last one
    holds more episodes than are still needed, its mean stands for the ones taken (exact whenever each dict
    is one episode, or when the env reports each step's episodes as they finish).
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.count = 0
        self._sums: dict[str, float] = {}
        self._weights: dict[str, int] = {}

    @property
    def full(self) -> bool:
        return self.count >= self.limit

    def add(self, infos: list[dict[str, float]]) -> None:
        """Count the episodes of ``infos`` (in order) until the tally is full; the rest are ignored."""
        for info in infos:
            if self.full:
                return
            n = int(round(float(info.get("n", 1.0))))
            if n <= 0:
                continue
            take = min(n, self.limit - self.count)
            for key, value in info.items():
                if key == "n":
                    continue
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    continue
                self._sums[key] = self._sums.get(key, 0.0) + number * take
                self._weights[key] = self._weights.get(key, 0) + take
            self.count += take

    def means(self) -> dict[str, float]:
        return {key: total / self._weights[key] for key, total in self._sums.items() if self._weights[key]}


def _make_env(env_id: str, env_kwargs: dict[str, Any], seed: int, render: bool) -> Any:
    import puffer_core

    if render:
        try:
            return puffer_core.make(env_id, seed=seed, **{**env_kwargs, "render_mode": "rgb_array"})
        except (TypeError, ValueError):  # this env takes no render_mode: its render() draws RGB by default
            pass
    return puffer_core.make(env_id, seed=seed, **env_kwargs)


def _greedy(dist: Any, params: Any) -> Any:
    """The most likely action: argmax per categorical, the mean for Box."""

    if dist.kind == "box":
        return params[0]
    if dist.kind == "discrete":
        return params.argmax(-1).int()
    parts = torch.split(params, dist.nvec, dim=-1)
    return torch.stack([p.argmax(-1) for p in parts], -1).int()


def evaluate_checkpoint(
    env_id: str,
    checkpoint: str | os.PathLike[str],
    *,
    episodes: int = 10,
    max_steps: int = 10_000,
    render: str | os.PathLike[str] | None = None,
    fps: float = 30.0,
    deterministic: bool = False,
    seed: int = 0,
    env_overrides: dict[str, Any] | None = None,
) -> EvalResult:
    """Play ``episodes`` episodes (or at most ``max_steps`` env steps) with the checkpoint's policy.

    With ``render``, frames of the env's ``render()`` (RGB arrays) are saved as a GIF at that path.
    """
    from .config import Config
    from .policies import ActionDist

    if episodes < 1 or max_steps < 1:
        raise ValueError(f"episodes and max_steps must be >= 1, got {episodes} and {max_steps}")
    config = Config.from_dict(load_checkpoint(checkpoint)["config"])
    if config.env_id != env_id:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} was trained on {config.env_id!r}, not {env_id!r}"
        )
    env_kwargs = {**config.env, **(env_overrides or {})}
    env = _make_env(env_id, env_kwargs, seed, render is not None)
    frames: list[np.ndarray] = []
    tally = EpisodeTally(episodes)
    # Envs that batch their episode statistics (ocean envs log every few steps) hand them over each step, so
    # the tally sees episodes in the order they finish and stops at the step where the last one did.
    flush = getattr(env, "flush_log", None)
    shown_return = 0.0  # the running return of agent 0, the one render() draws, for the GIF overlay
    steps = 0
    try:
        policy, _ = load_policy(checkpoint, env, env_id)
        dist = getattr(policy, "dist", None) or ActionDist(env.single_action_space)
        torch.manual_seed(seed)
        obs, _ = env.reset(seed=seed)
        device = torch.device(str(getattr(env, "device", "cpu")))  # a GPU-native env keeps its obs there
        policy.to(device)
        recurrent = bool(getattr(policy, "is_recurrent", False))
        state = policy.initial_state(env.num_agents, device) if recurrent else None
        if render is not None:
            frames.append(_frame(env, shown_return))
        with torch.no_grad():
            while not tally.full and steps < max_steps:
                params, _, state = policy(torch.as_tensor(obs, device=device), state)
                actions = _greedy(dist, params) if deterministic else dist.sample(params)[0]
                obs, rewards, terminals, truncations, infos = env.step(dist.to_env(actions))
                steps += 1
                if recurrent:
                    ended = torch.as_tensor(np.logical_or(terminals, truncations), device=device)
                    state = tuple(s * (~ended.reshape(-1, 1)) for s in state)  # fresh memory per episode
                tally.add(list(infos) + (list(flush()) if flush is not None else []))
                if render is not None:
                    shown_return += float(_first(rewards))
                    # The frame after the last step of an episode already shows the next one (auto-reset);
                    # it keeps the finished episode's return, and the count starts again after it.
                    frames.append(_frame(env, shown_return))
                    if bool(_first(terminals)) or bool(_first(truncations)):
                        shown_return = 0.0
    finally:
        env.close()
    result = EvalResult(episodes=tally.count, steps=steps, stats=tally.means())
    if render is not None:
        result.render_path = write_gif(frames, render, fps)
        result.frames = len(frames)
    return result


def _first(values: Any) -> Any:
    """Agent 0's entry of a step buffer (numpy array or a GPU env's tensor)."""
    item = values[0]
    return item.item() if hasattr(item, "item") else item


def _frame(env: Any, shown_return: float | None = None) -> np.ndarray:
    """The env's RGB frame, with ``RETURN <shown_return>`` drawn into its top-left corner if given."""
    try:
        frame = env.render()
    except Exception as error:  # e.g. a missing optional renderer such as pygame
        raise ValueError(f"--render needs RGB frames; render() raised: {error}") from error
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] not in (3, 4):
        raise ValueError(
            f"--render needs RGB frames (uint8 [H, W, 3]) from env.render(), got {frame.dtype} "
            f"array of shape "
            f"{frame.shape}"
        )
    if shown_return is None:
        return frame
    return draw_text(frame[..., :3], f"RETURN {_number(shown_return)}")


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-6 else f"{value:.1f}"


#: A 3x5 pixel font: each glyph is five rows of three columns ("#" lit). Just what the GIF overlay writes.
FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    "-": ("...", "...", "###", "...", "..."),
    ".": ("...", "...", "...", "...", ".#."),
    " ": ("...", "...", "...", "...", "..."),
    "E": ("###", "#..", "##.", "#..", "###"),
    "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"),
}


def text_mask(text: str) -> np.ndarray:
    """Lit pixels of ``text`` in :data:`FONT`: bool ``[5, 4 * len(text) - 1]`` (one blank column between)."""
    columns = []
    for index, char in enumerate(text):
        glyph = FONT.get(char)
        if glyph is None:
            raise ValueError(f"the overlay font has no {char!r}; it has {''.join(sorted(FONT))!r}")
        if index:
            columns.append(np.zeros((5, 1), dtype=bool))
        columns.append(np.array([[c == "#" for c in row] for row in glyph], dtype=bool))
    return np.concatenate(columns, axis=1) if columns else np.zeros((5, 0), dtype=bool)


def draw_text(frame: np.ndarray, text: str) -> np.ndarray:
    """A copy of RGB ``frame`` with ``text`` in white on a black box in its top-left corner.

    Pixels are scaled by 2 when the text then takes at most 3/4 of the frame's width, else drawn 1:1; the box
    has a margin of one (scaled) pixel. Text wider than the frame is cut at its right edge.
    """
    mask = text_mask(text)
    height, width = frame.shape[:2]
    scale = 2 if (mask.shape[1] + 2) * 2 <= 0.75 * width else 1
    box = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=bool)  # False: box, True: glyph
    box[1:-1, 1:-1] = mask
    box = np.kron(box, np.ones((scale, scale), dtype=bool)).astype(bool)
    box = box[:height, :width]
    out = np.array(frame[..., :3], dtype=np.uint8, copy=True)
    region = out[: box.shape[0], : box.shape[1]]
    region[...] = 0
    region[box] = 255
    return out


def write_gif(frames: list[np.ndarray], path: str | os.PathLike[str], fps: float = 30.0) -> Path:
    """Save RGB frames as a looping GIF with imageio (written atomically)."""
    if not frames:
        raise ValueError("no frames to write")
    try:
        import imageio.v3 as iio
    except ImportError as error:
        raise ImportError("--render needs imageio: pip install imageio") from error
    from .checkpoint import atomic_write

    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"--render writes a GIF; give a path ending in .gif, got {str(path)!r}")
    with atomic_write(path) as handle:
        iio.imwrite(handle, np.stack(frames), extension=".gif", duration=int(round(1000 / fps)), loop=0)
    return path
