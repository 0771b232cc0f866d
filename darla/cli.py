"""The ``darla`` command. Each sub-command lives in its own module under ``darla.commands``.

A command module defines ``register(subparsers)``, which adds its parser and sets ``func`` to a
callable taking the parsed arguments. Modules import heavy libraries inside ``func`` only, so
``darla --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from darla import __version__

COMMAND_MODULES = (
    "darla.commands.envs",
    "darla.commands.preview",
    "darla.commands.collect",
    "darla.commands.see",
    "darla.commands.scan",
    "darla.commands.methods",
    "darla.commands.act",
    "darla.commands.transfer",
    "darla.commands.run",
    "darla.commands.report",
    "darla.commands.metrics",
    "darla.commands.digest",
    "darla.commands.sweep",
    "darla.commands.study",
)


class UserError(Exception):
    """An error caused by the user's input: printed as one clear message, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="darla", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"darla {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads N`` for commands that run torch; :func:`main` applies it before the command."""
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice); 1 on a shared machine avoids oversubscription")


def add_import_option(parser: argparse.ArgumentParser) -> None:
    """``--import MODULE`` for commands that look up envs, methods or metrics by name: the user's
    module registers them; :func:`main` imports it before the command runs."""
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (a package of yours that registers envs, vision methods or "
                             "metrics); repeatable")


def resolve_env(env: str) -> str:
    """An env argument as an id, after importing the module of gymnasium's ``module:EnvId`` form."""
    from darla import plugins

    module, env_id = plugins.split_env(env)
    if module:
        plugins.import_modules([module], f"env {env!r}")
    return env_id


def check_output(path: str, kind: str) -> None:
    """An ``--out`` that cannot be written as asked (a file where a folder goes, or the reverse)
    fails before any work, with the fix; commands declare ``out_kind`` ("file" or "folder")."""
    from pathlib import Path

    out = Path(path)
    if kind == "folder" and out.exists() and not out.is_dir():
        raise UserError(f"--out {path} is an existing file, not a folder; give a folder path (it is created)")
    if kind == "file":
        if out.is_dir():
            raise UserError(f"--out {path} is a folder; give a file path inside it, e.g. {out / 'out'}")
        parent = next((p for p in [out.parent, *out.parent.parents] if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise UserError(f"--out {path}: {parent} is a file, so no file can be written below it")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may follow options (`darla run room --force metrics jobs=2`): argparse
    # leaves such trailing ones unparsed, so they join the command's own key=value list here
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not isinstance(getattr(args, "overrides", None), list) or any("=" not in e or e.startswith("-")
                                                                          for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides.extend(extra)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from darla import plugins

        plugins.load_entry_points()
        plugins.import_modules(getattr(args, "imports", None) or [], "--import")
        if getattr(args, "out_kind", None):
            check_output(args.out, args.out_kind)
        result = args.func(args)
    except (UserError, KeyError, ValueError, FileNotFoundError, PermissionError) as err:
        # Errors raised for bad input carry a message that names the problem and the fix.
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"darla {args.command}: error: {message}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
