"""Frame datasets on disk: chunked HDF5 files of uint8 frames with their ground-truth factors.

Layout of a file (one per collection)::

    /frames   uint8[N, H, W, C]   chunked by 256 frames, lzf-compressed (flat-shaded frames shrink ~10x)
    /factors  int64[N, K]         factor indices, columns named by attrs["factor_names"]
    /domain   int8[N]             index into attrs["domain_names"] of the domain holding each frame (-1: none)
    attrs     env_id, factor_names, factor_sizes, domain_names, domain (the one collected from),
              seed, policy, darla_version, num_frames, complete,
              digest, digests   sha256 of frames, factors and domain (in that order) and of each,
                                computed from the arrays as they were written
              origin            JSON: env_id, env_version, env_kwargs, domain, sampling, seed, policy,
                                darla_version: what the frames are of

HDF5 because it is chunked (100k frames never have to sit in memory), random-access (shuffled
minibatches read only the chunks they touch) and readable from any language. A file is written
under a temporary name and renamed only when complete, so an interrupted collection leaves no file.

Integrity: :class:`FrameDataset` recomputes the digest while opening a file and refuses one whose
arrays differ from what was written (flipped bytes, a damaged chunk), naming the arrays; callers
that know what the data must be of pass ``expect_origin`` and a file from another env or domain
is refused, naming what differs. A file written before digests existed (no ``digest`` attribute)
is refused too, since nothing can show it is intact: ``darla digest FILE`` reads it through,
checks it and records its digest (its origin comes from its old attributes), or ``darla collect``
writes it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Iterator, Mapping

import h5py
import numpy as np

from artifacts import ArrayDigest, atomic_path, differing

CHUNK = 256
PARTS = {"frames": np.uint8, "factors": np.int64, "domain": np.int8}  # digested in this order
ORIGIN = ("env_id", "env_version", "env_kwargs", "domain", "sampling", "seed", "policy", "darla_version")


class DatasetError(ValueError):
    """A dataset file that is missing, incomplete, corrupt or from another environment."""


class DatasetWriter:
    """Writes ``num_frames`` frames in order; the file appears at ``path`` only after :meth:`close`.

    Use as a context manager: an exception inside the block deletes the temporary file.
    """

    def __init__(self, path: str | os.PathLike, num_frames: int, frame_shape: tuple[int, ...],
                 num_factors: int, attrs: Mapping[str, object]):
        self.path = Path(path)
        parent = self.path.resolve().parent
        if not parent.is_dir():
            raise FileNotFoundError(f"output folder {parent} does not exist; create it or choose another --out")
        if not os.access(parent, os.W_OK):
            raise PermissionError(f"cannot write to {parent}; choose a writable --out path")
        # the file is written under a temporary name that replaces ``path`` once closed complete
        self._target = contextlib.ExitStack()
        self._tmp = self._target.enter_context(atomic_path(self.path))
        self.num_frames = int(num_frames)
        self._file = h5py.File(self._tmp, "w")
        chunk = min(CHUNK, max(1, self.num_frames))
        self._frames = self._file.create_dataset("frames", (self.num_frames, *frame_shape), np.uint8,
                                                 chunks=(chunk, *frame_shape), compression="lzf")
        self._factors = self._file.create_dataset("factors", (self.num_frames, num_factors), np.int64)
        self._domain = self._file.create_dataset("domain", (self.num_frames,), np.int8)
        for key, value in attrs.items():
            if value is None:  # HDF5 attributes hold no null; the origin records it
                continue
            self._file.attrs[key] = json.dumps(value) if isinstance(value, (list, tuple, dict)) else value
        self._file.attrs["num_frames"] = self.num_frames
        self._file.attrs["complete"] = False
        self._file.attrs["origin"] = json.dumps({k: attrs.get(k) for k in ORIGIN})
        self._digest = ArrayDigest(PARTS)
        self.written = 0

    def write(self, frames: np.ndarray, factors: np.ndarray, domain: np.ndarray) -> None:
        end = self.written + len(frames)
        if end > self.num_frames:
            raise ValueError(f"writing past the {self.num_frames} frames this file was created for")
        arrays = {name: np.asarray(a, dtype) for (name, dtype), a in zip(PARTS.items(), (frames, factors, domain))}
        self._frames[self.written:end] = arrays["frames"]
        self._factors[self.written:end] = arrays["factors"]
        self._domain[self.written:end] = arrays["domain"]
        for name, array in arrays.items():  # as written: the digest never needs a second pass
            self._digest.update(name, array)
        self.written = end

    def close(self) -> Path:
        if self.written != self.num_frames:
            self.abort()
            raise RuntimeError(f"only {self.written} of {self.num_frames} frames written; no file kept")
        self._file.attrs["digest"] = self._digest.hexdigest()
        self._file.attrs["digests"] = json.dumps(self._digest.parts())
        self._file.attrs["complete"] = True
        self._file.close()
        self._target.close()
        return self.path

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            aborted = RuntimeError("dataset not completed")
            self._target.__exit__(RuntimeError, aborted, None)  # deletes the temporary file

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class FrameDataset:
    """A collected dataset, read lazily. ``frames`` and ``factors`` index like arrays (h5py datasets).

    Opening checks the file's digest (one pass over it; ``verify=False`` checks only its header, for
    a caller that reads no frames) and, with ``expect_origin`` (a subset of :data:`ORIGIN` keys),
    what it was collected from. ``allow_undigested`` opens a file written before digests: only
    :func:`add_digest` does, to give it one."""

    def __init__(self, path: str | os.PathLike, expect_env: str | None = None, *, verify: bool = True,
                 expect_origin: Mapping[str, object] | None = None, allow_undigested: bool = False):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no dataset at {self.path}; create one with "
                                    f"`darla collect ENV_ID --frames N --out {self.path}`")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as err:
            raise DatasetError(f"{self.path} is not a readable HDF5 dataset (truncated or corrupt: {err}); "
                               "collect it again with `darla collect`") from None
        attrs = self._file.attrs
        missing = [k for k in ("frames", "factors", "domain") if k not in self._file]
        if missing or not bool(attrs.get("complete", False)):
            self._file.close()
            raise DatasetError(f"{self.path} is incomplete (missing {missing or 'the completion mark'}); "
                               "collect it again with `darla collect`")
        self.frames: h5py.Dataset = self._file["frames"]
        self.factors: h5py.Dataset = self._file["factors"]
        self.domain: h5py.Dataset = self._file["domain"]
        self.meta = {k: _decode(v) for k, v in attrs.items()}
        if len(self.frames) != self.meta["num_frames"] or len(self.factors) != len(self.frames):
            self._file.close()
            raise DatasetError(f"{self.path} holds {len(self.frames)} frames but says {self.meta['num_frames']}; "
                               "collect it again")
        if expect_env is not None and self.env_id != expect_env:
            self._file.close()
            raise DatasetError(f"{self.path} was collected from {self.env_id!r}, not {expect_env!r}; "
                               f"collect a dataset from {expect_env!r} or pass the matching env")
        self.digest: str | None = self.meta.get("digest")
        try:
            if self.digest is None and not allow_undigested:
                raise DatasetError(f"{self.path} was written by a darla version before datasets recorded a content "
                                   "digest, so nothing shows its frames are intact; run `darla digest "
                                   f"{self.path}` to check it and record one, or collect it again with "
                                   f"`darla collect {self.env_id} --frames {len(self.frames)} --out {self.path}`")
            if expect_origin:
                self.check_origin(expect_origin)
            if verify and self.digest is not None:
                self.verify()
        except BaseException:
            self._file.close()
            raise

    @property
    def origin(self) -> dict:
        """What the frames are of (:data:`ORIGIN`); for a file from before digests, from its attributes."""
        origin = self.meta.get("origin")
        return dict(origin) if isinstance(origin, dict) else {k: self.meta.get(k) for k in ORIGIN}

    def check_origin(self, expected: Mapping[str, object]) -> None:
        """Refuse a file collected from anything but ``expected``, naming each difference. A key the
        file does not record (``env_version`` before digests) is not compared."""
        origin = self.origin
        wrong = [f"{key} {origin[key]!r} (expected {value!r})" for key, value in expected.items()
                 if origin.get(key) is not None and origin[key] != value]
        if wrong:
            raise DatasetError(f"{self.path} is not the dataset expected here: it was collected with "
                               f"{'; '.join(wrong)}")

    def verify(self) -> None:
        """Recompute the digest of every array and refuse a file that differs from what was written."""
        recorded = self.meta.get("digests") or {}
        try:
            actual = _digest(self._file)
        except OSError as err:  # a chunk h5py cannot decompress
            raise DatasetError(f"{self.path} is damaged: an array cannot be read ({str(err).splitlines()[0]}); "
                               "collect it again with `darla collect`") from None
        wrong = differing(recorded, actual.parts())
        if wrong or actual.hexdigest() != self.digest:
            raise DatasetError(f"{self.path} does not match the digest recorded when it was written: its "
                               f"{', '.join(wrong) or 'digest'} differ (changed or damaged since); restore the "
                               "file or collect it again with `darla collect`")

    def provenance(self) -> dict:
        """What a model trained on these frames records about them: the file's name, digest and origin."""
        return {"dataset": self.path.name, "digest": self.digest, **self.origin}

    @property
    def env_id(self) -> str:
        return self.meta["env_id"]

    @property
    def factor_names(self) -> list[str]:
        return list(self.meta["factor_names"])

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return tuple(self.frames.shape[1:])

    def __len__(self) -> int:
        return len(self.frames)

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """All frames (uint8) and factors (int64) in memory."""
        return self.frames[:], self.factors[:]

    def iter_batches(self, batch_size: int, shuffle: bool = False,
                     rng: np.random.Generator | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(frames, factors)`` batches. Shuffling permutes whole chunks, then frames within a window
        of chunks, so each read stays contiguous on disk."""
        n = len(self)
        if not shuffle:
            for start in range(0, n, batch_size):
                yield self.frames[start:start + batch_size], self.factors[start:start + batch_size]
            return
        rng = rng or np.random.default_rng()
        chunk = self.frames.chunks[0] if self.frames.chunks else CHUNK
        starts = rng.permutation(np.arange(0, n, chunk))
        window = max(1, 4 * batch_size // chunk)
        for w in range(0, len(starts), window):
            spans = [(s, min(s + chunk, n)) for s in starts[w:w + window]]
            frames = np.concatenate([self.frames[a:b] for a, b in spans])
            factors = np.concatenate([self.factors[a:b] for a, b in spans])
            order = rng.permutation(len(frames))
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                yield frames[idx], factors[idx]

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "FrameDataset":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _digest(file: h5py.File) -> ArrayDigest:
    digest = ArrayDigest(PARTS)
    rows = CHUNK * 16
    for name in PARTS:
        data = file[name]
        for start in range(0, len(data), rows):
            digest.update(name, data[start:start + rows])
    return digest


def recorded_digest(path: str | os.PathLike) -> str | None:
    """The digest a dataset file records (None for one from before digests), read from its header
    only: what a stage fingerprint takes, so that a replaced file re-runs the stages reading it."""
    with h5py.File(path, "r") as file:
        digest = file.attrs.get("digest")
    return digest.decode() if isinstance(digest, bytes) else digest


def add_digest(path: str | os.PathLike) -> bool:
    """Give a dataset written before digests its digest and origin, once it reads through; False
    when it already has one (then verified). The rewrite goes to a copy renamed over the file."""
    path = Path(path)
    with FrameDataset(path, verify=False, allow_undigested=True) as ds:
        if ds.digest is not None:
            ds.verify()
            return False
        origin = ds.origin
        try:
            digest = _digest(ds._file)
        except OSError as err:
            raise DatasetError(f"{path} is damaged: an array cannot be read ({str(err).splitlines()[0]}); "
                               "collect it again with `darla collect`") from None
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as file:
            file.attrs["origin"] = json.dumps(origin)
            file.attrs["digests"] = json.dumps(digest.parts())
            file.attrs["digest"] = digest.hexdigest()
    return True


def _decode(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value
