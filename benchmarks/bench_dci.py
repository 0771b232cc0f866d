"""DCI's fast forest estimator against the reference GBT, on several kinds of representation.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_dci.py [--num-train 5000 --num-test 2500]
        [--train-steps 2000] [--leaves 10,20,30] [--cache /tmp/darla_bench_dci] [--out dci.json]

Every representation codes the same dSprites samples (one seed, the metric's own sampling), so the
two estimators see identical arrays; the script prints D, C and test informativeness of both, their
differences and the wall time of each. Representations (10 codes each):

* ``linear_mix``: the five normalised factors through a dense random 5x10 matrix, small noise.
* ``mixed_scale``: factor copies at 1e8 scale with a 1e9 offset, at 1e-3 and 1e4 scale, one code
  duplicated, two constants, noise at 1e8 scale: the case where the forest was furthest off.
* ``noisy``: each factor plus noise of 0.15 of its range, five pure-noise codes.
* ``moments``: the image-moment encoder of bench_metrics.py (a frame-based, mixed representation).
* ``beta_vae`` / ``beta_tcvae``: two small models trained here on dSprites frames (z_dim 10,
  ``--train-steps`` Adam steps on one core); checkpoints are cached in ``--cache``.

GBT results and the sampled arrays are cached in ``--cache`` too (keyed by representation, sizes and
seed), since GBT takes minutes per representation; delete the folder to re-time it. ``--leaves``
compares several forest leaf sizes against the same GBT results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import envs
import eval.metrics as M
from eval.metrics import utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_metrics import MomentEncoder  # noqa: E402

SIZES = np.array([3, 6, 40, 32, 32], dtype=np.float64)  # dSprites' scored factors


def synthetic_codes(name: str, factors: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Codes of one synthetic kind from scored factors ``[n, 5]`` (see the module docstring)."""
    x = factors / (SIZES - 1)
    n = len(x)
    if name == "linear_mix":
        mix = np.random.RandomState(1).normal(size=(5, 10))
        return x @ mix + 0.05 * rng.normal(size=(n, 10))
    if name == "mixed_scale":
        return np.stack([x[:, 0] * 1e8 + 1e9, x[:, 1] * 1e8, x[:, 2] * 1e-3, x[:, 2] * 1e-3,
                         x[:, 3] + 0.02 * rng.normal(size=n), x[:, 4] * 1e4, np.zeros(n), np.full(n, 3.7),
                         1e8 * rng.normal(size=n), rng.normal(size=n)], axis=1)
    if name == "noisy":
        return np.concatenate([x + 0.15 * rng.normal(size=x.shape), rng.normal(size=(n, 5))], axis=1)
    raise ValueError(name)


def trained_encoder(method: str, steps: int, cache: Path):
    """A small ``method`` model on 20,000 dSprites frames (cached checkpoint), as a metrics encoder."""
    import vision
    from vision import train as vtrain
    out = cache / f"{method}_{steps}"
    path = out / "checkpoint.pt"
    if not path.exists():
        space = envs.make_factor_space("dsprites")
        frames = space.render(space.sample(20000, np.random.default_rng(0)))
        start = time.perf_counter()
        vtrain.fit(frames, method, out, steps=steps, batch_size=64, lr=1e-3, z_dim=10, threads=1,
                   device="cpu", progress=False, tensorboard=False, resume=False)
        print(f"trained {method} for {steps} steps in {time.perf_counter() - start:.0f} s", flush=True)
    return vision.load_encoder(path)


def representations(names, num_train, num_test, seed, steps, cache):
    """``{name: (codes_train, factors_train, codes_test, factors_test)}`` on the same samples."""
    out = {}
    for name in names:
        path = cache / f"arrays_{name}_{num_train}_{num_test}_{seed}_{steps}.npz"
        if not path.exists():
            np.savez(path, *_representations([name], num_train, num_test, seed, steps, cache)[name])
        with np.load(path) as data:
            out[name] = tuple(data[f"arr_{i}"] for i in range(4))
    return out


def _representations(names, num_train, num_test, seed, steps, cache):
    space = envs.make_factor_space("dsprites")
    out = {}
    moments = MomentEncoder(seed=0)
    (ctr, ftr), (cte, fte), _ = utils.train_test_codes(space, moments, seed, num_train, num_test, 16, None)
    for name in names:
        if name == "moments":
            out[name] = (ctr, ftr, cte, fte)
        elif name in ("beta_vae", "beta_tcvae"):
            (a, fa), (b, fb), _ = utils.train_test_codes(space, trained_encoder(name, steps, cache), seed,
                                                         num_train, num_test, 16, None)
            assert np.array_equal(fa, ftr) and np.array_equal(fb, fte)
            out[name] = (a, fa, b, fb)
        else:
            rng = np.random.RandomState(7)
            out[name] = (synthetic_codes(name, ftr, rng), ftr, synthetic_codes(name, fte, rng), fte)
    return out


def run_dci(arrays, **settings):
    start = time.perf_counter()
    scores = M.dci_from_codes(*arrays, **settings)
    return scores, time.perf_counter() - start


def gbt_cached(name, arrays, seed, cache: Path):
    key = cache / f"gbt_{name}_{len(arrays[0])}_{len(arrays[2])}_{seed}.json"
    if key.exists():
        return json.loads(key.read_text())
    scores, seconds = run_dci(arrays, importance="gbt", seed=seed)
    result = {"scores": scores, "seconds": seconds}
    key.write_text(json.dumps(result))
    return result


KEYS = (("disentanglement", "D"), ("completeness", "C"), ("informativeness_test", "I"))


def _print_table(rows) -> None:
    print("| representation | D gbt / forest (diff) | C gbt / forest (diff) | I gbt / forest (diff) "
          "| gbt (s) | forest (s) | speed-up |\n|---|---|---|---|---:|---:|---:|")
    for row in rows:
        cells = [f"{row['gbt'][k]:.3f} / {row['forest'][k]:.3f} ({abs(row['gbt'][k] - row['forest'][k]):.3f})"
                 for k, _ in KEYS]
        print(f"| {row['representation']} | " + " | ".join(cells)
              + f" | {row['gbt_seconds']:.1f} | {row['forest_seconds']:.2f} "
                f"| {row['gbt_seconds'] / row['forest_seconds']:.0f}x |")
    worst = {s: max(abs(r["gbt"][k] - r["forest"][k]) for r in rows) for k, s in KEYS}
    print("largest |difference|: " + ", ".join(f"{s} {v:.3f}" for s, v in worst.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-train", type=int, default=5000)
    parser.add_argument("--num-test", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-steps", type=int, default=2000)
    parser.add_argument("--reps", default="linear_mix,mixed_scale,noisy,moments,beta_vae,beta_tcvae")
    parser.add_argument("--cache", default="/tmp/darla_bench_dci")
    parser.add_argument("--leaves", default="30", help="forest_min_samples_leaf values to compare, comma-separated")
    parser.add_argument("--trees", type=int, default=10, help="forest_trees")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    print(f"dSprites, {args.num_train} / {args.num_test} points, seed {args.seed}, versions {M.versions()}",
          flush=True)
    reps = representations(args.reps.split(","), args.num_train, args.num_test, args.seed, args.train_steps, cache)
    rows = []
    for leaf in [int(v) for v in args.leaves.split(",")]:
        print(f"\nforest: {args.trees} trees, leaves of at least {leaf} points", flush=True)
        table = []
        for name, arrays in reps.items():
            ref = gbt_cached(name, arrays, args.seed, cache)
            fast, seconds = run_dci(arrays, importance="forest", seed=args.seed, forest_trees=args.trees,
                                    forest_min_samples_leaf=leaf)
            table.append({"representation": name, "leaf": leaf, "gbt": ref["scores"], "forest": fast,
                          "gbt_seconds": ref["seconds"], "forest_seconds": seconds})
        _print_table(table)
        rows += table
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "versions": M.versions(),
                                              "settings": vars(args)}, indent=2))


if __name__ == "__main__":
    main()
