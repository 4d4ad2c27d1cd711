"""The Cloudflare adapter: the one module that speaks the platform's API.

It converts between the Python Workers SDK (module ``workers``) and
edgeline's core types, and provides the Workers ``fetch`` as an origin
transport. Only this module imports ``workers``, ``js`` or ``pyodide``.

Under the local emulator ``workers`` is edgeline's stand-in and there is no
``js``: the two places that must build a platform ``ReadableStream`` from
Python chunks use the stand-in's model of it instead. Everything else runs
the same code on both.

A worker's entry point is three lines::

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await serve(app, request, self.env, self.ctx)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import workers

from ..app import App
from ..context import Context
from ..errors import OriginError
from ..headers import Headers
from ..messages import Request, Response

try:  # Pyodide, on Cloudflare or under Node
    from js import Error as _JsError
    from js import Object
    from js import ReadableStream as _JsReadableStream
    from pyodide.ffi import create_proxy, to_js

    ON_PYODIDE = True
except ImportError:  # the local emulator
    ON_PYODIDE = False

try:  # Pyodide 0.27+: JS null arrives as this sentinel, not as None
    from pyodide.ffi import jsnull as _js_null
except ImportError:
    _js_null = None

__all__ = ["FetchTransport", "WorkersCache", "default_cache", "from_platform_response", "serve",
           "to_core_request", "to_platform_response"]

# Statuses whose responses have no body (RFC 9110 §6.4.1, §15.2, §15.3.5, §15.4.5).
_NULL_BODY = frozenset({101, 204, 205, 304})


async def _drain(stream: Any) -> AsyncIterator[bytes]:
    """Yield the chunks of a platform ``ReadableStream`` as bytes."""
    reader = stream.getReader()
    try:
        while True:
            result = await reader.read()
            if result.done:
                return
            yield result.value.to_bytes()
    finally:
        reader.releaseLock()


def _platform_stream(chunks: AsyncIterable[bytes]) -> Any:
    """Return a platform ``ReadableStream`` that pulls from ``chunks``."""
    if not ON_PYODIDE:
        from workers._web import ReadableStream  # the emulator's model of the web stream

        return ReadableStream(chunks)
    iterator = aiter(chunks)

    async def pull(controller: Any) -> None:
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            controller.close()
            proxies.destroy()
            return
        except Exception as exc:
            # NOTE: a JS Error, not a string: Python code awaiting a read of
            # this stream gets a JsException from it, while a bare string
            # reason cannot become a Python exception and the await never ends.
            controller.error(_JsError.new(f"{type(exc).__name__}: {exc}"))
            proxies.destroy()
            return
        controller.enqueue(to_js(chunk))

    async def cancel(reason: Any) -> None:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
        proxies.destroy()

    proxies = _Proxies(create_proxy(pull), create_proxy(cancel))
    source = to_js({"pull": proxies.pull, "cancel": proxies.cancel},
                   dict_converter=Object.fromEntries)
    return _JsReadableStream.new(source)


class _Proxies:
    """The Python callbacks lent to a JS stream, destroyed once when it ends."""

    __slots__ = ("pull", "cancel", "_alive")

    def __init__(self, pull: Any, cancel: Any) -> None:
        self.pull, self.cancel, self._alive = pull, cancel, True

    def destroy(self) -> None:
        if self._alive:
            self._alive = False
            self.pull.destroy()
            self.cancel.destroy()


def _headers_from_platform(js_headers: Any) -> Headers:
    # PERF: iterate the platform Headers directly; the SDK's ``.headers``
    # builds an http.client.HTTPMessage on every access. Names arrive
    # lower-cased and validated by the runtime.
    return Headers.from_trusted([(str(k), str(v)) for k, v in js_headers])


def _present(value: Any) -> Any:
    """Return ``value``, or None for JS ``null`` (which Pyodide does not turn into None)."""
    return None if value is _js_null else value


def _cf_dict(cf: Any) -> dict[str, Any]:
    if cf is None:
        return {}
    to_py = getattr(cf, "to_py", None)
    return to_py() if to_py is not None else dict(cf)


def to_core_request(request: workers.Request) -> Request:
    """Convert the SDK's request into an edgeline Request; the body stays a stream."""
    js_request = request.js_object
    # NOTE: a bodiless request has ``body`` null; requests built without
    # metadata (previews, tests) have no ``cf`` at all (reading it raises).
    stream = _present(js_request.body)
    return Request(
        js_request.method,
        js_request.url,
        _headers_from_platform(js_request.headers),
        _drain(stream) if stream is not None else None,
        cf=_cf_dict(_present(getattr(js_request, "cf", None))),
    )


def _platform_body(message: Request | Response) -> Any:
    body = message.body
    if isinstance(body, bytes):
        return body or None
    return _platform_stream(body)


def to_platform_response(response: Response) -> workers.Response:
    """Convert an edgeline Response into the SDK's, streaming its body through."""
    body = None if response.status in _NULL_BODY else _platform_body(response)
    return workers.Response(body, status=response.status, headers=response.headers.raw or None)


def from_platform_response(response: Any) -> Response:
    """Convert a platform response (from ``fetch``) into an edgeline Response."""
    return _core_response(response.js_object)


def _core_response(js_response: Any) -> Response:
    stream = _present(js_response.body)
    return Response(
        _drain(stream) if stream is not None else None,
        js_response.status,
        _headers_from_platform(js_response.headers),
    )


class FetchTransport:
    """The origin transport of Cloudflare Workers: the runtime's ``fetch``.

    Redirects are returned to the caller, not followed (an edge proxy passes
    them on to the client).
    """

    __slots__ = ()

    async def handle(self, request: Request) -> Response:
        options: dict[str, Any] = {
            "method": request.method,
            "headers": request.headers.raw,
            "redirect": "manual",
        }
        if request.method not in ("GET", "HEAD"):
            body = _platform_body(request)
            if body is not None:
                options["body"] = body
                if not isinstance(body, bytes):
                    # NOTE: the Fetch standard's RequestInit.duplex; Node's fetch
                    # requires it with a stream body, workerd ignores the member.
                    options["duplex"] = "half"
        try:
            upstream = await workers.fetch(str(request.url), **options)
        except Exception as exc:
            raise OriginError(f"fetch to {request.url.origin} failed: {exc}") from exc
        return from_platform_response(upstream)


class WorkersCache:
    """The Workers Cache API (``caches.default`` or a named cache) as edgeline's ``CacheApi``.

    ``CacheApiStore(WorkersCache())`` keeps the edge cache's entries in the
    data centre's cache. Only ``match``, ``put`` and ``delete`` cross to the
    platform; what the Cache API honours and refuses (no 206, no ``Vary: *``,
    no Set-Cookie, Cache-Control for the lifetime) is the platform's, and
    the store's wrapper responses stay within it.
    """

    __slots__ = ("cache",)

    def __init__(self, cache: Any = None) -> None:
        self.cache = cache if cache is not None else default_cache()

    @staticmethod
    def _platform_request(request: Request) -> Any:
        return workers.Request(str(request.url), method=request.method,
                               headers=list(request.headers.raw)).js_object

    async def match(self, request: Request) -> Response | None:
        found = _present(await self.cache.match(self._platform_request(request)))
        return None if found is None else _core_response(found)

    async def put(self, request: Request, response: Response) -> None:
        await self.cache.put(self._platform_request(request),
                             to_platform_response(response).js_object)

    async def delete(self, request: Request) -> bool:
        return bool(await self.cache.delete(self._platform_request(request)))


def default_cache() -> Any:
    """Return the platform's ``caches.default`` (the emulator's under CPython)."""
    if ON_PYODIDE:
        from js import caches

        return caches.default
    from ..emulator.cache_api import platform_caches

    return platform_caches().default


def _wait_until(ctx: Any) -> Any:
    def wait_until(awaitable: Any) -> None:
        # NOTE: a Task converts to a JS Promise under Pyodide; a bare
        # coroutine would not be started by the runtime.
        ctx.waitUntil(asyncio.ensure_future(awaitable))

    return wait_until


_TRANSPORT = FetchTransport()


async def serve(app: App, request: workers.Request, env: Any, ctx: Any) -> workers.Response:
    """Serve one platform request with ``app``: the body of a WorkerEntrypoint's ``fetch``."""
    core = to_core_request(request)
    context = Context(core, env=env, wait_until=_wait_until(ctx), origin=_TRANSPORT)
    response = await app.handle(core, context)
    return to_platform_response(response)
