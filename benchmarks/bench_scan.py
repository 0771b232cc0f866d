"""SCAN against a conditional-VAE baseline: sym2img accuracy and diversity, img2sym, recombination.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_scan.py --vision runs/scan_bench/bvae/checkpoint.pt \
        --env dsprites --factors shape,scale,pos_x,pos_y --out benchmarks/results/scan_dsprites

Data (seeded): ``--concepts`` training concepts naming 1-2 factors, ``--examples`` frames each
(``envs.symbols.sample_pairs``); ``--heldout`` two-factor concepts are excluded from that set and
from the operators' training triples, and are the recombination test. Both models train on the
same (frame, symbol) pairs; SCAN against the frozen vision checkpoint, the conditional VAE
(``vision.scan_baseline``) from pixels.

Reading generated frames (``eval.scan_accuracy``): the transfer probe's classifiers (one random
forest per factor, 10 trees, every feature per split, min_samples_leaf 10, as ``eval.metrics.probe``)
fit on the frozen vision model's codes of ground-truth frames; generated frames are encoded by the
same model and classified. Their accuracy on held-out real frames is the ceiling of every number below.

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
from eval import scan_accuracy  # noqa: E402
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
    p.add_argument("--named", default="1-2", help="factors a training symbol names: N or MIN-MAX")
    p.add_argument("--recombinations", type=int, default=1000, help="operator training triples per operator")
    p.add_argument("--steps", type=int, default=3000, help="SCAN steps")
    p.add_argument("--operator-steps", type=int, default=2000)
    p.add_argument("--cvae-steps", type=int, default=1000)
    p.add_argument("--cvae-lr", type=float, default=1e-3)
    p.add_argument("--samples", type=int, default=20, help="sym2img samples per concept")
    p.add_argument("--eval-concepts", type=int, default=40, help="training concepts scored in (a)")
    p.add_argument("--probe-frames", type=int, default=5000)
    p.add_argument("--only", choices=["cvae", "scan", "all"], default="all", help="train one model and stop")
    p.add_argument("--no-baseline", action="store_true", help="score SCAN alone (no conditional VAE trained or read)")
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
    within = space.training_domain  # concepts (and operands) with states in the frames SCAN learns from
    heldout = sample_concepts(vocab, args.heldout, rng, named=2, within=within)
    lo, _, hi = args.named.partition("-")
    named = (int(lo), int(hi or lo))
    data = sample_pairs(space, vocab, args.concepts, args.examples, seed=args.seed, named=named, exclude=heldout)
    timing = {}

    cvae_path = out / "cvae.pt"
    if args.only in ("cvae", "all") and not args.no_baseline and not cvae_path.exists():
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
            found = sample_recombinations(vocab, args.recombinations, rng, op, named=named, exclude=heldout,
                                          within=within)
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
    cvae = None
    if not args.no_baseline:
        saved = torch.load(cvae_path, weights_only=True)
        cvae = ConditionalVAE(space.observation_shape, vocab.size, ConditionalVAEConfig(**saved["config"]))
        cvae.load_state_dict(saved["model"])
        cvae.eval()
    results = scan_accuracy.evaluate(space, vocab, model, data.concepts[:args.eval_concepts], heldout, seed=args.seed,
                                     samples=args.samples, probe_frames=args.probe_frames, baseline=cvae)
    results.update(timing=timing, args=vars(args))
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k not in ("args",)}, indent=2))


if __name__ == "__main__":
    main()
