"""Vision zoo benchmark: VAE, β-VAE (β = 4), β-TCVAE and FactorVAE on procedural dSprites, same
steps, batch, learning rate and seeds, scored with MIG and the FactorVAE score.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_vision_zoo.py --steps 2500 --threads 1 \\
        --out runs/bench_zoo --json docs/zoo_bench.json --png-dir docs/img

Training frames: ``--frames`` factor vectors drawn uniformly from dSprites' full grid (seed 12345)
and rendered procedurally. Every method uses z = 10, batch 64, Adam (``--lr``), the Burgess conv64
networks and its published weight (β-VAE β = 4, β-TCVAE β = 6 with MSS, FactorVAE γ = 10). Scores
use the encoder means on fresh samples of the whole grid: MIG with disentanglement_lib's settings
(10,000 points, 20 bins), the FactorVAE score with fewer votes than the reference (``--fv-train``,
``--fv-eval``, ``--fv-variance``, stated in the output) to fit a CPU budget. Results, wall times and
library versions go to ``--json`` after every run, so a cut-short benchmark keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import envs  # noqa: E402
import eval.metrics as M  # noqa: E402
import vision  # noqa: E402

WEIGHTS = {"vae": {}, "beta_vae": {"beta": 4.0}, "beta_tcvae": {"beta": 6.0, "estimator": "mss"},
           "factor_vae": {"gamma": 10.0}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=list(WEIGHTS), help="any registered frame-only methods")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--z-dim", type=int, default=10)
    p.add_argument("--frames", type=int, default=50000, help="training frames rendered from the grid")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fv-train", type=int, default=1000, help="FactorVAE-score training votes (reference 10,000)")
    p.add_argument("--fv-eval", type=int, default=500, help="FactorVAE-score evaluation votes (reference 5,000)")
    p.add_argument("--fv-variance", type=int, default=10000, help="points for the global variances (reference 10,000)")
    p.add_argument("--mig-points", type=int, default=10000)
    p.add_argument("--out", type=Path, default=Path("runs/bench_zoo"))
    p.add_argument("--json", type=Path, default=None, help="write results here after every run")
    p.add_argument("--png-dir", type=Path, default=None, help="copy seed-0 traversals here as zoo_traversal_METHOD.png")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    space = envs.make_factor_space("dsprites")
    began = time.perf_counter()
    frames = space.render(space.sample(args.frames, np.random.default_rng(12345)))
    budget = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "z_dim": args.z_dim,
              "frames": args.frames, "threads": args.threads, "seeds": args.seeds,
              "factor_vae_score": {"num_train": args.fv_train, "num_eval": args.fv_eval,
                                   "num_variance_estimate": args.fv_variance},
              "mig": {"num_train": args.mig_points, "num_bins": 20}}
    report = {"budget": budget, "machine": {"cpu": platform.processor() or platform.machine(),
                                            "cores_visible": os.cpu_count(), "torch": torch.__version__,
                                            **M.versions()},
              "runs": []}
    print(f"dSprites zoo benchmark: {budget}")
    for seed in args.seeds:
        for method in args.methods:
            out = args.out / method / f"seed{seed}"
            t0 = time.perf_counter()
            path = vision.fit(frames, method, out, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                              z_dim=args.z_dim, seed=seed, device="cpu", threads=args.threads,
                              checkpoint_every=args.steps, image_every=args.steps, log_every=100,
                              progress=False, tensorboard=False, **WEIGHTS.get(method, {}))
            train_s = time.perf_counter() - t0
            encoder = vision.load_encoder(path)
            t1 = time.perf_counter()
            mig = M.get("mig")(space, encoder, seed, num_train=args.mig_points)
            fv = M.get("factor_vae")(space, encoder, seed, num_train=args.fv_train, num_eval=args.fv_eval,
                                     num_variance_estimate=args.fv_variance)
            score_s = time.perf_counter() - t1
            summary = json.loads((out / "summary.json").read_text())
            row = {"method": method, "seed": seed, "weights": WEIGHTS.get(method, {}),
                   "mig": mig["discrete_mig"], "factor_vae_score": fv["eval_accuracy"],
                   "factor_vae_active_dims": fv["num_active_dims"],
                   "active_latents": summary.get("active_latents"), "mse_ratio": summary["mse_ratio"],
                   "train_seconds": round(train_s, 1), "score_seconds": round(score_s, 1)}
            report["runs"].append(row)
            print(json.dumps(row), flush=True)
            if args.png_dir is not None and seed == args.seeds[0]:
                args.png_dir.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(out / "traversal.png", args.png_dir / f"zoo_traversal_{method}.png")
            report["wall_seconds"] = round(time.perf_counter() - began, 1)
            if args.json is not None:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(report, indent=2))
    print("\n| method | MIG | FactorVAE score | active latents | train s |\n|---|---|---|---|---|")
    for method in args.methods:
        rows = [r for r in report["runs"] if r["method"] == method]
        mig = np.array([r["mig"] for r in rows])
        fv = np.array([r["factor_vae_score"] for r in rows])
        print(f"| {method} | {mig.mean():.3f} ± {mig.std():.3f} | {fv.mean():.3f} ± {fv.std():.3f} | "
              f"{np.mean([r['active_latents'] for r in rows]):.1f} | {np.mean([r['train_seconds'] for r in rows]):.0f} |")
    print(f"wall time {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
