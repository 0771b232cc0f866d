"""Frames in, tensors out: the one uint8 → float conversion, frame checks, batch order, occlusion.

Frames stay uint8 [N, H, W, C] in memory (a 20k-frame 64×64 RGB dataset is 245 MB, four times
less than as float32) and become float32 NCHW in [0, 1] one batch at a time, in :func:`to_model_input`,
which training and :meth:`vision.Encoder.encode` both use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

import numpy as np
import torch

from vision.errors import FrameShapeError

if TYPE_CHECKING:
    import h5py

#: uint8 frames [N, H, W, C]: a numpy array, or an h5py dataset read in slices.
Frames = Union[np.ndarray, "h5py.Dataset"]

#: every network halves the resolution four times
DOWNSAMPLE = 16


def to_model_input(frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 [n, H, W, C] → float32 [n, C, H, W] in [0, 1] on ``device``.

    The uint8 array crosses to the device first (4× less to copy), then is converted there.
    """
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device, non_blocking=True)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def to_frames(x: torch.Tensor) -> np.ndarray:
    """float [n, C, H, W] in [0, 1] → uint8 [n, H, W, C] (for images)."""
    return (x.detach().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())


def check_frames(frames: object, what: str = "frames") -> tuple[int, int, int]:
    """Check frames are uint8 [N, H, W, C] with H and W multiples of 16; return (H, W, C)."""
    shape = tuple(getattr(frames, "shape", ()))
    dtype = getattr(frames, "dtype", None)
    if len(shape) != 4:
        raise FrameShapeError(f"{what} must be a uint8 array [N, H, W, C], got shape {shape}; "
                              "add a channel axis to greyscale frames (frames[..., None])")
    if dtype != np.uint8:
        raise FrameShapeError(f"{what} must be uint8 as environments emit them, got {dtype}; "
                              "convert floats in [0, 1] with (x * 255).round().astype(np.uint8)")
    n, h, w, c = shape
    if n == 0:
        raise FrameShapeError(f"{what} is empty; collect frames first (`darla collect`)")
    if h < DOWNSAMPLE or w < DOWNSAMPLE or h % DOWNSAMPLE or w % DOWNSAMPLE:
        raise FrameShapeError(f"frame shape {h}×{w}×{c} does not fit the networks: height and width "
                              f"must be multiples of {DOWNSAMPLE} (four stride-2 layers); resize the "
                              "frames, e.g. collect at 64×64")
    if c > 16:
        raise FrameShapeError(f"frame shape {h}×{w}×{c} has {c} channels; frames must be HWC "
                              "(channels last), transpose NCHW arrays with x.transpose(0, 2, 3, 1)")
    return h, w, c


def as_uint8_array(frames: Frames) -> np.ndarray:
    """A uint8 numpy array of the frames, reading an h5py dataset into memory chunk by chunk.

    Random minibatches from an lzf-compressed HDF5 file would decompress a chunk per frame, so
    the dataset is read once, sequentially, and kept as uint8.
    """
    if isinstance(frames, np.ndarray):
        return frames
    out = np.empty(frames.shape, dtype=np.uint8)
    step = 4096
    for start in range(0, len(out), step):
        out[start:start + step] = frames[start:start + step]
    return out


def batch_indices(seed: int, step: int, num_frames: int, batch_size: int) -> np.ndarray:
    """Frame indices of minibatch ``step``: a function of (seed, step) only, so a resumed run reads
    exactly the batches an uninterrupted one would. Epochs are permutations seeded by (seed, epoch);
    the last partial batch of an epoch is dropped."""
    batch_size = min(batch_size, num_frames)
    per_epoch = num_frames // batch_size
    epoch, j = divmod(step, per_epoch)
    order = _permutation(seed, epoch, num_frames)
    return order[j * batch_size:(j + 1) * batch_size]


_PERM_CACHE: dict[tuple[int, int, int], np.ndarray] = {}


def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    key = (seed, epoch, n)
    if key not in _PERM_CACHE:
        _PERM_CACHE.clear()  # one epoch's order at a time
        _PERM_CACHE[key] = np.random.default_rng([seed, epoch]).permutation(n)
    return _PERM_CACHE[key]


def step_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    """The torch generator for step ``step``'s noise (reparameterisation, occlusion): seeded from
    (seed, step), so the noise of a step does not depend on how many steps ran before in this process."""
    gen = torch.Generator(device=device)
    gen.manual_seed((seed * 1_000_003 + step * 7_919 + 12_345) % (2 ** 63))
    return gen


def occlusion_mask(n: int, height: int, width: int, generator: torch.Generator,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """bool [n, H, W], True inside one random rectangle per frame.

    DARLA's DAE occlusion: two corners drawn uniformly over the width and the height (integer
    edges in [0, W] and [0, H]); the rectangle spans [min, max) on each axis, so a pixel column x
    is covered with probability 2 (x + 1)(W − x) / (W + 1)². Equal draws give an empty rectangle.
    """
    xs = torch.randint(0, width + 1, (n, 2), generator=generator, device=device)
    ys = torch.randint(0, height + 1, (n, 2), generator=generator, device=device)
    cols = torch.arange(width, device=device)
    rows = torch.arange(height, device=device)
    in_x = (cols >= xs.min(1).values[:, None]) & (cols < xs.max(1).values[:, None])
    in_y = (rows >= ys.min(1).values[:, None]) & (rows < ys.max(1).values[:, None])
    return in_y[:, :, None] & in_x[:, None, :]


def occlude(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Zero one random rectangle in each frame of float [n, C, H, W]."""
    n, _, h, w = x.shape
    keep = ~occlusion_mask(n, h, w, generator, x.device)
    return x * keep[:, None].to(x.dtype)
