"""Procedural ground-truth datasets (no downloads): each module registers its factor space on import."""

from envs.datasets import dsprites, shapes3d  # noqa: F401  (register "dsprites" and "shapes3d")
