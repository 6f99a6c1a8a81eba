"""One set of :class:`~puffer_core.env.Buffers` for every env of a vector env, optionally in shared memory.

All arrays (the six agent buffers plus the small control arrays the multiprocessing backend synchronizes
with) live in **one** block, so there is exactly one name to unlink. The block is either private numpy
memory (serial backend) or one :class:`multiprocessing.shared_memory.SharedMemory` segment (multiprocessing
backend) that workers attach to by name.

Freeing: :meth:`SharedBuffers.close` unlinks the segment first (the ``/dev/shm`` entry disappears at once)
and then unmaps it. If the caller still holds arrays returned by ``recv()``, unmapping is left to the last of
those arrays to be garbage-collected, so a stale view never points at unmapped memory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np
from gymnasium import spaces

from ..env import Buffers
from ..spaces import action_buffer_layout, observation_buffer_layout

__all__ = ["SharedBuffers", "BlockLayout"]

#: Every array starts on its own cache line: no false sharing between the control flags of two workers
#: and the agent buffers.
_ALIGN = 64
#: Prefix of our segment names (followed by the creating pid), so a leak is recognisable in /dev/shm.
SHM_PREFIX = "puffer_"

_BUFFER_NAMES = ("observations", "actions", "rewards", "terminals", "truncations", "masks")


class _SharedMemory(shared_memory.SharedMemory):
    """SharedMemory whose finalizer tolerates arrays that still view it (they keep the mapping alive)."""

    def __del__(self) -> None:
        with contextlib.suppress(OSError, BufferError):
            self.close()


@dataclass(frozen=True)
class BlockLayout:
    """Byte offset, shape and dtype of every array in the block; picklable, sent to workers."""

    entries: tuple[tuple[str, int, tuple[int, ...], str], ...]
    nbytes: int

    @classmethod
    def build(cls, arrays: list[tuple[str, tuple[int, ...], np.dtype]]) -> BlockLayout:
        entries = []
        offset = 0
        for name, shape, dtype in arrays:
            dtype = np.dtype(dtype)
            offset = -(-offset // _ALIGN) * _ALIGN
            entries.append((name, offset, tuple(shape), dtype.str))
            offset += int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        return cls(tuple(entries), max(offset, 1))

    def views(self, memory: Any) -> dict[str, np.ndarray]:
        """Numpy views of every array over ``memory`` (a buffer of at least :attr:`nbytes` bytes)."""
        out = {}
        for name, offset, shape, dtype in self.entries:
            count = int(np.prod(shape, dtype=np.int64))
            out[name] = np.frombuffer(memory, dtype=np.dtype(dtype), count=count, offset=offset).reshape(
                shape
            )
        return out


def block_layout(
    observation_space: spaces.Space,
    action_space: spaces.Space,
    num_agents: int,
    control: dict[str, tuple[tuple[int, ...], Any]] | None = None,
) -> BlockLayout:
    """The layout of the agent buffers for ``num_agents`` agents followed by the ``control`` arrays."""
    obs_shape, obs_dtype = observation_buffer_layout(observation_space)
    act_shape, act_dtype = action_buffer_layout(action_space)
    arrays = [
        ("observations", (num_agents, *obs_shape), obs_dtype),
        ("actions", (num_agents, *act_shape), act_dtype),
        ("rewards", (num_agents,), np.float32),
        ("terminals", (num_agents,), np.bool_),
        ("truncations", (num_agents,), np.bool_),
        ("masks", (num_agents,), np.bool_),
    ]
    for name, (shape, dtype) in (control or {}).items():
        arrays.append((name, shape, np.dtype(dtype)))
    return BlockLayout.build(arrays)


class SharedBuffers:
    """The buffers of all agents of a vector env (plus control arrays), in one block of memory.

    Args:
        layout: what the block holds (see :func:`block_layout`).
        shared: put the block in POSIX shared memory (``/dev/shm``) so worker processes can attach to it.
        name: attach to an existing segment of this name instead of creating one (workers do this).
    """

    def __init__(self, layout: BlockLayout, shared: bool = False, name: str | None = None) -> None:
        self.layout = layout
        self._shm: _SharedMemory | None = None
        self._owner = name is None
        self._unlinked = False
        if name is not None:
            self._shm = _SharedMemory(name=name, create=False)
            memory: Any = self._shm.buf
        elif shared:
            self._shm = _SharedMemory(
                name=f"{SHM_PREFIX}{os.getpid()}_{secrets.token_hex(6)}", create=True, size=layout.nbytes
            )
            memory = self._shm.buf
        else:
            memory = bytearray(layout.nbytes)
        if self._shm is not None and getattr(self._shm, "_fd", -1) >= 0:
            # The mapping is all we need; closing the descriptor now means no fd can leak even when
            # unmapping has to wait for views the caller still holds.
            os.close(self._shm._fd)
            self._shm._fd = -1
        self.arrays = layout.views(memory)
        if self._owner:
            for array in self.arrays.values():
                array[...] = 0
            self.arrays["masks"][...] = True
        self.buffers = Buffers(**{n: self.arrays[n] for n in _BUFFER_NAMES})

    @property
    def name(self) -> str | None:
        """Name of the shared memory segment (``None`` for private memory)."""
        return self._shm.name if self._shm is not None else None

    def unlink(self) -> None:
        """Remove the segment's name from /dev/shm (when we created it); the mapping stays usable.

        Call it once every process that needs the segment has attached: from then on nothing can leak,
        whatever kills us. Safe to call twice.
        """
        if self._shm is not None and self._owner and not self._unlinked:
            with contextlib.suppress(FileNotFoundError):
                self._shm.unlink()
            self._unlinked = True

    def close(self) -> None:
        """Unlink (when we created it) and unmap the block. Safe to call twice."""
        shm, self._shm = self._shm, None
        self.arrays = {}
        self.buffers = None  # type: ignore[assignment]
        if shm is None:
            return
        if self._owner and not self._unlinked:
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()
        # Views handed to the caller may still be alive: then the mapping lives until they are collected.
        with contextlib.suppress(BufferError):
            shm.close()
