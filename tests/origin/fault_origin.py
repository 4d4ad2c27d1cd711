"""A real origin process for the fault tests: ``python fault_origin.py PORT NAME``.

Paths: ``/ok``; ``/echo`` (the request as seen, body length included);
``/slow?ms=``; ``/stream?n=&ms=`` (server-sent events); ``/big?size=``
(a chunked download); ``/status?code=``. ``POST /_fail?code=&count=``
makes the next ``count`` requests answer ``code``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any
from urllib.parse import parse_qs

import uvicorn

NAME = sys.argv[2] if len(sys.argv) > 2 else "origin"
failing = {"code": 0, "count": 0}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break

    async def answer(status: int, data: Any, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        raw = json.dumps(data).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
            (b"x-origin", NAME.encode()), *headers]})
        await send({"type": "http.response.body", "body": raw})

    if path == "/_fail":
        failing["code"], failing["count"] = int(query["code"]), int(query["count"])
        await answer(200, failing)
        return
    if failing["count"] > 0:
        failing["count"] -= 1
        await answer(failing["code"], {"failing": True, "origin": NAME})
        return
    if path == "/ok":
        await answer(200, {"ok": True, "origin": NAME})
    elif path == "/echo":
        headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]]
        await answer(200, {"method": scope["method"], "path": path,
                           "query": scope["query_string"].decode(), "headers": headers,
                           "body_bytes": len(body), "origin": NAME},
                     ((b"connection", b"x-hop"), (b"x-hop", b"1"), (b"keep-alive", b"timeout=5")))
    elif path == "/slow":
        await asyncio.sleep(int(query.get("ms", "500")) / 1000)
        await answer(200, {"slow": True})
    elif path == "/status":
        await answer(int(query["code"]), {"status": int(query["code"])})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]})
        for i in range(int(query.get("n", "5"))):
            await send({"type": "http.response.body", "body": f"data: {i}\n\n".encode(),
                        "more_body": True})
            await asyncio.sleep(int(query.get("ms", "20")) / 1000)
        await send({"type": "http.response.body", "body": b""})
    elif path == "/big":
        size = int(query.get("size", str(1 << 20)))
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/octet-stream")]})
        block = b"x" * 65536
        sent = 0
        while sent < size:
            part = block[: size - sent]
            sent += len(part)
            await send({"type": "http.response.body", "body": part, "more_body": sent < size})
    else:
        await answer(404, {"error": path})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error",
                access_log=False, lifespan="off")
