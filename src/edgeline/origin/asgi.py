"""An ASGI app as an origin, in the same process: for tests, and for mounting a Python origin.

Runs on asyncio alone (no anyio), so it works under Pyodide too. The app
runs as a task; its response head is returned as soon as it is sent, and
its body streams through a small queue (backpressure: the app waits when
the client reads slowly). An exception in the app becomes an
``OriginFailure``, never a traceback for the client.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

from ..headers import Headers
from ..messages import Request, Response
from ._errors import OriginBadResponse, OriginStreamError

__all__ = ["AsgiTransport"]

_END = object()


class _AsgiBody:
    """The app's body messages as an async iterator; closing it stops the app."""

    __slots__ = ("_queue", "_task", "_url", "_done")

    def __init__(self, queue: asyncio.Queue[Any], task: asyncio.Task[None], url: str) -> None:
        self._queue = queue
        self._task = task
        self._url = url
        self._done = False

    def __aiter__(self) -> _AsgiBody:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            self._done = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._done = True
            raise OriginStreamError(f"the app failed mid-response: {item!r}", url=self._url)
        return item

    async def aclose(self) -> None:
        self._done = True
        if not self._task.done():
            self._task.cancel()


class AsgiTransport:
    """Call an ASGI 3 app with each request, as if it were a remote origin."""

    __slots__ = ("app", "client", "root_path")

    def __init__(self, app: Any, *, client: tuple[str, int] = ("127.0.0.1", 0),
                 root_path: str = "") -> None:
        self.app = app
        self.client = client
        self.root_path = root_path

    def _scope(self, request: Request) -> dict[str, Any]:
        url = request.url
        scheme = url.scheme or "http"
        port = url.port or (443 if scheme == "https" else 80)
        raw_path = url.path or "/"
        return {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": request.method, "scheme": scheme,
            "path": unquote(raw_path), "raw_path": raw_path.encode("latin-1", "replace"),
            "query_string": url.query.encode("latin-1", "replace"),
            "root_path": self.root_path,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.raw],
            "server": (url.host, port), "client": self.client, "state": {},
        }

    async def handle(self, request: Request) -> Response:
        url = str(request.url)
        chunks = request.stream().__aiter__()
        finished = asyncio.Event()
        head: asyncio.Future[tuple[int, Headers]] = asyncio.get_running_loop().create_future()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=8)
        request_done = False
        ended = False

        async def receive() -> dict[str, Any]:
            nonlocal request_done
            if request_done:
                await finished.wait()  # ASGI: disconnect once the response is over
                return {"type": "http.disconnect"}
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                request_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: dict[str, Any]) -> None:
            nonlocal ended
            kind = message["type"]
            if kind == "http.response.start":
                if head.done():
                    raise RuntimeError("ASGI app sent http.response.start twice")
                pairs = [(bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1"))
                         for k, v in message.get("headers", ())]
                head.set_result((int(message["status"]), Headers(pairs)))
            elif kind == "http.response.body":
                if not head.done():
                    raise RuntimeError("ASGI app sent a body before http.response.start")
                body = message.get("body", b"")
                if body:
                    await queue.put(bytes(body))
                if not message.get("more_body", False):
                    ended = True
                    await queue.put(_END)
                    finished.set()

        async def run() -> None:
            try:
                await self.app(self._scope(request), receive, send)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not head.done():
                    head.set_exception(exc)
                elif not ended:
                    await queue.put(exc)
                return
            finally:
                finished.set()
            if not head.done():
                head.set_exception(RuntimeError("ASGI app returned without a response"))
            elif not ended:
                await queue.put(_END)

        task = asyncio.ensure_future(run())
        try:
            status, headers = await head
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception as exc:
            raise OriginBadResponse(f"ASGI app failed before responding: {exc!r}",
                                    url=url) from exc
        if request.method == "HEAD" or status in (204, 304):
            if not task.done():
                task.cancel()
            return Response(b"", status, headers)
        return Response(_AsgiBody(queue, task, url), status, headers)
