"""Serve an edgeline App as an ASGI 3 application (any ASGI server, CPython).

Per request: the Request is built from the scope (``raw_path`` kept as the
client sent it, so percent-encoding survives), its body streams from
``receive``, the Context gets ``wait_until`` (tasks kept and awaited on
``aclose``), and the Response streams to ``send``. A HEAD response never
sends a body. An error mid-body is logged and ends the connection (the
head is already out); a client never sees a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .._heap import settle
from ..app import App
from ..context import Context
from ..headers import Headers
from ..messages import Request, close_body
from ..url import URL

__all__ = ["AsgiAdapter", "answer_lifespan", "receive_body"]

log = logging.getLogger("edgeline")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_NO_BODY_STATUS = frozenset({204, 304})
# PERF: field names as sent -> lower-cased str, for the names clients repeat;
# bounded so that odd names cannot grow it.
_NAMES: dict[bytes, str] = {}
_MAX_NAMES = 512
_METHODS = {m: m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
_SCHEMES = frozenset({"http", "https"})
# RFC 3986 §3.2.2 reg-name letters, digits, "." and "-", then §3.2.3 port.
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.\-]+(?::[0-9]*)?")
# host -> plain or not; bounded like _NAMES.
_PLAIN_HOSTS: dict[str, bool] = {}
_MAX_HOSTS = 256


def _url(url: str, scheme: str, host: str, path: str, query: str) -> URL:
    """Return the URL ``url``, built from these parts, with its split given when it is plain.

    PERF: ``urlsplit`` keeps only 128 URLs; past them each request would
    parse its URL again. Plain means ``urlsplit(url)`` returns exactly these
    parts (tested against it): an http(s) scheme, a host of letters, digits,
    dots and hyphens with an optional port, a path from ``/`` without ``?``,
    and no ``#`` (a fragment) nor the tab, CR and LF that urlsplit deletes
    anywhere (``isprintable`` is False for every control character).
    """
    plain = _PLAIN_HOSTS.get(host)
    if plain is None:
        plain = _PLAIN_HOST.fullmatch(host) is not None
        if len(_PLAIN_HOSTS) < _MAX_HOSTS:
            _PLAIN_HOSTS[host] = plain
    if (plain and scheme in _SCHEMES and path[:1] == "/" and "?" not in path
            and url.isprintable() and "#" not in url):
        return URL(url, (scheme, host, path, query))
    return URL(url)


async def receive_body(receive: Receive) -> AsyncIterator[bytes]:
    """Yield an ASGI request body's chunks; a disconnect mid-body raises ConnectionResetError."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client disconnected while sending the body")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def answer_lifespan(receive: Receive, send: Send,
                          on_shutdown: Callable[[], Awaitable[Any]] | None = None,
                          on_startup: Callable[[], Any] | None = None) -> None:
    """Answer the ASGI lifespan protocol until shutdown, calling ``on_startup`` and
    awaiting ``on_shutdown`` first."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if on_startup is not None:
                on_startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if on_shutdown is not None:
                await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


class AsgiAdapter:
    """An ASGI app that hands every HTTP request to ``app.handle(request, ctx)``.

    ``env``: the bindings the context carries; ``origin``: the context's
    origin transport; ``cf``: a function of the scope returning the
    ``request.cf`` dict (default: none).
    """

    def __init__(
        self, app: App, *, env: Any = None, origin: Any = None,
        cf: Callable[[Scope], dict[str, Any]] | None = None,
    ) -> None:
        self.app = app
        self.env = env
        self.origin = origin
        self.cf = cf
        self._tasks: set[asyncio.Future[Any]] = set()

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` after (or alongside) the response; errors are logged."""
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed: %r", task.exception())

    async def aclose(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for background work started through ``wait_until``."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def build_request(self, scope: Scope, receive: Receive) -> Request:
        """Return the edgeline Request for an ASGI ``http`` scope."""
        # PERF: one pass decodes the fields and notes Host and whether a body
        # follows; ASGI servers already lower-case names, lower() is kept for
        # the ones that do not (the spec says "should").
        raw = []
        host = None
        has_body = False
        names = _NAMES
        for key, value in scope["headers"]:
            name = names.get(key)
            if name is None:
                name = key.decode("latin-1").lower()
                if len(names) < _MAX_NAMES:
                    names[key] = name
            text = value.decode("latin-1")
            raw.append((name, text))
            if name == "host":
                host = text
            elif name == "transfer-encoding" or (name == "content-length" and text != "0"):
                has_body = True
        headers = Headers.from_trusted(raw)
        if host is None:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        scheme = scope.get("scheme", "http")
        url = f"{scheme}://{host}{path}"
        query = scope.get("query_string")
        text = query.decode("latin-1") if query else ""
        if text:
            url += "?" + text
        body: Any = receive_body(receive) if has_body else b""
        cf = self.cf(scope) if self.cf is not None else {}
        method = scope["method"]
        method = _METHODS.get(method) or method.upper()
        return Request.from_trusted(method, _url(url, scheme, host, path, text), headers, body, cf)

    async def _other(self, kind: str, receive: Receive, send: Send) -> None:
        """Answer the lifespan protocol; refuse anything else that is not HTTP."""
        if kind != "lifespan":
            raise RuntimeError(f"edgeline serves HTTP only, not {kind}")
        # PERF: the app is built when the server starts: its heap is settled then.
        await answer_lifespan(receive, send, on_shutdown=self.aclose, on_startup=settle)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            await self._other(kind, receive, send)
            return
        request = self.build_request(scope, receive)
        ctx = Context(request, env=self.env, wait_until=self.wait_until, origin=self.origin)
        client = scope.get("client")
        if client:
            # The socket peer: on a plain ASGI host it is the client (filters read it).
            ctx.state["client_ip"] = client[0]
        response = await self.app.handle(request, ctx)
        status = response.status
        # PERF: one pass encodes the fields and notes a Content-Length; a
        # stored response's fields come encoded already.
        headers, has_length = response.headers.encoded()
        body = response.body
        head_only = request.method == "HEAD" or status in _NO_BODY_STATUS
        if type(body) is bytes:
            if not head_only and not has_length:
                headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if head_only else body})
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if head_only:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            async for chunk in response.stream():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except BaseException as exc:
            # A send that fails (the client is gone) leaves the body iterator
            # suspended; closing it runs its cleanup now (e.g. the cache
            # releasing requests collapsed onto this transfer) instead of
            # whenever it is collected.
            await close_body(body)
            if isinstance(exc, Exception):
                log.error("response body failed mid-stream for %s %s: %s", request.method,
                          request.path, exc)
            raise
        await send({"type": "http.response.body", "body": b""})
