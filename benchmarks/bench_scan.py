"""SCAN against a conditional-VAE baseline: sym2img accuracy and diversity, img2sym, recombination.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_scan.py --vision runs/scan_bench/bvae/checkpoint.pt \
        --env dsprites --factors shape,scale,pos_x,pos_y --out benchmarks/results/scan_dsprites

Data (seeded): ``--concepts`` training concepts naming 1-2 factors, ``--examples`` frames each
(``envs.symbols.sample_pairs``); ``--heldout`` two-factor concepts are excluded from that set and
from the operators' training triples, and are the recombination test. Both models train on the
same (frame, symbol) pairs; SCAN against the frozen vision checkpoint, the conditional VAE
(``vision.scan_baseline``) from pixels.

Reading generated frames: the transfer probe's classifiers (one random forest per factor, 10 trees,
every feature per split, min_samples_leaf 10, as ``eval.metrics.probe``) fit on the frozen vision
model's codes of ground-truth frames; generated frames are encoded by the same model and
classified. Their accuracy on held-out real frames is the ceiling of every number below.

(a) sym2img: per named factor, the fraction of samples the classifier reads as the named value;
    per unnamed factor, the normalised entropy H/log(size) of the read values over the samples
    (``real`` reference: the same statistic for real frames of the concept, unnamed factors uniform).
(b) img2sym: per factor, top-1 accuracy of the most probable unit; unit precision/recall at p > 0.5.
(c) recombination: (a) for held-out concepts built by each learnt operator, and given directly as
    their ground-truth symbol ("test symbols"; the only way the baseline can take them).

Stages are cached in ``--out`` (cvae.pt, scan.pt); delete them to retrain.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs  # noqa: E402
from envs.symbols import OPERATORS, Vocabulary, frames_of, sample_concepts, sample_pairs, sample_recombinations  # noqa: E402
from vision import scan  # noqa: E402
from vision.scan_baseline import ConditionalVAE, ConditionalVAEConfig, fit_conditional_vae  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vision", required=True)
    p.add_argument("--env", default="dsprites")
    p.add_argument("--factors", default="shape,scale,pos_x,pos_y")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--concepts", type=int, default=300)
    p.add_argument("--examples", type=int, default=10)
    p.add_argument("--heldout", type=int, default=30)
    p.add_argument("--recombinations", type=int, default=1000, help="operator training triples per operator")
    p.add_argument("--steps", type=int, default=3000, help="SCAN steps")
    p.add_argument("--operator-steps", type=int, default=2000)
    p.add_argument("--cvae-steps", type=int, default=1000)
    p.add_argument("--cvae-lr", type=float, default=1e-3)
    p.add_argument("--samples", type=int, default=20, help="sym2img samples per concept")
    p.add_argument("--eval-concepts", type=int, default=40, help="training concepts scored in (a)")
    p.add_argument("--probe-frames", type=int, default=5000)
    p.add_argument("--only", choices=["cvae", "scan", "all"], default="all", help="train one model and stop")
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args()


def main():
    args = parse()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    space = envs.make_factor_space(args.env)
    vocab = Vocabulary(space, [f for f in args.factors.split(",") if f] or None)
    rng = np.random.default_rng([args.seed, 7])
    heldout = sample_concepts(vocab, args.heldout, rng, named=2)
    data = sample_pairs(space, vocab, args.concepts, args.examples, seed=args.seed, named=(1, 2), exclude=heldout)
    timing = {}

    cvae_path = out / "cvae.pt"
    if args.only in ("cvae", "all") and not cvae_path.exists():
        began = time.perf_counter()
        cfg = ConditionalVAEConfig(steps=args.cvae_steps, lr=args.cvae_lr, seed=args.seed)
        cvae = fit_conditional_vae(data.frames, data.symbols, cfg, progress=True)
        torch.save({"config": asdict(cfg), "model": cvae.state_dict()}, cvae_path)
        timing["cvae_s"] = time.perf_counter() - began
    scan_path = out / "scan.pt"
    if args.only in ("scan", "all") and not scan_path.exists():
        began = time.perf_counter()
        triples, ops = [], []
        for k, op in enumerate(OPERATORS):
            found = sample_recombinations(vocab, args.recombinations, rng, op, named=(1, 2), exclude=heldout)
            triples += found
            ops += [k] * len(found)
        rec = scan.Recombinations(vocab.encode([t[0] for t in triples]), vocab.encode([t[1] for t in triples]),
                                  np.array(ops), space.render(np.concatenate([frames_of(space, vocab, t[2], 1, rng)
                                                                              for t in triples])))
        cfg = scan.ScanConfig(steps=args.steps, operator_steps=args.operator_steps, seed=args.seed)
        model = scan.fit(args.vision, data.frames, data.symbols, vocab.units, vocab.groups, cfg, rec, progress=True,
                         tensorboard=out / "tb")
        scan.save(scan_path, model)
        timing["scan_s"] = time.perf_counter() - began
    if args.only != "all":
        return
    model = scan.load(scan_path)
    saved = torch.load(cvae_path, weights_only=True)
    cvae = ConditionalVAE(space.observation_shape, vocab.size, ConditionalVAEConfig(**saved["config"]))
    cvae.load_state_dict(saved["model"])
    cvae.eval()
    results = evaluate(args, space, vocab, model, cvae, data, heldout)
    results.update(timing=timing, args=vars(args))
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k not in ("args",)}, indent=2))


def classifiers(args, space, vocab, vision_model):
    """The probe's random forests on the frozen model's codes, and their held-out accuracy."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng([args.seed, 11])
    train = space.sample(args.probe_frames, rng, space.training_domain, reachable=True)
    test = space.sample(2000, rng, space.training_domain, reachable=True)
    codes_train = scan.encode_posterior(vision_model, space.render(train))[0]
    codes_test = scan.encode_posterior(vision_model, space.render(test))[0]
    forests, ceiling = [], {}
    for name, col in zip(vocab.factor_names, vocab.columns):
        forest = RandomForestClassifier(10, max_features=None, min_samples_leaf=10, random_state=args.seed, n_jobs=1)
        forest.fit(codes_train, train[:, col])
        forests.append(forest)
        ceiling[name] = float(forest.score(codes_test, test[:, col]))
    return forests, ceiling


def read(forests, vision_model, frames):
    codes = scan.encode_posterior(vision_model, frames)[0]
    return np.stack([f.predict(codes) for f in forests], 1)


def score(concepts, generated, forests, vision_model, vocab):
    """Named accuracy (mean over concepts' named factors) and unnamed normalised entropy."""
    named_hits, entropies = {f: [] for f in vocab.factor_names}, {f: [] for f in vocab.factor_names}
    for concept, frames in zip(concepts, generated):
        values = read(forests, vision_model, frames)
        for k, (name, size) in enumerate(zip(vocab.factor_names, vocab.factor_sizes)):
            if name in concept:
                named_hits[name].append(float(np.mean(values[:, k] == concept[name])))
            else:
                p = np.bincount(values[:, k], minlength=size) / len(values)
                p = p[p > 0]
                entropies[name].append(float(-(p * np.log(p)).sum() / np.log(size)))
    acc = {f: float(np.mean(v)) for f, v in named_hits.items() if v}
    ent = {f: float(np.mean(v)) for f, v in entropies.items() if v}
    return {"named_accuracy": float(np.mean([h for v in named_hits.values() for h in v])), "per_factor": acc,
            "unnamed_entropy": float(np.mean([h for v in entropies.values() for h in v])) if ent else None,
            "entropy_per_factor": ent}


def evaluate(args, space, vocab, model, cvae, data, heldout):
    forests, ceiling = classifiers(args, space, vocab, model.vision)
    rng = np.random.default_rng([args.seed, 13])
    chance = {f: 1.0 / s for f, s in zip(vocab.factor_names, vocab.factor_sizes)}
    results = {"probe_ceiling": ceiling, "chance": chance}

    train_concepts = data.concepts[:args.eval_concepts]
    symbols = vocab.encode(train_concepts)
    real = [space.render(frames_of(space, vocab, c, args.samples, rng)) for c in train_concepts]
    results["a_sym2img_train_concepts"] = {
        "real_frames": score(train_concepts, real, forests, model.vision, vocab),
        "scan": score(train_concepts, model.sym2img(symbols, args.samples, seed=args.seed), forests, model.vision, vocab),
        "cvae": score(train_concepts, cvae.sym2img(symbols, args.samples, seed=args.seed), forests, model.vision, vocab)}

    factors = space.sample(500, rng, space.training_domain, reachable=True)
    frames = space.render(factors)
    truth = factors[:, vocab.columns]
    probs = model.img2sym(frames)
    top1 = model.img2sym_values(frames)
    true_units = vocab.from_factors(factors, np.ones((len(factors), len(vocab.factor_names)), bool)) > 0.5
    predicted = probs > 0.5
    tp = (predicted & true_units).sum()
    results["b_img2sym"] = {
        "top1_per_factor": {f: float(np.mean(top1[:, k] == truth[:, k])) for k, f in enumerate(vocab.factor_names)},
        "precision_at_0.5": float(tp / max(predicted.sum(), 1)), "recall_at_0.5": float(tp / true_units.sum()),
        "mean_true_unit_probability": float(probs[true_units].mean()),
        "mean_other_unit_probability": float(probs[~true_units].mean())}

    recomb = {}
    heldout_symbols = vocab.encode(heldout)
    recomb["scan_test_symbols"] = score(heldout, model.sym2img(heldout_symbols, args.samples, seed=args.seed),
                                        forests, model.vision, vocab)
    recomb["cvae_test_symbols"] = score(heldout, cvae.sym2img(heldout_symbols, args.samples, seed=args.seed),
                                        forests, model.vision, vocab)
    for op in OPERATORS:
        lefts, rights = [], []
        for concept in heldout:
            names = list(concept)
            others = [k for k, f in enumerate(vocab.factor_names) if f not in concept and vocab.factor_sizes[k] > 1]
            extra = vocab.factor_names[others[int(rng.integers(len(others)))]]
            size = vocab.factor_sizes[vocab.factor_names.index(extra)]
            u = int(rng.integers(size))
            if op == "and":
                a, b = {names[0]: concept[names[0]]}, {names[1]: concept[names[1]]}
            elif op == "in_common":
                a, b = {**concept, extra: u}, {**concept, extra: (u + 1 + int(rng.integers(size - 1))) % size}
            else:
                a, b = {**concept, extra: u}, {extra: u}
            lefts.append(a)
            rights.append(b)
        mu, logvar = model.recombine(vocab.encode(lefts), vocab.encode(rights), op)
        recomb[f"scan_{op}"] = score(heldout, model.sym2img(concept=(mu, logvar), samples=args.samples, seed=args.seed),
                                     forests, model.vision, vocab)
    results["c_recombination_heldout"] = recomb
    results["heldout_concepts"] = [vocab.describe(c) for c in heldout]
    return results


if __name__ == "__main__":
    main()
