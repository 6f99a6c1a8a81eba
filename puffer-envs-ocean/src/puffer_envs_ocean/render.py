"""Save rendered frames as a GIF or MP4 (needs the ``render`` extra: imageio)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["save_gif", "save_video"]


def _check_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    checked = []
    for i, frame in enumerate(frames):
        array = np.asarray(frame)
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"frame {i} must be uint8 [H, W, 3], got {array.dtype} {array.shape}")
        if checked and array.shape != checked[0].shape:
            raise ValueError(f"frame {i} has shape {array.shape}, frame 0 has {checked[0].shape}")
        checked.append(array)
    if not checked:
        raise ValueError("no frames to save")
    return checked


def _imageio():
    try:
        import imageio.v3 as iio
    except ImportError as error:  # optional dependency, imported only when saving
        raise ImportError("saving frames needs imageio: pip install 'puffer-envs-ocean[render]'") from error
    return iio


def save_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 30.0) -> Path:
    """Write RGB frames (``uint8 [H, W, 3]``, e.g. from ``env.render()``) as a looping GIF; returns path."""
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    checked = _check_frames(frames)
    path = Path(path)
    _imageio().imwrite(path, np.stack(checked), extension=".gif", duration=1000.0 / fps, loop=0)
    return path


def save_video(frames: Sequence[np.ndarray], path: str | Path, fps: float = 30.0) -> Path:
    """Write RGB frames as a video (e.g. MP4; needs an imageio backend such as ``imageio[ffmpeg]``)."""
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    checked = _check_frames(frames)
    path = Path(path)
    _imageio().imwrite(path, np.stack(checked), fps=fps)
    return path
