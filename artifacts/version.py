"""The installed version of a package, the one lookup every file's metadata records."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version(name: str = "darla") -> str:
    """``name``'s installed version; ``0+unknown`` for a source tree that was never installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "0+unknown"
