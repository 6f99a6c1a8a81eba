"""puffer-envs-ocean: fast C environments for Puffer. Make them with ``puffer_core.make("ocean/<name>")``.

Importing this package loads no C code: ``libocean`` is opened when the first env is made.
"""

from .env import OceanEnv
from .render import save_gif, save_video

__version__ = "0.1.0"

__all__ = ["OceanEnv", "save_gif", "save_video", "__version__"]
