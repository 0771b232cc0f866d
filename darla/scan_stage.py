"""SCAN (Higgins et al. 2018) wired to a factor space: its training data, its pictures and tables,
and the optional ``scan`` stage of ``darla run``.

The two layers SCAN joins may not import each other: ``envs.symbols`` draws (frame, symbol) pairs
and recombination triples from the ground truth, ``vision.scan`` trains on those arrays against
the frozen vision checkpoint, and ``eval.scan_accuracy`` measures the result. ``darla scan`` and
the pipeline stage both go through :func:`training_data` and :func:`write_outputs`.

The stage (``scan.factors`` non-empty in the run config) trains on the run's chosen checkpoint of
``scan.method`` (the selected seed's among several) with frames of the source domain only, and
writes into ``RUN/scan/``: ``scan.pt``, ``sym2img.png``/``.md``, ``recombined.png``,
``img2sym.md``, ``accuracy.json`` (``eval.scan_accuracy.evaluate``) and ``summary.json``;
``report.md`` gets a *SCAN* section from ``accuracy.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from artifacts import write_json_atomic, write_png, write_text_atomic
from envs.factors import FactorSpace
from envs.symbols import (OPERATORS, Concept, SymbolData, Vocabulary, combine, frames_of, operator_index,
                          sample_concepts, sample_pairs, sample_recombinations)
from vision import scan

if TYPE_CHECKING:
    from darla.config import RunConfig

STAGE = "scan"


@dataclass
class TrainingData:
    """SCAN's training pairs, the held-out concepts, and the operators' training triples."""

    pairs: SymbolData
    heldout: list[Concept]
    recombinations: scan.Recombinations | None
    triples: int


def training_data(space: FactorSpace, vocab: Vocabulary, *, concepts: int, examples: int, recombinations: int,
                  named: tuple[int, int], seed: int, domain: str | None = None, heldout: int = 0,
                  operators: Sequence[str] = OPERATORS, log: Callable[[str], None] = print) -> TrainingData:
    """Seeded (frame, symbol) pairs of ``domain`` (default: the training domain), ``heldout``
    two-factor concepts kept out of them and out of the operators' triples (drawn first, from their
    own generator), and ``recombinations`` triples per operator with one frame of each result."""
    domain = domain or space.training_domain
    held = sample_concepts(vocab, heldout, np.random.default_rng([seed, 7]), named=2, within=domain) if heldout else []
    pairs = sample_pairs(space, vocab, concepts, examples, seed=seed, named=named, domain=domain, exclude=held)
    rng = np.random.default_rng([seed, 1])
    triples, ops = [], []
    for op in operators:
        try:
            found = sample_recombinations(vocab, recombinations, rng, op, named, exclude=held, within=domain)
        except ValueError as err:  # e.g. AND with one factor per symbol: skip that operator, say so
            log(f"scan: no {op} training triples: {err}")
            continue
        triples += found
        ops += [operator_index(op)] * len(found)
    data = None
    if triples:
        result_factors = np.concatenate([frames_of(space, vocab, r, 1, rng, domain) for _, _, r in triples])
        data = scan.Recombinations(vocab.encode([a for a, _, _ in triples]), vocab.encode([b for _, b, _ in triples]),
                                   np.array(ops), space.render(result_factors))
    return TrainingData(pairs, held, data, len(triples))


def _grid(rows):
    from vision.images import tile

    image = tile([np.asarray(r) for r in rows])
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]


def write_outputs(out: Path, model: scan.Scan, space: FactorSpace, vocab: Vocabulary, *, shows: Sequence[Concept],
                  samples: int, seed: int, named: tuple[int, int], domain: str | None = None,
                  operators: Sequence[str] = OPERATORS) -> None:
    """``sym2img.png`` (a row per concept of ``shows``) and ``recombined.png`` (one recombination per
    operator) listed in ``sym2img.md``; ``img2sym.md`` for eight frames (``img2sym_frames.png``);
    the two grids in TensorBoard under ``out/tb``."""
    domain = domain or space.training_domain
    named_rows = model.sym2img(vocab.encode(shows), samples, seed=seed)
    write_png(out / "sym2img.png", _grid(list(named_rows)))
    lines = ["# sym2img", "", "Rows of `sym2img.png`, top to bottom:", ""]
    lines += [f"{i + 1}. {{{vocab.describe(c)}}}" for i, c in enumerate(shows)]

    demo_rng = np.random.default_rng([seed, 2])
    recombined, rec_lines = [], []
    for op in operators:
        op = OPERATORS[operator_index(op)]
        try:
            a, b, result = sample_recombinations(vocab, 1, demo_rng, op, named, within=domain)[0]
        except ValueError:
            continue
        mu, logvar = model.recombine(vocab.symbol(a), vocab.symbol(b), op)
        recombined.append(model.sym2img(concept=(mu, logvar), samples=samples, seed=seed)[0])
        rec_lines.append(f"{len(recombined)}. {{{vocab.describe(a)}}} {op.upper().replace('_', ' ')} "
                         f"{{{vocab.describe(b)}}} = {{{vocab.describe(combine(a, b, op))}}}")
    if recombined:
        write_png(out / "recombined.png", _grid(recombined))
        lines += ["", "# recombined", "", "Rows of `recombined.png` (learnt operator, then sym2img):", "", *rec_lines]
    write_text_atomic(out / "sym2img.md", "\n".join(lines) + "\n")

    sample = space.sample(8, np.random.default_rng([seed, 3]), domain, reachable=True)
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

    with SummaryWriter(str(out / "tb")) as writer:
        writer.add_image("scan/sym2img", _grid(list(named_rows)), model.config.steps, dataformats="HWC")
        if recombined:
            writer.add_image("scan/recombined", _grid(recombined), model.config.steps, dataformats="HWC")


# -- the pipeline stage ----------------------------------------------------------------------------
def method_of(config: RunConfig) -> str:
    """The vision method SCAN builds on: ``scan.method``, else the run's backbone."""
    return config.scan.method or config.vision.method


def check(config: RunConfig) -> None:
    """The ``scan`` section against the env's factors, the operators, SCAN's hyperparameters and the
    run's vision methods, every problem in one message, before any stage runs."""
    section = config.scan
    if not section.enabled:
        from darla.config import ScanSection

        given = sorted(k for k, v in asdict(section).items() if v != asdict(ScanSection())[k])
        if given:
            raise ValueError(f"scan.{', scan.'.join(given)} given but scan.factors is empty, so no SCAN stage would "
                             "run; name the factors its symbols name (scan.factors=[...], see `darla envs`)")
        return
    if not config.ground_truth:
        raise ValueError(f"scan: {config.env} has no ground truth (a level-1 env), and SCAN's symbols name "
                         "ground-truth factor values; leave scan.factors empty")
    import envs
    import vision
    from vision import config as vision_config

    problems: list[str] = []
    space = envs.make_factor_space(config.env, **config.env_kwargs)
    vocab = None
    try:
        vocab = Vocabulary(space, section.factors)
    except ValueError as err:
        problems.append(f"scan.factors: {err}")
    for op in section.operators:
        try:
            operator_index(op)
        except ValueError as err:
            problems.append(f"scan.operators: {err}")
    try:
        named_range(section.named, len(section.factors))
    except ValueError as err:
        problems.append(str(err))
    for key in ("concepts", "examples", "samples", "probe_frames"):
        value = getattr(section, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"scan.{key} must be a positive whole number, got {value!r}")
    for key in ("recombinations", "heldout", "seed"):
        value = getattr(section, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"scan.{key} must be a whole number >= 0, got {value!r}")
    if vocab is not None and not problems:  # the stage's own draws: too many concepts for the domain fail here
        if section.heldout and len(section.factors) < 2:
            problems.append(f"scan.heldout={section.heldout}: held-out concepts name two factors, scan.factors has "
                            "one; name two or more factors, or set scan.heldout=0")
        else:
            try:
                held = sample_concepts(vocab, section.heldout, np.random.default_rng([section.seed, 7]), named=2,
                                       within=config.source) if section.heldout else []
                sample_concepts(vocab, section.concepts, np.random.default_rng(section.seed),
                                named_range(section.named, len(section.factors)), held, within=config.source)
            except ValueError as err:
                problems.append(f"scan.concepts={section.concepts}, scan.heldout={section.heldout}: {err}")
    if vocab is not None:
        for text in section.show:
            try:
                vocab.parse(text)
            except ValueError as err:
                problems.append(f"scan.show {text!r}: {err}")
    try:
        vision_config.update(scan.ScanConfig(), dict(section.settings)).validate()
    except (ValueError, TypeError) as err:
        problems.append(f"scan.settings: {err}")
    method = method_of(config)
    try:
        stochastic = getattr(vision.methods.get(method), "stochastic", True)
    except (KeyError, ValueError) as err:
        problems.append(f"scan.method: {err.args[0] if err.args else err}")
    else:
        if stochastic is False:
            problems.append(f"scan.method={method!r} has a deterministic code, no posterior variance: SCAN grounds "
                            "each concept in the vision model's Gaussian posterior q(z|x) (its forward KL needs a "
                            "mean and a variance per latent); build on a Gaussian-posterior method (beta_vae_dae, "
                            "beta_vae, vae)")
    if problems:
        raise ValueError("; ".join(problems))


def named_range(named: Sequence[int] | int, factors: int) -> tuple[int, int]:
    """``scan.named`` ([N] or [MIN, MAX]) as an inclusive range; a MAX beyond the number of
    ``factors`` means all of them (so the default [1, 2] works with one factor)."""
    values: list[Any] = list(named) if isinstance(named, (list, tuple)) else [named]
    if (not 1 <= len(values) <= 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)
            or not 1 <= values[0] <= min(values[-1], factors)):
        raise ValueError(f"scan.named={named!r}: a symbol names [N] or [MIN, MAX] factors, MIN between 1 and the "
                         f"{factors} of scan.factors and MAX >= MIN")
    return values[0], min(values[-1], factors)


def settings(config: RunConfig) -> dict[str, Any]:
    """What the stage's fingerprint takes: the section, the env and the source domain."""
    return {"env": config.env, "env_kwargs": config.env_kwargs, "domain": config.source, "method": method_of(config),
            **{k: v for k, v in asdict(config.scan).items() if k != "method"}}


def run_stage(folder: Path, config: RunConfig, checkpoint: Path, log: Callable[[str], None] = print,
              progress: bool = True) -> dict[str, Any]:
    """Train SCAN on the frozen ``checkpoint``, write its outputs and accuracy into ``folder``."""
    import envs
    from eval import scan_accuracy
    from vision import config as vision_config

    section = config.scan
    space = envs.make_factor_space(config.env, **config.env_kwargs)
    vocab = Vocabulary(space, section.factors)
    named = named_range(section.named, len(section.factors))
    hp = vision_config.update(scan.ScanConfig(seed=section.seed, threads=config.threads), dict(section.settings))
    vision_model = scan.frozen_vision(checkpoint)
    if tuple(vision_model.input_shape) != tuple(space.observation_shape):
        raise ValueError(f"{checkpoint} was trained on {tuple(vision_model.input_shape)} frames, {config.env} renders "
                         f"{tuple(space.observation_shape)}")
    data = training_data(space, vocab, concepts=section.concepts, examples=section.examples,
                         recombinations=section.recombinations, named=named, seed=section.seed, domain=config.source,
                         heldout=section.heldout, operators=section.operators, log=log)
    model = scan.fit(checkpoint, data.pairs.frames, data.pairs.symbols, vocab.units, vocab.groups, hp,
                     data.recombinations, progress=None if progress else False, tensorboard=folder / "tb",
                     vision_model=vision_model)
    scan.save(folder / "scan.pt", model)
    shows = [vocab.parse(s) for s in section.show] or data.pairs.concepts[:6]
    write_outputs(folder, model, space, vocab, shows=shows, samples=section.samples, seed=section.seed, named=named,
                  domain=config.source, operators=section.operators)
    trained_ops = [OPERATORS[operator_index(op)] for op in section.operators] if data.recombinations is not None else []
    accuracy = scan_accuracy.evaluate(space, vocab, model, data.pairs.concepts[:40], data.heldout, seed=section.seed,
                                      samples=section.samples, probe_frames=section.probe_frames,
                                      operators=trained_ops, domain=config.source)
    write_json_atomic(folder / "accuracy.json", accuracy)
    summary = {"env": config.env, "domain": config.source, "vision": str(checkpoint), "units": len(vocab.units),
               "factors": list(vocab.factor_names), "concepts": section.concepts, "examples": section.examples,
               "named": list(named), "heldout": [vocab.describe(c) for c in data.heldout],
               "recombination_triples": data.triples, "seed": section.seed,
               "config": json.loads(json.dumps(asdict(hp)))}
    write_json_atomic(folder / "summary.json", summary)
    return summary


def report_section(run_dir: Path) -> list[str]:
    """``report.md``'s SCAN section from ``RUN/scan/accuracy.json`` (none when the stage did not run)."""
    path = run_dir / STAGE / "accuracy.json"
    if not path.exists():
        return []
    acc = json.loads(path.read_text())
    summary_path = run_dir / STAGE / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    factors = list(acc["probe_ceiling"])
    a = acc["a_sym2img_train_concepts"]

    def cells(result: dict | None, key: str = "per_factor") -> str:
        values = (result or {}).get(key, {})
        return " | ".join(f"{values[f]:.2f}" if f in values else "-" for f in factors)

    lines = ["## SCAN: symbols grounded in the vision", "",
             f"SCAN on the frozen `{Path(summary.get('vision', '?')).parent.name}` model over "
             f"{', '.join(factors)} ({summary.get('concepts', '?')} concepts × {summary.get('examples', '?')} source "
             "frames, seed " f"{summary.get('seed', '?')}); generated frames read by the probe's classifiers "
             "(`scan/accuracy.json`, docs/scan.md). Named: fraction of samples showing the named value; "
             "entropy: of the unnamed factors, normalised (1 = uniform).", "",
             "| measure | " + " | ".join(factors) + " | named mean | unnamed entropy |",
             "|---" * (len(factors) + 3) + "|",
             "| chance | " + " | ".join(f"{acc['chance'][f]:.2f}" for f in factors) + " | | |",
             "| classifier ceiling (real frames) | " + " | ".join(f"{acc['probe_ceiling'][f]:.2f}" for f in factors)
             + " | | |"]
    rows = [("sym2img, real frames of the concepts", a["real_frames"]), ("sym2img, SCAN", a["scan"])]
    rows += [(f"held out, {key.removeprefix('scan_').replace('_', ' ')}", value)
             for key, value in acc["c_recombination_heldout"].items() if key.startswith("scan_") and value]
    for name, result in rows:
        entropy = result.get("unnamed_entropy")
        lines.append(f"| {name} | {cells(result)} | {result['named_accuracy']:.2f} | "
                     f"{'-' if entropy is None else f'{entropy:.2f}'} |")
    b = acc["b_img2sym"]
    lines.append("| img2sym top-1 (500 frames) | " + cells(b, "top1_per_factor") + " | | |")
    return lines + [""]
