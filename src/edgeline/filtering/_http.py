"""CORS and security headers as middleware factories, plus standalone limiter and auth layers.

Each factory checks its options when called and returns a named middleware.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..context import Context
from ..headers import Headers
from ..messages import Request, Response
from ..types import CallNext, Middleware
from ._errors import FilterConfigError

__all__ = ["cors", "security_headers"]

_SIMPLE_METHODS = ("GET", "HEAD", "POST")


def cors(
    *, allow_origins: Iterable[str] = (), allow_origin_regex: str | None = None,
    allow_methods: Iterable[str] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"),
    allow_headers: Iterable[str] = (), expose_headers: Iterable[str] = (),
    allow_credentials: bool = False, max_age: int = 600,
) -> Middleware:
    """Return middleware answering CORS preflights and marking responses (Fetch standard §3.2).

    ``allow_origins`` lists exact origins (``https://app.example``) or ``*``.
    ``*`` cannot be combined with credentials: the Fetch standard forbids
    ``Access-Control-Allow-Origin: *`` on credentialed requests.
    """
    origins = frozenset(allow_origins)
    if "*" in origins and allow_credentials:
        raise FilterConfigError("cors: allow_origins='*' cannot be used with allow_credentials")
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
            raise FilterConfigError(f"cors: {origin!r} is not an origin (scheme://host[:port])")
    pattern = re.compile(allow_origin_regex) if allow_origin_regex else None
    methods = ", ".join(m.upper() for m in allow_methods)
    allowed_headers = {h.lower() for h in allow_headers}
    for header in allowed_headers | {h.lower() for h in expose_headers}:
        Headers({header: ""})
    exposed = ", ".join(expose_headers)
    if max_age < 0:
        raise FilterConfigError("cors: max_age must be >= 0")

    def allowed(origin: str) -> bool:
        return "*" in origins or origin in origins or bool(pattern and pattern.fullmatch(origin))

    def mark(headers: Headers, origin: str) -> None:
        headers["access-control-allow-origin"] = "*" if "*" in origins and not allow_credentials else origin
        if allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        # The answer depends on Origin: caches must key on it (RFC 9110 §12.5.5).
        vary = headers.get("vary")
        if vary is None:
            headers["vary"] = "Origin"
        elif "origin" not in vary.lower() and vary.strip() != "*":
            headers["vary"] = vary + ", Origin"

    async def cors_middleware(request: Request, ctx: Context, call_next: CallNext) -> Response:
        origin = request.headers.get("origin")
        if origin is None:
            return await call_next(request, ctx)
        preflight = (request.method == "OPTIONS"
                     and "access-control-request-method" in request.headers)
        if preflight:
            response = Response(b"", 204)
            if allowed(origin):
                wanted = request.headers.get("access-control-request-headers") or ""
                asked = [h.strip().lower() for h in wanted.split(",") if h.strip()]
                if all(h in allowed_headers for h in asked):
                    mark(response.headers, origin)
                    response.headers["access-control-allow-methods"] = methods
                    if asked:
                        response.headers["access-control-allow-headers"] = ", ".join(asked)
                    response.headers["access-control-max-age"] = str(max_age)
            else:
                response.headers["vary"] = "Origin"
            return response
        response = await call_next(request, ctx)
        if allowed(origin):
            mark(response.headers, origin)
            if exposed:
                response.headers["access-control-expose-headers"] = exposed
        return response

    return cors_middleware


_DEFAULTS: dict[str, str] = {
    # RFC 6797: HTTPS only, for a year, subdomains included.
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'self'",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


def security_headers(overrides: Mapping[str, str | None] | None = None, *,
                     override_origin: bool = False) -> Middleware:
    """Return middleware adding security headers to every response.

    ``overrides`` changes a default (``{"x-frame-options": "SAMEORIGIN"}``)
    or removes it (``None``). Headers the origin already set are kept unless
    ``override_origin``.
    """
    chosen: dict[str, Any] = dict(_DEFAULTS)
    for name, value in (overrides or {}).items():
        chosen[name.lower()] = value
    final = {k: v for k, v in chosen.items() if v is not None}
    Headers(final)  # validates names and values now, not per request

    async def add_security_headers(request: Request, ctx: Context, call_next: CallNext) -> Response:
        response = await call_next(request, ctx)
        headers = response.headers
        for name, value in final.items():
            if override_origin or name not in headers:
                headers[name] = value
        return response

    return add_security_headers
