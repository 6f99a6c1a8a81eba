"""A minimal third-party Puffer env plugin (see README)."""

from .corridor import Corridor

__version__ = "0.1.0"
__all__ = ["Corridor"]
