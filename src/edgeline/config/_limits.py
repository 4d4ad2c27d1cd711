"""Workers KV's limits on keys and values, checked before anything is decoded.

Kept apart from the decoder so that code on the request path (the plane)
can check them without importing msgspec.
"""

from __future__ import annotations

from typing import Final

from ._errors import ConfigInvalid, Problem

__all__ = ["MAX_KEY_BYTES", "MAX_VALUE_BYTES", "check_key", "check_value_size"]

MAX_KEY_BYTES: Final = 512
MAX_VALUE_BYTES: Final = 25 * 1024 * 1024

def check_key(key: str) -> None:
    """Raise ConfigInvalid if ``key`` is not a valid Workers KV key."""
    size = len(key.encode("utf-8", "surrogatepass"))
    if not key or key in (".", ".."):
        raise ConfigInvalid([Problem("key", f"{key!r} is not a valid KV key name")])
    if size > MAX_KEY_BYTES:
        raise ConfigInvalid([Problem(
            "key", f"KV key is {size} bytes; Workers KV allows at most {MAX_KEY_BYTES}")])


def _size(data: bytes | str) -> int:
    if isinstance(data, bytes):
        return len(data)
    # PERF: a str holds at most 4 UTF-8 bytes a character; encode only near the limit.
    if len(data) * 4 <= MAX_VALUE_BYTES:
        return len(data)
    return len(data.encode("utf-8", "surrogatepass"))


def check_value_size(data: bytes | str, *, source: str | None = None) -> None:
    """Raise ConfigInvalid if ``data`` is over Workers KV's value size limit."""
    if isinstance(data, str) and len(data) * 4 <= MAX_VALUE_BYTES:
        return
    size = _size(data)
    if size > MAX_VALUE_BYTES:
        raise ConfigInvalid([Problem(
            "$", f"value is {size} bytes; Workers KV values are at most {MAX_VALUE_BYTES} "
            "bytes (25 MiB)")], source=source)
