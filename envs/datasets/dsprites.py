"""Procedural dSprites (Matthey et al. 2017): the exact factor grid, rendered on demand, no download.

Factors, in disentanglement_lib's order (its colour factor has one value and is left out):

=============  =====  ================================================================
shape          3      square, ellipse, heart
scale          6      ``linspace(0.5, 1, 6)``
orientation    40     ``linspace(0, 2*pi, 40)`` radians (as in the released file: both ends
                      included, so values 0 and 39 draw the same image)
pos_x, pos_y   32     ``linspace(0, 1, 32)``; pos_y = 0 is the top row
=============  =====  ================================================================

Frames are ``uint8[n, 64, 64, 1]`` with values 0 (background) and 255 (sprite): the original is
binary 0/1; 0/255 is the toolkit's uint8 frame convention, so ``frames / 255`` gives the original's
values. The shapes are polygon-filled with opencv and approximate, not reproduce, the original
pixels (its generator is not public): a sprite of scale 1 fits in a circle of 11 px radius and its
centre moves over [11, 53] px, so no sprite ever leaves the frame.

Rendering is vectorised: the 720 (shape, scale, orientation) masks are drawn once into 22×22
patches, and a batch of frames is one strided scatter of those patches at integer offsets.
"""

from __future__ import annotations

import cv2
import numpy as np

from envs.factors import Factor, FactorSpace
from envs.registry import register_ground_truth

SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40)
POSITIONS = np.linspace(0.0, 1.0, 32)

SIZE = 64
RADIUS = 11  # px: bounding radius of a scale-1 sprite
PATCH = 2 * RADIUS
_SUBPIXEL = 4  # fillPoly fractional bits


def _outline(shape: str) -> np.ndarray:
    """Closed outline of a shape of bounding radius 1 around the origin, ``[m, 2]`` (x right, y down)."""
    t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    if shape == "square":
        half = 1 / np.sqrt(2)
        pts = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    elif shape == "ellipse":
        pts = np.stack([np.cos(t), 0.5 * np.sin(t)], axis=1)
    elif shape == "heart":
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))  # point down
        pts = np.stack([x, y], axis=1)
        pts -= (pts.max(axis=0) + pts.min(axis=0)) / 2  # centre the bounding box
        pts /= np.max(np.linalg.norm(pts, axis=1))
    else:
        raise ValueError(f"unknown dSprites shape {shape!r}; shapes: {SHAPES}")
    return pts


def _masks() -> np.ndarray:
    """uint8[3, 6, 40, PATCH, PATCH] sprite patches (0/255), centred on the patch centre."""
    out = np.zeros((len(SHAPES), len(SCALES), len(ORIENTATIONS), PATCH, PATCH), dtype=np.uint8)
    for a, shape in enumerate(SHAPES):
        outline = _outline(shape)
        for b, scale in enumerate(SCALES):
            for c, angle in enumerate(ORIENTATIONS):
                rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
                pts = outline @ rot.T * (RADIUS * scale) + RADIUS  # counter-clockwise on screen
                fixed = np.round(pts * (1 << _SUBPIXEL) - (1 << (_SUBPIXEL - 1))).astype(np.int32)
                cv2.fillPoly(out[a, b, c], [fixed.reshape(-1, 1, 2)], 255, lineType=cv2.LINE_8, shift=_SUBPIXEL)
    return out


class DSprites(FactorSpace):
    """dSprites' 737,280-image factor grid, rendered procedurally (see the module docstring)."""

    def __init__(self):
        super().__init__(
            [Factor("shape", 3, SHAPES),
             Factor("scale", 6, tuple(f"{v:.1f}" for v in SCALES)),
             Factor("orientation", 40, tuple(f"{v:.4f}" for v in ORIENTATIONS)),
             Factor("pos_x", 32, tuple(f"{v:.4f}" for v in POSITIONS)),
             Factor("pos_y", 32, tuple(f"{v:.4f}" for v in POSITIONS))],
            observation_shape=(SIZE, SIZE, 1))
        self.values = {"shape": np.arange(1, 4, dtype=np.float64), "scale": SCALES, "orientation": ORIENTATIONS,
                       "pos_x": POSITIONS, "pos_y": POSITIONS}
        self._patches = _masks().reshape(-1, PATCH, PATCH)
        # top-left pixel of the patch for each position index
        self._offsets = np.round(RADIUS + POSITIONS * (SIZE - 2 * RADIUS)).astype(np.int64) - RADIUS

    def render(self, factors: np.ndarray) -> np.ndarray:
        factors = self.check_factors(np.atleast_2d(factors))
        n = len(factors)
        out = np.zeros((n, SIZE, SIZE), dtype=np.uint8)
        if n:
            windows = np.lib.stride_tricks.as_strided(
                out, shape=(n, SIZE - PATCH + 1, SIZE - PATCH + 1, PATCH, PATCH),
                strides=(SIZE * SIZE, SIZE, 1, SIZE, 1), writeable=True)
            sprite = (factors[:, 0] * len(SCALES) + factors[:, 1]) * len(ORIENTATIONS) + factors[:, 2]
            windows[np.arange(n), self._offsets[factors[:, 4]], self._offsets[factors[:, 3]]] = self._patches[sprite]
        return out[..., None]


register_ground_truth("dsprites", DSprites, "procedural dSprites: 3 shapes x 6 scales x 40 orientations x "
                                            "32 x 32 positions, 64x64 binary frames (Matthey et al. 2017)")
