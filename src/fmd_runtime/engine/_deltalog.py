"""Engine-neutral readings of Delta log content (the protocol's encodings), shared by both adapters.

Pure functions over values the log stores (no pyspark, no deltalake): both adapters list
deletion-vector files from add actions they read their own way.

Example:
    >>> deletion_vector_file("p", "s3://b/t/dv.bin")
    's3://b/t/dv.bin'
"""

from __future__ import annotations

import uuid

_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def _z85_decode(text: str) -> bytes:
    """Z85 (ZeroMQ base-85) text to bytes: how Delta encodes a deletion vector's UUID."""
    out = bytearray()
    for i in range(0, len(text), 5):
        acc = 0
        for ch in text[i : i + 5]:
            acc = acc * 85 + _Z85.index(ch)
        out += acc.to_bytes(4, "big")
    return bytes(out)


def deletion_vector_file(storage_type: str | None, path_or_inline: str | None) -> str | None:
    """Relative path (or absolute URI) of a deletion-vector file, per the Delta protocol.

    ``u``: a z85-encoded UUID (with an optional folder prefix) -> ``<prefix>/deletion_vector_<uuid>.bin``;
    ``p``: an absolute path; ``i``: inline, no file.

    Example:
        >>> deletion_vector_file("i", "abc") is None
        True
    """
    if storage_type == "u" and path_or_inline:
        prefix, encoded = path_or_inline[:-20], path_or_inline[-20:]
        name = f"deletion_vector_{uuid.UUID(bytes=_z85_decode(encoded))}.bin"
        return f"{prefix}/{name}" if prefix else name
    if storage_type == "p" and path_or_inline:
        return path_or_inline
    return None


__all__ = ["deletion_vector_file"]
