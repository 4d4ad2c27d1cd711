"""``edgeline proxy``: the built-in edge app, a caching reverse proxy in front of any origin.

::

    edgeline proxy --origin http://127.0.0.1:8000 --listen 127.0.0.1:8080 [--config cache.toml]

No user code: every method passes through (GET, HEAD, POST, PUT, PATCH,
DELETE, OPTIONS and unknown ones), with an RFC 9111 shared cache in front
(``edgeline.cache.CachingTransport`` over an isolate-memory store).
Requests reach the origin with its own Host, X-Forwarded-Host/-Proto/-For,
Forwarded and Via (``edgeline.origin.HeaderPolicy``); Location and
Content-Location answers that name the origin are rewritten to the
client-facing host, as a reverse proxy's answers should be.

``--config FILE`` (TOML or JSON) sets the cache::

    memory_bytes = 67108864          # isolate memory store size
    eviction = "sieve"               # or "lru"
    max_object_bytes = 8388608       # larger bodies stream through unstored
    ignored_query_params = ["utm_*", "fbclid", "gclid"]
    heuristic_fraction = 0.1         # RFC 9111 §4.2.2
    heuristic_max_ttl = 86400
    default_ttl = 0
    set_cookie = "explicit"          # or "bypass", "store", "strip"
    honor_request_directives = true
    stale_if_error_default = 86400   # serve stale this long when the origin is down
    collapse_timeout = 10.0
    connect_timeout = 5.0
    read_timeout = 60.0
    cdn_cache_control = true
    surrogate_control = true         # obey Surrogate-Control aimed at "edgeline" or at all
    purge_token = ""                 # enables PURGE requests carrying this bearer token
    store = "memory"                 # or "kv", or "tiered" (memory, then KV)
    kv_path = ".edgeline/kv.sqlite3" # the emulator's KV file (store = "kv" / "tiered")
    kv_namespace = "edgeline-cache"  # the namespace id in it

``store = "kv"`` keeps responses in the emulator's KV
(``edgeline.emulator.kv.KVStorage(kv_path).namespace(kv_namespace)``),
so they outlive the process and are shared by proxies on one machine;
``"tiered"`` reads isolate memory first and KV behind it (what it finds
in KV is promoted to memory). Only ``"memory"`` answers fresh hits
synchronously, so it is the fastest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .app import App
from .context import Context
from .errors import ConfigError, HTTPError, OriginError
from .headers import Headers
from .messages import Request, Response

__all__ = ["ProxyConfig", "build_app", "load_config", "register"]

log = logging.getLogger("edgeline.proxy")

_DEFAULTS: dict[str, Any] = {
    "memory_bytes": 64 * 1024 * 1024,
    "eviction": "sieve",
    "max_object_bytes": 8 * 1024 * 1024,
    "ignored_query_params": None,
    "heuristic_fraction": 0.1,
    "heuristic_max_ttl": 86400.0,
    "default_ttl": 0.0,
    "set_cookie": "explicit",
    "honor_request_directives": True,
    "stale_if_error_default": 86400.0,
    "collapse_timeout": 10.0,
    "connect_timeout": 5.0,
    "read_timeout": 60.0,
    "cdn_cache_control": True,
    "surrogate_control": True,
    "purge_token": "",
    "store": "memory",
    "kv_path": ".edgeline/kv.sqlite3",
    "kv_namespace": "edgeline-cache",
}
_STORES = ("memory", "kv", "tiered")


class ProxyConfig:
    """The proxy's settings: the defaults above, overridden by a config file."""

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - set(_DEFAULTS))
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(_DEFAULTS))}")
        merged = {**_DEFAULTS, **values}
        for name, default in _DEFAULTS.items():
            value = merged[name]
            if default is None:
                if value is not None and not (isinstance(value, list)
                                              and all(isinstance(v, str) for v in value)):
                    raise ConfigError("must be a list of strings", key=name)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"must be true or false, not {value!r}", key=name)
            elif isinstance(default, (int, float)):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ConfigError(f"must be a non-negative number, not {value!r}", key=name)
            elif not isinstance(value, str):
                raise ConfigError(f"must be a string, not {value!r}", key=name)
        if merged["store"] not in _STORES:
            raise ConfigError(f"must be one of {', '.join(_STORES)}, not {merged['store']!r}",
                              key="store")
        self.values = merged

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


def load_config(path: str | None) -> ProxyConfig:
    """Read a TOML or JSON config file (None: defaults); raise ConfigError naming the file."""
    if path is None:
        return ProxyConfig()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(file)) from None
    try:
        if file.suffix == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"does not parse: {exc}", file=str(file)) from None
    if not isinstance(data, dict):
        raise ConfigError("must hold a table of settings", file=str(file))
    data = data.get("cache", data) if isinstance(data.get("cache"), dict) else data
    try:
        return ProxyConfig(**data)
    except ConfigError as exc:
        raise ConfigError(exc.reason, file=str(file), key=exc.key) from None


class OriginHop:
    """Send a client's request to the origin URL and bring the answer back (a Transport).

    Path and query are kept; Host becomes the origin's; forwarding and Via
    fields come from the origin header policy; answers naming the origin in
    Location/Content-Location are rewritten to the client-facing host.
    """

    def __init__(self, origin: str, transport: Any, *, surrogate: str | None = None) -> None:
        from .origin import HeaderPolicy

        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"--origin must be an http(s) URL, not {origin!r}")
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.netloc = parts.netloc
        self.transport = transport
        # NOTE: no trace or request-id fields: a transparent proxy adds only
        # what a reverse proxy owes the origin (RFC 9110 §7.6, RFC 7239).
        self.policy = HeaderPolicy(trace=False, request_id_header="")
        # W3C Edge Architecture: a surrogate announces itself so the origin
        # can aim Surrogate-Control directives at it.
        self.capability = (surrogate, f'{surrogate}="Surrogate/1.0"') if surrogate else None

    async def handle(self, request: Request) -> Response:
        url = request.url
        target = self.base + (url.path or "/")
        if url.query:
            target += "?" + url.query
        headers = self.policy.upstream(request)
        headers.raw.append(("host", self.netloc))
        if self.capability is not None:
            headers.raw.append(("surrogate-capability", self.capability[1]))
        upstream = Request(request.method, target, headers, request.body, cf=request.cf)
        response = await self.transport.handle(upstream)
        items = self.policy.downstream(response.headers).raw
        client_origin = f"{url.scheme}://{request.headers.get('host') or url.netloc}"
        origin_prefix = f"{urlsplit(self.base).scheme}://{self.netloc}"
        for i, (k, v) in enumerate(items):
            if (k == "location" or k == "content-location") and v.startswith(origin_prefix):
                rest = v[len(origin_prefix):]
                if not rest or rest[0] in "/?#":
                    items[i] = (k, client_origin + rest)
        response.headers = Headers.from_trusted(items)
        return response


class _Unrouted:
    """A router without routes: the proxy answers every request (``App.not_found``).

    PERF: an empty compiled router still normalizes each path to find no
    match; this one answers at once.
    """

    __slots__ = ()

    def add(self, method: str, path: str, target: Any, *, host: str | None = None) -> None:
        raise ConfigError("edgeline proxy takes no routes: every request goes to the origin")

    @staticmethod
    def match(method: str, path: str, host: str = "") -> None:
        return None


def build_app(origin: str, config: ProxyConfig | None = None, *, transport: Any = None,
              managed_rules: int | None = None) -> Any:
    """Return the ASGI app of ``edgeline proxy`` for ``origin`` (``.cache``: its cache).

    ``managed_rules``: a paranoia level (1-4) to put edgeline's managed rules
    in front of the cache, or None for none.
    """
    from .adapters.asgi import AsgiAdapter
    from .cache import DEFAULT_IGNORED_PARAMS, CachePolicy, CachingTransport, MemoryStore

    config = config or ProxyConfig()
    if transport is None:
        from .origin.httpx_transport import HttpxTransport

        # NOTE: its own connections, each lent to one exchange at a time and
        # reused only after a cleanly framed response (a misframed origin's
        # connection is closed, never handed to the next request).
        transport = HttpxTransport(connect_timeout=config.connect_timeout,
                                   read_timeout=config.read_timeout or None)
    hop = OriginHop(origin, transport, surrogate="edgeline" if config.surrogate_control else None)
    try:
        policy = CachePolicy(surrogate_control=config.surrogate_control,
            ignored_params=config.ignored_query_params if config.ignored_query_params is not None
            else DEFAULT_IGNORED_PARAMS,
            cdn_cache_control=config.cdn_cache_control,
            max_object_size=int(config.max_object_bytes) or 1,
            set_cookie=config.set_cookie, honor_request_directives=config.honor_request_directives,
            stale_if_error_default=float(config.stale_if_error_default),
            collapse_timeout=float(config.collapse_timeout) or 0.001,
            heuristic_fraction=float(config.heuristic_fraction),
            heuristic_max=float(config.heuristic_max_ttl), default_ttl=float(config.default_ttl))
        memory = MemoryStore(int(config.memory_bytes) or 1, policy=config.eviction,
                             max_entry_bytes=int(config.max_object_bytes) + 64 * 1024)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    store: Any = memory
    if config.store != "memory":
        store = _kv_store(config, policy, memory)
    app = App(router=_Unrouted())
    if managed_rules is not None:
        from .filtering import managed_rules as managed

        # Filtering runs before the cache: a blocked request never reaches it.
        app.use(managed(paranoia=managed_rules))
    adapter: Any = None

    def background(awaitable: Any) -> None:
        adapter.wait_until(awaitable)

    cache = CachingTransport(hop, store, policy, background=background)
    token = config.purge_token
    from .origin._errors import OriginLoop, problem_for
    from .origin._headers import loops_through_here

    async def proxy(request: Request, ctx: Context) -> Response:
        if "cdn-loop" in request.headers and loops_through_here(request.headers):
            # An origin that points back here: refuse before the cache, where
            # the request would wait for its own miss to complete.
            return problem_for(OriginLoop("the request came back to this proxy"))
        if request.method == "PURGE" and token:
            return await _purge(request, cache, token)
        try:
            return await cache.handle(request)
        except OriginError as exc:
            log.warning("origin failed for %s %s: %s", request.method, request.path, exc)
            return problem_for(exc)
        except HTTPError as exc:
            return Response.problem(exc.status, type(exc).title, exc.detail,
                                    headers={"cache-control": "no-store"})

    app.not_found = proxy
    adapter = AsgiAdapter(app)
    adapter.cache = cache
    adapter.transport = transport
    return adapter


def _kv_store(config: ProxyConfig, policy: Any, memory: Any) -> Any:
    """Return the KV (or memory-then-KV) store the config asks for, on the emulator's KV."""
    import sqlite3

    from .cache import KVStore, TieredStore
    from .emulator.kv import KVStorage

    try:
        storage = KVStorage(config.kv_path)
    except (sqlite3.Error, OSError) as exc:  # name the file
        raise ConfigError(f"cannot open the KV file: {exc}", key="kv_path") from None
    kv = KVStore(storage.namespace(config.kv_namespace), facts=policy.facts,
                 max_ttl=policy.max_ttl)
    return kv if config.store == "kv" else TieredStore([memory, kv])


async def _purge(request: Request, cache: Any, token: str) -> Response:
    """Answer ``PURGE``: the URL itself, or ``Purge-Prefix`` / ``Purge-Tag`` headers."""
    import hmac

    given = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return Response.problem(403, "Forbidden", "PURGE needs the configured bearer token")
    count = 0
    prefix = request.headers.get("purge-prefix")
    tag = request.headers.get("purge-tag")
    if prefix is None and tag is None:
        count += await cache.purge(url=str(request.url))
    if prefix is not None:
        count += await cache.purge(prefix=prefix)
    if tag is not None:
        count += await cache.purge(tag=tag)
    return Response.from_json({"purged": count})


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--listen must be HOST:PORT, not {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


async def _serve(args: argparse.Namespace) -> int:
    from .cli import _bind, _server

    try:
        config = load_config(args.config)
        app = build_app(args.origin, config,
                        managed_rules=args.paranoia if args.managed_rules else None)
    except ConfigError as exc:
        print(f"edgeline proxy: {exc}", file=sys.stderr)
        return 2
    host, port = args.listen
    sock = _bind(host, port)
    server = _server(app)
    # NOTE: a proxy passes the origin's Date on (RFC 9110 §6.6.1) and names no
    # server of its own; uvicorn would prepend both to every response.
    server.config.date_header = False
    server.config.server_header = False
    print(f"edgeline proxy: {args.origin} cached at http://{host}:{sock.getsockname()[1]}",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopped], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await asyncio.gather(task, return_exceptions=True)
    stopped.cancel()
    await app.aclose()
    aclose = getattr(app.transport, "aclose", None)
    if aclose is not None:
        await aclose()
    print("edgeline proxy: stopped", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``proxy`` subcommand to the edgeline CLI's subparsers."""
    parser = subparsers.add_parser(
        "proxy", help="run a caching reverse proxy in front of an origin (no user code)")
    parser.add_argument("--origin", required=True, help="the origin's base URL (http or https)")
    parser.add_argument("--listen", type=_listen, default=("127.0.0.1", 8080),
                        help="HOST:PORT to listen on (default 127.0.0.1:8080)")
    parser.add_argument("--config", default=None, help="a TOML or JSON file of cache settings")
    parser.add_argument("--managed-rules", action="store_true",
                        help="filter requests with edgeline's managed rules (docs/rules.md)")
    parser.add_argument("--paranoia", type=int, choices=(1, 2, 3, 4), default=1,
                        help="managed rules' paranoia level: higher catches more, and "
                             "blocks more legitimate traffic (default 1)")
    parser.set_defaults(func=_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``edgeline proxy`` on its own (``python -m edgeline.proxy``)."""
    parser = argparse.ArgumentParser(prog="edgeline")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
