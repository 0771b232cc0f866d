"""User code that every ``darla`` process loads: modules named by a run config's ``imports`` or
``--import``, the module of a ``module:EnvId`` env, and installed packages' entry points.

Why: a user's env, vision method or metric registers itself when its module is imported, and a
process that never imported it (a fresh ``darla`` command, a worker the pipeline spawns) would not
know the name. Entry points let an installed package be found with no flag at all::

    [project.entry-points."darla.envs"]
    my_envs = "my_package.envs"          # a module (or "module:attr"), imported for its registrations

A module that fails to import stops the command with the package (or module) and the error.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from typing import Iterable

GROUPS = ("darla.envs", "darla.methods", "darla.metrics")
_loaded: set[str] = set()


class PluginError(ValueError):
    """A user module or an entry point that could not be imported; the message names it and the error."""


def split_env(env: str) -> tuple[str | None, str]:
    """gymnasium's ``module:EnvId`` as (module, env id); a plain id as (None, id)."""
    if isinstance(env, str) and ":" in env:
        module, _, env_id = env.partition(":")
        return module.strip() or None, env_id.strip()
    return None, env


def import_modules(names: Iterable[str], where: str = "imports") -> None:
    """Import each module of ``names`` (once per process), failing with its name and the error."""
    for name in names:
        if name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except Exception as err:  # any error while a user's module runs is reported the same way
            raise PluginError(f"{where}: cannot import {name!r} ({type(err).__name__}: {err}); it must be importable "
                              f"by this Python ({sys.executable}): installed, or its folder on PYTHONPATH "
                              f"(the working directory is {os.getcwd()})") from err
        _loaded.add(name)


def load_entry_points(groups: Iterable[str] = GROUPS) -> list[str]:
    """Load every installed entry point of ``groups`` (once per process); returns their values."""
    loaded = []
    for group in groups:
        for point in importlib.metadata.entry_points(group=group):
            key = f"{group}:{point.name}={point.value}"
            if key in _loaded:
                continue
            try:
                point.load()
            except Exception as err:  # a broken plugin names itself, not a traceback deep inside it
                dist = getattr(point, "dist", None)
                package = dist.name if dist is not None else point.value.split(":")[0]
                raise PluginError(f"entry point {point.name!r} ({group} = {point.value!r}) of package {package!r} failed "
                                  f"to import: {type(err).__name__}: {err}; fix or uninstall {package}") from err
            _loaded.add(key)
            loaded.append(point.value)
    return loaded
