"""``darla see``: stage 1, learn to see. Trains a vision method on a collected frame dataset."""

import argparse

from darla.cli import UserError, add_import_option


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "see", help="train a vision method (default beta_vae_dae) on collected frames",
        description="Train a representation on frames from `darla collect`. Hyperparameters are "
                    "KEY=VALUE overrides (`darla methods` lists them). Re-running with the same --out "
                    "resumes from the last checkpoint.",
        epilog="examples: darla see --data room.h5 --out runs/see beta=2 steps=3000 dae.steps=1000\n"
               "          darla see --env darla/Room-v1 --method icf --out runs/icf steps=2000",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="HDF5 frame dataset written by `darla collect`")
    p.add_argument("--env", help="environment id, for methods that learn by interacting (icf) instead of from frames")
    p.add_argument("--domain", default="", help="with --env: the domain to interact in (default: the env's "
                                                "training domain, its source)")
    p.add_argument("--method", default="beta_vae_dae", help="vision method (default: beta_vae_dae)")
    p.add_argument("--out", required=True, help="output folder (checkpoint.pt, PNGs, TensorBoard under tb/)")
    p.set_defaults(out_kind="folder")  # checked by darla.cli before the command runs
    p.add_argument("--force", action="store_true", help="start over instead of resuming a run in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="hyperparameters, e.g. beta=4 dae.steps=500")
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> None:
    import vision
    from darla.overrides import apply

    cls = vision.methods.get(args.method)
    config = apply(cls.Config(), args.overrides)
    if args.data and args.env:
        raise UserError("give either --data (a frame file) or --env (an environment id), not both")
    if cls.interactive and not args.env:
        given = f" (--data {args.data} is a frame file)" if args.data else ""
        raise UserError(f"{args.method} learns by interacting with an environment and needs an env id{given}: "
                        f"darla see --env darla/Room-v1 --method {args.method} --out DIR")
    if args.env:
        if not cls.interactive:
            raise UserError(f"{args.method} learns from frames, not by interacting: collect them with "
                            f"`darla collect {args.env} --frames N --out FILE.h5` and pass --data FILE.h5")
        _see_env(args, config)
    elif not args.data:
        raise UserError("give --data FILE.h5 (frames from `darla collect`), or --env ENV_ID for a method that "
                        "learns by interacting (icf)")
    else:
        _see_frames(args, config)
    _print_summary(args)


def _see_env(args, config) -> None:
    """An interactive method: environments of the source (or ``--domain``) domain, made here."""
    from pathlib import Path

    import envs
    import vision
    from darla.stages import locked

    envs.registry.check_name(args.env)
    domain = args.domain or envs.declared_domains(args.env)[0]
    envs.registry.make_env(args.env, domain=domain).close()  # fails now, naming the problem, if it cannot be made
    origin = {"env_id": args.env, "env_version": envs.registry.env_version(args.env), "domain": domain,
              "interactive": True}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with locked(args.out):
        vision.fit_env(lambda i: envs.registry.make_env(args.env, domain=domain), args.method, args.out,
                       config=config, resume=not args.force, origin=origin,
                       progress=False if args.no_progress else True)


def _see_frames(args, config) -> None:
    from pathlib import Path

    import vision
    from darla.stages import locked
    from envs.dataset import FrameDataset

    with FrameDataset(args.data) as data:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        with locked(args.out):  # one writer per output folder
            # factors: only methods that learn from ground truth (dc_ign, guided_vae supervised) use them
            vision.fit(data.frames, args.method, args.out, config=config, factors=data.factors[:],
                       resume=not args.force, origin=data.provenance(),
                       progress=False if args.no_progress else True)


def _print_summary(args) -> None:
    import json
    from pathlib import Path

    path = Path(args.out) / "checkpoint.pt"
    summary = json.loads((Path(args.out) / "summary.json").read_text())
    active = f", {summary['active_latents']} active latents" if "active_latents" in summary else ""
    print(f"{args.method}: pixel MSE {summary['pixel_mse']:.5f} vs mean image {summary['mean_image_mse']:.5f} "
          f"(ratio {summary['mse_ratio']:.2f}){active}")
    print(f"checkpoint: {path}\nimages: {Path(args.out) / 'traversal.png'}, {Path(args.out) / 'reconstructions.png'}\n"
          f"tensorboard --logdir {Path(args.out) / 'tb'}")
