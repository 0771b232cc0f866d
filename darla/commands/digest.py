"""``darla digest``: check dataset and checkpoint files and record the content digest that files
written before digests lack, so that they can be read again (see ``envs.dataset`` and
``vision.checkpoint`` on integrity)."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "digest", help="check datasets / vision checkpoints; record the digest older files lack",
        description="Check each file (a dataset .h5 or a vision checkpoint .pt): a file with a digest is "
                    "verified; one written before digests is read through (a dataset) or loaded (a "
                    "checkpoint), checked for finite weights, and given its digest and origin in place "
                    "(atomically). A file that fails is left as it is.",
        epilog="example: darla digest runs/room/collect/source.h5 runs/room/vision/*/checkpoint.pt")
    p.add_argument("paths", nargs="+", metavar="FILE", help="dataset (.h5, .hdf5) or vision checkpoint (.pt)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys
    from pathlib import Path

    from envs import dataset
    from vision import checkpoint

    failed = 0
    for path in map(Path, args.paths):
        kind = dataset if path.suffix in (".h5", ".hdf5") else checkpoint
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            failed += 1
            continue
        try:
            added = kind.add_digest(path)
        except (ValueError, OSError) as err:
            print(f"{path}: {err}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: {'digest recorded' if added else 'verified'} ({kind.recorded_digest(path)[:16]})")
    return 1 if failed else 0
