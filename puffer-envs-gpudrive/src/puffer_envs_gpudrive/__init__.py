"""Multi-agent driving for Puffer: a batched driving simulator on torch, and GPUDrive where it is installed.

Modules: ``env`` (:class:`~puffer_envs_gpudrive.env.DriveEnv`, the ``drive/...`` ids), ``sim`` (the batched
simulator), ``scenario`` (GPUDrive's JSON format), ``generator`` (synthetic scenarios), ``tensors`` (packing
scenarios for the device), ``render`` (frames and GIFs), ``gpudrive_adapter`` (``gpudrive/...``), ``plugin``
(registration). Importing the package imports none of them (nor torch).
"""

__version__ = "0.2.0"
