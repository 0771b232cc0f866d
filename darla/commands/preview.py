"""``darla preview``: an image grid with one row of sample frames per domain."""


def register(subparsers) -> None:
    p = subparsers.add_parser("preview", help="write a PNG grid of frames from each domain")
    p.add_argument("env_id", help="a registered environment or dataset (see `darla envs`)")
    p.add_argument("--out", required=True, help="output PNG path")
    p.set_defaults(out_kind="file")  # checked by darla.cli before the command runs
    p.add_argument("--per-domain", type=int, default=8, help="frames per domain (default 8)")
    p.add_argument("--scale", type=int, default=2, help="pixel upscaling factor (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> None:
    import envs
    from artifacts import write_png
    from envs.preview import domain_grid

    space = envs.make_factor_space(args.env_id)
    write_png(args.out, domain_grid(space, args.per_domain, args.seed, args.scale))
    print(f"wrote {args.out}")
