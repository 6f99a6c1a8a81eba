"""Multi-agent driving: GPUDrive when it is installed, and Puffer's own batched driving simulator on torch (not implemented yet: see README)."""

__version__ = "0.1.0"
