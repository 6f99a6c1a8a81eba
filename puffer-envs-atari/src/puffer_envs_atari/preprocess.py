"""Frame preprocessing in numpy: area resize, max-pool and frame stacking (the ``python`` engine's).

ale-py's vector engine does the same in C++ (OpenCV's ``INTER_AREA``); resizing here is the same area
average, so both engines agree up to rounding.
"""

from __future__ import annotations

import numpy as np

__all__ = ["area_weights", "area_taps", "AreaResize", "push_frame"]


def area_weights(src: int, dst: int) -> np.ndarray:
    """``[dst, src]`` float32 weights: output pixel ``i`` averages source interval ``[i*s, (i+1)*s)``.

    ``s = src / dst``; each source pixel contributes the fraction of it the interval covers, divided by
    ``s``, so every row sums to 1 (a uniform image stays uniform). Needs ``dst <= src`` (downscaling).
    """
    if not 1 <= dst <= src:
        raise ValueError(f"area resize only downscales: need 1 <= dst <= src, got src={src}, dst={dst}")
    scale = src / dst
    weights = np.zeros((dst, src), dtype=np.float64)
    for i in range(dst):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), src)):
            weights[i, j] = min(hi, j + 1) - max(lo, j)
    weights /= scale
    return weights.astype(np.float32)


def area_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`area_weights` as taps: ``(index, weight)``, both ``[k, dst]``, ``k`` source pixels per output.

    Output ``i`` is ``sum_k weight[k, i] * src[index[k, i]]``; unused taps have weight 0.
    """
    weights = area_weights(src, dst)
    taps = int(max(np.count_nonzero(row) for row in weights))
    index = np.zeros((taps, dst), dtype=np.intp)
    tap_weights = np.zeros((taps, dst), dtype=np.float32)
    for i, row in enumerate(weights):
        nonzero = np.flatnonzero(row)
        index[: len(nonzero), i] = nonzero
        index[len(nonzero) :, i] = nonzero[-1]
        tap_weights[: len(nonzero), i] = row[nonzero]
    return index, tap_weights


class AreaResize:
    """Resize ``uint8 [src_h, src_w]`` frames to ``[dst_h, dst_w]`` by area averaging, rounding to nearest.

    Each output pixel mixes a few source pixels (3-4 per axis for 210x160 -> 84x84), so the resize is a
    handful of gathers and multiply-adds per axis: no BLAS call, whose thread pool would fight the env
    workers for cores.
    """

    def __init__(self, src_shape: tuple[int, int], dst_shape: tuple[int, int]) -> None:
        self.src_shape = tuple(src_shape)
        self.dst_shape = tuple(dst_shape)
        self.identity = self.src_shape == self.dst_shape
        self.row_index, self.row_weights = area_taps(src_shape[0], dst_shape[0])
        self.col_index, self.col_weights = area_taps(src_shape[1], dst_shape[1])
        self.row_weights = np.ascontiguousarray(self.row_weights[:, :, None])  # broadcast over columns
        self._rows = np.empty((dst_shape[0], src_shape[1]), dtype=np.float32)
        self._out = np.empty(self.dst_shape, dtype=np.float32)
        self._tmp_rows = np.empty_like(self._rows)
        self._tmp_out = np.empty_like(self._out)

    def __call__(self, frame: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write the resized ``frame`` into ``out`` (uint8 ``dst_shape``) and return it."""
        if frame.shape != self.src_shape:
            raise ValueError(f"expected a frame of shape {self.src_shape}, got {frame.shape}")
        if self.identity:
            np.copyto(out, frame)
            return out
        rows, tmp = self._rows, self._tmp_rows
        np.multiply(frame[self.row_index[0]], self.row_weights[0], out=rows)
        for k in range(1, len(self.row_index)):
            np.multiply(frame[self.row_index[k]], self.row_weights[k], out=tmp)
            rows += tmp
        acc, tmp2 = self._out, self._tmp_out
        np.multiply(rows[:, self.col_index[0]], self.col_weights[0], out=acc)
        for k in range(1, len(self.col_index)):
            np.multiply(rows[:, self.col_index[k]], self.col_weights[k], out=tmp2)
            acc += tmp2
        # +0.5 then truncation: round half up, like OpenCV's saturate_cast on non-negative values.
        acc += 0.5
        np.copyto(out, acc, casting="unsafe")
        return out


def push_frame(stack: np.ndarray, frame: np.ndarray) -> None:
    """Shift ``stack`` (``[n, h, w]``, oldest first) one frame older in place and put ``frame`` last."""
    if len(stack) > 1:
        stack[:-1] = stack[1:]
    stack[-1] = frame
