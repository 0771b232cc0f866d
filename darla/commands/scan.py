"""``darla scan``: SCAN (Higgins et al. 2018) on top of a finished vision run: symbols grounded in
its frozen β-VAE, sym2img / img2sym and the AND / IN COMMON / IGNORE operators.

The command wires the two layers that may not import each other: ``envs.symbols`` draws the
(frame, symbol) pairs and recombination triples from the environment's ground truth, and
``vision.scan`` trains on those arrays against the frozen checkpoint.
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


def _grid(rows):
    import numpy as np

    from vision.images import tile

    image = tile([np.asarray(r) for r in rows])
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]


def run(args) -> None:
    import json
    from pathlib import Path

    import numpy as np

    import envs
    from artifacts import write_json_atomic, write_png, write_text_atomic
    from darla.overrides import apply
    from darla.stages import locked
    from envs.symbols import OPERATORS, Vocabulary, combine, frames_of, sample_pairs, sample_recombinations
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
        data = sample_pairs(space, vocab, args.concepts, args.examples, seed=args.seed, named=named, domain=domain)
        rng = np.random.default_rng([args.seed, 1])
        triples, ops = [], []
        for k, op in enumerate(OPERATORS):
            try:
                found = sample_recombinations(vocab, args.recombinations, rng, op, named)
            except ValueError as err:  # e.g. AND with one factor per symbol: skip that operator, say so
                print(f"scan: no {op} training triples: {err}")
                continue
            triples += found
            ops += [k] * len(found)
        recombinations = None
        if triples:
            result_factors = np.concatenate([frames_of(space, vocab, r, 1, rng, domain) for _, _, r in triples])
            recombinations = scan.Recombinations(vocab.encode([a for a, _, _ in triples]),
                                                 vocab.encode([b for _, b, _ in triples]), np.array(ops),
                                                 space.render(result_factors))
        model = scan.fit(args.vision, data.frames, data.symbols, vocab.units, vocab.groups, config, recombinations,
                         progress=False if args.no_progress else None, tensorboard=out / "tb", vision_model=vision_model)
        path = scan.save(out / "scan.pt", model)

        shows = shows or data.concepts[:6]
        named_rows = model.sym2img(vocab.encode(shows), args.samples, seed=args.seed)
        write_png(out / "sym2img.png", _grid(list(named_rows)))
        lines = ["# sym2img", "", "Rows of `sym2img.png`, top to bottom:", ""]
        lines += [f"{i + 1}. {{{vocab.describe(c)}}}" for i, c in enumerate(shows)]

        demo_rng = np.random.default_rng([args.seed, 2])
        recombined, rec_lines = [], []
        for op in OPERATORS:
            try:
                a, b, result = sample_recombinations(vocab, 1, demo_rng, op, named)[0]
            except ValueError:
                continue
            mu, logvar = model.recombine(vocab.symbol(a), vocab.symbol(b), op)
            recombined.append(model.sym2img(concept=(mu, logvar), samples=args.samples, seed=args.seed)[0])
            rec_lines.append(f"{len(recombined)}. {{{vocab.describe(a)}}} {op.upper().replace('_', ' ')} "
                             f"{{{vocab.describe(b)}}} = {{{vocab.describe(combine(a, b, op))}}}")
        if recombined:
            write_png(out / "recombined.png", _grid(recombined))
            lines += ["", "# recombined", "", "Rows of `recombined.png` (learnt operator, then sym2img):", "", *rec_lines]
        write_text_atomic(out / "sym2img.md", "\n".join(lines) + "\n")

        sample = space.sample(8, np.random.default_rng([args.seed, 3]), domain or space.training_domain,
                              reachable=True)
        frames = space.render(sample)
        probs = model.img2sym(frames)
        write_png(out / "img2sym_frames.png", _grid([frames]))
        table = ["# img2sym", "", "Frames of `img2sym_frames.png`, left to right; for each factor the most probable "
                 "value (its probability), ✓ where it is the frame's value.", "",
                 "| frame | " + " | ".join(vocab.factor_names) + " |", "|---" * (len(vocab.factor_names) + 1) + "|"]
        for i in range(len(frames)):
            cells = []
            for f, off, size, col in zip(vocab.factor_names, vocab.offsets, vocab.factor_sizes, vocab.columns):
                best = int(probs[i, off:off + size].argmax())
                mark = " ✓" if best == sample[i, col] else f" (true {vocab.value_label(f, int(sample[i, col]))})"
                cells.append(f"{vocab.value_label(f, best)} ({probs[i, off + best]:.2f}){mark}")
            table.append(f"| {i + 1} | " + " | ".join(cells) + " |")
        write_text_atomic(out / "img2sym.md", "\n".join(table) + "\n")

        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
        writer.add_image("scan/sym2img", _grid(list(named_rows)), config.steps, dataformats="HWC")
        if recombined:
            writer.add_image("scan/recombined", _grid(recombined), config.steps, dataformats="HWC")
        writer.close()
        summary = {"env": args.env, "vision": str(args.vision), "units": len(vocab.units),
                   "factors": list(vocab.factor_names), "concepts": args.concepts, "examples": args.examples,
                   "named": list(named), "recombination_triples": len(triples), "seed": args.seed,
                   "config": json.loads(json.dumps(config.__dict__)), "checkpoint": str(path)}
        write_json_atomic(out / "summary.json", summary)
    print(f"scan: {len(data.symbols)} (frame, symbol) pairs over {args.concepts} concepts, {len(vocab.units)} units; "
          f"{len(triples)} recombination triples\ncheckpoint: {path}\nimages: {out / 'sym2img.png'}, "
          f"{out / 'recombined.png'}; tables: {out / 'sym2img.md'}, {out / 'img2sym.md'}\n"
          f"tensorboard --logdir {out / 'tb'}")
