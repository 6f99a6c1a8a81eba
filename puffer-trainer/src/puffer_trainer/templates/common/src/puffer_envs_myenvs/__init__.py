"""A Puffer env plugin: ``puffer_core.make("myenvs/chase")`` once this package is installed."""

from .chase import Chase

__version__ = "0.1.0"
__all__ = ["Chase", "__version__"]
