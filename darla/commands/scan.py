"""``darla scan``: SCAN (Higgins et al. 2018) on top of a finished vision run: symbols grounded in
its frozen β-VAE, sym2img / img2sym and the AND / IN COMMON / IGNORE operators.

The wiring of ``envs.symbols`` (data from the ground truth) to ``vision.scan`` (training on arrays)
is in :mod:`darla.scan_stage`, shared with the optional ``scan`` stage of ``darla run``.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scan", help="train SCAN (symbols grounded in a frozen beta-VAE) with sym2img, img2sym and recombination",
        description="Train SCAN's symbol VAE on (frame, k-hot symbol) pairs drawn from ENV's ground truth, "
                    "against the frozen Gaussian-posterior vision checkpoint, then its recombination "
                    "operators. Writes scan.pt, sym2img.png, recombined.png, img2sym.md, summary.json "
                    "and TensorBoard logs under tb/. Hyperparameters are KEY=VALUE (steps, beta, "
                    "grounding_weight, operator_steps, ...).",
        epilog="example: darla scan --vision runs/see/checkpoint.pt --env dsprites --factors shape,scale,pos_x,pos_y "
               "--out runs/scan steps=3000")
    p.add_argument("--vision", required=True, help="checkpoint.pt of a finished Gaussian-posterior vision run "
                   "(beta_vae, beta_vae_dae, vae, ...) trained on ENV's frames")
    p.add_argument("--env", required=True, help="environment or dataset whose factors the symbols name (`darla envs`)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(out_kind="folder")  # checked by darla.cli before the command runs
    p.add_argument("--domain", default="", help="domain the frames come from (default: the env's training domain)")
    p.add_argument("--factors", default="", help="comma-separated factors the vocabulary covers (default: every "
                   "factor with more than one value)")
    p.add_argument("--named", default="1-2", help="factors each training symbol names: N or MIN-MAX (default 1-2)")
    p.add_argument("--concepts", type=int, default=300, help="training concepts (default 300)")
    p.add_argument("--examples", type=int, default=10, help="frames per concept (default 10, as in the paper)")
    p.add_argument("--recombinations", type=int, default=1000, help="training triples per operator (default 1000)")
    p.add_argument("--show", default="", help="concepts to draw in sym2img.png, ';'-separated, each "
                   "FACTOR=VALUE[,FACTOR=VALUE] (default: six training concepts)")
    p.add_argument("--samples", type=int, default=8, help="sym2img samples per concept in the PNGs (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="SCAN hyperparameters, e.g. steps=3000 beta=1")
    p.set_defaults(func=run)


def parse_named(text: str) -> tuple[int, int]:
    lo, dash, hi = str(text).partition("-")
    try:
        return (int(lo), int(hi)) if dash else (int(lo), int(lo))
    except ValueError:
        raise ValueError(f"--named {text!r} is not N or MIN-MAX (e.g. 1-2)") from None


def run(args) -> None:
    import json
    from pathlib import Path

    import envs
    from artifacts import write_json_atomic
    from darla import scan_stage
    from darla.overrides import apply
    from darla.stages import locked
    from envs.symbols import Vocabulary
    from vision import scan

    space = envs.make_factor_space(args.env)
    factors = [f.strip() for f in args.factors.split(",") if f.strip()] or None
    vocab = Vocabulary(space, factors)
    named = parse_named(args.named)
    config = apply(scan.ScanConfig(seed=args.seed), args.overrides)
    config.validate()
    vision_model = scan.frozen_vision(args.vision)
    if tuple(vision_model.input_shape) != tuple(space.observation_shape):
        raise ValueError(f"{args.vision} was trained on {tuple(vision_model.input_shape)} frames, {args.env} renders "
                         f"{tuple(space.observation_shape)}; pass a vision checkpoint trained on {args.env}'s frames")
    shows = [vocab.parse(s) for s in args.show.split(";") if s.strip()]
    domain = args.domain or None

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with locked(out):
        data = scan_stage.training_data(space, vocab, concepts=args.concepts, examples=args.examples,
                                        recombinations=args.recombinations, named=named, seed=args.seed, domain=domain)
        model = scan.fit(args.vision, data.pairs.frames, data.pairs.symbols, vocab.units, vocab.groups, config,
                         data.recombinations, progress=False if args.no_progress else None, tensorboard=out / "tb",
                         vision_model=vision_model)
        path = scan.save(out / "scan.pt", model)
        scan_stage.write_outputs(out, model, space, vocab, shows=shows or data.pairs.concepts[:6], samples=args.samples,
                                 seed=args.seed, named=named, domain=domain)
        triples = data.triples
        summary = {"env": args.env, "vision": str(args.vision), "units": len(vocab.units),
                   "factors": list(vocab.factor_names), "concepts": args.concepts, "examples": args.examples,
                   "named": list(named), "recombination_triples": triples, "seed": args.seed,
                   "config": json.loads(json.dumps(config.__dict__)), "checkpoint": str(path)}
        write_json_atomic(out / "summary.json", summary)
    print(f"scan: {len(data.pairs.symbols)} (frame, symbol) pairs over {args.concepts} concepts, {len(vocab.units)} units; "
          f"{triples} recombination triples\ncheckpoint: {path}\nimages: {out / 'sym2img.png'}, "
          f"{out / 'recombined.png'}; tables: {out / 'sym2img.md'}, {out / 'img2sym.md'}\n"
          f"tensorboard --logdir {out / 'tb'}")
