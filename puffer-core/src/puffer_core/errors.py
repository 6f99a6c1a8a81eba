"""Exceptions raised by puffer-core. Each names what was wrong and what was expected."""

from __future__ import annotations


class PufferError(Exception):
    """Base class of every error that Puffer raises on purpose."""


class APIUsageError(PufferError, RuntimeError):
    """The API was called in the wrong order (e.g. ``recv()`` before ``async_reset()``)."""


class UnknownEnvError(PufferError, KeyError):
    """An env id is not registered. The message lists the closest registered ids."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateEnvError(PufferError, ValueError):
    """Two plugins registered the same env id."""


class EnvWorkerError(PufferError, RuntimeError):
    """An env raised or its worker process died; carries the worker's traceback in the message."""


class InsufficientMemoryError(PufferError, MemoryError):
    """What was asked for cannot fit in this machine's memory (estimated before it is allocated)."""
