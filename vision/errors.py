"""Errors raised for bad input. Each message names the problem and the fix.

They subclass ``ValueError`` so the command line prints them as one line without a traceback.
"""

from __future__ import annotations


class VisionError(ValueError):
    """Base class of every error the vision package raises for bad input."""


class UnknownMethodError(VisionError):
    """A method name that is not in the registry."""


class ConfigError(VisionError):
    """A hyperparameter that does not exist or has a value of the wrong type."""


class FrameShapeError(VisionError):
    """Frames that are not uint8 [N, H, W, C] or do not fit the network."""


class CheckpointError(VisionError):
    """A checkpoint that is missing, corrupt, from another method, or does not match the run."""


class NonFiniteLossError(VisionError):
    """Training produced NaN or inf; the last finite checkpoint is left intact."""
