"""The web platform objects the SDK wraps, modelled in Python for the emulator.

On Cloudflare the SDK's classes wrap JavaScript objects (``js.Request``,
``js.Response``, ``js.Headers``, ``ReadableStream``, ``ArrayBuffer``) reached
through Pyodide's ``JsProxy``. Here each has a small Python model with the
same JavaScript-side names (``bodyUsed``, ``getReader``, ``getSetCookie``),
so code that reaches through ``.js_object`` behaves as it does in workerd.

Only what the SDK and edgeline's adapter use is modelled. Differences from
workerd that a user can observe are listed in the README.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import re
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

__all__ = [
    "JsBuffer",
    "JsObject",
    "ReadResult",
    "ReadableStream",
    "WebHeaders",
    "WebRequest",
    "WebResponse",
]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


class _Constructor:
    """What ``obj.constructor`` gives in JavaScript: here only its ``name``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class JsObject:
    """A plain JavaScript object as Pyodide proxies it: attribute access and ``to_py()``.

    NOTE: like a real ``JsProxy`` it is not subscriptable; ``to_py()`` gives a dict.
    """

    constructor = _Constructor("Object")

    def __init__(self, fields: dict[str, Any]) -> None:
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._fields[name] = value

    def __dir__(self) -> Iterable[str]:
        return list(self._fields)

    def to_py(self) -> dict[str, Any]:
        return dict(self._fields)

    def as_object_map(self) -> dict[str, Any]:
        return dict(self._fields)

    def __repr__(self) -> str:
        return f"[object Object] {self._fields!r}"


class JsBuffer:
    """An ``ArrayBuffer`` or ``Uint8Array`` as Pyodide proxies it."""

    __slots__ = ("_data", "constructor")

    def __init__(self, data: bytes, kind: str = "Uint8Array") -> None:
        self._data = data
        self.constructor = _Constructor(kind)

    @property
    def byteLength(self) -> int:
        return len(self._data)

    @property
    def length(self) -> int:
        """The element count: bytes, for the byte arrays modelled here."""
        return len(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_bytes(self) -> bytes:
        return self._data

    def to_memoryview(self) -> memoryview:
        # Pyodide copies the buffer into Python memory: the view is writable.
        return memoryview(bytearray(self._data))

    def to_py(self) -> memoryview:
        return self.to_memoryview()

    def __repr__(self) -> str:
        return f"[object {self.constructor.name}] ({len(self._data)} bytes)"


class ReadResult:
    """What ``reader.read()`` resolves to: ``{done, value}``.

    NOTE: under Pyodide this is a JsProxy of a plain object: ``r.done`` works,
    ``r["done"]`` does not, and the same holds here.
    """

    __slots__ = ("done", "value")

    def __init__(self, done: bool, value: JsBuffer | None) -> None:
        self.done = done
        self.value = value


class TypeErrorJs(TypeError):
    """A JavaScript TypeError surfacing in Python (Pyodide raises JsException)."""


class ReadableStream:
    """A byte stream with the WHATWG reader API, fed by bytes or an async iterable."""

    constructor = _Constructor("ReadableStream")

    __slots__ = ("_source", "_pending", "_locked", "_disturbed", "_closed")

    def __init__(self, source: bytes | AsyncIterable[bytes]) -> None:
        # An empty body still makes a stream, one that closes without a chunk.
        self._pending: bytes | None = (source or None) if isinstance(source, bytes) else None
        self._source: AsyncIterator[bytes] | None = (
            None if isinstance(source, bytes) else aiter(source)
        )
        self._locked = False
        self._disturbed = False
        self._closed = False

    @property
    def locked(self) -> bool:
        return self._locked

    @classmethod
    def of_bytes(cls, data: bytes, chunk_size: int) -> ReadableStream:
        """Stream ``data`` in chunks of at most ``chunk_size`` bytes (a system stream)."""
        if len(data) <= chunk_size:
            return cls(data)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), chunk_size):
                yield data[start : start + chunk_size]

        return cls(chunks())

    def getReader(self) -> _Reader:
        if self._locked:
            raise TypeErrorJs("ReadableStream is locked to a reader")
        self._locked = True
        return _Reader(self)

    async def __aiter__(self) -> AsyncIterator[JsBuffer]:
        # ReadableStream is async-iterable in workerd; Pyodide yields the
        # Uint8Array chunks as buffers.
        reader = self.getReader()
        try:
            while (chunk := (await reader.read()).value) is not None:
                yield chunk
        finally:
            reader.releaseLock()

    async def _next(self) -> bytes | None:
        self._disturbed = True
        if self._closed:
            return None
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            if self._source is None:
                self._closed = True
            return chunk
        if self._source is None:
            self._closed = True
            return None
        try:
            while True:
                chunk = await anext(self._source)
                if chunk:
                    return bytes(chunk)
        except StopAsyncIteration:
            self._closed = True
            return None

    async def cancel(self, reason: Any = None) -> None:
        self._closed = True
        self._pending = None
        source, self._source = self._source, None
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()

    async def _read_all(self) -> bytes:
        if self._locked or self._disturbed:
            raise TypeErrorJs("Body has already been used. It can only be used once.")
        self._locked = True
        if self._source is None:
            data = self._pending or b""
            self._pending = None
            self._closed = True
            self._disturbed = True
            return data
        chunks = []
        while (chunk := await self._next()) is not None:
            chunks.append(chunk)
        return b"".join(chunks)

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """Yield the stream's chunks (the emulator's own way to drain it)."""
        if self._locked:
            raise TypeErrorJs("ReadableStream is locked to a reader")
        self._locked = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while (chunk := await self._next()) is not None:
            yield chunk

    def tee(self) -> list[ReadableStream]:
        """Split into two streams that each yield every chunk (``ReadableStream.tee``)."""
        if self._locked:
            raise TypeErrorJs("ReadableStream is locked to a reader")
        self._locked = True
        if self._source is None:
            data = self._pending or b""
            return [ReadableStream(data), ReadableStream(data)]
        queues: tuple[deque[bytes | None], deque[bytes | None]] = (deque(), deque())
        lock = asyncio.Lock()

        async def branch(mine: deque[bytes | None], other: deque[bytes | None]) -> AsyncIterator[bytes]:
            while True:
                async with lock:
                    if not mine:
                        chunk = await self._next()
                        mine.append(chunk)
                        other.append(chunk)
                    chunk = mine.popleft()
                if chunk is None:
                    return
                yield chunk

        return [ReadableStream(branch(queues[0], queues[1])), ReadableStream(branch(queues[1], queues[0]))]


class _Reader:
    __slots__ = ("_stream",)

    def __init__(self, stream: ReadableStream) -> None:
        self._stream: ReadableStream | None = stream

    def _held(self) -> ReadableStream:
        if self._stream is None:
            raise TypeErrorJs("This ReadableStreamDefaultReader has been released")
        return self._stream

    async def read(self) -> ReadResult:
        chunk = await self._held()._next()
        if chunk is None:
            return ReadResult(True, None)
        return ReadResult(False, JsBuffer(chunk))

    def releaseLock(self) -> None:
        if self._stream is not None:
            self._stream._locked = False
            self._stream = None

    async def cancel(self, reason: Any = None) -> None:
        await self._held().cancel(reason)


class WebHeaders:
    """The Fetch standard's ``Headers``: names lower-cased, iteration sorted and combined."""

    constructor = _Constructor("Headers")

    __slots__ = ("_list",)

    def __init__(self, init: Any = None) -> None:
        self._list: list[tuple[str, str]] = []
        if init is None:
            return
        if isinstance(init, WebHeaders):
            self._list = list(init._list)
            return
        pairs = init.items() if isinstance(init, dict) else init
        for pair in pairs:
            name, value = pair
            self.append(name, value)

    @classmethod
    def _trusted(cls, pairs: list[tuple[str, str]]) -> WebHeaders:
        headers = cls.__new__(cls)
        headers._list = pairs
        return headers

    @staticmethod
    def _check(name: str, value: str) -> tuple[str, str]:
        if not _TOKEN.match(name):
            raise TypeErrorJs(f"Invalid header name: {name!r}")
        value = str(value).strip(" \t\r\n")
        if _BAD_VALUE.search(value):
            raise TypeErrorJs(f"Invalid header value for {name!r}")
        return name.lower(), value

    def append(self, name: str, value: str) -> None:
        self._list.append(self._check(name, value))

    def set(self, name: str, value: str) -> None:
        key, value = self._check(name, value)
        self._list = [p for p in self._list if p[0] != key]
        self._list.append((key, value))

    def delete(self, name: str) -> None:
        key = name.lower()
        self._list = [p for p in self._list if p[0] != key]

    def has(self, name: str) -> bool:
        key = name.lower()
        return any(k == key for k, _ in self._list)

    def get(self, name: str) -> str | None:
        key = name.lower()
        values = [v for k, v in self._list if k == key]
        return ", ".join(values) if values else None

    def getSetCookie(self) -> list[str]:
        return [v for k, v in self._list if k == "set-cookie"]

    def entries(self) -> Iterable[tuple[str, str]]:
        return iter(self)

    def keys(self) -> Iterable[str]:
        return (k for k, _ in self)

    def values(self) -> Iterable[str]:
        return (v for _, v in self)

    def __iter__(self) -> Any:
        # Fetch standard "sort and combine": sorted names, values joined with
        # ", ", except Set-Cookie which yields each value on its own.
        combined: dict[str, list[str]] = {}
        for k, v in self._list:
            combined.setdefault(k, []).append(v)
        for k in sorted(combined):
            if k == "set-cookie":
                for v in combined[k]:
                    yield (k, v)
            else:
                yield (k, ", ".join(combined[k]))

    def _pairs(self) -> list[tuple[str, str]]:
        """Every pair in insertion order (the emulator's view for the wire)."""
        return self._list


def _body_stream(body: Any) -> ReadableStream | None:
    if body is None:
        return None
    if isinstance(body, ReadableStream):
        return body
    if isinstance(body, str):
        return ReadableStream(body.encode())
    if isinstance(body, (bytes, bytearray, memoryview)):
        return ReadableStream(bytes(body))
    if isinstance(body, JsBuffer):
        return ReadableStream(body.to_bytes())
    raise TypeErrorJs(f"Unsupported body type: {type(body).__name__}")


class _WebBody:
    __slots__ = ("body", "headers")

    body: ReadableStream | None
    headers: WebHeaders

    @property
    def bodyUsed(self) -> bool:
        return self.body is not None and self.body._disturbed

    async def arrayBuffer(self) -> JsBuffer:
        return JsBuffer(await self._consume(), "ArrayBuffer")

    async def bytes(self) -> JsBuffer:
        return JsBuffer(await self._consume())

    async def text(self) -> str:
        return (await self._consume()).decode("utf-8", errors="replace")

    async def json(self) -> Any:
        return json.loads(await self._consume())

    async def _consume(self) -> builtins.bytes:
        if self.body is None:
            return b""
        return await self.body._read_all()


class WebRequest(_WebBody):
    """The Fetch standard's ``Request`` as workerd presents it to a worker."""

    constructor = _Constructor("Request")

    __slots__ = ("method", "url", "cf", "redirect", "signal")

    def __init__(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Any = None,
        body: Any = None,
        cf: JsObject | None = None,
        redirect: str = "follow",
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = headers if isinstance(headers, WebHeaders) else WebHeaders(headers)
        if body is not None and self.method in ("GET", "HEAD"):
            raise TypeErrorJs("Request with a GET or HEAD method cannot have a body.")
        self.body = _body_stream(body)
        self.cf = cf
        self.redirect = redirect
        self.signal = None

    def clone(self) -> WebRequest:
        if self.bodyUsed:
            raise TypeErrorJs("Body has already been used.")
        body = None
        if self.body is not None:
            self.body, body = self.body.tee()
        return WebRequest(
            self.url, method=self.method, headers=WebHeaders(self.headers), body=body,
            cf=self.cf, redirect=self.redirect,
        )


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NULL_BODY = frozenset({101, 204, 205, 304})


class WebResponse(_WebBody):
    """The Fetch standard's ``Response``."""

    constructor = _Constructor("Response")

    __slots__ = ("status", "statusText", "url", "redirected", "type", "webSocket")

    def __init__(
        self,
        body: Any = None,
        *,
        status: int = 200,
        statusText: str = "",
        headers: Any = None,
        webSocket: Any = None,
    ) -> None:
        if not 200 <= status <= 599 and status != 101:
            raise ValueError(f"Responses may only be constructed with status codes in the range 200 to 599, inclusive. Got {status}.")
        if body is not None and status in _NULL_BODY:
            raise TypeErrorJs(f"Response with null body status ({status}) cannot have a body.")
        self.status = status
        self.statusText = statusText
        self.headers = headers if isinstance(headers, WebHeaders) else WebHeaders(headers)
        self.body = _body_stream(body)
        if isinstance(body, str) and not self.headers.has("content-type"):
            self.headers.set("content-type", "text/plain;charset=UTF-8")
        self.url = ""
        self.redirected = False
        self.type = "default"
        self.webSocket = webSocket

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @classmethod
    def redirect(cls, url: str, status: int = 302) -> WebResponse:
        if status not in _REDIRECTS:
            raise ValueError(f"Invalid redirect status code {status}")
        return cls(None, status=status, headers=[("location", url)])

    def clone(self) -> WebResponse:
        if self.bodyUsed:
            raise TypeErrorJs("Body has already been used.")
        body = None
        if self.body is not None:
            self.body, body = self.body.tee()
        clone = WebResponse(body, status=self.status, statusText=self.statusText,
                            headers=WebHeaders(self.headers))
        clone.url, clone.redirected, clone.type = self.url, self.redirected, self.type
        return clone
