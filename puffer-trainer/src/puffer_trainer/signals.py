"""Graceful stop on SIGINT/SIGTERM, installed only for the duration of a run.

The first signal asks the run loop to stop after the current update, save a checkpoint and exit. A second
SIGINT while stopping raises KeyboardInterrupt as usual, so a stuck run can still be killed from the keyboard;
one that follows the first within ``repeat_grace_s`` is taken as the same request (under torchrun, a Ctrl-C
reaches each worker twice: from the terminal and forwarded by the torchrun agent). A run that has not stopped
``hard_stop_s`` after the first signal (an env hung in native code never returns to the loop), or that gets a
second SIGTERM, exits at once with a message: the last checkpoint written is the one to resume from.
Nothing is installed at import; :class:`GracefulStop` restores the previous handlers when it exits.
"""

from __future__ import annotations

import os
import signal
import sys
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

    def __init__(self, repeat_grace_s: float = 1.0, hard_stop_s: float | None = 60.0) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self.repeat_grace_s = repeat_grace_s
        self.hard_stop_s = hard_stop_s
        self._requested_at = 0.0
        self._previous: dict[int, Any] = {}
        self._watchdog: threading.Timer | None = None

    def request(self, name: str = "stop request") -> None:
        """Ask the run to stop (what the signal handler does; also usable from code)."""
        if not self.requested:
            self.requested = True
            self.signal_name = name
            self._requested_at = time.monotonic()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested and time.monotonic() - self._requested_at < self.repeat_grace_s:
            return  # the same Ctrl-C delivered twice (terminal + torchrun agent)
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt(f"second {name} while stopping")
        if self.requested:
            self._hard_stop(f"a second {name} while stopping")
        self.request(name)
        if self.hard_stop_s is not None and self._watchdog is None:
            # A thread, since a main thread stuck in native code never runs Python signal handlers again.
            self._watchdog = threading.Timer(
                self.hard_stop_s, self._hard_stop, (f"still running {self.hard_stop_s:g} s after {name}",)
            )
            self._watchdog.daemon = True
            self._watchdog.start()

    def _hard_stop(self, why: str) -> None:
        sys.stderr.write(
            f"puffer: {why} (an env or step may hang): exiting now without a final checkpoint; "
            "resume from the last one written\n"
        )
        sys.stderr.flush()
        os._exit(self.exit_code or 1)

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
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
