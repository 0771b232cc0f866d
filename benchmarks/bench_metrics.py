"""Wall time of every metric with its default settings on a 10-d representation of dSprites.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_metrics.py [--quick] [--out bench.json]

The representation is a fixed, deterministic-plus-noise encoder of the frames: six image moments
(mass, centroid x/y, second central moments) standardised, four independent N(0, 1) noise codes, and
a fixed random near-identity 10x10 mixing matrix. It codes position well, scale and shape partly and
orientation hardly, like a middling trained model, and it costs little, so the times are the metrics'
own (sampling, rendering, classifiers) rather than a network's. UDR compares three such encoders
with different noise seeds and mixing matrices. DCI is run with both importance estimators on the
same samples (same seed), and the script reports their scores and the speed ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

import envs
import eval.metrics as M

SIZE = 64


class MomentEncoder:
    """frames -> 10-d codes: mixed, standardised image moments plus noise codes (see module docstring)."""

    latent_dim = 10

    def __init__(self, seed: int = 0, mixing: float = 0.25):
        rng = np.random.RandomState(1000 + seed)
        self.mix = np.eye(10) + mixing * rng.normal(size=(10, 10))
        self.noise = np.random.RandomState(seed)
        ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
        self.basis = np.stack([np.ones_like(xs), xs, ys, xs * xs, ys * ys, xs * ys], axis=-1).reshape(-1, 6)
        # standardisation constants, from 20,000 frames of the whole grid
        space = envs.make_factor_space("dsprites")
        raw = self._moments(space.render(space.sample(20000, np.random.default_rng(12345))))
        self.mean, self.std = raw.mean(axis=0), raw.std(axis=0)

    def _moments(self, frames: np.ndarray) -> np.ndarray:
        x = frames.reshape(len(frames), -1).astype(np.float32) / 255.0
        m = x @ self.basis  # raw moments m00, m10, m01, m20, m02, m11
        mass = m[:, 0] + 1e-6
        cx, cy = m[:, 1] / mass, m[:, 2] / mass
        return np.stack([mass, cx, cy, m[:, 3] / mass - cx ** 2, m[:, 4] / mass - cy ** 2,
                         m[:, 5] / mass - cx * cy], axis=1).astype(np.float64)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        z = (self._moments(frames) - self.mean) / self.std
        z = np.concatenate([z, self.noise.normal(size=(len(frames), 4))], axis=1)
        return (z @ self.mix.T).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of the default sample sizes (a smoke run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the results as JSON")
    args = parser.parse_args()

    space = envs.make_factor_space("dsprites")
    encoder = MomentEncoder(seed=0)
    quick = {"num_train": 1000, "num_test": 500, "num_eval": 500, "num_variance_estimate": 1000,
             "num_data_points": 100} if args.quick else {}
    print(f"dSprites, 10-d moment representation, seed {args.seed}, {'QUICK' if args.quick else 'default'} settings")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, versions {M.versions()}")
    rows, results = [], {}

    def timed(label, name, enc, **settings):
        metric = M.get(name)
        settings = {k: v for k, v in {**quick, **settings}.items() if k in metric.defaults}
        start = time.perf_counter()
        scores = metric(space, enc, args.seed, **settings)
        seconds = time.perf_counter() - start
        shown = {k: v for k, v in scores.items() if isinstance(v, float)}
        if name == "udr":
            shown = {"model_scores": [round(s, 3) for s in scores["model_scores"]]}
        rows.append((label, seconds, shown))
        results[label] = {"seconds": seconds, "scores": scores, "settings": settings}
        print(f"{label:22s} {seconds:8.1f} s  " + "  ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()), flush=True)

    total_start = time.perf_counter()
    for name in ("beta_vae", "factor_vae", "mig"):
        timed(name, name, encoder)
    timed("dci (gbt, reference)", "dci", encoder, importance="gbt")
    timed("dci (forest, fast)", "dci", encoder, importance="forest")
    for name in ("sap", "modularity", "irs", "unsupervised"):
        timed(name, name, encoder)
    timed("udr (3 models)", "udr", [encoder, MomentEncoder(seed=1), MomentEncoder(seed=2)])
    total = time.perf_counter() - total_start

    ref, fast = results["dci (gbt, reference)"], results["dci (forest, fast)"]
    print(f"\nwhole suite: {total:.1f} s")
    print("DCI reference (gbt) vs fast (forest), same samples:")
    for key in ("disentanglement", "completeness", "informativeness_test"):
        a, b = ref["scores"][key], fast["scores"][key]
        print(f"  {key:22s} gbt {a:.4f}  forest {b:.4f}  |diff| {abs(a - b):.4f}")
    print(f"  time                   gbt {ref['seconds']:.1f} s  forest {fast['seconds']:.1f} s  "
          f"speed-up {ref['seconds'] / fast['seconds']:.1f}x")

    print("\n| metric | wall time (s) | scores |\n|---|---:|---|")
    for label, seconds, shown in rows:
        text = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items())
        print(f"| {label} | {seconds:.1f} | {text} |")
    print(f"| **whole suite** | **{total:.1f}** | |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"total_seconds": total, "results": results, "versions": M.versions()}, f, indent=2)


if __name__ == "__main__":
    main()
