"""Multi-agent driving: GPUDrive and a batched driving sim on torch (not implemented yet: see README)."""

__version__ = "0.1.0"
