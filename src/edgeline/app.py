"""App: method + path handlers behind onion middleware, independent of any runtime.

::

    app = App()

    @app.get("/hello/{name}")
    async def hello(request, ctx):
        return Response.from_text(f"hello {request.params['name']}")

    app.use(timing_middleware)        # outermost first
    response = await app.handle(request, ctx)

Adapters (Cloudflare, the test client) build the Request and Context and
call :meth:`App.handle`; the app never sees the platform.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable

from .context import Context
from .errors import HTTPError
from .messages import Request, Response
from .origin._errors import OriginFailure, problem_for
from .routing import MethodNotAllowed, Redirect, Router, RouterProtocol
from .types import CallNext, Handler, Middleware

__all__ = ["App", "RouteGroup"]

log = logging.getLogger("edgeline")

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class _Routes:
    """Route registration shared by App and RouteGroup."""

    def _add(self, methods: Iterable[str], path: str, handler: Handler, host: str | None) -> None:
        raise NotImplementedError

    def route(
        self, path: str, methods: Iterable[str] = ("GET",), *, host: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated handler for ``methods`` on ``path`` (and ``host``)."""
        def register(handler: Handler) -> Handler:
            self._add(methods, path, handler, host)
            return handler
        return register

    def get(self, path: str, *, host: str | None = None) -> Callable[[Handler], Handler]:
        return self.route(path, ("GET",), host=host)

    def post(self, path: str, *, host: str | None = None) -> Callable[[Handler], Handler]:
        return self.route(path, ("POST",), host=host)

    def put(self, path: str, *, host: str | None = None) -> Callable[[Handler], Handler]:
        return self.route(path, ("PUT",), host=host)

    def patch(self, path: str, *, host: str | None = None) -> Callable[[Handler], Handler]:
        return self.route(path, ("PATCH",), host=host)

    def delete(self, path: str, *, host: str | None = None) -> Callable[[Handler], Handler]:
        return self.route(path, ("DELETE",), host=host)

    def any(self, path: str, *, host: str | None = None) -> Callable[[Handler], Handler]:
        """Register for every method (HEAD is served by GET)."""
        return self.route(path, [m for m in ALL_METHODS if m != "HEAD"], host=host)


class RouteGroup(_Routes):
    """Routes sharing a path prefix (and optionally a host)."""

    def __init__(self, app: App, prefix: str, host: str | None) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"group prefix {prefix!r} must start with '/' and not end with one")
        self._app = app
        self._prefix = prefix
        self._host = host

    def _add(self, methods: Iterable[str], path: str, handler: Handler, host: str | None) -> None:
        self._app._add(methods, self._prefix + path, handler, host or self._host)

    def group(self, prefix: str, *, host: str | None = None) -> RouteGroup:
        return RouteGroup(self._app, self._prefix + prefix, host or self._host)


class App(_Routes):
    """A set of routes and middleware; ``handle(request, ctx)`` serves one request."""

    def __init__(self, *, router: RouterProtocol | None = None, debug: bool = False) -> None:
        self.router: RouterProtocol = router if router is not None else Router()
        self.debug = debug
        self._middleware: list[Middleware] = []
        self._chain: CallNext | None = None
        self.not_found: Handler = _not_found

    def _add(self, methods: Iterable[str], path: str, handler: Handler, host: str | None) -> None:
        for method in methods:
            self.router.add(method.upper(), path, handler, host=host)

    def group(self, prefix: str, *, host: str | None = None) -> RouteGroup:
        """Return a registrar whose routes all start with ``prefix``."""
        return RouteGroup(self, prefix, host)

    def use(self, *middleware: Middleware) -> None:
        """Wrap the app in middleware; the first added is the outermost layer."""
        self._middleware.extend(middleware)
        self._chain = None

    def _build_chain(self) -> CallNext:
        # PERF: the onion is composed once, not per request.
        chain: CallNext = self._dispatch
        for middleware in reversed(self._middleware):
            chain = _layer(middleware, chain)
        self._chain = chain
        return chain

    async def handle(self, request: Request, ctx: Context) -> Response:
        """Run the request through middleware and its handler; never raise."""
        chain = self._chain or self._build_chain()
        try:
            response = await chain(request, ctx)
        except Exception as exc:
            response = self._error_response(request, exc)
        if request.method == "HEAD" and (response.is_streaming or response.body):
            response = _without_body(response)
        return response

    def _dispatch(self, request: Request, ctx: Context) -> Awaitable[Response]:
        # PERF: a plain function handing back the handler's awaitable, so the
        # innermost layer adds no coroutine of its own to every request.
        found = self.router.match(request.method, request.path, request.host)
        if found is None:
            return self.not_found(request, ctx)
        target, params = found
        if type(target) is Redirect:
            # The router's trailing-slash policy: 308 keeps the method (RFC 9110 §15.4.9).
            query = request.url.query
            return _ready(Response.redirect(target.location + ("?" + query if query else ""),
                                            308))
        if type(target) is MethodNotAllowed:
            # RFC 9110 §15.5.6: a 405 response MUST carry Allow.
            return _ready(Response.problem(
                405, "Method Not Allowed", f"{request.method} is not allowed on {request.path}",
                headers={"allow": ", ".join(target.allowed)},
            ))
        request.params = params
        return target(request, ctx)

    def _error_response(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, OriginFailure):
            return problem_for(exc)  # Retry-After and no-store, as the origin path answers
        if isinstance(exc, HTTPError):
            return Response.problem(exc.status, type(exc).title, exc.detail)
        log.error("unhandled error in %s %s", request.method, request.path, exc_info=exc)
        detail = "".join(traceback.format_exception(exc)) if self.debug else ""
        return Response.problem(500, "Internal Server Error", detail)


def _layer(middleware: Middleware, inner: CallNext) -> CallNext:
    # PERF: not a coroutine: the middleware's own awaitable is handed back, so
    # a layer costs one call a request, not a call plus a coroutine to await.
    def layer(request: Request, ctx: Context) -> Awaitable[Response]:
        return middleware(request, ctx, inner)

    layer.__name__ = getattr(middleware, "__name__", "middleware")
    return layer


async def _ready(response: Response) -> Response:
    return response


async def _not_found(request: Request, ctx: Context) -> Response:
    return Response.problem(404, "Not Found", f"no route for {request.method} {request.path}")


def _without_body(response: Response) -> Response:
    """Drop a HEAD response's body, keeping its headers (RFC 9110 §9.3.2)."""
    body = response.body
    stripped = Response(b"", response.status, response.headers)
    if isinstance(body, bytes) and body and "content-length" not in response.headers:
        stripped.headers["content-length"] = str(len(body))
    return stripped
