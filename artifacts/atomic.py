"""Atomic writes: a temporary file in the target's folder, renamed over the target when complete,
so a crash or ``kill -9`` never leaves a half-written file under a real name, only (at worst) a
hidden ``.NAME.*.tmp`` that the next successful write of the same folder does not read."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder to write; when the block succeeds it replaces
    ``path`` (``os.replace``, atomic on one file system) with the usual permissions (mkstemp's 0600
    would hide results from other users); when it fails the temporary file is deleted."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data: Any, indent: int | None = 2) -> Path:
    """``data`` as JSON; values JSON cannot hold (paths, numpy scalars) are written as strings."""
    return write_text_atomic(path, json.dumps(data, indent=indent, default=str))


@contextlib.contextmanager
def temporary_folder(parent: str | os.PathLike, prefix: str = ".saving.") -> Iterator[Path]:
    """A hidden scratch folder inside ``parent`` (same file system, so its files can be
    ``os.replace``-d into place one by one), removed with whatever is left in it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete what writers killed mid-write left anywhere below ``folder`` (``.NAME.*.tmp`` files of
    :func:`atomic_path`, ``.saving.*`` folders of :func:`temporary_folder`); returns them. Only for
    a folder nobody writes to meanwhile (a run directory whose lock is held)."""
    found = [p for p in Path(folder).rglob(".*") if (p.is_file() and p.name.endswith(".tmp"))
             or (p.is_dir() and p.name.startswith(".saving."))]
    for path in found:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return found


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an RGB (or single-channel) uint8 image [H, W, C] as a PNG, atomically."""
    import cv2

    path = Path(path)
    if not path.resolve().parent.is_dir():
        raise FileNotFoundError(f"output folder {path.resolve().parent} does not exist; create it or choose "
                                "another path")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"a PNG is written from uint8 [H, W] or [H, W, C] pixels, got {image.dtype} {image.shape}")
    if image.ndim == 3 and image.shape[2] == 3:
        image = image[..., ::-1]  # OpenCV writes BGR
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise ValueError(f"could not encode {path.name} as PNG")
    return write_bytes_atomic(path, data.tobytes())
