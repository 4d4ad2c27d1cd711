"""Forward a request to an origin through the context's transport."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from ..context import Context
from ..headers import Headers
from ..messages import Request, Response
from ..types import Handler

__all__ = ["HOP_BY_HOP", "forward", "upstream_request"]

# RFC 9110 §7.6.1: connection-specific fields are not forwarded, nor are
# any fields the Connection header names.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "proxy-authenticate", "proxy-authorization",
})


def _strip_hop_by_hop(headers: Headers) -> Headers:
    named = {t.strip().lower() for v in headers.get_all("connection") for t in v.split(",")}
    drop = HOP_BY_HOP | named
    return Headers.from_trusted([p for p in headers.raw if p[0] not in drop])


def upstream_request(request: Request, origin: str, *, strip_prefix: str = "") -> Request:
    """Return the request to send to ``origin`` (scheme://host[:port][/base]).

    The path loses ``strip_prefix`` and gains the origin's base path; the
    query is kept; hop-by-hop fields are dropped; Host becomes the origin's.
    """
    base = urlsplit(origin)
    path = request.url.path
    if strip_prefix and path.startswith(strip_prefix):
        path = path[len(strip_prefix):] or "/"
    target = f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}{path}"
    if request.url.query:
        target += "?" + request.url.query
    headers = _strip_hop_by_hop(request.headers)
    headers["host"] = base.netloc
    return request.copy(url=target, headers=headers)


def _check_origin(origin: str) -> str:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"origin must be an absolute http(s) URL, not {origin!r}")
    return origin


def forward(origin: str | Callable[[Context], str], *, strip_prefix: str = "") -> Handler:
    """Return a handler that sends each request on to ``origin`` and relays the answer.

    ``origin`` is a URL, or a function of the context that returns one (to read
    it from an env var); a fixed URL is checked now, a computed one per request.
    """
    pick = (lambda ctx: origin) if isinstance(origin, str) else origin
    if isinstance(origin, str):
        _check_origin(origin)
    checked: set[str] = set()

    async def forward_to_origin(request: Request, ctx: Context) -> Response:
        target = pick(ctx)
        if target not in checked:
            checked.add(_check_origin(target))
        response = await ctx.fetch(upstream_request(request, target, strip_prefix=strip_prefix))
        response.headers = _strip_hop_by_hop(response.headers)
        return response

    forward_to_origin.__qualname__ = f"forward({origin!r})"
    return forward_to_origin
