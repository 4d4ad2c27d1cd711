"""Call an App in-process, without sockets or a platform: the test seam.

::

    client = TestClient(app, env={"GREETING": "hi"}, cf={"country": "DE"},
                        origin=FunctionTransport(fake_origin))
    response = await client.get("/hello")
    assert response.status == 200

``waitUntil`` work is collected and awaited by :meth:`TestClient.settle`
(or automatically when the client is used as an async context manager).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .app import App
from .context import Bindings, Context
from .headers import HeadersInit
from .messages import BodyInit, Request, Response
from .types import Transport

__all__ = ["FunctionTransport", "TestClient"]


class FunctionTransport:
    """An origin transport that calls ``async handler(request) -> Response``."""

    __slots__ = ("_handler", "requests")

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self._handler = handler
        self.requests: list[Request] = []

    async def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return await self._handler(request)


class TestClient:
    """Send requests to an App with chosen env bindings, geo and origin transport."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: App,
        *,
        env: Mapping[str, Any] | Any = None,
        cf: Mapping[str, Any] | None = None,
        origin: Transport | None = None,
        base_url: str = "https://edge.test",
    ) -> None:
        self.app = app
        self.env = Bindings(env) if isinstance(env, Mapping) or env is None else env
        self.cf = dict(cf or {})
        self.origin = origin
        self.base_url = base_url.rstrip("/")
        self.pending: list[asyncio.Future[Any]] = []
        self.last_context: Context | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: HeadersInit = None,
        body: BodyInit = None,
        cf: Mapping[str, Any] | None = None,
    ) -> Response:
        """Serve one request; ``path`` may carry a query string or be a full URL."""
        url = path if "://" in path else self.base_url + path
        request = Request(method, url, headers, body, cf={**self.cf, **(cf or {})})
        if "host" not in request.headers:
            request.headers["host"] = request.url.netloc
        ctx = Context(request, env=self.env, wait_until=self._wait_until, origin=self.origin)
        self.last_context = ctx
        return await self.app.handle(request, ctx)

    def _wait_until(self, awaitable: Awaitable[Any]) -> None:
        self.pending.append(asyncio.ensure_future(awaitable))

    async def settle(self) -> list[Any]:
        """Await all waitUntil work so far; return results (exceptions included)."""
        pending, self.pending = self.pending, []
        return list(await asyncio.gather(*pending, return_exceptions=True))

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def head(self, path: str, **kwargs: Any) -> Response:
        return await self.request("HEAD", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Response:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Response:
        return await self.request("DELETE", path, **kwargs)

    async def __aenter__(self) -> TestClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.settle()
