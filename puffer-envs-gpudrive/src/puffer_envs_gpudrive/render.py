"""Top-down frames of one world (numpy rasterization, no GUI) and GIFs of them (Pillow, the ``render`` extra).

Colours: road edges dark grey, lane centres light grey, road lines white, on a green background; controlled
vehicles blue (red for a step in which they collided or went off-road), their goals as small yellow squares;
uncontrolled objects grey. Finished agents have left the world and are not drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["render_world", "save_gif"]

_BACKGROUND = (74, 120, 64)
_ROAD_COLORS = {0: (40, 40, 40), 1: (170, 170, 170), 2: (235, 235, 235)}
_CONTROLLED, _CRASHED, _OTHER, _GOAL = (40, 90, 220), (220, 40, 40), (150, 150, 150), (250, 200, 40)


def _draw_segment(img: np.ndarray, a: np.ndarray, b: np.ndarray, color: tuple[int, int, int], r: int) -> None:
    n = int(max(abs(b[0] - a[0]), abs(b[1] - a[1]))) + 1
    pts = np.round(a + (b - a) * np.linspace(0, 1, n)[:, None]).astype(int)
    h, w = img.shape[:2]
    for dx in range(-r, r + 1):
        for dy in range(-r, r + 1):
            x, y = pts[:, 0] + dx, pts[:, 1] + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            img[y[ok], x[ok]] = color


def _fill_box(img: np.ndarray, c: np.ndarray, heading: float, hl: float, hw: float, color: Any) -> None:
    h, w = img.shape[:2]
    reach = int(np.ceil(np.hypot(hl, hw))) + 1
    x0, x1 = max(0, int(c[0]) - reach), min(w, int(c[0]) + reach + 1)
    y0, y1 = max(0, int(c[1]) - reach), min(h, int(c[1]) + reach + 1)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1]
    dx, dy = xs - c[0], ys - c[1]
    cs, sn = np.cos(heading), np.sin(heading)
    inside = (np.abs(dx * cs + dy * sn) <= hl) & (np.abs(-dx * sn + dy * cs) <= hw)
    img[y0:y1, x0:x1][inside] = color


def render_world(sim: Any, world: int = 0, size: int = 512) -> np.ndarray:
    """An RGB ``uint8 [size, size, 3]`` top-down frame of ``sim``'s world ``world`` (a :class:`DriveSim`)."""
    if not 0 <= world < sim.config.num_worlds:
        raise ValueError(f"world must lie in [0, {sim.config.num_worlds}), got {world}")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels, got {size}")
    mid = sim.w_seg_mid[world].cpu().numpy()
    sdir = sim.w_seg_dir[world].cpu().numpy()
    slen = sim.w_seg_len[world].cpu().numpy()
    stype = sim.w_seg_type[world].cpu().numpy()
    svalid = sim.w_seg_valid[world].cpu().numpy()
    seg_a = mid - sdir * slen[:, None] / 2
    seg_b = mid + sdir * slen[:, None] / 2
    pos = sim.pos[world].cpu().numpy()
    heading = sim.heading[world].cpu().numpy()
    length = sim.w_length[world].cpu().numpy()
    width = sim.w_width[world].cpu().numpy()
    present = sim.present[world].cpu().numpy()
    alive = sim.alive[world].cpu().numpy()
    crashed = (sim.collided[world] | sim.offroad[world]).cpu().numpy()
    goal = sim.w_goal[world].cpu().numpy()

    # The view: the vehicles and goals of the scene with a margin, at least 60 m across.
    pts = np.concatenate([pos[present], goal[alive]])
    if len(pts) == 0:
        pts = np.concatenate([seg_a[svalid], seg_b[svalid]]) if svalid.any() else np.zeros((1, 2))
    centre = (pts.min(0) + pts.max(0)) / 2
    half = max(30.0, float(max(pts.max(0) - pts.min(0))) / 2 + 12.0)
    lo = centre - half
    scale = (size - 1) / (2 * half)

    def px(p: np.ndarray) -> np.ndarray:  # world -> pixel, y up
        q = (p - lo) * scale
        return np.stack([q[..., 0], (size - 1) - q[..., 1]], -1)

    img = np.empty((size, size, 3), np.uint8)
    img[:] = _BACKGROUND
    thick = max(1, size // 256)
    for code in (1, 2, 0):  # edges on top
        for a, b in zip(seg_a[svalid & (stype == code)], seg_b[svalid & (stype == code)]):
            _draw_segment(img, px(a), px(b), _ROAD_COLORS[code], thick - 1 if code == 1 else thick)
    goal_r = max(2, int(1.0 * scale))
    for i in np.flatnonzero(alive):
        g = px(goal[i])
        _fill_box(img, g, 0.0, goal_r, goal_r, _GOAL)
    for i in np.flatnonzero(present):
        color = (_CRASHED if crashed[i] else _CONTROLLED) if alive[i] else _OTHER
        # Pixel y points down: the heading flips sign.
        _fill_box(img, px(pos[i]), -float(heading[i]), length[i] / 2 * scale, width[i] / 2 * scale, color)
    return img


def save_gif(frames: list[np.ndarray], path: str | Path, fps: int = 10) -> Path:
    """Write RGB frames as an animated GIF (needs Pillow: ``pip install puffer-envs-gpudrive[render]``)."""
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "writing GIFs needs Pillow: pip install 'puffer-envs-gpudrive[render]' (or pillow)"
        ) from None
    images = [Image.fromarray(np.asarray(f, np.uint8)) for f in frames]
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path
