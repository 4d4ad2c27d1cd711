"""Give emulated bindings the Python shapes that the Workers SDK hands to worker code.

On Cloudflare, a binding call returns a JS value that the SDK (``workers`` package,
``rpc.python_from_rpc``) converts for Python: plain objects become ``JsDict`` (a dict
that also allows ``d.name``), arrays become lists, ``Map`` becomes a dict, ``null``
becomes ``None``, numbers follow Pyodide's rules, and some objects (``ReadableStream``,
typed arrays) stay JS proxies. The emulator builds those shapes directly with the
helpers here, so worker code sees the same types locally and in production.

Only what the emulated KV needs lives here; the stream stand-in is deliberately
tiny (``getReader().read()``, ``releaseLock()``, ``async for``), not a full WHATWG
``ReadableStream``.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

__all__ = [
    "ByteStream",
    "ByteStreamReader",
    "JsDict",
    "ReadResult",
    "Uint8ArrayChunk",
    "js_json_parse",
    "js_string",
    "to_py_shape",
]

# NOTE: Pyodide converts a JS number to int only when it is integral and within
# +-2**53 (docs/usage/type-conversions.md, "JavaScript to Python").
_MAX_SAFE = 2**53

# PERF: 64 KiB matches the chunk size workerd streams use for system streams; the
# exact size is not observable through the API, only that chunks arrive in order.
STREAM_CHUNK_SIZE = 64 * 1024


class JsDict(dict[str, Any]):
    """Hold a converted plain JS object: a dict whose keys are also attributes.

    Mirrors ``workers.rpc.JsDict``: keys that collide with dict methods (``keys``,
    ``values``, ``items``...) are reachable only by subscript, exactly as in the SDK.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def to_py_shape(value: Any) -> Any:
    """Convert parsed JSON data to the shapes ``python_from_rpc`` produces.

    Dicts (at any depth) become ``JsDict``; lists stay lists; scalars are unchanged.
    """
    if isinstance(value, dict):
        return JsDict({k: to_py_shape(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_py_shape(v) for v in value]
    return value


def _parse_int(text: str) -> int | float:
    number = int(text)
    # A JSON integer beyond 2**53 is a lossy double in JS, and Pyodide hands it
    # over as a float; keep that loss visible locally.
    return number if -_MAX_SAFE <= number <= _MAX_SAFE else float(number)


def _parse_float(text: str) -> int | float:
    number = float(text)
    if number.is_integer() and -_MAX_SAFE <= number <= _MAX_SAFE:
        # JSON.parse("1.0") is the JS number 1, which Pyodide converts to int.
        return int(number)
    return number


def _reject_constant(text: str) -> Any:
    # Python's json accepts NaN/Infinity; JSON.parse does not.
    raise ValueError(f"Unexpected token '{text[0]}', \"{text}\" is not valid JSON")


def js_json_parse(text: str) -> Any:
    """Parse JSON as ``JSON.parse`` would, then convert like the SDK does.

    Raises ``ValueError`` (``json.JSONDecodeError``) on invalid JSON.
    """
    return to_py_shape(
        json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
    )


def js_string(value: Any) -> str:
    """Coerce a Python primitive the way ``String(x)`` coerces its JS conversion.

    Raises ``TypeError`` for anything that is not ``None``, bool, int, float or str.
    """
    if isinstance(value, str):
        return value
    if value is None:
        # The SDK sends None as JS null, and String(null) is "null".
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    raise TypeError(f"cannot coerce {type(value).__name__} to a JS string")


class Uint8ArrayChunk:
    """Stand in for the ``Uint8Array`` JsProxy a stream read yields under Pyodide."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def byteLength(self) -> int:
        """Return the chunk's size in bytes."""
        return len(self._data)

    @property
    def length(self) -> int:
        """Return the element count (bytes, for a Uint8Array)."""
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_bytes(self) -> bytes:
        """Copy the chunk into ``bytes`` (``JsBuffer.to_bytes``)."""
        return self._data

    def to_memoryview(self) -> memoryview:
        """Copy the chunk into a writable ``memoryview`` (``JsBuffer.to_memoryview``)."""
        return memoryview(bytearray(self._data))

    def to_py(self) -> memoryview:
        """Convert the chunk as ``JsProxy.to_py`` does for typed arrays: a memoryview."""
        return self.to_memoryview()

    def __repr__(self) -> str:
        return f"Uint8ArrayChunk({len(self._data)} bytes)"


class ReadResult:
    """Hold one ``reader.read()`` result: ``done`` and ``value``.

    NOTE: under Pyodide this is a JsProxy of a plain object, which supports
    ``r.done`` but not ``r["done"]``; this class keeps the same limits so code that
    subscripts it fails locally too.
    """

    __slots__ = ("done", "value")

    def __init__(self, done: bool, value: Uint8ArrayChunk | None) -> None:
        self.done = done
        self.value = value

    def __repr__(self) -> str:
        return f"ReadResult(done={self.done!r}, value={self.value!r})"


class ByteStream:
    """Stand in for a ``ReadableStream`` of bytes held fully in memory.

    Supports ``getReader()``, ``locked`` and ``async for chunk in stream``; each
    chunk is a ``Uint8ArrayChunk``. A stream can be consumed once, as in JS.
    """

    __slots__ = ("_data", "_offset", "_reader")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0
        self._reader: ByteStreamReader | None = None

    @property
    def locked(self) -> bool:
        """Return whether a reader currently holds the stream."""
        return self._reader is not None

    def getReader(self) -> ByteStreamReader:
        """Lock the stream to a new reader, as ``ReadableStream.getReader()`` does."""
        if self._reader is not None:
            raise TypeError("ReadableStream is currently locked to a reader")
        self._reader = ByteStreamReader(self)
        return self._reader

    def _next_chunk(self) -> bytes | None:
        if self._offset >= len(self._data):
            return None
        chunk = self._data[self._offset : self._offset + STREAM_CHUNK_SIZE]
        self._offset += len(chunk)
        return chunk

    def _release(self, reader: ByteStreamReader) -> None:
        if self._reader is reader:
            self._reader = None

    async def __aiter__(self) -> AsyncIterator[Uint8ArrayChunk]:
        reader = self.getReader()
        try:
            while True:
                result = await reader.read()
                if result.done or result.value is None:
                    return
                yield result.value
        finally:
            reader.releaseLock()

    def __repr__(self) -> str:
        return f"ByteStream({len(self._data)} bytes, offset={self._offset})"


class ByteStreamReader:
    """Read a ``ByteStream`` chunk by chunk (``ReadableStreamDefaultReader``)."""

    __slots__ = ("_stream",)

    def __init__(self, stream: ByteStream) -> None:
        self._stream: ByteStream | None = stream

    async def read(self) -> ReadResult:
        """Return the next chunk, or ``done=True`` with ``value=None`` at the end."""
        if self._stream is None:
            raise TypeError("This ReadableStreamDefaultReader has been released")
        chunk = self._stream._next_chunk()
        if chunk is None:
            return ReadResult(True, None)
        return ReadResult(False, Uint8ArrayChunk(chunk))

    def releaseLock(self) -> None:
        """Unlock the stream so another reader can take it."""
        if self._stream is not None:
            self._stream._release(self)
            self._stream = None
