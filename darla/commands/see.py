"""``darla see``: stage 1, learn to see. Trains a vision method on a collected frame dataset."""

from darla.cli import add_import_option


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "see", help="train a vision method (default beta_vae_dae) on collected frames",
        description="Train a representation on frames from `darla collect`. Hyperparameters are "
                    "KEY=VALUE overrides (`darla methods` lists them). Re-running with the same --out "
                    "resumes from the last checkpoint.",
        epilog="example: darla see --data room.h5 --out runs/see beta=2 steps=3000 dae.steps=1000")
    p.add_argument("--data", required=True, help="HDF5 frame dataset written by `darla collect`")
    p.add_argument("--method", default="beta_vae_dae", help="vision method (default: beta_vae_dae)")
    p.add_argument("--out", required=True, help="output folder (checkpoint.pt, PNGs, TensorBoard under tb/)")
    p.set_defaults(out_kind="folder")  # checked by darla.cli before the command runs
    p.add_argument("--force", action="store_true", help="start over instead of resuming a run in --out")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="hyperparameters, e.g. beta=4 dae.steps=500")
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> None:
    import json
    from pathlib import Path

    import vision
    from darla.overrides import apply
    from envs.dataset import FrameDataset

    cls = vision.methods.get(args.method)
    config = apply(cls.Config(), args.overrides)
    from darla.stages import locked

    with FrameDataset(args.data) as data:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        with locked(args.out):  # one writer per output folder
            # factors: only methods that learn from ground truth (dc_ign, guided_vae supervised) use them
            path = vision.fit(data.frames, args.method, args.out, config=config, factors=data.factors[:],
                              resume=not args.force, origin=data.provenance(),
                              progress=False if args.no_progress else True)
    summary = json.loads((Path(args.out) / "summary.json").read_text())
    active = f", {summary['active_latents']} active latents" if "active_latents" in summary else ""
    print(f"{args.method}: pixel MSE {summary['pixel_mse']:.5f} vs mean image {summary['mean_image_mse']:.5f} "
          f"(ratio {summary['mse_ratio']:.2f}){active}")
    print(f"checkpoint: {path}\nimages: {Path(args.out) / 'traversal.png'}, {Path(args.out) / 'reconstructions.png'}\n"
          f"tensorboard --logdir {Path(args.out) / 'tb'}")
