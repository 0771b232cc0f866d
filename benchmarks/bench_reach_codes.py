"""How much of Reach's arm and cube a vision code holds, as regression R², not bin accuracy.

    MUJOCO_GL=egl .venv/bin/python benchmarks/bench_reach_codes.py CAMERA CKPT [CKPT ...] [--states 4000]

The metrics' probe classifies each joint into its 40 bins, so a code that knows an angle to within
a few bins scores near chance. This asks the question a reaching policy cares about: over
``--states`` source states drawn with ``camera`` (``wide`` or ``close``, as the run's env_kwargs),
the 4-fold cross-validated R² of a ridge regression (linear read-out) and of 10-nearest-neighbour
regression (any smooth read-out) from the standardised latent means to each joint angle and to the
cube's cell. Ground truth scores the code; it never trains or chooses a model. One Markdown row per
checkpoint.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsRegressor

from envs.reach import CAMERAS, JOINTS, OBJECT_X, OBJECT_Y, ReachFactors
from vision import load_encoder


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("camera", choices=list(CAMERAS))
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--states", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    space = ReachFactors(camera=args.camera)
    factors = space.sample(args.states, np.random.default_rng(args.seed), domain="source", reachable=True)
    frames, angles = space.render(factors), space.joint_angles(factors)
    targets = {**{joint: angles[:, k] for k, joint in enumerate(JOINTS)},
               "object_x": factors[:, OBJECT_X].astype(float), "object_y": factors[:, OBJECT_Y].astype(float)}
    readouts = {"ridge": RidgeCV(alphas=np.logspace(-2, 3, 12)), "10-NN": KNeighborsRegressor(10)}
    print("| checkpoint | " + " | ".join(f"{name} R² (ridge / 10-NN)" for name in targets) + " |")
    print("|---|" + "---|" * len(targets))
    out = {}
    for path in args.checkpoints:
        codes = load_encoder(path).encode(frames)
        codes = (codes - codes.mean(0)) / (codes.std(0) + 1e-6)
        out[path] = {name: {r: float(cross_val_score(model, codes, y, cv=4, scoring="r2").mean())
                            for r, model in readouts.items()} for name, y in targets.items()}
        print(f"| {path} | " + " | ".join(f"{v['ridge']:.2f} / {v['10-NN']:.2f}" for v in out[path].values()) + " |")
    return out


if __name__ == "__main__":
    main()
