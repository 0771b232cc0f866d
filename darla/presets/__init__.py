"""Experiment presets shipped with the package (JSON, one file each)."""
