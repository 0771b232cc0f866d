"""darla: zero-shot transfer in RL. Learn to see (vision), learn to act (agents), transfer (eval).

This package is the pipeline and the command line; the building blocks live in the sibling
packages ``envs``, ``vision``, ``agents`` and ``eval``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("darla")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
