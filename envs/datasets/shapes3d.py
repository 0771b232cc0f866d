"""A 3D-shapes-like dataset (after Burgess & Kim 2018's 3dshapes), drawn with opencv, no download.

Factors and sizes as in the original, in its order:

==============  ====  ==========================================================
floor_hue       10    hues 0, 0.1, ..., 0.9 (HSV, full saturation and value)
wall_hue        10    same hues
object_hue      10    same hues
scale           8     ``linspace(0.75, 1.25, 8)``
shape           4     cube, cylinder, sphere, capsule
orientation     15    ``linspace(-30, 30, 15)`` degrees: the camera turns around the object
==============  ====  ==========================================================

Frames are ``uint8[n, 64, 64, 3]`` RGB. The scene is a flat-shaded corner of a room seen from the
front: the back-wall corner slides sideways and the walls' brightness changes with orientation, the
floor darkens towards the horizon, and the object (shaded by its own geometry: lit top, darker side)
stands at the centre and turns with the camera. It is a look-alike for benchmarking metrics, not a
reproduction of the original renders.

Rendering is vectorised: every background (orientation × floor × wall hue) and every coloured
object (scale × shape × orientation × hue) is drawn once into uint8 caches (77 MB); a batch of
frames is two gathers and one ``np.where``.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from envs.factors import Factor, FactorSpace
from envs.registry import register_ground_truth

HUES = np.linspace(0.0, 1.0, 10, endpoint=False)
SCALES = np.linspace(0.75, 1.25, 8)
SHAPES = ("cube", "cylinder", "sphere", "capsule")
ORIENTATIONS = np.linspace(-30.0, 30.0, 15)
SIZE = 64
HORIZON = 34  # first floor row
_SHIFT = 4
_ONE = 1 << _SHIFT


def _fix(points) -> np.ndarray:
    return np.round((np.asarray(points, dtype=np.float64) - 0.5) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def _background_shading(angle: float) -> tuple[np.ndarray, np.ndarray]:
    """(wall, floor) brightness maps in [0, 1] for one orientation; each is 0 outside its region."""
    rows = np.arange(SIZE)[:, None] + 0.5
    cols = np.arange(SIZE)[None, :] + 0.5
    corner = SIZE / 2 + angle / 30.0 * 20.0
    left = cols < corner
    turn = angle / 30.0
    wall = np.where(left, 0.80 + 0.12 * turn, 0.92 - 0.12 * turn) * (rows < HORIZON)
    depth = (rows - HORIZON) / (SIZE - HORIZON)
    floor = (0.60 + 0.40 * depth + 0.04 * np.sign(cols - corner) * turn) * (rows >= HORIZON)
    return wall.astype(np.float32), np.clip(floor, 0, 1).astype(np.float32)


def _object_shading(scale: float, shape: str, angle: float) -> np.ndarray:
    """Object brightness map (0 = not the object) for one (scale, shape, orientation)."""
    img = np.zeros((SIZE, SIZE), dtype=np.uint8)
    half = 9.0 * scale
    cx, base = SIZE / 2, 50.0
    theta = np.deg2rad(angle)
    lit, front, side = 250, 200, 140
    if shape == "cube":
        # A box turned by theta around the vertical axis, seen from slightly above.
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * half
        rot = corners @ np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]).T
        x, depth = rot[:, 0] + cx, rot[:, 1]
        top_y = base - 2 * half - 0.35 * depth
        bottom_y = base - 0.35 * depth
        order = np.argsort(depth)  # nearest corners have the smallest depth
        for k in range(4):  # side faces, far to near
            a, b = k, (k + 1) % 4
            face_depth = depth[a] + depth[b]
            if face_depth > 0:
                continue
            normal_x = (x[a] + x[b]) / 2 - cx
            shade = front if abs(normal_x) < half * 0.5 else side
            poly = [(x[a], top_y[a]), (x[b], top_y[b]), (x[b], bottom_y[b]), (x[a], bottom_y[a])]
            cv2.fillPoly(img, [_fix(poly)], shade, cv2.LINE_8, _SHIFT)
        cv2.fillPoly(img, [_fix(np.stack([x, top_y], axis=1))], lit, cv2.LINE_8, _SHIFT)
        del order
    elif shape == "cylinder":
        rx, ry = half, half * 0.35
        top = base - 2 * half
        cv2.rectangle(img, (int(cx - rx), int(top)), (int(cx + rx), int(base)), front, -1)
        cv2.ellipse(img, (int(cx), int(base)), (int(rx), int(ry)), 0, 0, 180, front, -1)
        # a darker band on the side away from the light, sliding with the camera
        band = int(cx + rx * 0.55 * np.cos(theta + 0.6))
        cv2.rectangle(img, (band, int(top)), (int(cx + rx), int(base)), side, -1)
        cv2.ellipse(img, (int(cx), int(top)), (int(rx), int(ry)), 0, 0, 360, lit, -1)
    elif shape == "sphere":
        r = half * 1.1
        yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
        cy = base - r
        d2 = (xx - cx) ** 2 + (yy - cy) ** 2
        inside = d2 <= r * r
        light = np.array([np.sin(theta) * 0.5 - 0.3, -0.6])
        nx, ny = (xx - cx) / r, (yy - cy) / r
        shade = 0.55 + 0.45 * np.clip(-(nx * light[0] + ny * light[1]) + 0.5, 0, 1)
        img[inside] = np.clip(shade[inside] * 250, 1, 255).astype(np.uint8)
    elif shape == "capsule":
        w, top = half * 0.75, base - 2.4 * half
        cv2.rectangle(img, (int(cx - w), int(top + w)), (int(cx + w), int(base - w)), front, -1)
        cv2.circle(img, (int(cx), int(top + w)), int(w), lit, -1)
        cv2.circle(img, (int(cx), int(base - w)), int(w), front, -1)
        band = int(cx + w * 0.5 * np.cos(theta + 0.6))
        cv2.rectangle(img, (band, int(top + w)), (int(cx + w), int(base - w)), side, -1)
    else:
        raise ValueError(f"unknown shape {shape!r}; shapes: {SHAPES}")
    return img.astype(np.float32) / 255.0


def _hue_rgb(hue: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue, 1.0, 1.0), dtype=np.float32) * 255.0


class Shapes3D(FactorSpace):
    """The 480,000-combination 3D-shapes factor grid with opencv look-alike frames."""

    def __init__(self):
        hue_labels = tuple(f"{h:.1f}" for h in HUES)
        super().__init__(
            [Factor("floor_hue", 10, hue_labels), Factor("wall_hue", 10, hue_labels),
             Factor("object_hue", 10, hue_labels), Factor("scale", 8, tuple(f"{s:.3f}" for s in SCALES)),
             Factor("shape", 4, SHAPES), Factor("orientation", 15, tuple(f"{o:g}deg" for o in ORIENTATIONS))],
            observation_shape=(SIZE, SIZE, 3))
        self.values = {"floor_hue": HUES, "wall_hue": HUES, "object_hue": HUES, "scale": SCALES,
                       "shape": np.arange(4, dtype=np.float64), "orientation": ORIENTATIONS}
        colours = np.stack([_hue_rgb(h) for h in HUES])  # [10, 3]
        shading = [_background_shading(a) for a in ORIENTATIONS]
        wall = np.stack([w for w, _ in shading])[:, None, None, :, :, None]  # [O, 1, 1, H, W, 1]
        floor = np.stack([f for _, f in shading])[:, None, None, :, :, None]
        # uint8 caches, indexed per frame: background [orientation, floor, wall] (18 MB) and object
        # [scale, shape, orientation, hue] (59 MB) with its mask.
        self._background = _to_uint8(wall * colours[None, None, :, None, None, :]
                                     + floor * colours[None, :, None, None, None, :])
        shade = np.stack([[[_object_shading(s, shape, a) for a in ORIENTATIONS] for shape in SHAPES]
                          for s in SCALES])  # [S, K, O, H, W]
        self._mask = shade > 0
        self._object = _to_uint8(shade[:, :, :, None, :, :, None] * colours[None, None, None, :, None, None, :])

    def render(self, factors: np.ndarray) -> np.ndarray:
        factors = self.check_factors(np.atleast_2d(factors))
        floor, wall, obj, scale, shape, orient = factors.T
        mask = self._mask[scale, shape, orient][..., None]
        return np.where(mask, self._object[scale, shape, orient, obj], self._background[orient, floor, wall])


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


register_ground_truth("shapes3d", Shapes3D, "3D-shapes look-alike: floor/wall/object hue x scale x shape x "
                                            "orientation (10,10,10,8,4,15), 64x64 RGB, drawn with opencv")
