"""Speed: images/s of ``vision.fit`` against a bare PyTorch loop on the same networks.

Both run the same method's networks, loss, batch size, Adam and thread count on the same uint8
frames (the bare loop indexes a pre-converted float tensor: no checks, logging, checkpoints or
images). Runs alternate bare / fit ``--repeats`` times and report medians, because other processes
on a shared machine make single timings noisy. The fit side is timed two ways: end to end (set-up,
TensorBoard, PNGs, checkpoints, final evaluation) and its own steady-state loop rate.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_vision_speed.py --method beta_vae_dae --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import vision  # noqa: E402
from vision.losses import bernoulli_nll, kl_normal  # noqa: E402


def bare_loop(method: str, frames: np.ndarray, steps: int, batch: int, lr: float) -> float:
    """images/s of a hand-written loop over the method's networks (Bernoulli or perceptual + β KL)."""
    cls = vision.methods.get(method)
    torch.manual_seed(0)
    model = cls(cls.Config(), frames.shape[1:])
    enc, dec = model.encoder, model.decoder
    dae = getattr(model, "dae", None)
    beta = getattr(model.config, "beta", 1.0)
    stochastic = getattr(model, "stochastic", False)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    data = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(255)
    g = torch.Generator().manual_seed(0)

    def step():
        x = data[torch.randint(0, len(data), (batch,), generator=g)]
        h = enc(x)
        if stochastic:
            mu, logvar = h.chunk(2, 1)
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=g)
            reg = beta * kl_normal(mu, logvar).sum(1).mean()
        else:
            z, reg = h, 0.0
        logits = dec(z)
        if dae is not None:
            with torch.no_grad():
                target = dae.decoder(dae.encoder(x))
            rec = (dae.decoder(dae.encoder(torch.sigmoid(logits))) - target).pow(2).sum() / batch
            rec = rec + model.config.pixel_weight * bernoulli_nll(logits, x)
        else:
            rec = bernoulli_nll(logits, x)
        loss = rec + reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - began)


def fit_loop(method: str, frames: np.ndarray, steps: int, batch: int, lr: float, threads: int) -> tuple[float, float]:
    """(end-to-end images/s, steady-state loop images/s) of ``vision.fit``."""
    with tempfile.TemporaryDirectory() as tmp:
        extra = {}
        if method == "beta_vae_dae":  # a DAE trained beforehand, so only the β-VAE-DAE loop is timed
            extra["dae_checkpoint"] = str(vision.fit(frames, "dae", Path(tmp) / "dae", steps=1, progress=False,
                                                     tensorboard=False, device="cpu", threads=threads))
        began = time.perf_counter()
        vision.fit(frames, method, Path(tmp) / "run", steps=steps + 3, batch_size=batch, lr=lr, device="cpu",
                   threads=threads, progress=False, **extra)
        wall = time.perf_counter() - began
        summary = json.loads((Path(tmp) / "run" / "summary.json").read_text())
    return (steps + 3) * batch / wall, summary["images_per_s"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="beta_vae_dae")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--frames", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, 64, 64, 3), dtype=np.uint8)
    lr = vision.methods.get(args.method).Config().lr
    bare, end_to_end, loop = [], [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(args.method, frames, args.steps, args.batch_size, lr))
        e2e, steady = fit_loop(args.method, frames, args.steps, args.batch_size, lr, args.threads)
        end_to_end.append(e2e)
        loop.append(steady)
    b, e, s = (statistics.median(v) for v in (bare, end_to_end, loop))
    print(f"{args.method}, batch {args.batch_size}, {args.steps} steps, {args.threads} threads, torch {torch.__version__}")
    print(f"bare PyTorch loop      {b:8.1f} images/s   runs {[round(v) for v in bare]}")
    print(f"vision.fit loop        {s:8.1f} images/s   ({s / b:.0%} of bare; runs {[round(v) for v in loop]})")
    print(f"vision.fit end to end  {e:8.1f} images/s   ({e / b:.0%} of bare, incl. set-up, TensorBoard, PNGs, "
          f"checkpoint, evaluation)")
    ok = s >= 0.8 * b
    print("passed (loop >= 80% of bare)" if ok else "FAILED (loop < 80% of bare)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
