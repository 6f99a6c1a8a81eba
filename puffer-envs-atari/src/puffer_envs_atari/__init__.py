"""Atari games through ale-py, with the standard preprocessing (frame skip, max-pool, grayscale, resize, frame stack, sticky actions, life-loss signals) (not implemented yet: see README)."""

__version__ = "0.1.0"
