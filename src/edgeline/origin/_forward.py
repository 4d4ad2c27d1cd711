"""Forward a request to an origin, and turn every origin failure into a clean response."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from ..context import Context
from ..errors import HTTPError, OriginError
from ..messages import Request, Response
from ..types import Handler, Transport
from ._errors import OriginFailure, problem_for
from ._headers import HOP_BY_HOP, HeaderPolicy, strip_hop_by_hop
from ._target import check_origin_url

__all__ = ["HOP_BY_HOP", "OnError", "forward", "upstream_request"]

log = logging.getLogger("edgeline.origin")

OnError = Callable[[Request, Context, OriginError], Awaitable[Response | None]]
"""``async (request, ctx, exc) -> Response | None``: answer instead of a problem response.

The stale-if-error hook (RFC 5861 §4): a cache returns its stale copy here,
or None to let the problem response go out.
"""

OriginSpec = str | Transport | Callable[[Context], str | Transport]

# The hygiene applied when forwarding to a bare URL through ctx.origin.
_DEFAULT_POLICY = HeaderPolicy()


def upstream_request(request: Request, origin: str, *, strip_prefix: str = "") -> Request:
    """Return the request to send to ``origin`` (scheme://host[:port][/base]).

    The path loses ``strip_prefix`` and gains the origin's base path; the
    query is kept; hop-by-hop fields are dropped; Host becomes the origin's.
    """
    from urllib.parse import urlsplit

    base = urlsplit(origin)
    path = _strip(request.url.path, strip_prefix)
    target = f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}{path}"
    if request.url.query:
        target += "?" + request.url.query
    headers = strip_hop_by_hop(request.headers)
    headers["host"] = base.netloc
    return request.copy(url=target, headers=headers)


def _strip(path: str, prefix: str) -> str:
    if prefix and path.startswith(prefix):
        return path[len(prefix):] or "/"
    return path


def _is_transport(value: object) -> bool:
    return not isinstance(value, str) and callable(getattr(value, "handle", None))


def forward(
    origin: OriginSpec, *, strip_prefix: str = "", on_error: OnError | None = None,
) -> Handler:
    """Return a handler that sends each request on to ``origin`` and relays the answer.

    ``origin`` is one of:

    - a URL: sent through ``ctx.origin`` (the platform's transport) with
      header hygiene but no retries or breaker;
    - a transport, typically from ``build_origin_transport``: it gets the
      request with ``strip_prefix`` removed and does everything else;
    - a function of the context returning either (to read a URL from an env
      var, or pick a compiled origin from the live configuration).

    A fixed URL is checked now, a computed one when first seen. Origin
    failures become 502/503/504 problem+json responses (with Retry-After
    while a breaker is open) unless ``on_error`` answers instead; a request
    body over its limit becomes 413. Nothing the origin does raises out.
    """
    if isinstance(origin, str):
        check_origin_url(origin)
    if isinstance(origin, str) or _is_transport(origin):
        fixed = origin

        def pick(ctx: Context) -> str | Transport:
            return fixed  # type: ignore[return-value]
    else:
        pick = origin  # type: ignore[assignment]
    checked: set[str] = set()

    async def forward_to_origin(request: Request, ctx: Context) -> Response:
        target = pick(ctx)
        try:
            if isinstance(target, str):
                if target not in checked:
                    checked.add(check_origin_url(target))
                response = await _via_context(request, ctx, target, strip_prefix)
            else:
                if strip_prefix:
                    path = request.url.path
                    stripped = _strip(path, strip_prefix)
                else:
                    path = stripped = ""
                if stripped != path:
                    url = request.url
                    rebuilt = f"{url.scheme}://{url.netloc}{stripped}"
                    request = request.copy(url=rebuilt + ("?" + url.query if url.query else ""))
                # PERF: the timing by hand; a context manager costs more than the cache hit.
                began = time.perf_counter()
                try:
                    response = await target.handle(request)
                finally:
                    ctx.timings.record("origin", (time.perf_counter() - began) * 1000.0)
        except OriginError as exc:
            if on_error is not None:
                answer = await on_error(request, ctx, exc)
                if answer is not None:
                    return answer
            return problem_for(exc)
        except HTTPError as exc:  # e.g. BodyTooLarge: 413
            return Response.problem(exc.status, type(exc).title, exc.detail,
                                    headers={"cache-control": "no-store"})
        return response

    forward_to_origin.__qualname__ = f"forward({origin!r})"
    return forward_to_origin


async def _via_context(request: Request, ctx: Context, origin: str, strip_prefix: str) -> Response:
    """Send through ``ctx.origin`` to a bare URL; translate and log failures."""
    from urllib.parse import urlsplit

    base = urlsplit(origin)
    path = _strip(request.url.path, strip_prefix)
    target = f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}{path}"
    if request.url.query:
        target += "?" + request.url.query
    headers = _DEFAULT_POLICY.upstream(request)
    headers.raw.append(("host", base.netloc))
    started = time.perf_counter()
    try:
        response = await ctx.fetch(request.copy(url=target, headers=headers))
    except OriginError as exc:
        if isinstance(exc, OriginFailure):
            exc.origin = exc.origin or base.netloc
            exc.elapsed_ms = (time.perf_counter() - started) * 1000.0
        log.warning("origin %s: %s %s failed in %.1f ms: %s: %s", base.netloc, request.method,
                    path, (time.perf_counter() - started) * 1000.0, type(exc).__name__, exc,
                    extra={"origin": base.netloc, "attempts": 1})
        raise
    response.headers = _DEFAULT_POLICY.downstream(response.headers)
    return response
