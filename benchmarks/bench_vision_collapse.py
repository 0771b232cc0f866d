"""No-collapse benchmark: train the default β-VAE-DAE on Room source frames within a time budget.

Reports, on held-out frames, the pixel MSE of the mean reconstruction against the MSE of always
predicting the training set's mean image (pass: ratio ≤ 0.5), the number of active latents
(KL > 0.01 nats; pass: ≥ 3) and the wall time with its split between DAE pre-training and the
β-VAE (pass: ≤ budget). Writes the traversal and reconstruction PNGs and ``collapse.json``.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_vision_collapse.py --threads 2 \\
        --png docs/img/traversal_beta_vae_dae.png [KEY=VALUE overrides]

Without ``--data`` it collects 20 000 Room source frames (seed 0) and 2 000 held-out ones (seed 1).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import vision  # noqa: E402
from darla.overrides import apply  # noqa: E402


def _frames(path: Path):
    """uint8 frames of a `darla collect` file (read with h5py alone, so no simulator is needed)."""
    import h5py

    with h5py.File(path, "r") as data:
        return data["frames"][:]


def _collect(path: Path, frames: int, seed: int) -> Path:
    from envs.collect import collect

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        collect("darla/Room-v1", str(path), frames, domain="source", seed=seed)
    return path


def _readme_png(src: Path, dst: Path, rows: int | None = None, limit: int = 300_000) -> None:
    """Copy a grid PNG for the README under ``limit`` bytes: keep the top ``rows`` tile rows (the
    highest-KL latents), then posterise colours and shrink only if still too large."""
    import cv2

    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if rows is not None:
        img = img[:2 + rows * 66]  # 64-pixel tiles with 2-pixel gaps
    for step in range(6):
        out = img if step == 0 else (img // (4 * step)) * (4 * step)
        if step >= 3:
            out = cv2.resize(out, None, fx=0.8 ** (step - 2), fy=0.8 ** (step - 2), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".png", out, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if len(data) <= limit:
            break
    dst.write_bytes(data.tobytes())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, help="training frames (default: collect 20k Room source frames)")
    p.add_argument("--heldout", type=Path, help="held-out frames (default: collect 2k with seed 1)")
    p.add_argument("--frames", type=int, default=20000)
    p.add_argument("--out", type=Path, default=Path("runs/bench_vision_collapse"))
    p.add_argument("--threads", type=int, default=2, help="torch threads (the budget assumes 2 CPU cores)")
    p.add_argument("--budget-s", type=float, default=600.0)
    p.add_argument("--method", default="beta_vae_dae")
    p.add_argument("--png", type=Path, help="also copy the traversal PNG here (e.g. docs/img/...)")
    p.add_argument("--progress", action="store_true")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = p.parse_args(argv)

    data = args.data or _collect(Path("runs/data/room20k.h5"), args.frames, 0)
    heldout = args.heldout or _collect(Path("runs/data/room_heldout2k.h5"), 2000, 1)
    train, test = _frames(data), _frames(heldout)
    cls = vision.methods.get(args.method)
    config = apply(cls.Config(), [f"threads={args.threads}", "device=cpu", *args.overrides])

    if args.out.exists():
        shutil.rmtree(args.out)  # a benchmark measures a fresh run, never a resumed one
    began = time.perf_counter()
    ckpt = vision.fit(train, args.method, args.out, config=config, resume=False, progress=args.progress or None)
    wall = time.perf_counter() - began

    torch.set_num_threads(args.threads)
    result = vision.evaluate(vision.load_model(ckpt), test, n=len(test), reference=train)
    summary = json.loads((args.out / "summary.json").read_text())
    dae_s = None
    if (args.out / "dae" / "summary.json").exists():
        dae_s = json.loads((args.out / "dae" / "summary.json").read_text())["seconds_this_session"]
    result.update(method=args.method, overrides=args.overrides, threads=args.threads, wall_s=round(wall, 1),
                  dae_train_s=dae_s, main_train_s=summary["seconds_this_session"],
                  train_frames=len(train), heldout_frames=len(test), torch=str(torch.__version__),
                  passed={"mse_ratio<=0.5": result["mse_ratio"] <= 0.5,
                          "active_latents>=3": result.get("active_latents", 0) >= 3,
                          f"wall<={args.budget_s:.0f}s": wall <= args.budget_s})
    (args.out / "collapse.json").write_text(json.dumps(result, indent=2))
    if args.png:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        _readme_png(args.out / "traversal.png", args.png, rows=8)
        _readme_png(args.out / "reconstructions.png", args.png.with_name(args.png.stem + "_recon.png"))
    print(f"method {args.method} {' '.join(args.overrides)} | threads {args.threads} | torch {torch.__version__}")
    print(f"held-out pixel MSE {result['pixel_mse']:.5f} | mean-image MSE {result['mean_image_mse']:.5f} | "
          f"ratio {result['mse_ratio']:.3f} (pass <= 0.5)")
    print(f"active latents {result.get('active_latents')} (pass >= 3) | KL per latent (sorted) "
          f"{sorted(result.get('kl_per_latent', []), reverse=True)[:10]}")
    print(f"wall {wall:.1f}s (budget {args.budget_s:.0f}s): DAE {dae_s}s + {args.method} {summary['seconds_this_session']}s "
          "+ set-up/evaluation")
    print("passed" if all(result["passed"].values()) else f"FAILED {result['passed']}")
    return 0 if all(result["passed"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
