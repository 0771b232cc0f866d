"""Observation wrappers for any gymnasium pixel env: shape tools and seeded visual-shift transforms.

Two kinds, both ordinary gymnasium wrappers:

- *Shape tools* make an env's frames fit the toolkit: ``resize`` (with an optional crop) to a size the
  vision networks accept (height and width multiples of 16), ``grayscale``, ``frame_skip``,
  ``frame_stack``, and ``pixels`` (frames from ``render()`` for an env whose observations are states).
- *Visual shifts* define a domain by how its frames look: ``hue_rotate``, ``colour_jitter``,
  ``brightness``, ``lighting``, ``background`` (procedural textures), ``blur`` and ``sensor_noise``.

Every wrapper has a name in one registry, so a domain can be written as data,
``[{"name": "hue_rotate", "degrees": 90}, {"name": "blur", "sigma": 1.0}]``, and built with
:func:`apply_wrappers`; :func:`check_spec` validates such a list without an env, so a config can fail
before any stage runs. Frames are uint8 ``(H, W, C)``; every transform is vectorised (OpenCV or numpy).

Seeding. A random transform draws from its own generator, seeded from the env's ``reset(seed=...)``
mixed with the wrapper's name and its ``seed`` kwarg, so a seeded rollout is reproducible, transforms
of different kinds draw differently (two of one kind need different ``seed`` kwargs), and the env's own
random stream is untouched (a wrapped env visits the same states as the bare one). ``fixed=True`` instead draws the transform's parameters
once, from ``seed`` alone: the same shift in every episode and every process, a fixed target domain.
"""

from __future__ import annotations

import importlib
import inspect
import zlib
from collections import deque
from functools import lru_cache
from statistics import NormalDist
from typing import Any, Callable, Mapping, Sequence

import cv2
import gymnasium
import numpy as np
from gymnasium import spaces

from artifacts.registry import Registry

MULTIPLE = 16  # the vision networks downsample by 2**4 (vision.networks.DOWNSAMPLE; envs may not import vision)
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as cv2.COLOR_RGB2GRAY
TEXTURES = ("noise", "checker", "stripes")


class WrapperError(ValueError):
    """A wrapper spec or a wrapper's input is wrong; the message names the wrapper and the parameter."""


# -- checks ----------------------------------------------------------------------------------------
def _nearest_multiple(n: int, multiple: int = MULTIPLE) -> int:
    return max(multiple, int(round(n / multiple)) * multiple)


def check_frame_size(shape: Sequence[int], what: str = "observations", multiple: int = MULTIPLE) -> None:
    """Fail unless frames ``(H, W[, C])`` have H and W multiples of ``multiple``, saying how to resize them.

    The vision networks halve the frame four times, so other sizes cannot be encoded; the message
    names the ``resize`` wrapper with the nearest sizes that fit, as a spec entry and in Python."""
    h, w = int(shape[0]), int(shape[1])
    if h >= multiple and w >= multiple and h % multiple == 0 and w % multiple == 0:
        return
    size = [_nearest_multiple(h, multiple), _nearest_multiple(w, multiple)]
    raise WrapperError(
        f"{what} are {h}×{w} pixels, but the vision networks need a height and width that are multiples of "
        f"{multiple}; add the resize wrapper to the domain's wrappers, e.g. {{\"name\": \"resize\", \"size\": {size}}} "
        f"(in Python: envs.wrappers.apply_wrappers(env, [{{\"name\": \"resize\", \"size\": {size}}}]); "
        "`crop` can cut a border or a box out first; see docs/wrappers.md)")


def image_shape(space: gymnasium.Space, wrapper: str, channels: Sequence[int] | None = None) -> tuple[int, int, int]:
    """(H, W, C) of an image observation space, or an error naming ``wrapper`` and what would fix the input."""
    box = isinstance(space, spaces.Box)
    shape: tuple[int, ...] = space.shape if isinstance(space, spaces.Box) else ()
    if not (box and space.dtype == np.uint8 and len(shape) == 3):
        if box and len(shape) == 3:
            hint = (f"frames must be uint8 in [0, 255], got {space.dtype}; convert them first, e.g. with "
                    "gymnasium.wrappers.TransformObservation(env, lambda o: (o * 255).round().astype(np.uint8), "
                    "new_space)")
        elif box and len(shape) == 2 and space.dtype == np.uint8:
            hint = f"add a channel axis first: gymnasium.wrappers.ReshapeObservation(env, {(*shape, 1)})"
        else:
            hint = ("for an env whose observations are not images, make the env with render_mode='rgb_array' and "
                    "put the 'pixels' wrapper first, which observes render() frames instead, then 'resize' as needed")
        raise WrapperError(f"wrapper {wrapper!r} needs image observations, a uint8 Box of shape (H, W, C); "
                           f"got {space}: {hint}")
    h, w, c = shape
    if channels is not None and c not in channels:
        hint = " (put colour transforms before 'grayscale')" if c == 1 else ""
        raise WrapperError(f"wrapper {wrapper!r} needs frames with {' or '.join(map(str, channels))} channels, "
                           f"got shape {space.shape}{hint}")
    return h, w, c


def _require(ok: bool | np.bool_, wrapper: str, param: str, message: str) -> None:
    if not ok:
        raise WrapperError(f"wrapper {wrapper!r}: parameter {param!r} {message}")


def _scalar(value: object) -> bool:
    """``np.isscalar`` as a plain bool (numpy's stubs make it a type guard for numpy scalars only)."""
    return bool(np.isscalar(value))


def _pair(value: Any, wrapper: str, param: str) -> tuple[int, int]:
    """An int or a [h, w] pair as (h, w), from Python or from a JSON/YAML config (lists)."""
    try:
        pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    except TypeError:
        pair = ()
    _require(len(pair) == 2 and all(isinstance(v, (int, np.integer)) and v > 0 for v in pair), wrapper, param,
             f"must be a positive int or a [height, width] pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _colour(value: Any, channels: int, wrapper: str, param: str) -> np.ndarray:
    colour = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if colour.size == 1:
        colour = np.repeat(colour, channels)
    _require(colour.shape == (channels,) and ((0 <= colour) & (colour <= 255)).all(), wrapper, param,
             f"must be {channels} values in [0, 255] (one per channel), got {value!r}")
    return colour


def _record(wrapper: gymnasium.utils.RecordConstructorArgs, args: dict) -> None:
    """Record constructor kwargs, so ``env.spec`` can rebuild the wrapped env (gymnasium's contract)."""
    gymnasium.utils.RecordConstructorArgs.__init__(
        wrapper, **{k: v for k, v in args.items() if k not in ("self", "env", "__class__")})


def _hwc(frame: np.ndarray, channels: int) -> np.ndarray:
    """OpenCV drops the channel axis of one-channel images; put it back."""
    return frame[..., None] if frame.ndim == 2 and channels == 1 else frame


def _affine(frame: np.ndarray, matrix: np.ndarray, offset: np.ndarray | float = 0.0) -> np.ndarray:
    """``matrix @ pixel + offset`` for every RGB pixel, rounded and saturated to uint8 (cv2.transform)."""
    m = np.empty((3, 4), dtype=np.float64)
    m[:, :3], m[:, 3] = matrix, offset
    return cv2.transform(frame, m)


def hue_rotation_matrix(degrees: float) -> np.ndarray:
    """3×3 rotation of RGB space by ``degrees`` about the grey diagonal (Rodrigues' formula).

    Greys stay put, the hue circle turns, and 120° maps red to green to blue exactly. Chosen over an
    HSV round trip, whose 8-bit hue (0-179) would make even a 0° rotation lossy; the price is that at
    other angles a saturated colour can leave the RGB cube and is clipped."""
    theta = np.deg2rad(degrees)
    k = np.full(3, 1 / np.sqrt(3))
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.cos(theta) * np.eye(3) + np.sin(theta) * cross + (1 - np.cos(theta)) * np.outer(k, k)


def saturation_matrix(factor: float) -> np.ndarray:
    """3×3 matrix blending each pixel with its luma: 0 gives grey, 1 identity, above 1 more saturated."""
    return factor * np.eye(3) + (1 - factor) * np.outer(np.ones(3), LUMA)


# -- procedural textures ---------------------------------------------------------------------------
def make_texture(kind: str, height: int, width: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """A uint8 ``(height, width, channels)`` texture: ``noise`` (smooth colour blobs over finer grain),
    ``checker`` or ``stripes`` (two random colours, random scale; stripes at a random angle)."""
    if kind == "noise":
        coarse = rng.integers(0, 256, (int(rng.integers(3, 8)),) * 2 + (channels,), dtype=np.uint8)
        fine = rng.integers(0, 256, (max(4, height // 4), max(4, width // 4), channels), dtype=np.uint8)
        up = lambda a: _hwc(cv2.resize(a, (width, height), interpolation=cv2.INTER_CUBIC), channels)  # noqa: E731
        return cv2.addWeighted(up(coarse), 0.75, up(fine), 0.25, 0)
    a, b = rng.integers(0, 256, (2, channels)).astype(np.uint8)
    yy, xx = np.indices((height, width), dtype=np.float64)
    if kind == "checker":
        cell = rng.integers(3, max(4, min(height, width) // 4) + 1)
        on = ((yy // cell + xx // cell) % 2).astype(bool)
    elif kind == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, max(5.0, min(height, width) / 3))
        on = ((xx * np.cos(angle) + yy * np.sin(angle)) / period) % 2 < 1
    else:
        raise WrapperError(f"unknown texture {kind!r}; known: {list(TEXTURES)} or 'random'")
    return np.where(on[..., None], a, b)


def import_callable(path: str, wrapper: str, param: str) -> Callable:
    """``"package.module:function"`` → the function, so a config file can name a user's mask function."""
    module, _, attr = path.partition(":")
    _require(bool(module and attr), wrapper, param, f"must be a callable or 'module:function', got {path!r}")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise WrapperError(f"wrapper {wrapper!r}: parameter {param!r}: cannot import {path!r}: {e}") from e


# -- shape tools -----------------------------------------------------------------------------------
class Resize(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """Crop (optionally) and resize frames to ``size``, checking the result is a multiple of ``multiple``.

    ``size``: an int (square) or ``[height, width]``. ``crop``: ``None``, ``"centre"`` (the largest
    centred square, so a wide frame is not squashed) or a box ``[top, left, height, width]`` (e.g. to cut
    off a dashboard). ``interpolation``: ``"area"`` (default; no aliasing when shrinking), ``"linear"``,
    ``"cubic"`` or ``"nearest"``. ``multiple``: 16 by default, what the vision networks need; 1 disables it."""

    INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                      "nearest": cv2.INTER_NEAREST}

    def __init__(self, env: gymnasium.Env, size: int | Sequence[int] = 64, crop: str | Sequence[int] | None = None,
                 interpolation: str = "area", multiple: int = MULTIPLE):
        _record(self, locals())
        super().__init__(env)
        h, w, c = image_shape(env.observation_space, "resize")
        self.size = _pair(size, "resize", "size")
        _require(isinstance(multiple, int) and multiple >= 1, "resize", "multiple", f"must be an int >= 1, got {multiple!r}")
        if self.size[0] % multiple or self.size[1] % multiple:
            raise WrapperError(f"wrapper 'resize': parameter 'size' {list(self.size)} is not a multiple of {multiple}, "
                               "which the vision networks need; use size="
                               f"{[_nearest_multiple(s, multiple) for s in self.size]} (or multiple=1 to allow it)")
        _require(interpolation in self.INTERPOLATIONS, "resize", "interpolation",
                 f"must be one of {list(self.INTERPOLATIONS)}, got {interpolation!r}")
        self.interpolation = self.INTERPOLATIONS[interpolation]
        if crop is None:
            self.box = (0, 0, h, w)
        elif crop in ("centre", "center"):
            side = min(h, w)
            self.box = ((h - side) // 2, (w - side) // 2, side, side)
        else:
            box = tuple(crop) if not isinstance(crop, str) else ()
            _require(len(box) == 4 and all(isinstance(v, (int, np.integer)) for v in box), "resize", "crop",
                     f"must be None, 'centre' or [top, left, height, width], got {crop!r}")
            top, left, bh, bw = box
            _require(top >= 0 and left >= 0 and bh > 0 and bw > 0 and top + bh <= h and left + bw <= w, "resize",
                     "crop", f"box {list(box)} does not fit inside the {h}×{w} frame")
            self.box = (int(top), int(left), int(bh), int(bw))
        self.channels = c
        self.observation_space = spaces.Box(0, 255, (*self.size, c), dtype=np.uint8)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        top, left, bh, bw = self.box
        frame = frame[top:top + bh, left:left + bw]
        if frame.shape[:2] == self.size:
            return np.ascontiguousarray(frame)
        return _hwc(cv2.resize(frame, self.size[::-1], interpolation=self.interpolation), self.channels)


class Grayscale(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """RGB frames to luma (ITU-R BT.601, OpenCV's weights), keeping a channel axis: ``(H, W, 1)``, the
    shape the vision networks and stable-baselines3's CNN policies expect. A grey pixel is unchanged."""

    def __init__(self, env: gymnasium.Env):
        _record(self, locals())
        super().__init__(env)
        h, w, _ = image_shape(env.observation_space, "grayscale", channels=(3,))
        self.observation_space = spaces.Box(0, 255, (h, w, 1), dtype=np.uint8)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[..., None]


class FrameSkip(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Repeat each action ``skip`` times and return the last observation with the summed reward.

    Stops early when the episode ends, so no step runs past a terminal state; ``info`` is the last step's.
    Works on any env (it does not look at observations)."""

    def __init__(self, env: gymnasium.Env, skip: int = 4):
        _record(self, locals())
        super().__init__(env)
        _require(isinstance(skip, (int, np.integer)) and skip >= 1, "frame_skip", "skip",
                 f"must be an int >= 1, got {skip!r}")
        self.skip = int(skip)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        total = 0.0
        for _ in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class FrameStack(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """The last ``k`` observations, oldest first; at reset the first one fills the stack.

    By default the stack is a new leading axis, ``(k, H, W, C)``, so each frame stays a frame a vision
    model can encode on its own (DARLA's policy saw a stack of latent vectors, its vision single frames).
    ``channels=True`` concatenates on the channel axis instead, ``(H, W, k·C)``, for a pixel CNN policy.
    Works on any Box observation (``channels=True`` needs images)."""

    def __init__(self, env: gymnasium.Env, k: int = 4, channels: bool = False):
        _record(self, locals())
        super().__init__(env)
        _require(isinstance(k, (int, np.integer)) and k >= 1, "frame_stack", "k", f"must be an int >= 1, got {k!r}")
        space = env.observation_space
        if not isinstance(space, spaces.Box):
            raise WrapperError(f"wrapper 'frame_stack' needs a Box observation space, got {space}")
        if channels:
            image_shape(space, "frame_stack")
        self.k, self.channels = int(k), bool(channels)
        self._frames: deque = deque(maxlen=self.k)
        stack = (lambda a: np.concatenate([a] * self.k, axis=-1)) if channels else (lambda a: np.stack([a] * self.k))
        self.observation_space = spaces.Box(stack(space.low), stack(space.high), dtype=space.dtype)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._frames.clear()
        self._frames.extend([obs] * self.k)
        return self._stacked(), info

    def observation(self, obs: np.ndarray) -> np.ndarray:
        self._frames.append(obs)
        return self._stacked()

    def _stacked(self) -> np.ndarray:
        return np.concatenate(self._frames, axis=-1) if self.channels else np.stack(self._frames)


def pixels(env: gymnasium.Env) -> gymnasium.Env:
    """Observe ``env.render()`` frames instead of the env's own observations (a state-based env from pixels).

    gymnasium's ``AddRenderObservation(render_only=True)``, with the toolkit's error when the env was
    made without ``render_mode="rgb_array"``."""
    if env.render_mode != "rgb_array":
        raise WrapperError(f"wrapper 'pixels' observes render() frames, so the env must be made with "
                           f"render_mode='rgb_array' (got render_mode={env.render_mode!r}), e.g. "
                           f"gymnasium.make({env.spec.id if env.spec else 'ENV_ID'!r}, render_mode='rgb_array')")
    return gymnasium.wrappers.AddRenderObservation(env, render_only=True)


# -- visual shifts ---------------------------------------------------------------------------------
class ImageTransform(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """Base of the visual-shift transforms: checks the input is frames and keeps the space unchanged.

    Random subclasses set ``random = True``, store their parameters, call ``super().__init__`` last and
    implement :meth:`new_episode`. The generator ``self.rng`` is reseeded whenever ``reset`` gets a seed
    (see the module's *Seeding*); an unseeded first reset takes fresh entropy, as gymnasium does."""

    name = ""
    rgb = False  # True: needs 3-channel frames
    random = False

    def __init__(self, env: gymnasium.Env, seed: int = 0, fixed: bool = False):
        super().__init__(env)
        self.height, self.width, self.channels = image_shape(
            env.observation_space, self.name, channels=(3,) if self.rgb else None)
        self.observation_space = env.observation_space  # a transform changes pixels, never the shape
        _require(isinstance(seed, (int, np.integer)), self.name, "seed", f"must be an int, got {seed!r}")
        self.seed, self.fixed = int(seed), bool(fixed)
        self._salt = zlib.crc32(self.name.encode())
        self._reset_once = False
        # A draw from ``seed`` alone: the only one when fixed, and a valid state before the first reset.
        self.rng = np.random.default_rng([self.seed, self._salt])
        if self.random:
            self.new_episode(self.rng)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if self.random and not self.fixed:
            if seed is not None:
                self.rng = np.random.default_rng([seed, self._salt, self.seed])
            elif not self._reset_once:
                self.rng = np.random.default_rng()
        self._reset_once = True
        obs, info = self.env.reset(seed=seed, options=options)
        if self.random and not self.fixed:
            self.new_episode(self.rng)
        return self.observation(obs), info

    def new_episode(self, rng: np.random.Generator) -> None:
        """Draw this episode's parameters (with ``fixed=True``, the only ones, at construction)."""


class HueRotate(ImageTransform):
    """Rotate every colour's hue by ``degrees`` (deterministic): a fixed recolouring of the whole scene.

    A rotation of RGB space about its grey diagonal (:func:`hue_rotation_matrix`): 0° and 360° are the
    identity, 120° permutes R→G→B, greys never change."""

    name, rgb = "hue_rotate", True

    def __init__(self, env: gymnasium.Env, degrees: float = 90.0):
        _record(self, locals())
        super().__init__(env)
        _require(_scalar(degrees) and np.isfinite(degrees), "hue_rotate", "degrees",
                 f"must be a finite number, got {degrees!r}")
        self.degrees = float(degrees)
        self.matrix = hue_rotation_matrix(self.degrees)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        return _affine(frame, self.matrix)


class ColourJitter(ImageTransform):
    """Random brightness, contrast, saturation and hue, drawn per episode (or per step, or once).

    Factors are uniform in ``[1 - x, 1 + x]`` for ``brightness``, ``contrast`` and ``saturation``, and the
    hue turns by a uniform angle in ``[-hue, hue]`` degrees. All four compose into one affine colour map
    (contrast pivots on the frame's mean luma), applied with a single ``cv2.transform``. ``per_step=True``
    redraws at every step (flicker); ``fixed=True`` draws once from ``seed``."""

    name, rgb, random = "colour_jitter", True, True

    def __init__(self, env: gymnasium.Env, brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3,
                 hue: float = 30.0, per_step: bool = False, fixed: bool = False, seed: int = 0):
        _record(self, locals())
        for param, value, top in (("brightness", brightness, 1), ("contrast", contrast, 1),
                                  ("saturation", saturation, np.inf), ("hue", hue, 180)):
            _require(_scalar(value) and 0 <= value <= top, "colour_jitter", param,
                     f"must be a number in [0, {top}], got {value!r}")
        self.ranges = dict(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue)
        _require(not (per_step and fixed), "colour_jitter", "per_step", "cannot be combined with fixed=True")
        self.per_step = bool(per_step)
        super().__init__(env, seed=seed, fixed=fixed)

    def new_episode(self, rng: np.random.Generator) -> None:
        r = self.ranges
        b, c, s = (1 + rng.uniform(-r[k], r[k]) for k in ("brightness", "contrast", "saturation"))
        self.contrast = c
        self.matrix = b * saturation_matrix(s) @ hue_rotation_matrix(rng.uniform(-r["hue"], r["hue"]))

    def observation(self, frame: np.ndarray) -> np.ndarray:
        if self.per_step:
            self.new_episode(self.rng)
        mean_luma = LUMA @ self.matrix @ np.array(cv2.mean(frame)[:3])
        return _affine(frame, self.contrast * self.matrix, (1 - self.contrast) * mean_luma)


class Brightness(ImageTransform):
    """``gain · pixel + bias`` (deterministic), with an optional per-episode random gain in
    ``[gain - jitter, gain + jitter]``: a darker or brighter scene, saturating at 0 and 255."""

    name, random = "brightness", True

    def __init__(self, env: gymnasium.Env, gain: float = 1.0, bias: float = 0.0, jitter: float = 0.0,
                 fixed: bool = False, seed: int = 0):
        _record(self, locals())
        _require(_scalar(gain) and gain >= 0, "brightness", "gain", f"must be a number >= 0, got {gain!r}")
        _require(_scalar(bias) and -255 <= bias <= 255, "brightness", "bias",
                 f"must be a number in [-255, 255], got {bias!r}")
        _require(_scalar(jitter) and 0 <= jitter <= gain, "brightness", "jitter",
                 f"must be a number in [0, gain={gain}], got {jitter!r}")
        self.base_gain, self.bias, self.jitter, self.gain = float(gain), float(bias), float(jitter), float(gain)
        super().__init__(env, seed=seed, fixed=fixed)

    def new_episode(self, rng: np.random.Generator) -> None:
        self.gain = self.base_gain + (rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        return _hwc(cv2.addWeighted(frame, self.gain, frame, 0.0, self.bias), self.channels)


class Lighting(ImageTransform):
    """A directional light: brightness ramps linearly across the frame, ``1 ± strength`` at the edges.

    ``angle`` (degrees, 0 = brighter to the right, 90 = brighter at the top) fixes the direction;
    ``None`` draws it per episode (or once with ``fixed=True``)."""

    name, random = "lighting", True

    def __init__(self, env: gymnasium.Env, strength: float = 0.5, angle: float | None = None,
                 fixed: bool = False, seed: int = 0):
        _record(self, locals())
        _require(_scalar(strength) and 0 <= strength <= 1, "lighting", "strength",
                 f"must be a number in [0, 1], got {strength!r}")
        _require(angle is None or (_scalar(angle) and np.isfinite(angle)), "lighting", "angle",
                 f"must be None (random) or a number of degrees, got {angle!r}")
        self.strength, self.angle = float(strength), angle
        super().__init__(env, seed=seed, fixed=fixed or angle is not None)

    def new_episode(self, rng: np.random.Generator) -> None:
        t = np.deg2rad(self.angle if self.angle is not None else rng.uniform(0, 360))
        u = ((np.arange(self.width) + 0.5) / self.width * 2 - 1)[None, :]     # -1 left .. 1 right
        v = (1 - (np.arange(self.height) + 0.5) / self.height * 2)[:, None]   # 1 top .. -1 bottom
        gain = 1 + self.strength * (np.cos(t) * u + np.sin(t) * v)
        self._gain = np.ascontiguousarray(np.repeat(gain[..., None], self.channels, axis=2), dtype=np.float32)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        return _hwc(cv2.multiply(frame, self._gain, dtype=cv2.CV_8U), self.channels)


class Background(ImageTransform):
    """Replace background pixels with a procedural texture: a textures/backgrounds domain shift.

    Which pixels are background: those within ``tolerance`` (per channel, 0-255) of ``colour``, or those
    a ``mask`` function marks (``frame -> bool[H, W]``; a callable, or ``"module:function"`` in a config).
    A colour key is exact, cheap and needs no knowledge of the env, which suits envs with flat-coloured
    backgrounds (the Room's ceiling is ``[205, 205, 215]``, MuJoCo skies, CarRacing's grass);
    shaded surfaces need a mask function. With neither, the texture is blended over the whole frame,
    which then needs ``alpha < 1``. ``alpha`` is the texture's opacity.

    ``texture``: ``"noise"``, ``"checker"``, ``"stripes"`` or ``"random"`` (one of them per draw). The
    texture is redrawn each episode from the reset seed; ``fixed=True`` draws one from ``seed``."""

    name, random = "background", True

    def __init__(self, env: gymnasium.Env, texture: str = "random", colour: Sequence[float] | None = None,
                 tolerance: float = 0, mask: Callable | str | None = None, alpha: float = 1.0,
                 fixed: bool = False, seed: int = 0):
        _record(self, locals())
        _require(texture in (*TEXTURES, "random"), "background", "texture",
                 f"must be one of {[*TEXTURES, 'random']}, got {texture!r}")
        _require(_scalar(alpha) and 0 < alpha <= 1, "background", "alpha", f"must be in (0, 1], got {alpha!r}")
        _require(_scalar(tolerance) and 0 <= tolerance <= 255, "background", "tolerance",
                 f"must be in [0, 255], got {tolerance!r}")
        _require(colour is None or mask is None, "background", "mask", "and 'colour' are alternatives; give one")
        _require(colour is not None or mask is not None or alpha < 1, "background", "alpha",
                 "must be < 1 without a 'colour' or 'mask' (the texture would replace the whole frame)")
        self.texture, self.alpha = texture, float(alpha)
        self.mask = import_callable(mask, "background", "mask") if isinstance(mask, str) else mask
        _require(self.mask is None or callable(self.mask), "background", "mask",
                 f"must be a callable, 'module:function' or None, got {mask!r}")
        self._colour, self._tolerance = colour, float(tolerance)
        super().__init__(env, seed=seed, fixed=fixed)
        if colour is not None:
            key = _colour(colour, self.channels, "background", "colour")
            self._low = tuple(np.clip(key - tolerance, 0, 255).tolist())
            self._high = tuple(np.clip(key + tolerance, 0, 255).tolist())

    def new_episode(self, rng: np.random.Generator) -> None:
        kind = TEXTURES[rng.integers(len(TEXTURES))] if self.texture == "random" else self.texture
        self._tex = make_texture(kind, self.height, self.width, self.channels, rng)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        tex = self._tex
        if self.alpha < 1:
            tex = _hwc(cv2.addWeighted(frame, 1 - self.alpha, tex, self.alpha, 0), self.channels)
        if self.mask is not None:
            where = np.asarray(self.mask(frame), dtype=bool)
            if where.shape != frame.shape[:2]:
                raise WrapperError(f"wrapper 'background': the mask function returned shape {where.shape}, "
                                   f"expected {frame.shape[:2]} (bool, one value per pixel)")
            where = where.view(np.uint8)
        elif self._colour is not None:
            where = cv2.inRange(frame, self._low, self._high)
        else:
            return tex
        out = frame.copy()
        cv2.copyTo(tex, where, out)  # ten times faster than np.copyto(..., where=)
        return _hwc(out, self.channels)


class Blur(ImageTransform):
    """Gaussian blur of standard deviation ``sigma`` pixels (deterministic; 0 is the identity): defocus."""

    name = "blur"

    def __init__(self, env: gymnasium.Env, sigma: float = 1.0):
        _record(self, locals())
        _require(_scalar(sigma) and 0 <= sigma <= 50, "blur", "sigma", f"must be a number in [0, 50], got {sigma!r}")
        self.sigma = float(sigma)
        super().__init__(env)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        if self.sigma == 0:
            return frame
        return _hwc(cv2.GaussianBlur(frame, (0, 0), sigmaX=self.sigma, borderType=cv2.BORDER_REFLECT_101),
                    self.channels)


@lru_cache(maxsize=1)
def _normal_quantiles() -> np.ndarray:
    """The 65,536 quantiles of N(0, 1) at (i + 0.5) / 65,536: a uniform uint16 indexes a Gaussian draw."""
    inverse = NormalDist().inv_cdf
    table = np.array([inverse((i + 0.5) / 65536) for i in range(65536)], dtype=np.float32)
    table.setflags(write=False)
    return table


class SensorNoise(ImageTransform):
    """Per-pixel sensor noise, new at every step: Gaussian of ``std`` (in 0-255 units) plus, with
    probability ``salt_pepper``, pixels stuck at 0 or 255 (all channels; either with probability 1/2).
    Drawn from the reset-seeded generator.

    The Gaussian is drawn by inverse transform from random 16-bit integers through a table of
    quantiles (tails cut at 4.3 std), three times faster than ``standard_normal`` and, once rounded
    to 8 bits, indistinguishable from it."""

    name, random = "sensor_noise", True

    def __init__(self, env: gymnasium.Env, std: float = 8.0, salt_pepper: float = 0.0, seed: int = 0):
        _record(self, locals())
        _require(_scalar(std) and 0 <= std <= 255, "sensor_noise", "std", f"must be in [0, 255], got {std!r}")
        _require(_scalar(salt_pepper) and 0 <= salt_pepper <= 1, "sensor_noise", "salt_pepper",
                 f"must be a probability in [0, 1], got {salt_pepper!r}")
        self.std, self.salt_pepper = float(std), float(salt_pepper)
        self._table = _normal_quantiles() * np.float32(std)
        super().__init__(env, seed=seed)

    def observation(self, frame: np.ndarray) -> np.ndarray:
        out = frame
        if self.std:
            index = self.rng.integers(0, 65536, frame.shape, dtype=np.uint16)
            out = _hwc(cv2.add(frame, np.take(self._table, index), dtype=cv2.CV_8U), self.channels)
        if self.salt_pepper:  # each pixel stuck with probability p: a binomial count, then which pixels
            pixels = self.height * self.width
            stuck = self.rng.choice(pixels, self.rng.binomial(pixels, self.salt_pepper), replace=False)
            out = out.copy() if out is frame else out
            out.reshape(pixels, -1)[stuck] = np.where(self.rng.random(len(stuck)) < 0.5, 0, 255)[:, None]
        return out


# -- registry and specs ----------------------------------------------------------------------------
WRAPPERS: Registry[tuple[Callable[..., gymnasium.Env], str]] = Registry(
    "wrapper", error=WrapperError, hint="docs/wrappers.md describes each with its parameters.",
    aliases={"greyscale": "grayscale", "color_jitter": "colour_jitter"})  # both spellings work


def register_wrapper(name: str, factory: Callable[..., gymnasium.Env], description: str) -> None:
    """Make ``factory(env, **kwargs)`` available to specs as ``{"name": name, **kwargs}``."""
    WRAPPERS.add(name, (factory, description))


def known_wrappers() -> dict[str, str]:
    """Every registered wrapper name with its one-line description."""
    return {name: description for name, (_, description) in WRAPPERS.items()}


def _entry(entry: str | Mapping[str, Any]) -> tuple[str, dict]:
    """A spec entry, ``"name"`` or ``{"name": ..., **kwargs}``, as (registered name, kwargs), checked."""
    if isinstance(entry, str):
        name, kwargs = entry, {}
    elif isinstance(entry, Mapping) and "name" in entry:
        kwargs = dict(entry)
        name = kwargs.pop("name")
    else:
        raise WrapperError(f"a wrapper spec entry is a name or a mapping with a 'name' key "
                           f"(e.g. {{\"name\": \"blur\", \"sigma\": 1.0}}), got {entry!r}")
    name = WRAPPERS.check(name)
    params = inspect.signature(WRAPPERS.get(name)[0]).parameters
    accepted = [p for p in list(params)[1:] if params[p].kind not in (params[p].VAR_POSITIONAL, params[p].VAR_KEYWORD)]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        raise WrapperError(f"wrapper {name!r} has no parameter {unknown[0]!r}; its parameters: "
                           + (", ".join(f"{p}={params[p].default!r}" if params[p].default is not params[p].empty
                                        else p for p in accepted) or "none"))
    return name, kwargs


def check_spec(spec: Sequence) -> list[tuple[str, dict]]:
    """Validate a wrapper list without an env (names and parameter names); return it as (name, kwargs) pairs.

    Values are checked when :func:`apply_wrappers` builds the wrappers, since some depend on the frames."""
    if isinstance(spec, (str, Mapping)) or not isinstance(spec, Sequence):
        raise WrapperError(f"a wrapper spec is a list of entries, got {type(spec).__name__}: {spec!r}")
    return [_entry(entry) for entry in spec]


def apply_wrappers(env: gymnasium.Env, spec: Sequence) -> gymnasium.Env:
    """Wrap ``env`` with each entry of ``spec`` in order (the first entry is innermost).

    ``spec`` is a list of names or ``{"name": ..., **kwargs}`` mappings, e.g.
    ``[{"name": "resize", "size": 64}, {"name": "hue_rotate", "degrees": 90}, "grayscale"]``."""
    for position, (name, kwargs) in enumerate(check_spec(spec)):
        try:
            env = WRAPPERS.get(name)[0](env, **kwargs)
        except WrapperError as e:
            raise WrapperError(f"{e} (spec entry {position})") from e
        except (TypeError, ValueError) as e:
            raise WrapperError(f"wrapper {name!r} (spec entry {position}) rejected its parameters {kwargs}: {e}") from e
    return env


for _name, _factory, _description in (
        ("pixels", pixels, "observe env.render() frames (state-based envs from pixels; needs render_mode='rgb_array')"),
        ("resize", Resize, "optional crop ('centre' or a box), then resize to size (multiples of 16)"),
        ("grayscale", Grayscale, "RGB to luma, keeping a channel axis: (H, W, 1)"),
        ("frame_skip", FrameSkip, "repeat each action skip times, summing rewards"),
        ("frame_stack", FrameStack, "the last k observations, oldest first: (k, H, W, C) or (H, W, k*C)"),
        ("hue_rotate", HueRotate, "rotate every hue by degrees (deterministic)"),
        ("colour_jitter", ColourJitter, "random brightness, contrast, saturation and hue per episode or per step"),
        ("brightness", Brightness, "gain * pixel + bias, optionally a random gain per episode"),
        ("lighting", Lighting, "a directional light ramp across the frame, fixed or random direction"),
        ("background", Background, "procedural texture (noise, checker, stripes) on pixels of a colour or a mask"),
        ("blur", Blur, "Gaussian blur of sigma pixels (deterministic)"),
        ("sensor_noise", SensorNoise, "Gaussian and salt-and-pepper pixel noise, new every step")):
    register_wrapper(_name, _factory, _description)
