"""Graceful stop on SIGINT/SIGTERM, installed only for the duration of a run.

The first signal asks the run loop to stop after the current update, save a checkpoint and exit. A second
SIGINT while stopping raises KeyboardInterrupt as usual, so a stuck run can still be killed from the keyboard;
one that follows the first within ``repeat_grace_s`` is taken as the same request (under torchrun, a Ctrl-C
reaches each worker twice: from the terminal and forwarded by the torchrun agent).
Nothing is installed at import; :class:`GracefulStop` restores the previous handlers when it exits.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

__all__ = ["GracefulStop"]


class GracefulStop:
    """Context manager that turns SIGINT/SIGTERM into a stop request (``requested``, ``signal_name``).

    Handlers can only be installed from the main thread; elsewhere (a run started in a worker thread) the
    context manager installs nothing and ``requested`` stays False unless :meth:`request` is called.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, repeat_grace_s: float = 1.0) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self.repeat_grace_s = repeat_grace_s
        self._requested_at = 0.0
        self._previous: dict[int, Any] = {}

    def request(self, name: str = "stop request") -> None:
        """Ask the run to stop (what the signal handler does; also usable from code)."""
        if not self.requested:
            self.requested = True
            self.signal_name = name
            self._requested_at = time.monotonic()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested and signum == signal.SIGINT:
            if time.monotonic() - self._requested_at >= self.repeat_grace_s:
                raise KeyboardInterrupt(f"second {name} while stopping")
            return  # the same Ctrl-C delivered twice (terminal + torchrun agent)
        self.request(name)

    @property
    def exit_code(self) -> int:
        """Shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM); 0 when not signalled."""
        if self.signal_name in self.SIGNALS:
            return 128 + int(getattr(signal, self.signal_name))
        return 0

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                signum = getattr(signal, name, None)
                if signum is not None:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
