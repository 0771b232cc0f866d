"""Image grids that show what each domain looks like (one labelled row per domain)."""

from __future__ import annotations


import cv2
import numpy as np

from envs.factors import FactorSpace


def domain_grid(space: FactorSpace, per_domain: int = 8, seed: int = 0, scale: int = 2) -> np.ndarray:
    """RGB uint8 image: for each domain (except "all") a label strip then ``per_domain`` frames."""
    rng = np.random.default_rng(seed)
    names = [d for d in space.domains if d != "all"] or ["all"]
    rows = []
    for name in names:
        frames = space.render(space.sample(per_domain, rng, domain=name))
        if frames.shape[-1] == 1:
            frames = np.repeat(frames, 3, axis=-1)
        row = np.concatenate(list(np.pad(frames, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=255)), axis=1)
        row = cv2.resize(row, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        label = np.full((18, row.shape[1], 3), 255, dtype=np.uint8)
        cv2.putText(label, name, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate([label, row]))
    return np.concatenate(rows)

