"""Serve the benchmark worker's edge logic written the way a Starlette user would write it.

The peer of ``_e2e_worker.py``: the same routes, the same signature filter
and geo redirect, a timing header, and a caching proxy to the origin. It
uses Starlette's documented tools: ``BaseHTTPMiddleware`` dispatch
functions, ``Route``, an ``httpx.AsyncClient`` for the origin, and a dict
as the response cache honouring ``max-age`` / ``no-store`` / ``private``.

The country comes from Cloudflare's ``CF-IPCountry`` request header, as it
would behind Cloudflare's CDN.

Run: ``python bench/_starlette_app.py PORT ORIGIN_URL`` (``PYTHONPATH=src``).
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any
from urllib.parse import unquote_plus

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

GREETINGS = {"DE": "Hallo", "FR": "Bonjour", "ES": "Hola", "IT": "Ciao", "JP": "Konnichiwa",
             "BR": "Ola", "NL": "Hallo", "SE": "Hej"}
HOMES = {"DE": "/de/", "FR": "/fr/", "JP": "/ja/", "BR": "/pt-br/"}
SIGNATURES = re.compile(
    r"(?i)(union\s+(all\s+)?select|<\s*script|'\s*or\s*'?\d|\.\./|/etc/passwd|sleep\s*\()")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}
MAX_ENTRIES = 16_384


async def timing(request: Request, call_next: Any) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    response.headers["server-timing"] = f"edge;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


async def guard(request: Request, call_next: Any) -> Response:
    url = request.url
    target = unquote_plus(url.path + ("?" + url.query if url.query else ""))
    if SIGNATURES.search(target):
        return PlainTextResponse("Forbidden\n", 403, headers={"cache-control": "no-store"})
    if url.path == "/" and request.method in ("GET", "HEAD"):
        home = HOMES.get(request.headers.get("cf-ipcountry", ""))
        if home is not None:
            return RedirectResponse(home, 302, headers={"cache-control": "private"})
    return await call_next(request)


async def index(request: Request) -> Response:
    return JSONResponse({"service": "starlette bench worker",
                         "country": request.headers.get("cf-ipcountry")})


async def hello(request: Request) -> Response:
    greeting = GREETINGS.get(request.headers.get("cf-ipcountry", ""), "Hello")
    return PlainTextResponse(f"{greeting}, {request.path_params['name']}! (from the edge)\n")


def build(origin: str) -> Starlette:
    """Return the Starlette app in front of ``origin``."""
    client = httpx.AsyncClient(base_url=origin, timeout=30.0)
    cache: dict[str, tuple[float, int, list[tuple[str, str]], bytes]] = {}

    async def proxy(request: Request) -> Response:
        key = request.url.path + ("?" + request.url.query if request.url.query else "")
        entry = cache.get(key)
        if entry is not None and entry[0] > time.time():
            return Response(entry[3], entry[1], headers=dict(entry[2]))
        headers = [(k, v) for k, v in request.headers.items() if k not in HOP_BY_HOP]
        upstream = await client.request(request.method, key, headers=headers,
                                        content=await request.body())
        out = [(k, v) for k, v in upstream.headers.items() if k not in HOP_BY_HOP]
        control = upstream.headers.get("cache-control", "")
        match = re.search(r"max-age=(\d+)", control)
        if (request.method == "GET" and upstream.status_code == 200 and match
                and "no-store" not in control and "private" not in control):
            if len(cache) >= MAX_ENTRIES:
                cache.pop(next(iter(cache)))
            cache[key] = (time.time() + int(match.group(1)), upstream.status_code, out,
                          upstream.content)
        return Response(upstream.content, upstream.status_code, headers=dict(out))

    return Starlette(
        routes=[Route("/", index), Route("/hello/{name}", hello),
                Route("/{path:path}", proxy, methods=["GET", "HEAD", "POST", "PUT", "DELETE"])],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=timing),
                    Middleware(BaseHTTPMiddleware, dispatch=guard)])


if __name__ == "__main__":
    from _serve import serve_main

    serve_main(build, sys.argv)
