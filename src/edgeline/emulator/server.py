"""The emulator: the worker behind an ASGI app, as workerd would run it.

Per request it builds the web ``Request`` workerd would hand the worker
(with Cloudflare's added headers and a full ``request.cf``), calls the
worker's entrypoint through the ``workers`` stand-in, streams the response
back, and runs ``waitUntil`` work after the response, logging its errors.

The worker's modules are re-imported when a file under the worker's folder
changes; an import that fails is reported in the console and as a 500 page,
and the next save that imports cleanly serves again, without a restart.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import importlib
import itertools
import logging
import os
import secrets
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .._heap import settle
from ..adapters.asgi import answer_lifespan, receive_body
from ..context import Bindings
from . import install_workers_module
from .cf import GEO_HEADER, GeoOverrideError, build_cf
from .config import WorkerConfig, load_dev_vars
from .ipgeo import CLIENT_IP_HEADER
from .ipgeo import client_ip as _client_ip
from .kv import KVStorage
from .ratelimit import bindings_from_config

__all__ = ["Emulator", "WorkerLoader"]

log = logging.getLogger("edgeline.dev")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class WorkerLoader:
    """Import the worker's main module, and re-import it when its files change."""

    def __init__(self, main: Path, extra_watch: list[Path] | None = None) -> None:
        self.main = main.resolve()
        self.root = self.main.parent
        self.watch_roots = [self.root, *(p.resolve() for p in extra_watch or [])]
        self.module: ModuleType | None = None
        self.error: str | None = None
        self.generation = 0
        self._snapshot: dict[str, float] = {}

    def _files(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for root in self.watch_roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
                for name in filenames:
                    if name.endswith(".py"):
                        path = os.path.join(dirpath, name)
                        try:
                            found[path] = os.stat(path).st_mtime_ns
                        except FileNotFoundError:
                            continue
        return found

    def _purge(self) -> None:
        """Forget the worker's modules: those loaded from its folders, and any
        module of the same top-level name loaded from elsewhere (which an
        import would otherwise find first)."""
        roots = tuple(str(r) + os.sep for r in self.watch_roots)
        local = {p.stem for p in self.root.iterdir()
                 if p.suffix == ".py" or (p / "__init__.py").is_file()}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None) or ""
            if file.startswith(roots) or name.partition(".")[0] in local:
                del sys.modules[name]

    def load(self) -> bool:
        """(Re-)import the main module; on failure keep the traceback in ``error``."""
        self._snapshot = self._files()
        self._purge()
        importlib.invalidate_caches()
        root = str(self.root)
        if root in sys.path:
            sys.path.remove(root)
        sys.path.insert(0, root)
        try:
            module = importlib.import_module(self.main.stem)
        except (Exception, SystemExit) as exc:
            self.module = None
            self.error = "".join(traceback.format_exception(exc))
            log.error("worker failed to import:\n%s", self.error)
            return False
        self.module = module
        self.error = None
        self.generation += 1
        # PERF: the replaced worker's cycles are collected, the new one is kept out of sight.
        settle()
        return True

    def changed(self) -> bool:
        return self._files() != self._snapshot

    async def watch(self, interval: float = 0.3) -> None:
        """Poll the worker's files and reload on change, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            if self.changed():
                log.info("change detected, reloading the worker")
                if self.load():
                    log.info("worker reloaded")


class ExecutionContext:
    """``ctx`` as the worker sees it: ``waitUntil``, ``passThroughOnException``, ``props``."""

    __slots__ = ("tasks", "props")

    def __init__(self) -> None:
        self.tasks: list[asyncio.Future[Any]] = []
        self.props: dict[str, Any] = {}

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        # NOTE: a JS promise runs from the moment it exists; start the work now.
        self.tasks.append(asyncio.ensure_future(awaitable))

    def passThroughOnException(self) -> None:
        """Accepted; the emulator has no origin to fall through to."""


_ray_counter = itertools.count(1)


class Emulator:
    """An ASGI app that runs one worker the way the Workers runtime does."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        state_dir: Path,
        location: str | dict[str, Any] = "US",
        extra_watch: list[Path] | None = None,
        env_name: str | None = None,
        ip_geo: Any = None,
        trust_forwarded: bool = False,
    ) -> None:
        """``ip_geo`` (an ``edgeline.emulator.ipgeo.IPGeo``) derives request.cf from the
        client's address; ``trust_forwarded`` lets loopback peers name that address in
        X-Edgeline-Client-IP or X-Forwarded-For (see ``edgeline.emulator.ipgeo``)."""
        install_workers_module()
        import workers._runtime as runtime

        self.config = config
        self.location = location
        self.ip_geo = ip_geo
        self.trust_forwarded = trust_forwarded
        state_dir.mkdir(parents=True, exist_ok=True)
        self.kv = KVStorage(state_dir / "kv.sqlite3")
        for warning in config.warnings:
            log.warning("%s", warning)
        values: dict[str, Any] = dict(config.vars)
        secrets_ = load_dev_vars(config.root, env_name)
        values.update(secrets_)
        for binding in config.kv_namespaces:
            values[binding.binding] = self.kv.namespace(binding.id)
        values.update(bindings_from_config(config.ratelimits))
        self.env = Bindings(values)
        runtime.configure(self.env, set(config.compatibility_flags))
        self._runtime = runtime
        self.loader = WorkerLoader(config.main, extra_watch)
        self.loader.load()
        self._background: set[asyncio.Task[None]] = set()
        self._colo_suffix = secrets.token_hex(4)

    # -- ASGI ------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"the emulator serves HTTP only, not {scope['type']}")
        started = time.perf_counter()
        status, cache_status = await self._serve(scope, receive, send)
        elapsed = (time.perf_counter() - started) * 1000.0
        path = scope.get("path", "")
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        suffix = f" {cache_status}" if cache_status else ""
        log.info("%s %s %d %.1fms%s", scope["method"], path, status, elapsed, suffix)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> tuple[int, str | None]:
        from workers import Request
        from workers._web import JsObject, ReadableStream, WebHeaders, WebRequest

        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        override = None
        kept: list[tuple[str, str]] = []
        host = None
        length = None
        chunked = False
        for name, value in headers:
            if name == GEO_HEADER:
                override = value
                continue
            if name == CLIENT_IP_HEADER:
                continue
            if name == "host":
                host = value
            elif name == "content-length":
                length = value
            elif name == "transfer-encoding":
                chunked = True
            kept.append((name, value))
        client_ip = _client_ip((scope.get("client") or ("127.0.0.1", 0))[0], headers,
                               trust_forwarded=self.trust_forwarded)
        location = self.ip_geo.lookup(client_ip) if self.ip_geo is not None else None
        try:
            cf = build_cf(location or self.location, override,
                          http_protocol=f"HTTP/{scope.get('http_version', '1.1')}")
        except GeoOverrideError as exc:
            return await _plain(send, 400, f"Bad {GEO_HEADER} header: {exc}\n"), None

        scheme = scope.get("scheme", "http")
        # Cloudflare adds these to every request it passes to a worker.
        kept += [
            ("cf-connecting-ip", client_ip),
            ("cf-ipcountry", str(cf.get("country", "XX"))),
            ("cf-ray", f"{next(_ray_counter):08x}{self._colo_suffix}-{cf.get('colo', 'DEV')}"),
            ("cf-visitor", f'{{"scheme":"{scheme}"}}'),
            ("x-forwarded-proto", scheme),
            ("x-real-ip", client_ip),
        ]
        if host is None:
            server = scope.get("server") or ("127.0.0.1", 8787)
            host = f"{server[0]}:{server[1]}"
        raw_path = scope.get("raw_path") or scope["path"].encode()
        url = f"{scheme}://{host}{raw_path.decode('latin-1')}"
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        method = scope["method"]
        has_body = method not in ("GET", "HEAD") and (chunked or (length not in (None, "0")))
        web_request = WebRequest(
            url, method=method, headers=WebHeaders._trusted(kept),
            body=ReadableStream(receive_body(receive)) if has_body else None,
            cf=JsObject(cf),
        )
        return await self._run_worker(Request(web_request), send)

    async def _run_worker(self, request: Any, send: Send) -> tuple[int, str | None]:
        module = self.loader.module
        if module is None:
            return await _error_page(send, "The worker failed to import", self.loader.error or ""), None
        ctx = ExecutionContext()
        token = self._runtime.set_request_context(ctx)
        try:
            result = await _call_entrypoint(module, request, self.env, ctx)
            js_response = _to_web_response(result)
        except Exception as exc:
            log.error("worker raised while handling %s %s:\n%s", request.js_object.method,
                      request.js_object.url, "".join(traceback.format_exception(exc)))
            self._after_response(ctx)
            return await _error_page(send, "The worker raised an exception",
                                     "".join(traceback.format_exception(exc))), None
        finally:
            self._runtime.reset_request_context(token)
        try:
            await _send_web_response(send, js_response)
        finally:
            self._after_response(ctx)
        headers = js_response.headers
        return js_response.status, headers.get("cache-status") or headers.get("cf-cache-status")

    def _after_response(self, ctx: ExecutionContext) -> None:
        if not ctx.tasks:
            return
        task = asyncio.ensure_future(_settle(ctx.tasks))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for pending waitUntil work."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)

    async def aclose(self) -> None:
        """Finish waitUntil work, close outbound clients and the KV store."""
        await self.drain()
        from workers.fetch import aclose_clients

        await aclose_clients()
        self.kv.close()


async def _call_entrypoint(module: ModuleType, request: Any, env: Any, ctx: ExecutionContext) -> Any:
    entry = getattr(module, "Default", None)
    if entry is not None:
        instance = entry(ctx, env)
        return await instance.fetch(request)
    on_fetch = getattr(module, "on_fetch", None)
    if on_fetch is not None:
        return await on_fetch(request, env, ctx)
    raise RuntimeError(f"{module.__file__} defines neither `class Default(WorkerEntrypoint)` "
                       "nor `on_fetch`")


def _to_web_response(result: Any) -> Any:
    from workers import FetchResponse
    from workers._web import WebResponse

    if isinstance(result, FetchResponse):
        return result.js_object
    if isinstance(result, WebResponse):
        return result
    raise TypeError(f"the fetch handler returned {type(result).__name__}, expected a Response")


async def _settle(tasks: list[asyncio.Future[Any]]) -> None:
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            log.error("waitUntil task failed:\n%s", "".join(traceback.format_exception(outcome)))


_date_cache: tuple[int, bytes] = (0, b"")


def _http_date() -> bytes:
    """The Date field value for now, formatted once a second (RFC 9110 §5.6.7)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True).encode())
    return _date_cache[1]


async def _send_web_response(send: Send, response: Any) -> None:
    stream = response.body
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers._pairs()]
    if not response.headers.has("date"):
        # Cloudflare dates every response; one from the origin passes through as it is.
        headers.append((b"date", _http_date()))
    if stream is None:
        if response.status not in (204, 304) and not response.headers.has("content-length"):
            headers.append((b"content-length", b"0"))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    if stream._source is None:
        # PERF: a body that is one known buffer goes out in a single message.
        data = await stream._read_all()
        if not response.headers.has("content-length"):
            headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    try:
        async for chunk in stream.iter_chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except Exception as exc:
        log.error("response stream failed mid-body: %s", exc)
        raise
    await send({"type": "http.response.body", "body": b""})


async def _plain(send: Send, status: int, text: str) -> int:
    body = text.encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
    return status


async def _error_page(send: Send, title: str, detail: str) -> int:
    page = (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<h1>{html.escape(title)}</h1><p>edgeline dev: fix the code and save; "
            f"the worker reloads by itself.</p><pre>{html.escape(detail)}</pre>").encode()
    await send({"type": "http.response.start", "status": 500, "headers": [
        (b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(page)).encode())]})
    await send({"type": "http.response.body", "body": page})
    return 500


