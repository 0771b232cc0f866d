"""Files on disk, the same way everywhere: atomic writes, one PNG writer, the toolkit's version,
content digests.

It sits at the bottom of the import graph (it imports none of darla, envs, vision, agents or
eval), so every layer writes and checks its files through it instead of keeping its own copy.
"""

from artifacts.atomic import (atomic_path, remove_temporaries, temporary_folder, write_bytes_atomic,
                              write_json_atomic, write_png, write_text_atomic)
from artifacts.digest import ArrayDigest, differing, digest_arrays, file_sha256
from artifacts.version import package_version

__all__ = ["ArrayDigest", "atomic_path", "differing", "digest_arrays", "file_sha256", "package_version",
           "remove_temporaries", "temporary_folder", "write_bytes_atomic", "write_json_atomic", "write_png", "write_text_atomic"]
