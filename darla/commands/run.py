"""``darla run``: the whole experiment (collect → see → act → transfer → report) from a preset or config."""

from darla.cli import add_import_option


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run a whole transfer experiment from a preset or JSON config",
                              description="Run collect → see → act → transfer for every variant and seed. "
                                          "Finished stages are skipped on re-runs; a killed run resumes.")
    p.add_argument("config", help="a preset name (see --list) or a path to a .json config")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. agent.steps=50000 seeds=[0,1,2] vision.methods.beta_vae_dae.beta=2")
    p.add_argument("--runs-dir", default="runs", help="parent folder of run directories (default: runs)")
    p.add_argument("--force", action="append", default=[], metavar="STAGE",
                   help="redo a stage and what depends on it (a key prefix: collect, vision, "
                        "vision/dae, agent/darla, transfer ...); repeatable")
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> None:
    from darla import config as config_module
    from darla.config import apply_overrides
    from darla.pipeline import run as run_pipeline

    base = config_module.load(args.config).to_dict()
    config = config_module.RunConfig.from_dict(apply_overrides(base, args.overrides))
    config.imports = [*config.imports, *(m for m in args.imports if m not in config.imports)]  # workers import them too
    run_pipeline(config, args.runs_dir, force=args.force)
