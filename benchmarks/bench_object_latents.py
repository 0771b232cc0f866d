"""Does any single latent follow an object? The Room's ground truth, read after training.

    .venv/bin/python benchmarks/bench_object_latents.py CKPT [CKPT ...] [--frames 5000] [--seed 0]

Draws ``--frames`` states of the Room's source domain (seeded), renders them, encodes them with each
vision checkpoint, and for each object (hat, lolly) and each of its positions relative to the
camera (``depth`` along the view, ``screen_x`` of its centre; `RoomFactors.object_positions`) finds
the latent whose mean has the largest absolute Spearman correlation with it, over the frames where
the object is seen. A traversal row "moves an object" only if some latent follows its position;
this puts a number on what the traversal PNG shows. Ground truth is used to score, never to train
or to choose a model. Prints one Markdown row per checkpoint.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from scipy.stats import spearmanr

from envs.room import RoomFactors
from vision import load_encoder

QUANTITIES = [(shape, kind) for shape in ("hat", "lolly") for kind in ("depth", "screen_x")]


def best_latent(codes: np.ndarray, target: np.ndarray) -> tuple[int, float]:
    """(latent, |Spearman ρ|) of the latent whose code is most rank-correlated with ``target``
    (a constant latent counts as ρ = 0)."""
    rho = np.abs(np.nan_to_num(spearmanr(codes, target).statistic[-1, :-1]))
    return int(rho.argmax()), float(rho.max())


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    space = RoomFactors()
    factors = space.sample(args.frames, np.random.default_rng(args.seed), domain="source", reachable=True)
    frames = space.render(factors)
    where = space.object_positions(factors)
    print("| checkpoint | " + " | ".join(f"{shape} {kind}: latent, \\|ρ\\|" for shape, kind in QUANTITIES) + " |")
    print("|---|" + "---|" * len(QUANTITIES))
    rows = []
    for path in args.checkpoints:
        codes = load_encoder(path).encode(frames)
        row = {"checkpoint": path}
        for shape, kind in QUANTITIES:
            seen = where[shape]["seen"]
            row[f"{shape}_{kind}"] = best_latent(codes[seen], where[shape][kind][seen])
        rows.append(row)
        cells = " | ".join(f"z{row[f'{s}_{k}'][0]}, {row[f'{s}_{k}'][1]:.2f}" for s, k in QUANTITIES)
        print(f"| {path} | {cells} |")
    return rows


if __name__ == "__main__":
    main()
