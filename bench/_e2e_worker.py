"""Serve the end-to-end benchmark's edge worker: middleware, filter, geo, router, cache, origin.

The worker is what a user of edgeline would write for a small site, and
every benchmark scenario goes through all of it::

    server_timing -> filter -> geo redirect -> router -> handler
                                                 \\-> forward -> cache -> origin

* ``GET /hello/{name}``: answered at the edge (a greeting by country);
* ``GET /`` from a country with a home page: a geo redirect (302);
* a request carrying an attack signature: blocked (403) by the filter;
* anything else: forwarded through the RFC 9111 cache to the origin
  (``/obj``: cacheable, so a hit; ``/nostore``: always a miss).

The filter is ``edgeline.filtering.managed_rules`` and the geo redirect is
``edgeline.personalize.personalize`` over a ``GeoPlan`` of ``Redirect``
policies when those modules exist; otherwise the worker's own code below
stands in, and :func:`implementations` says which ran (the benchmark
records it beside the figures). NOTE: the personalize redirect sends a
visitor from DE at any path outside ``/de`` to ``/de/...``; the peers (and
the stand-in) redirect ``/`` only. The scenarios ask for ``/`` from DE and
for everything else from US, so both answer the same.

Run: ``python bench/_e2e_worker.py PORT ORIGIN_URL`` (``PYTHONPATH=src``).
The client's location comes from a ``cf-blob`` header holding the
``request.cf`` JSON, as workerd's ``cfBlobHeader`` takes it, so the same
requests drive this worker and the Hono one.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any
from urllib.parse import unquote_plus

from edgeline import App, Context, Request, Response
from edgeline.types import CallNext

GREETINGS = {"DE": "Hallo", "FR": "Bonjour", "ES": "Hola", "IT": "Ciao", "JP": "Konnichiwa",
             "BR": "Ola", "NL": "Hallo", "SE": "Hej"}
# Countries whose visitors to "/" are sent to their own home page.
HOMES = {"DE": "/de/", "FR": "/fr/", "JP": "/ja/", "BR": "/pt-br/"}
CACHE_BYTES = 16 * 1024 * 1024

# NOTE: the stand-in filter is the one the Starlette and Hono peers use
# (same expression), so without the managed rules the three do equal work.
SIGNATURES = re.compile(
    r"(?i)(union\s+(all\s+)?select|<\s*script|'\s*or\s*'?\d|\.\./|/etc/passwd|sleep\s*\()")


def implementations() -> dict[str, str]:
    """Return which code serves the blocked and geo-redirect scenarios."""
    return {"blocked_impl": _filter()[1], "geo_impl": _geo()[1]}


def _filter() -> tuple[Any, str]:
    try:
        from edgeline.filtering import managed_rules
    except ImportError:
        return signature_filter, "worker-regex (stand-in)"
    return managed_rules(paranoia=1), "edgeline.filtering.managed_rules(paranoia=1)"


def _geo() -> tuple[Any, str]:
    try:  # the geo redirect API of the personalization stage
        from edgeline.personalize import GeoPlan, PolicyView, Redirect, personalize
    except ImportError:
        return geo_redirect, "worker-code (stand-in)"
    plan = GeoPlan([(PolicyView(f"home-{code.lower()}", redirect=Redirect(path_prefix=home)),
                     (), (code,), ()) for code, home in HOMES.items()])
    return personalize(plan), "edgeline.personalize.personalize(GeoPlan with Redirect)"


async def server_timing(request: Request, ctx: Context, call_next: CallNext) -> Response:
    """Report the time spent at the edge (W3C Server-Timing)."""
    response = await call_next(request, ctx)
    response.headers["server-timing"] = f"edge;dur={ctx.timings.elapsed_ms():.2f}"
    return response


async def signature_filter(request: Request, ctx: Context, call_next: CallNext) -> Response:
    """Block requests whose decoded path or query carries a common attack signature."""
    url = request.url
    target = unquote_plus(url.path + "?" + url.query) if url.query else unquote_plus(url.path)
    if SIGNATURES.search(target):
        return Response.from_text("Forbidden\n", 403, {"cache-control": "no-store"})
    return await call_next(request, ctx)


async def geo_redirect(request: Request, ctx: Context, call_next: CallNext) -> Response:
    """Send visitors of ``/`` from a country with its own home page there (302)."""
    if request.path == "/" and request.method in ("GET", "HEAD"):
        home = HOMES.get(ctx.geo.country or "")
        if home is not None:
            # private: the answer depends on where the client is.
            return Response.redirect(home, 302, {"cache-control": "private"})
    return await call_next(request, ctx)


def build(origin: str) -> Any:
    """Return the ASGI app of the benchmark worker in front of ``origin``."""
    from edgeline.adapters.asgi import AsgiAdapter
    from edgeline.cache import CachePolicy, CachingTransport, MemoryStore
    from edgeline.origin import forward
    from edgeline.origin.httpx_transport import HttpxTransport
    from edgeline.proxy import OriginHop

    app = App()
    app.use(server_timing, _filter()[0], _geo()[0])

    @app.get("/")
    async def index(request: Request, ctx: Context) -> Response:
        return Response.from_json({"service": "edgeline bench worker",
                                   "country": ctx.geo.country})

    @app.get("/hello/{name}")
    async def hello(request: Request, ctx: Context) -> Response:
        greeting = GREETINGS.get(ctx.geo.country or "", "Hello")
        return Response.from_text(f"{greeting}, {request.params['name']}! (from the edge)\n")

    adapter: Any = None

    def background(awaitable: Any) -> None:
        adapter.wait_until(awaitable)

    transport = HttpxTransport(connect_timeout=5.0, read_timeout=30.0)
    cache = CachingTransport(OriginHop(origin, transport), MemoryStore(CACHE_BYTES),
                             CachePolicy(), background=background)
    app.any("/{rest:path}")(forward(cache))
    adapter = AsgiAdapter(app, cf=cf_from_header)
    return adapter


_CF: dict[bytes, dict[str, Any]] = {}


def cf_from_header(scope: dict[str, Any]) -> dict[str, Any]:
    """Return ``request.cf`` from the ``cf-blob`` header (the platform's job on Cloudflare)."""
    for name, value in scope["headers"]:
        if name == b"cf-blob":
            cf = _CF.get(value)
            if cf is None:
                try:
                    cf = json.loads(value)
                except ValueError:
                    cf = {}
                if not isinstance(cf, dict):
                    cf = {}
                if len(_CF) < 1024:  # PERF: a handful of distinct blobs in a benchmark
                    _CF[value] = cf
            return cf
    return {}


if __name__ == "__main__":
    from _serve import serve_main

    serve_main(build, sys.argv)
