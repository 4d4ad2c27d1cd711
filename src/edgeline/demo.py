"""A small origin API for the demo and the tests: what sits behind the edge.

Routes (all under ``/api``):

- ``GET /api/items`` and ``GET /api/items/{id}``: JSON, cacheable for 30 s;
- ``POST /api/items``: create an item from a JSON body (stateful work);
- ``GET /api/echo``: the request as the origin saw it (method, path, headers);
- ``GET /api/stream?n=5``: n chunks of server-sent events, 50 ms apart;
- ``GET /api/slow?ms=500``: answers after a delay.

A plain ASGI app, so it runs under the same server as the emulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

__all__ = ["DemoOrigin"]

Send = Callable[[dict[str, Any]], Awaitable[None]]


class DemoOrigin:
    """An in-memory items API with echo, streaming and slow endpoints."""

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {
            1: {"id": 1, "name": "espresso", "price": "2.40"},
            2: {"id": 2, "name": "croissant", "price": "1.90"},
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] == "lifespan":
            from .adapters.asgi import answer_lifespan

            await answer_lifespan(receive, send)
            return
        method, path = scope["method"], scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode())
        if path == "/api/items" and method in ("GET", "HEAD"):
            await _json(send, list(self.items.values()), cache="public, max-age=30")
        elif path == "/api/items" and method == "POST":
            body = await _body(receive)
            try:
                data = json.loads(body)
                name = str(data["name"])
            except (ValueError, KeyError, TypeError):
                await _json(send, {"error": "expected a JSON object with a name"}, 400)
                return
            number = max(self.items, default=0) + 1
            item = {"id": number, "name": name, "price": str(data.get("price", "0"))}
            self.items[number] = item
            await _json(send, item, 201)
        elif path.startswith("/api/items/") and method in ("GET", "HEAD"):
            key = path.rsplit("/", 1)[1]
            found = self.items.get(int(key)) if key.isdigit() else None
            if found is None:
                await _json(send, {"error": f"no item {key}"}, 404)
            else:
                await _json(send, found, cache="public, max-age=30")
        elif path == "/api/echo":
            headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]]
            body = await _body(receive)
            await _json(send, {"method": method, "path": path,
                               "query": scope.get("query_string", b"").decode(),
                               "headers": headers, "body_bytes": len(body)})
        elif path == "/api/stream":
            count = min(int(query.get("n", ["5"])[0]), 100)
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]})
            for i in range(count):
                chunk = f"id: {i}\ndata: tick {i}\n\n".encode()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b""})
        elif path == "/api/slow":
            await asyncio.sleep(min(float(query.get("ms", ["500"])[0]), 10_000) / 1000)
            await _json(send, {"slow": True})
        else:
            await _json(send, {"error": f"no route {method} {path}"}, 404)


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(send: Send, data: Any, status: int = 200, cache: str = "no-store") -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"date", formatdate(usegmt=True).encode()),
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache.encode()), (b"x-served-by", b"demo-origin")]})
    await send({"type": "http.response.body", "body": body})
