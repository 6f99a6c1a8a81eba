"""Refuse vector envs that cannot fit in memory, in one line, before the machine starts swapping.

Two checks: the agent buffers, whose size is known from the spaces before anything is allocated, and the env
objects, whose size is only known by making some. Creation loops call :meth:`MemoryGuard.check` after each
env; at 64, 128, 256, ... envs it extrapolates the memory this process gained per env to all of them.
Where the OS does not say how much memory is available (no ``/proc``), both checks do nothing.
"""

from __future__ import annotations

import os

from ..errors import InsufficientMemoryError

__all__ = ["MemoryGuard", "available_bytes", "check_buffers", "human_bytes"]

#: Envs made before the first extrapolation: the first ones pay for imports and caches, not just themselves.
FIRST_CHECK = 64


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (what can be allocated without swapping), or None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def resident_bytes() -> int | None:
    """This process's resident memory, or None if unknown."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def check_buffers(nbytes: int, what: str) -> None:
    """Refuse agent buffers larger than the memory available now."""
    available = available_bytes()
    if available is not None and nbytes > available:
        raise InsufficientMemoryError(
            f"{what} need {human_bytes(nbytes)} of buffers, but only {human_bytes(available)} of memory is "
            "available; use fewer envs or agents"
        )


class MemoryGuard:
    """Watches a loop that makes ``total`` envs and stops it once the projected total cannot fit."""

    def __init__(self, total: int, what: str) -> None:
        self.total = total
        self.what = what
        self.start = resident_bytes()
        self.next_check = FIRST_CHECK

    def check(self, made: int) -> None:
        """Call after the ``made``-th env; cheap except at powers of two from :data:`FIRST_CHECK`."""
        if made < self.next_check or self.start is None:
            return
        self.next_check *= 2
        now, available = resident_bytes(), available_bytes()
        if now is None or available is None:
            return
        per_env = max(0, now - self.start) / made
        if per_env * (self.total - made) > available:
            total = human_bytes(per_env * self.total)
            raise InsufficientMemoryError(
                f"{self.what}: making {self.total:,} envs would need about {total} "
                f"({human_bytes(per_env)} per env, measured over the first {made:,}), but only "
                f"{human_bytes(available)} more memory is available; use fewer envs"
            )
