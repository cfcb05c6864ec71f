"""Seeds derived from seeds: every random draw in the library is keyed, never sequential.

``derive_seed(seed, *keys)`` hashes the text ``"seed:key1:key2:..."`` (each part through ``str``)
with BLAKE2b (8-byte digest, read little-endian) and drops the lowest bit, giving a 63-bit
non-negative integer that fits a ``torch.Generator``.  A draw is thus named by its purpose and
position, e.g. ``derive_seed(seed, j)`` for scene ``j`` or ``derive_seed(seed, "batch", i)`` for
training batch ``i``: it does not depend on what was drawn before it, so a batch, a scene or a run
resumed half-way is reproduced exactly on any device.
"""

from __future__ import annotations

import hashlib

__all__ = ["derive_seed"]


def derive_seed(seed: int, *keys) -> int:
    """A 63-bit seed derived deterministically (BLAKE2b) from ``seed`` and ``keys``."""
    text = ":".join(str(k) for k in (int(seed), *keys)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1
