"""``darla preview``: an image grid with one row of sample frames per domain."""


def register(subparsers) -> None:
    p = subparsers.add_parser("preview", help="write a PNG grid of frames from each domain")
    p.add_argument("env_id", help="a registered environment or dataset (see `darla envs`)")
    p.add_argument("--out", required=True, help="output PNG path")
    p.set_defaults(out_kind="file")  # checked by darla.cli before the command runs
    p.add_argument("--per-domain", type=int, default=8, help="frames per domain (default 8)")
    p.add_argument("--scale", type=int, default=2, help="pixel upscaling factor (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="the environment's keyword arguments, e.g. camera=close for darla/Reach-v0")
    p.set_defaults(func=run)


def run(args) -> None:
    import envs
    from artifacts import write_png
    from darla.cli import UserError
    from darla.overrides import parse_loose, split
    from envs.preview import domain_grid

    kwargs = {key: parse_loose(value) for key, value in split(args.overrides).items()}
    try:
        space = envs.make_factor_space(args.env_id, **kwargs)
    except TypeError as err:  # a keyword the env does not take
        raise UserError(f"{args.env_id} does not take {' '.join(args.overrides)}: {err}") from None
    write_png(args.out, domain_grid(space, args.per_domain, args.seed, args.scale))
    print(f"wrote {args.out}")
