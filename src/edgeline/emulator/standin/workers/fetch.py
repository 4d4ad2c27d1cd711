"""``workers.fetch``: outbound HTTP from the emulator, through httpx.

Workers' ``fetch`` streams both ways; so does this one. Request-init ``cf``
options (cacheTtl, cacheEverything, ...) have no local meaning and are
ignored, as the README lists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPMethod
from typing import Any

import httpx

from ._web import ReadableStream, WebHeaders, WebResponse
from .request import Request
from .response import Response

# Hop-by-hop framing that httpx handles itself (RFC 9112 §6, RFC 9110 §7.6.1).
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})

# Content-Length stays on responses: the raw body matches it.
_HOP_BY_HOP = _FRAMING - {"content-length"}

_clients: dict[int, httpx.AsyncClient] = {}


def _client() -> httpx.AsyncClient:
    import asyncio

    loop_id = id(asyncio.get_running_loop())
    client = _clients.get(loop_id)
    if client is None:
        # NOTE: one pooled client per event loop; redirects are applied per
        # request below. Bodies are passed on raw (still content-encoded), with
        # their Content-Encoding, so a proxied response reaches the client intact.
        client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0), trust_env=False)
        _clients[loop_id] = client
    return client


async def aclose_clients() -> None:
    """Close the pooled clients (on emulator shutdown)."""
    for client in list(_clients.values()):
        await client.aclose()
    _clients.clear()


async def _request_chunks(stream: ReadableStream) -> AsyncIterator[bytes]:
    async for chunk in stream.iter_chunks():
        yield chunk


async def fetch(resource: str | Request | Any, **other_options: Any) -> Response:
    method = other_options.get("method")
    if isinstance(method, HTTPMethod):
        other_options["method"] = method.value
    fetcher = other_options.pop("fetcher", None)
    if fetcher is not None:
        return await fetcher(resource, **other_options)
    request = resource if isinstance(resource, Request) and not other_options else Request(resource, **other_options)
    js_request = request.js_object
    body = js_request.body
    headers = [(k, v) for k, v in js_request.headers._pairs() if k not in _FRAMING]
    follow = js_request.redirect == "follow"
    if js_request.redirect == "error":
        follow = False
    client = _client()
    outgoing = client.build_request(
        js_request.method, js_request.url, headers=headers,
        content=_request_chunks(body) if body is not None else None,
    )
    try:
        upstream = await client.send(outgoing, stream=True, follow_redirects=follow)
    except httpx.HTTPError as exc:
        # workerd rejects fetch() with a TypeError-like network error.
        raise OSError(f"fetch to {js_request.url} failed: {exc}") from exc
    if js_request.redirect == "error" and upstream.is_redirect:
        await upstream.aclose()
        raise OSError(f"fetch to {js_request.url} failed: redirect with redirect mode 'error'")

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    status = upstream.status_code
    null_body = status in (101, 204, 205, 304) or js_request.method == "HEAD"
    if null_body:
        await upstream.aclose()
    response_headers = WebHeaders._trusted(
        [(name, v.decode("latin-1")) for k, v in upstream.headers.raw
         if (name := k.decode("latin-1").lower()) not in _HOP_BY_HOP]
    )
    js_response = WebResponse(
        None if null_body else ReadableStream(chunks()),
        status=status, statusText=upstream.reason_phrase, headers=response_headers,
    )
    js_response.url = str(upstream.url)
    js_response.redirected = bool(upstream.history)
    return Response(js_response)
