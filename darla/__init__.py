"""darla: zero-shot transfer in RL. Learn to see (vision), learn to act (agents), transfer (eval).

This package is the pipeline and the command line; the building blocks live in the sibling
packages ``envs``, ``vision``, ``agents`` and ``eval``.
"""

from artifacts import package_version

__version__ = package_version()
