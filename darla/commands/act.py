"""``darla act``: train one agent (stage 2) on the source domain of an environment."""

from darla.cli import add_import_option


def register(subparsers) -> None:
    from darla.cli import add_threads_option

    p = subparsers.add_parser("act", help="train an agent on the source domain (one variant, one seed)")
    p.add_argument("--variant", default="darla", help="agent variant, e.g. darla or pixels (an unknown name lists them all)")
    p.add_argument("--vision", help="vision checkpoint the variant reads (not needed for pixels or oracle)")
    p.add_argument("--env", default="darla/Room-v1", help="environment id (default darla/Room-v1)")
    p.add_argument("--algo", default="ppo", help="ppo, a2c, dqn, sac or ec (episodic control; default ppo)")
    p.add_argument("--steps", type=int, default=100_000, help="environment steps (default 100000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--out", required=True, help="agent folder to write")
    p.set_defaults(out_kind="folder")  # checked by darla.cli before the command runs
    p.add_argument("--standardize", action="store_true",
                   help="feed the policy latents standardised with the encoder's stage-1 code statistics")
    add_threads_option(p)
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="overrides of the algorithm's defaults, e.g. learning_rate=1e-4 n_steps=256")
    add_import_option(p)
    p.set_defaults(func=run)


def run(args) -> None:
    from pathlib import Path

    import agents
    from darla.overrides import parse_loose, split

    hyperparams = {key: parse_loose(value) for key, value in split(args.overrides).items()}
    from darla.stages import locked

    from darla.cli import resolve_env

    args.env = resolve_env(args.env)
    agents.variant(args.variant)  # unknown names fail before the output folder exists
    agents.hyperparams.defaults_for(args.algo, args.env)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with locked(args.out):  # one writer per output folder, as for a run directory
        out = agents.train(args.variant, args.env, Path(args.out), steps=args.steps, seed=args.seed, algo=args.algo,
                           encoder_path=args.vision, hyperparams=hyperparams, device=args.device,
                           tensorboard_dir=Path(args.out) / "tb", progress=True, standardize=args.standardize)
    print(f"saved {args.variant} agent to {out}")
