"""Whether GPUDrive is installed, answered without importing it or torch (``puffer list`` stays light)."""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["BUILD_HINT", "gpudrive_missing_reason"]

BUILD_HINT = "build it from source: https://github.com/Emerge-Lab/gpudrive"


def gpudrive_missing_reason() -> str | None:
    """None when a ``gpudrive`` package is installed, else why not; imports nothing."""
    if "gpudrive" not in sys.modules and importlib.util.find_spec("gpudrive") is None:
        return f"the gpudrive package is not installed; {BUILD_HINT}"
    return None
