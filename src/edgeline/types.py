"""The seams: one small Protocol each (see DESIGN.md, "Seams")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .context import Context
    from .messages import Request, Response

__all__ = ["CallNext", "Handler", "Middleware", "Transport"]

Handler = Callable[["Request", "Context"], Awaitable["Response"]]
"""``async (request, ctx) -> Response``: an endpoint."""

CallNext = Callable[["Request", "Context"], Awaitable["Response"]]
"""The rest of the chain, as a middleware sees it."""

Middleware = Callable[["Request", "Context", CallNext], Awaitable["Response"]]
"""``async (request, ctx, call_next) -> Response``: one layer of the onion."""


class Transport(Protocol):
    """Carry a request to an origin and return its response (``async handle``)."""

    async def handle(self, request: Request) -> Response: ...


class KVNamespace(Protocol):
    """The Workers KV API as Python code sees it (platform binding or emulator)."""

    async def get(self, key: str, type: str = "text", **options: Any) -> Any: ...

    async def put(self, key: str, value: Any, **options: Any) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def list(self, **options: Any) -> Any: ...
