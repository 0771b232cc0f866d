"""``darla collect``: frames with ground-truth factors from one domain, to an HDF5 file."""

from darla.cli import add_import_option


def register(subparsers) -> None:
    p = subparsers.add_parser("collect", help="collect frames and ground-truth factors to an HDF5 file",
                              description="Run a uniform random policy in ENV_ID's domain (or sample a "
                                          "procedural dataset) and write frames, factors and metadata.")
    p.add_argument("env_id", help="a registered environment or dataset (see `darla envs`)")
    p.add_argument("--domain", default="", help="domain to collect from (default: the env's training domain, "
                   "the first `darla envs` lists)")
    p.add_argument("--frames", type=int, required=True, help="number of frames")
    p.add_argument("--out", required=True, help="output .h5 file (written atomically)")
    p.set_defaults(out_kind="file")  # checked by darla.cli before the command runs
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampling", default="auto", help="rollout (a uniform random policy's frames), factors "
                   "(uniform states drawn by the exact renderer) or auto (rollout for environments, factors "
                   "for procedural datasets; the default)")
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> None:
    import envs
    from envs.collect import collect

    from darla.config import MAX_FRAMES

    del envs  # imported for its registrations
    if not 1 <= args.frames <= MAX_FRAMES:  # before h5py is asked for an absurd dataset
        raise ValueError(f"--frames {args.frames:,} is out of range: give 1 to {MAX_FRAMES:,} frames")
    from darla.cli import resolve_env

    args.env_id = resolve_env(args.env_id)
    path = collect(args.env_id, args.out, args.frames, domain=args.domain or None, seed=args.seed, sampling=args.sampling)
    print(f"wrote {args.frames} frames of {args.env_id}:{args.domain or 'its training domain'} to {path}")
