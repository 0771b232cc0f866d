"""``darla sweep``: a grid of runs from a spec, sharing every stage the points have in common."""

from darla.cli import add_import_option


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="run a grid of experiments (methods × hyperparameters × seeds) that share stages",
        description="Expand a sweep spec (JSON, YAML or a sweep preset) into points, each a run directory "
                    "DIR/points/<axis values>/, and run their stages on one back-end; a stage that two points "
                    "share runs once. A killed sweep resumes; the study of the finished points follows "
                    "(see docs/sweeps.md).")
    p.add_argument("spec", help="a sweep preset (study, study-full) or a .json/.yaml spec file")
    p.add_argument("--dir", required=True, help="the sweep directory (created; it records its spec)")
    p.add_argument("--backend", default="processes", choices=("serial", "processes", "ray"),
                   help="where stages run (default: processes)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes at once (default: CPU count); for ray, CPUs of a local instance")
    p.add_argument("--address", default=None, help="ray: the cluster to join (default: RAY_ADDRESS, else local)")
    p.add_argument("--no-study", action="store_true", help="do not run `darla study` at the end")
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from darla import study, sweep

    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    sweep.run(args.spec, args.dir, backend=args.backend, workers=args.workers, address=args.address)
    if not args.no_study:
        try:
            study.study(args.dir)
        except study.StudyError as err:
            print(f"no study yet: {err}")
    return 0
