"""The configuration plane of a worker: load from KV, refresh in the background, serve.

::

    plane = ConfigPlane("EDGE_CONFIG", "edge-config", refresh_seconds=30)
    app.use(plane.middleware)

Lifecycle
    Loading is lazy: Workers run top-level code once, at deploy, with no
    bindings and no I/O, so the first request of an isolate reads the KV key
    and compiles it (requests arriving meanwhile await the same load). From
    then on no request waits on KV: when a request arrives and
    ``refresh_seconds`` have passed since the last check, a refresh is handed
    to ``ctx.wait_until`` (there are no background threads on Workers) and
    the request goes on with the configuration in hand. A refresh that finds
    the same bytes does nothing; new bytes are decoded and compiled, and the
    :class:`~edgeline.config.CompiledConfig` replaces the old one in a single
    assignment, so a request sees one whole configuration from start to end.

Last known good
    A value that cannot be read, decoded or compiled is rejected whole. The
    worker keeps serving its last good configuration (or, before the first
    good one, only the app's own routes), logs every problem with its field
    path and expected type, and reports it on the admin route. The same bad
    bytes are reported once, not at every refresh.

Routing
    Routes from KV are matched before the app's own routes: a match runs the
    route's action; anything else (no match, or a path that matches with
    another method) goes on to the rest of the app. The compiled
    configuration is in ``ctx.state["edgeline.config"]`` for later
    middleware (rules, geo policies).

Admin route
    ``GET admin_path`` (default ``/_edgeline/config``) answers the plane's
    status and the isolate's origin circuit breakers as JSON; ``POST``
    refreshes first. It requires
    ``Authorization: Bearer <secret>`` where the secret is the env binding
    named ``admin_secret_env``, compared in constant time; without that
    binding the route does not exist (404), so an unconfigured worker
    exposes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..context import Context
from ..errors import ConfigError
from ..messages import Request, Response
from ..routing import MethodNotAllowed, Redirect
from ..types import CallNext, Middleware, Transport
from ._errors import ConfigInvalid, Problem
from ._limits import check_key

if TYPE_CHECKING:
    from ._compile import CompiledConfig, Compiler

__all__ = ["STATE_KEY", "ConfigPlane"]

log = logging.getLogger("edgeline.config")

# Where the middleware leaves the configuration a request is served with.
STATE_KEY = "edgeline.config"

_BINDING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _binding(env: Any, name: str) -> Any:
    try:
        return env[name]
    except (KeyError, TypeError, AttributeError):
        return getattr(env, name, None)


class ConfigPlane:
    """Keep a worker's configuration from one KV key compiled, fresh and known good.

    ``binding`` is the KV namespace binding, ``key`` the key of the
    ``EdgeConfig`` document. ``clock`` (monotonic seconds) paces refreshes
    and ``wall_clock`` stamps the status; both are read only when called.
    """

    def __init__(
        self,
        binding: str = "EDGE_CONFIG",
        key: str = "edge-config",
        *,
        refresh_seconds: float = 30.0,
        admin_secret_env: str = "EDGELINE_ADMIN_SECRET",
        admin_path: str = "/_edgeline/config",
        compilers: dict[str, Compiler] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not _BINDING.match(binding):
            raise ConfigError(f"binding {binding!r} is not a binding name", key="binding")
        try:
            check_key(key)
        except ConfigInvalid as exc:
            raise ConfigError(exc.problems[0].message, key="key") from None
        if not refresh_seconds > 0:
            raise ConfigError(f"refresh_seconds must be positive, not {refresh_seconds!r}",
                              key="refresh_seconds")
        if not admin_path.startswith("/"):
            raise ConfigError(f"admin_path must start with '/', not {admin_path!r}",
                              key="admin_path")
        self.binding = binding
        self.key = key
        self.refresh_seconds = float(refresh_seconds)
        self.admin_secret_env = admin_secret_env
        self.admin_path = admin_path
        self._compilers = compilers
        self._clock = clock
        self._wall = wall_clock
        self._current: CompiledConfig | None = None
        self._seen: str | bytes | None = None  # the last bytes tried, good or bad
        self._first: asyncio.Future[bool] | None = None
        self._started = False
        self._refreshing = False
        self._next_check = 0.0
        self.loaded_at: float | None = None
        self.checked_at: float | None = None
        self.error: ConfigInvalid | None = None
        self.error_at: float | None = None
        self.loads = 0
        self.rejections = 0
        # ``loader`` loads/refreshes and puts the configuration in ctx.state (and
        # serves the admin route); ``routes`` answers the configuration's routes;
        # ``middleware`` is both, for apps with nothing to run in between (such
        # as filters that must see every request before routing).
        self.loader, self.routes, self.middleware = self._make_middleware()

    @property
    def current(self) -> CompiledConfig | None:
        """Return the configuration being served (None before the first good one)."""
        return self._current

    @property
    def source(self) -> str:
        return f"kv:{self.binding}/{self.key}"

    # -- loading --------------------------------------------------------------------

    async def refresh(self, env: Any, base: Transport | None = None) -> bool:
        """Read the key and swap in its configuration if new and good; never raise.

        Return True when the configuration served is the one in KV now.
        """
        self.checked_at = self._wall()
        try:
            namespace = _binding(env, self.binding)
            if namespace is None:
                raise ConfigInvalid([Problem(
                    "$", f"the worker has no KV binding named {self.binding!r}")],
                    source=self.source)
            raw = await namespace.get(self.key)
            # NOTE: Pyodide may hand back JS null as its own jsnull object, not None.
            if raw is None or type(raw).__name__ in ("JsNull", "JsUndefined"):
                raise ConfigInvalid([Problem("$", f"no value under key {self.key!r}")],
                                    source=self.source)
            if isinstance(raw, memoryview):
                raw = raw.tobytes()
            if not isinstance(raw, (str, bytes)):
                raise ConfigInvalid([Problem(
                    "$", f"the KV binding returned a {type(raw).__name__}, not text")],
                    source=self.source)
            if raw == self._seen:
                return self.error is None
            self._seen = raw
            # NOTE: the decoder (msgspec) is imported with the first value, not at
            # isolate start: a worker that never reads configuration never needs it.
            from ._load import load_config

            compiled = load_config(raw, env=env, base=base, source=self.source,
                                   only=self._compilers)
        except ConfigInvalid as exc:
            self._reject(exc)
            return False
        except Exception as exc:  # NOTE: a failed refresh must never reach a client
            self._reject(ConfigInvalid(
                [Problem("$", f"reading the configuration failed: {type(exc).__name__}: {exc}")],
                source=self.source))
            return False
        # The swap: one assignment, so a request holds either the old whole or the new.
        self._current = compiled
        self.loaded_at = self.checked_at
        self.error = None
        self.error_at = None
        self.loads += 1
        log.info("configuration %s loaded: version %d, %d routes, sha256 %s",
                 self.source, compiled.config.version, compiled.routes, compiled.digest[:12])
        return True

    def _reject(self, exc: ConfigInvalid) -> None:
        exc.source = exc.source or self.source
        self.error = exc
        self.error_at = self.checked_at
        self.rejections += 1
        current = self._current
        keeping = (f"keeping version {current.config.version} (sha256 {current.digest[:12]})"
                   if current is not None else "no configuration loaded yet; serving app routes")
        log.error("configuration %s rejected, %s:\n%s", exc.source, keeping, exc.report())

    async def _refresh_in_background(self, env: Any, base: Transport | None) -> None:
        try:
            await self.refresh(env, base)
        finally:
            self._refreshing = False

    async def ensure_loaded(self, ctx: Context) -> None:
        """Wait for the isolate's first load (started now if nothing started it yet).

        The first requests of an isolate share one load, whoever asks for it (the
        loader middleware, or a stage placed before it); later ones never wait.
        """
        first = self._first
        if first is None:
            first = self._first = asyncio.ensure_future(self.refresh(ctx.env, ctx.origin))
        await first
        self._started = True
        self._next_check = self._clock() + self.refresh_seconds

    def _maybe_refresh(self, ctx: Context) -> None:
        now = self._clock()
        if now < self._next_check or self._refreshing:
            return
        self._next_check = now + self.refresh_seconds
        self._refreshing = True
        work = self._refresh_in_background(ctx.env, ctx.origin)
        try:
            ctx.wait_until(work)
        except Exception:  # NOTE: no waitUntil here: refresh on a later request
            work.close()
            self._refreshing = False

    # -- serving --------------------------------------------------------------------

    def _make_middleware(self) -> tuple[Middleware, Middleware, Middleware]:
        admin_path = self.admin_path

        async def config_loader(request: Request, ctx: Context, call_next: CallNext) -> Response:
            if request.path == admin_path:
                return await self._admin(request, ctx)
            if not self._started:
                await self.ensure_loaded(ctx)
            else:
                self._maybe_refresh(ctx)
            ctx.state[STATE_KEY] = self._current
            return await call_next(request, ctx)

        async def config_routes(request: Request, ctx: Context, call_next: CallNext) -> Response:
            current = ctx.state.get(STATE_KEY, self._current)
            if current is not None and current.router is not None:
                found = current.router.match(request.method, request.path, request.host)
                if found is not None:
                    target, params = found
                    kind = type(target)
                    if kind is not MethodNotAllowed and kind is not Redirect:
                        request.params = params
                        response: Response = await target(request, ctx)
                        return response
            return await call_next(request, ctx)

        async def config_plane(request: Request, ctx: Context, call_next: CallNext) -> Response:
            async def routes(request: Request, ctx: Context) -> Response:
                return await config_routes(request, ctx, call_next)

            return await config_loader(request, ctx, routes)

        return config_loader, config_routes, config_plane

    def status(self) -> dict[str, Any]:
        """Return the plane's state as plain data (what the admin route shows)."""
        current = self._current
        loaded: dict[str, Any] | None = None
        if current is not None:
            loaded = {
                "version": current.config.version,
                "sha256": current.digest,
                "bytes": current.size,
                "routes": current.routes,
                "parts": {name: _size_of(part) for name, part in current.parts.items()},
                "loaded_at": _iso(self.loaded_at),
            }
        error: dict[str, Any] | None = None
        if self.error is not None:
            error = {
                "at": _iso(self.error_at),
                "source": self.error.source,
                "problems": [p.as_dict() for p in self.error.problems],
            }
        return {
            "source": self.source,
            "refresh_seconds": self.refresh_seconds,
            "checked_at": _iso(self.checked_at),
            "loads": self.loads,
            "rejections": self.rejections,
            "serving": loaded,
            "error": error,
            "origins": _origin_health(),
        }

    async def _admin(self, request: Request, ctx: Context) -> Response:
        secret = _binding(ctx.env, self.admin_secret_env)
        if not secret:
            return Response.problem(404, "Not Found", f"no route for {request.method} {request.path}")
        given = request.headers.get("authorization") or ""
        scheme, _, token = given.partition(" ")
        # PERF: hmac is imported by the admin route, not at start-up.
        import hmac

        # APPSEC: constant-time comparison, so timing does not reveal the secret.
        ok = hmac.compare_digest(token.strip().encode(), str(secret).encode())
        if scheme.lower() != "bearer" or not ok:
            # RFC 6750 §3: a 401 names the scheme the client must use.
            return Response.problem(401, "Unauthorized", "a valid bearer token is required",
                                    headers={"www-authenticate": 'Bearer realm="edgeline-admin"',
                                             "cache-control": "no-store"})
        if request.method == "POST":
            self._seen = None  # re-read and recompile even if the bytes are the same
            await self.refresh(ctx.env, ctx.origin)
            self._started = True
            self._next_check = self._clock() + self.refresh_seconds
        elif request.method not in ("GET", "HEAD"):
            return Response.problem(405, "Method Not Allowed",
                                    f"{request.method} is not allowed on {request.path}",
                                    headers={"allow": "GET, HEAD, POST"})
        return Response.from_json(self.status(), headers={"cache-control": "no-store"})


def _origin_health() -> dict[str, Any]:
    """Return the isolate's circuit breakers by origin and URL (empty before any is made).

    PERF: read from the module only if something already imported it; no
    breaker can exist otherwise, and the status route should not load it.
    """
    resilience = sys.modules.get("edgeline.origin._resilience")
    return resilience.HEALTH.snapshot() if resilience is not None else {}


def _size_of(part: Any) -> int | None:
    try:
        return len(part)
    except TypeError:
        return None
