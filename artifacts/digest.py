"""Content digests: sha256 over arrays (what a dataset or checkpoint holds) or over a file's bytes.

An array digest is computed as the data are written, part by part and chunk by chunk, and
checked against the data as they are read back, so it is independent of how a file format stores
or compresses them: the same frames give the same digest in any HDF5 layout, the same weights in
any torch version's zip. Each named part (``frames``, one tensor) keeps its own digest, so a
mismatch names what differs.
"""

from __future__ import annotations

import hashlib
import os
from typing import Iterable, Mapping

import numpy as np
from numpy.typing import ArrayLike


class ArrayDigest:
    """sha256 of named arrays fed in a fixed order of ``names``; each part may arrive in row chunks
    (``update`` the same name again to append rows), and the result does not depend on the chunking."""

    def __init__(self, names: Iterable[str]):
        self.names = list(names)
        self._hash = {name: hashlib.sha256() for name in self.names}
        self._layout: dict[str, tuple[str, tuple[int, ...]]] = {}
        self._rows = dict.fromkeys(self.names, 0)

    def update(self, name: str, array: ArrayLike) -> None:
        array = np.ascontiguousarray(array)
        if array.ndim == 0:
            array = array.reshape(1)
        layout = (array.dtype.str, tuple(array.shape[1:]))
        if self._layout.setdefault(name, layout) != layout:
            raise ValueError(f"part {name!r} changed layout from {self._layout[name]} to {layout}")
        self._hash[name].update(array.view(np.uint8).reshape(-1).data if array.size else b"")
        self._rows[name] += len(array)

    def parts(self) -> dict[str, str]:
        """Each part's own digest: dtype, row shape and row count, then the bytes."""
        out = {}
        for name in self.names:
            dtype, shape = self._layout.get(name, ("", ()))
            head = f"{dtype}|{','.join(map(str, shape))}|{self._rows[name]}|".encode()
            out[name] = hashlib.sha256(head + self._hash[name].digest()).hexdigest()
        return out

    def hexdigest(self) -> str:
        """One digest over every part, in the order of ``names``."""
        return hashlib.sha256("".join(f"{n}={d};" for n, d in self.parts().items()).encode()).hexdigest()


def digest_arrays(arrays: Mapping[str, ArrayLike]) -> ArrayDigest:
    """The digest of a mapping of whole arrays, taken in sorted name order."""
    digest = ArrayDigest(sorted(arrays))
    for name in digest.names:
        digest.update(name, arrays[name])
    return digest


def differing(recorded: Mapping[str, str | None], actual: Mapping[str, str | None]) -> list[str]:
    """Names whose digests differ, or that only one side has."""
    return sorted(n for n in set(recorded) | set(actual) if recorded.get(n) != actual.get(n))


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (for files whose every byte matters, such as safetensors weights)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
