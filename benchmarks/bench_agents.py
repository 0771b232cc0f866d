"""Throughput of stage 2: env steps/s of PPO on frozen latents vs PPO on pixels, same number of envs.

    .venv/bin/python benchmarks/bench_agents.py [--steps 16384] [--n-envs 8] [--threads 2]

The latent path encodes all envs' frames in one batch with the frozen encoder (no gradients) and
trains a small MLP; the pixel path trains SB3's NatureCNN end to end. The encoder is an untrained
β-VAE-DAE network (speed does not depend on its weights). Also reports rollout-only speed (no
learning), which isolates the cost of encoding.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

import agents
import vision
from envs.collect import collect
from envs.dataset import FrameDataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16_384)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp())
    collect("darla/Room-v1", tmp / "f.h5", 64, progress=False)
    with FrameDataset(tmp / "f.h5") as ds:
        frames = ds.frames[:]
    checkpoint = vision.fit(frames, method="beta_vae_dae", out_dir=tmp / "bvd", steps=1, batch_size=16,
                            progress=False, tensorboard=False, **{"dae.steps": 1})
    results = {}
    for name in ("darla", "pixels"):
        hp = {"n_envs": args.n_envs}
        start = time.perf_counter()
        out = agents.train(name, "darla/Room-v1", tmp / name, steps=args.steps, seed=0, hyperparams=hp,
                           encoder_path=checkpoint if name == "darla" else None)
        train_sps = args.steps / (time.perf_counter() - start)
        agent = agents.load(out)
        venv = agent.make_env("source", n_envs=args.n_envs, seed=0)
        obs = venv.reset()
        start = time.perf_counter()
        for _ in range(args.steps // args.n_envs // 4):
            obs = venv.step(agent.predict(obs))[0]
        rollout_sps = (args.steps // args.n_envs // 4) * args.n_envs / (time.perf_counter() - start)
        results[name] = (train_sps, rollout_sps)
    print(f"PPO on darla/Room-v1, {args.n_envs} envs, {args.threads} torch threads, {args.steps} steps:")
    for name, (train_sps, rollout_sps) in results.items():
        print(f"  {name:7s} training {train_sps:8,.0f} env steps/s   acting only {rollout_sps:8,.0f} env steps/s")
    ratio = results["darla"][0] / results["pixels"][0]
    print(f"  latent path / pixel path (training): {ratio:.1f}x")


if __name__ == "__main__":
    main()
