"""``Blob`` and ``File``, holding their bytes in memory."""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from ._web import JsBuffer

BlobValue = "str | bytes | js.ArrayBuffer | js.TypedArray | js.DataView | js.Blob | Blob | File"


class BlobEnding(StrEnum):
    TRANSPARENT = "transparent"
    NATIVE = "native"


def _part_bytes(part: Any) -> bytes:
    if isinstance(part, str):
        return part.encode()
    if isinstance(part, Blob):
        return part._data
    if isinstance(part, JsBuffer):
        return part.to_bytes()
    try:
        return bytes(memoryview(part))
    except TypeError:
        raise TypeError(f"Don't know how to handle {type(part)} for Blob()") from None


def _is_iterable(obj: Any) -> bool:
    if isinstance(obj, (str, bytes, bytearray, memoryview, Blob, JsBuffer)):
        return False
    try:
        iter(obj)
    except TypeError:
        return False
    return True


class Blob:
    """Immutable bytes with a content type."""

    def __init__(
        self,
        blob_parts: Iterable[Any] | Any,
        content_type: str | None = None,
        endings: BlobEnding | str | None = None,
    ) -> None:
        if not _is_iterable(blob_parts):
            if not content_type and isinstance(blob_parts, Blob):
                content_type = blob_parts.content_type
            blob_parts = [blob_parts]
        self._data = b"".join(_part_bytes(p) for p in blob_parts)
        self._type = (content_type or "").lower()

    @property
    def size(self) -> int:
        return len(self._data)

    @property
    def content_type(self) -> str:
        return self._type

    @property
    def js_object(self) -> Blob:
        return self

    async def text(self) -> str:
        return self._data.decode("utf-8", errors="replace")

    async def bytes(self) -> bytes:
        return self._data

    def slice(self, start: int | None = None, end: int | None = None,
              content_type: str | None = None) -> Blob:
        return Blob([self._data[start:end]], content_type)


class File(Blob):
    """A ``Blob`` with a file name and modification time."""

    def __init__(
        self,
        blob_parts: Iterable[Any] | Any,
        filename: str,
        content_type: str | None = None,
        endings: BlobEnding | str | None = None,
        last_modified: int | None = None,
    ) -> None:
        super().__init__(blob_parts, content_type, endings)
        if not last_modified and isinstance(blob_parts, File):
            last_modified = blob_parts.last_modified
        self._name = filename
        self._last_modified = last_modified if last_modified is not None else int(time.time() * 1000)

    @property
    def name(self) -> str:
        return self._name

    @property
    def last_modified(self) -> int:
        return self._last_modified
