"""``darla report``: rebuild a run's transfer table and ``report.md`` from its finished stages."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="rebuild a run's transfer table and report from its finished stages",
        description="Rebuild transfer.{json,csv,md,png} and report.md of a run directory from its finished "
                    "transfer and metrics stages, without running anything: for instance after copying "
                    "stages that ran on different machines into one run directory.")
    p.add_argument("run_dir", help="a run directory written by `darla run` (it holds config.json)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="changes to the run's config.json, e.g. variants=darla,pixels seeds=[0,1]")
    p.set_defaults(func=run)


def run(args) -> None:
    from pathlib import Path

    from darla import config as config_module
    from darla.pipeline import write_report

    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} has no config.json: give a run directory written by `darla run`")
    base = config_module.load(str(run_dir / "config.json")).to_dict()
    config = config_module.RunConfig.from_dict(config_module.apply_overrides(base, args.overrides))
    config.validate()
    from darla.stages import locked

    with locked(run_dir):  # never while a `darla run` writes there
        write_report(run_dir, config, note="Rebuilt by `darla report` from finished stages.")
