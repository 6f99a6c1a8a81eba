"""Atari games through ale-py with the standard preprocessing (not implemented yet: see README)."""

__version__ = "0.1.0"
