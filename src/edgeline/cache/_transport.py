"""CachingTransport: an RFC 9111 shared cache as a Transport wrapping a Transport.

::

    cache = CachingTransport(origin_transport, MemoryStore(64 << 20), CachePolicy(),
                             background=ctx.wait_until)   # or any "run this later"
    response = await cache.handle(request)

Why a transport and not middleware: the cache sits exactly where requests
leave for the origin, so any handler (``forward()``, ``ctx.fetch``, the
proxy) gets caching by being given this transport, and resilience layers
(retry, breaker, failover) stay below it where a stale copy can cover
their failures.

What happens per method (RFC 9111):

- GET/HEAD: look up the primary key (``_keys``), then the Vary variant
  (§4.1); serve fresh (§4.2) with Age (§5.1) and Cache-Status (RFC 9211);
  serve stale within stale-while-revalidate while one background refresh
  runs (RFC 5861 §3); otherwise validate with the stored validators
  (§4.3.1) and update the stored header fields from a 304 (§3.2, §4.3.4);
  serve stale when the origin fails and stale-if-error (RFC 5861 §4) or a
  disconnected origin (§4.2.4) allows. Concurrent misses for one key
  collapse into one origin fetch; the others wait (bounded) and are then
  served from the store.
- A miss streams the origin body to the client while a copy fills the
  store (up to ``max_object_size``; larger bodies are not stored).
- Unsafe methods (anything but GET, HEAD, OPTIONS, TRACE) pass through and,
  on a 2xx/3xx answer, invalidate the target URI and same-host
  Location/Content-Location (§4.4).

The clock is injected (``clock``) and read per call; nothing here reads
the time or randomness at import.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..errors import OriginError
from ..headers import Headers
from ..messages import Request, Response, close_body
from ..types import Transport
from ._directives import EMPTY, Directives, parse_cache_control
from ._entry import Entry
from ._freshness import (
    UNDERSTOOD_STATUSES,
    age_value,
    corrected_initial_age,
    format_http_date,
    parse_http_date,
)
from ._keys import (
    LANGUAGE_ALIAS,
    normalize_path,
    parse_vary,
    preferred_language,
    secondary_key,
    vary_values,
)
from ._policy import CachePolicy
from ._serve import byte_range, is_not_modified, not_modified_response, range_response
from ._status import cache_status
from ._store import Store

__all__ = ["CachingTransport"]

log = logging.getLogger("edgeline.cache")

_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# RFC 9110 §7.6.1 and RFC 9111 §3.1: not stored. Age is recomputed on use.
_NOT_STORED = frozenset({
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "proxy-authenticate", "proxy-authentication-info", "proxy-authorization", "age",
})
# RFC 9111 §3.2: fields a 304 must not change in the stored response. The body
# is stored as received (content codings included), so Content-Encoding and
# Content-Range are updated like any other field; only Content-Length is not.
_NOT_UPDATED = _NOT_STORED | {"content-length"}
# Request directives that rule out a stale answer (RFC 9111 §5.2.1, RFC 5861 §3).
_NO_STALE_REQUEST = frozenset({"no-cache", "max-age", "min-fresh", "no-store"})
_CONDITIONALS = ("if-none-match", "if-modified-since", "if-match", "if-unmodified-since",
                 "if-range", "range")
_ERROR_STATUSES = frozenset({500, 502, 503, 504})  # RFC 5861 §4
_DIRECTIVE_FIELDS = frozenset({"cache-control", "pragma"})
_SERVE_FIELDS = frozenset({"if-none-match", "if-modified-since", "range"})
# Request fields that take a GET off the synchronous fresh-hit path.
_SLOW_FIELDS = _DIRECTIVE_FIELDS | {"authorization"}


def _default_background(awaitable: Awaitable[Any]) -> None:
    task = asyncio.ensure_future(awaitable)
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


_PENDING: set[asyncio.Future[Any]] = set()


class _Flight:
    """One origin fetch that concurrent requests for the same key wait on (collapsing).

    ``release`` wakes the waiters as soon as the outcome is known: stored,
    not storable, failed, or abandoned (a client gone mid-body). ``entry`` is
    the response the leader made, kept so that waiters can share it when the
    store did not keep it (evicted, too small, a failing tier) and RFC 9111
    §4 still allows its reuse for them.
    """

    __slots__ = ("event", "entry", "vary_values", "deferred", "outcome", "_owner", "_key")

    def __init__(self, owner: dict[str, _Flight] | None, key: str) -> None:
        self.event = asyncio.Event()
        self.entry: Entry | None = None
        self.vary_values: tuple[str | None, ...] = ()
        self.deferred = False
        self.outcome: str | None = None
        self._owner = owner
        self._key = key

    def release(self, outcome: str, entry: Entry | None = None,
                request: Request | None = None) -> None:
        if self.outcome is not None:
            return
        self.outcome = outcome
        if entry is not None and request is not None:
            self.entry = entry
            if entry.vary:
                self.vary_values = tuple(vary_values(request.headers, entry.vary))
        owner = self._owner
        if owner is not None and owner.get(self._key) is self:
            del owner[self._key]
        self.event.set()


class _Lookup:
    __slots__ = ("entry", "key", "storage_key", "vary_miss", "marker")

    def __init__(self, entry: Entry | None, key: str, storage_key: str, vary_miss: bool,
                 marker: Entry | None = None) -> None:
        self.entry = entry
        self.key = key
        self.storage_key = storage_key
        self.vary_miss = vary_miss
        self.marker = marker


class CachingTransport:
    """Answer from a store when HTTP caching allows it; otherwise ask ``inner``."""

    __slots__ = ("inner", "store", "policy", "clock", "background", "variant", "_inflight",
                 "_refreshing", "name", "_get_now")

    def __init__(
        self, inner: Transport, store: Store, policy: CachePolicy | None = None, *,
        clock: Callable[[], float] = time.time,
        background: Callable[[Awaitable[Any]], None] | None = None,
        variant: Callable[[Request], str] | None = None,
    ) -> None:
        self.inner = inner
        self.store = store
        self.policy = policy or CachePolicy()
        self.clock = clock
        self.background = background or _default_background
        self.variant = variant
        self.name = self.policy.name
        self._inflight: dict[str, _Flight] = {}
        self._refreshing: set[str] = set()
        # PERF: a store that can answer without awaiting (the memory store) is
        # asked synchronously on the hit path.
        self._get_now: Callable[[str], Entry | None] | None = getattr(store, "get_now", None)

    # -- entry points ----------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        """Serve ``request`` from the cache or the origin (never raises but OriginError)."""
        method = request.method
        if method == "GET" or method == "HEAD":
            if self._get_now is not None:
                hit = self._fresh_hit(request)
                if hit is not None:
                    return hit
            return await self._read(request, None)
        request_time = self.clock()
        response = await self.inner.handle(request)
        if method not in _SAFE:
            if 200 <= response.status < 400:
                await self._invalidate(request, response)
            if method == "POST" and self._post_reusable(request, response):
                return await self._store_post(request, response, request_time)
        self._mark(response, cache_status(self.name, fwd="method"))
        return response

    def _post_reusable(self, request: Request, response: Response) -> bool:
        """Return True if a POST's answer may answer later GETs (RFC 9110 §9.3.3).

        It must carry explicit freshness and a Content-Location naming the
        POST's own target URI; RFC 9111 §3 then allows storing it.
        """
        location = response.headers.get("content-location")
        if location is None or not 200 <= response.status < 300:
            return False
        items = response.headers.raw
        d, _ = self.policy.facts.directives(items)
        if not ("max-age" in d or "s-maxage" in d or any(k == "expires" for k, _ in items)):
            return False
        target = urlsplit(urljoin(str(request.url), location.strip()))
        url = request.url
        host = (request.headers.get("host") or url.netloc).lower()
        return (target.netloc.lower() in (host, url.netloc.lower())
                and normalize_path(target.path or "/") == normalize_path(url.path or "/")
                and target.query == url.query)

    async def _store_post(self, request: Request, response: Response,
                          request_time: float) -> Response:
        """Store a reusable POST answer as the response to a GET of its URI."""
        items = [p for p in request.headers.raw if not p[0].startswith("content-")]
        get = Request("GET", request.url, Headers.from_trusted(items), b"", cf=request.cf)
        key = self._key(get)
        return await self._admit(get, _Lookup(None, key, key, False), response, request_time,
                                 "method", None, _Flight(None, key))

    async def purge(self, *, key: str | None = None, prefix: str | None = None,
                    tag: str | None = None, url: str | None = None) -> int:
        """Remove stored responses by key, key prefix, Cache-Tag or URL."""
        if url is not None:
            parts = urlsplit(url)
            key = self.policy.keys.url_key(url, parts.netloc, parts.path or "/", parts.query,
                                           parts.scheme)
        return await self.store.purge(key=key, prefix=prefix, tag=tag)

    # -- reading ------------------------------------------------------------------------

    def _key(self, request: Request) -> str:
        return self.policy.keys.key(request, self.variant(request) if self.variant else "")

    def _fresh_hit(self, request: Request) -> Response | None:
        """Return the stored response if it is fresh and nothing else needs deciding, else None.

        PERF: the common hit without awaiting: no request directives, no
        Authorization, no Vary marker, a store that answers synchronously.
        Anything else (None) goes the whole way through ``_read``, which
        decides the same for these requests.
        """
        names = {k for k, _ in request.headers.raw}
        if not names.isdisjoint(_SLOW_FIELDS):
            return None
        key = self._key(request)
        entry = self._get_now(key)  # type: ignore[misc]
        if entry is None or entry.must_validate:  # a Vary marker must validate too
            return None
        age = entry.age(self.clock())
        lifetime = entry.lifetime
        if lifetime <= age:
            return None
        entry.hits += 1
        # RFC 9211 §2: the member cache_status(name, hit=True, ttl=...) builds.
        return self._from_entry(request, entry, age,
                                f"{self.name}; hit; ttl={round(lifetime - age)}", names)

    async def _variant(self, request: Request, key: str, marker: Entry) -> _Lookup:
        """Look up the Vary variant of ``key`` that ``request`` selects (RFC 9111 §4.1)."""
        values = vary_values(request.headers, marker.vary)
        skey = secondary_key(key, marker.vary, values)
        get_now = self._get_now
        entry = get_now(skey) if get_now is not None else await self.store.get(skey)
        if entry is None and "accept-language" in marker.vary:
            # §4.1: "using knowledge of the semantics of the selecting header
            # field": a stored response in the language this client weights
            # highest is the one the origin would choose for it.
            index = marker.vary.index("accept-language")
            wanted = preferred_language(values[index] or "")
            if wanted is not None:
                alias = secondary_key(key, marker.vary, values[:index] + (
                    LANGUAGE_ALIAS + wanted,) + values[index + 1:])
                entry = get_now(alias) if get_now is not None else await self.store.get(alias)
                if entry is not None:
                    return _Lookup(entry, key, alias, False)
        return _Lookup(entry, key, skey, entry is None, marker)

    async def _read(self, request: Request, shared: _Flight | None) -> Response:
        """Serve a GET or HEAD past the fast path; ``shared``: the fetch it waited on, if any."""
        policy = self.policy
        headers = request.headers
        # PERF: one pass over the request's field names; most hits have none
        # of the fields that change what the cache does.
        names = {k for k, _ in headers.raw}
        req_cc = EMPTY
        if policy.honor_request_directives and not names.isdisjoint(_DIRECTIVE_FIELDS):
            values = headers.get_all("cache-control")
            if values:
                req_cc = parse_cache_control(values)
            elif "no-cache" in (headers.get("pragma") or "").lower():
                # RFC 9111 §5.4: Pragma: no-cache counts only without Cache-Control.
                req_cc = Directives({"no-cache": None})
        if req_cc.present and "no-store" in req_cc.values:
            # RFC 9111 §5.2.1.5: nothing of this exchange is stored; it goes to the origin.
            response = await self.inner.handle(request)
            self._mark(response, cache_status(self.name, fwd="request", detail="no-store"))
            return response
        # PERF: the lookup inline; the _Lookup record is made only past a fresh hit.
        key = self._key(request)
        get_now = self._get_now
        entry = get_now(key) if get_now is not None else await self.store.get(key)
        if entry is not None and entry.status == 0:
            found: _Lookup | None = await self._variant(request, key, entry)
            entry = found.entry  # type: ignore[union-attr]
        else:
            found = None
        authorized = "authorization" in names
        if entry is not None and authorized and not _auth_allowed(entry.directives):
            entry = None  # RFC 9111 §3.5
        if entry is not None:
            age = entry.age(self.clock())
            lifetime = entry.lifetime
            if not req_cc.present and not entry.must_validate and lifetime > age:
                verdict = "fresh"  # PERF: what _verdict answers without request directives
            else:
                verdict = self._verdict(entry, age, req_cc)
            if verdict == "fresh":
                entry.hits += 1
                # RFC 9211 §2: the member cache_status() would build for a plain hit.
                member = (cache_status(self.name, hit=True, ttl=lifetime - age, collapsed=True)
                          if shared is not None else f"{self.name}; hit; ttl={round(lifetime - age)}")
                return self._from_entry(request, entry, age, member, names)
            if found is None:
                found = _Lookup(entry, key, key, False)
            if verdict == "stale-ok":
                return self._from_entry(request, entry, age, cache_status(
                    self.name, hit=True, ttl=lifetime - age, detail="max-stale"), names)
            if verdict == "swr":
                self._refresh_later(request, found)
                return self._from_entry(request, entry, age, cache_status(
                    self.name, hit=True, ttl=lifetime - age,
                    detail="stale-while-revalidate"), names)
        if entry is None and "range" in names and request.method == "GET" and not authorized:
            partial = await self._partial_hit(request, key, req_cc)
            if partial is not None:
                return partial
        if entry is None and shared is not None and shared.entry is not None:
            hit = self._shared_hit(request, shared, req_cc, names)
            if hit is not None:
                return hit
        if found is None:
            found = _Lookup(entry, key, key, False)
        if "only-if-cached" in req_cc:
            # RFC 9111 §5.2.1.7: no usable stored response: 504.
            return Response(b"", 504, {"cache-status": cache_status(self.name, fwd="miss",
                                                                    detail="only-if-cached")})
        key = found.key
        waiting = self._inflight.get(key)
        # NOTE: an authorized request never waits on another's fetch: the
        # answer it would get may be one it is not entitled to (RFC 9111 §3.5).
        if waiting is not None and shared is None and not authorized:
            try:
                await asyncio.wait_for(waiting.event.wait(), policy.collapse_timeout)
            except TimeoutError:
                pass
            return await self._read(request, waiting)
        if shared is not None:
            # NOTE: a waiter whose leader left nothing it may use retries once on
            # its own, without making later requests wait on it: the leader's
            # outcome (not storable, failed) is likely to repeat.
            flight = _Flight(None, key)
        else:
            flight = _Flight(self._inflight, key)
            self._inflight[key] = flight
        try:
            if entry is not None:
                return await self._validate(request, found, entry, req_cc, flight)
            fwd = "vary-miss" if found.vary_miss else ("request" if "no-cache" in req_cc else "uri-miss")
            return await self._miss(request, found, fwd, flight)
        finally:
            if not flight.deferred:
                flight.release("failed")  # a no-op when the outcome was given already

    def _shared_hit(self, request: Request, shared: _Flight, req_cc: Directives,
                    names: set[str]) -> Response | None:
        """Serve the leader's response to a waiter if RFC 9111 §4 allows its reuse, else None."""
        entry = shared.entry
        assert entry is not None
        if entry.vary and tuple(vary_values(request.headers, entry.vary)) != shared.vary_values:
            return None  # §4.1: the waiter selects another variant
        age = entry.age(self.clock())
        if self._verdict(entry, age, req_cc) != "fresh":
            return None
        return self._from_entry(request, entry, age, cache_status(
            self.name, hit=True, ttl=entry.lifetime - age, collapsed=True), names)

    async def _partial_hit(self, request: Request, key: str,
                           req_cc: Directives) -> Response | None:
        """Serve a Range request from a stored 206 (RFC 9111 §3.3), or None.

        The 206 answered to the same Range is served as it was; otherwise the
        latest stored 206 serves any range wholly within the bytes it holds.
        """
        if "if-range" in request.headers:
            return None
        spec = request.headers.get("range") or ""
        get_now = self._get_now
        for skey in (key + _PARTIAL + _range_spec(spec), key + _PARTIAL_LATEST):
            entry = get_now(skey) if get_now is not None else await self.store.get(skey)
            if entry is None:
                continue
            age = entry.age(self.clock())
            if self._verdict(entry, age, req_cc) != "fresh":
                continue
            body = entry.body
            extra = [("age", str(int(age))), ("cache-status", cache_status(
                self.name, hit=True, ttl=entry.lifetime - age))]
            if skey.endswith(_PARTIAL_LATEST):
                span = _held_span(entry)
                want = byte_range(spec, span[2]) if span is not None else None
                if span is None or want is None or not span[0] <= want[0] <= want[1] <= span[1]:
                    continue
                body = body[want[0] - span[0]:want[1] - span[0] + 1]
                total = "*" if span[2] is None else str(span[2])
                items = [p for p in entry.headers if p[0] not in ("content-range", "content-length")]
                extra += [("content-range", f"bytes {want[0]}-{want[1]}/{total}"),
                          ("content-length", str(len(body)))]
            else:
                items = entry.headers
            entry.hits += 1
            return Response(body, 206, Headers.from_trusted(items + extra))
        return None

    async def _complete(self, request: Request, found: _Lookup,
                        request_time: float) -> Response | None:
        """Ask only for the rest of a stored partial response and combine (RFC 9111 §3.4).

        For a GET of the whole resource when a fresh stored 206 holds its
        first bytes: the request goes out with ``Range`` for the rest (and
        ``If-Range`` with the stored strong validator, if any). A 206 for
        exactly the rest with the same strong ETag is combined with the stored
        part into the 200 the client asked for; a 200 is used as it is; any
        other 206 cannot be combined, and None sends the request again whole.
        PERF: only with a store that answers without awaiting (no extra
        round trip to a shared tier on every miss).
        """
        get_now = self._get_now
        if get_now is None:
            return None
        stored = get_now(found.key + _PARTIAL_LATEST)
        span = _held_span(stored) if stored is not None else None
        if stored is None or span is None or span[0] != 0 or span[2] is None \
                or span[1] >= span[2] - 1 or span[2] > self.policy.max_object_size \
                or self._verdict(
                    stored, stored.age(self.clock()), EMPTY) != "fresh":
            return None
        items = [p for p in request.headers.raw if p[0] not in _CONDITIONALS]
        items.append(("range", f"bytes={span[1] + 1}-"))
        strong = stored.etag is not None and not stored.etag.startswith(("W/", "w/"))
        if strong:
            items.append(("if-range", stored.etag.strip()))  # type: ignore[union-attr]
        response = await self.inner.handle(Request("GET", request.url, Headers.from_trusted(
            items), b"", cf=request.cf))
        if response.status == 416:
            await _discard(response)
            return None  # the stored part is out of date; ask for the whole
        if response.status != 206:
            return response  # a 200 (Range ignored or If-Range failed), or an error
        ranges = response.headers.get_all("content-range")
        m = _CONTENT_RANGE.match(ranges[0].strip()) if len(ranges) == 1 else None
        etag = response.headers.get("etag")
        if not (strong and m is not None and etag is not None and etag.strip() == stored.etag
                and (int(m.group(1)), int(m.group(2)), m.group(3)) == (
                    span[1] + 1, span[2] - 1, str(span[2]))):
            await _discard(response)
            return None
        rest = await response.read()
        if len(rest) != span[2] - span[1] - 1:
            return None
        headers = [p for p in response.headers.raw
                   if p[0] not in ("content-range", "content-length")]
        headers.append(("content-length", str(span[2])))
        return Response(stored.body + rest, 200, Headers.from_trusted(headers))

    def _verdict(self, entry: Entry, age: float, req_cc: Directives) -> str:
        """Return fresh, stale-ok, swr or validate for ``entry`` at ``age`` (RFC 9111 §4.2, §4.3)."""
        d = entry.directives
        lifetime = entry.lifetime
        no_cache = "no-cache" in d and d.get("no-cache") is None
        if no_cache or entry.status == 0:
            return "validate"
        fresh = lifetime > age
        if req_cc.present:
            if "no-cache" in req_cc:
                return "validate"
            max_age = req_cc.delta("max-age")
            if max_age is not None and age > max_age:
                fresh = False
            min_fresh = req_cc.delta("min-fresh")
            if min_fresh is not None and lifetime - age < min_fresh:
                fresh = False
        if fresh:
            return "fresh"
        strict = d.must_revalidate
        lax = not strict and not (d.proxy_revalidate or "s-maxage" in d)
        if req_cc.present and "max-stale" in req_cc and lax:
            # RFC 9111 §5.2.1.2: max-stale without a value accepts any staleness.
            raw = req_cc.get("max-stale")
            limit = math.inf if raw is None else float(req_cc.delta("max-stale") or 0)
            if age - lifetime <= limit:
                return "stale-ok"
        swr = d.delta("stale-while-revalidate")
        if swr and not strict and age - lifetime <= swr and (
                not req_cc.present or req_cc.values.keys().isdisjoint(_NO_STALE_REQUEST)):
            # RFC 5861 §3: a client that asked for nothing stricter (an unknown
            # extension, max-stale, stale-if-error) may get the stale copy.
            return "swr"
        return "validate"

    def _from_entry(self, request: Request, entry: Entry, age: float, member: str,
                    names: set[str] | None = None) -> Response:
        extra = [("age", str(int(age))), ("cache-status", member)]
        status = entry.status
        if names is None:
            names = {k for k, _ in request.headers.raw}
        if names.isdisjoint(_SERVE_FIELDS):
            # PERF: the stored fields go out pre-encoded (Entry.wire).
            headers = Headers.from_trusted(entry.headers + extra, entry.wire)
            return Response.from_trusted(b"" if request.method == "HEAD" else entry.body,
                                         status, headers)
        if 200 <= status < 300 and is_not_modified(request, entry):
            return not_modified_response(entry, extra)
        items = entry.headers + extra
        if "range" in names:
            ranged = range_response(request, entry, items)
            if ranged is not None:
                return ranged
        if request.method == "HEAD":
            return Response(b"", status, Headers.from_trusted(items))
        return Response(entry.body, status, Headers.from_trusted(items))

    # -- going to the origin ------------------------------------------------------------

    async def _miss(self, request: Request, found: _Lookup, fwd: str,
                    flight: _Flight) -> Response:
        request_time = self.clock()
        response = None
        if fwd == "uri-miss" and request.method == "GET" and "range" not in request.headers:
            response = await self._complete(request, found, request_time)
        if fwd == "vary-miss" and request.method == "GET":
            reused = await self._validate_variants(request, found, request_time, flight)
            if reused is not None:
                if isinstance(reused, Entry):
                    return self._from_entry(request, reused, reused.age(self.clock()),
                                            cache_status(self.name, fwd="vary-miss",
                                                         fwd_status=304, stored=True,
                                                         ttl=reused.lifetime - reused.initial_age))
                response = reused
        if response is None:
            response = await self.inner.handle(request)
        return await self._admit(request, found, response, request_time, fwd, None, flight)

    async def _validate_variants(self, request: Request, found: _Lookup, request_time: float,
                                 flight: _Flight) -> Entry | Response | None:
        """Ask the origin whether a stored variant suits this request too (RFC 9111 §4.3.1).

        The request goes out with ``If-None-Match`` listing the entity-tags of
        the stored variants; a 304 names the one to use (§4.3.4), which is
        freshened and stored for this request's selecting fields as well.
        Returns that Entry, the origin's full response, or None (ask again).
        """
        marker = found.marker
        if marker is None or not marker.headers or not request.headers.keys().isdisjoint(
                _CONDITIONALS):
            return None
        variants = dict(v.split("\t", 1) for k, v in marker.headers if k == "variant")
        items = list(request.headers.raw)
        items.append(("if-none-match", ", ".join(variants)))
        response = await self.inner.handle(Request("GET", request.url,
                                                   Headers.from_trusted(items), b"",
                                                   cf=request.cf))
        if response.status != 304:
            return response
        await _discard(response)
        tag = response.headers.get("etag") or (next(iter(variants)) if len(variants) == 1 else None)
        suffix = variants.get(tag.strip()) if tag is not None else None
        if suffix is None:
            return None
        skey = found.key + suffix
        stored = self._get_now(skey) if self._get_now is not None else await self.store.get(skey)
        if stored is None or stored.etag is None or stored.etag.strip() != tag.strip():  # type: ignore[union-attr]
            return None
        updated = await self._freshen(_Lookup(stored, found.key, skey, False), stored, response,
                                      request_time)
        if updated is None:
            return None
        await self.store.put(found.storage_key, updated, self._retention(updated))
        flight.release("stored", updated, request)
        return updated

    async def _admit(self, request: Request, found: _Lookup, response: Response,
                     request_time: float, fwd: str, fwd_status: int | None,
                     flight: _Flight) -> Response:
        """Store ``response`` if allowed (streaming it through), and mark it."""
        response_time = self.clock()
        why = self._why_not_store(request, response)
        if why is not None:
            flight.release("unstorable")
            self._mark(response, cache_status(self.name, fwd=fwd, fwd_status=fwd_status,
                                              detail=why))
            return response
        body = response.body
        if isinstance(body, bytes):
            if len(body) > self.policy.max_object_size:
                flight.release("unstorable")
                self._mark(response, cache_status(self.name, fwd=fwd, fwd_status=fwd_status,
                                                  detail="too-large"))
                return response
            entry = self._make_entry(request, response, body, request_time, response_time)
            await self._store(found, request, response, entry)
            flight.release("stored", entry if entry.status != 206 else None, request)
            self._mark(response, cache_status(self.name, fwd=fwd, fwd_status=fwd_status,
                                              stored=True, ttl=entry.lifetime - entry.initial_age))
            return response
        # A streamed body: tee it to the client and into the store.
        self._mark(response, cache_status(self.name, fwd=fwd, fwd_status=fwd_status, stored=True))
        flight.deferred = True
        response._body = self._tee(request, found, response, body, request_time, response_time,
                                   flight)
        return response

    async def _tee(self, request: Request, found: _Lookup, response: Response,
                   source: Any, request_time: float, response_time: float,
                   flight: _Flight) -> AsyncIterator[bytes]:
        """Stream ``source`` to the client while a copy fills the store.

        The waiters on ``flight`` are released as soon as the outcome is
        known: at once when the body outgrows ``max_object_size`` (they fetch
        for themselves rather than wait for a transfer that stores nothing),
        else when the body ends, fails, or the client goes away (``aclose``).
        """
        limit = self.policy.max_object_size
        chunks: list[bytes] | None = []
        size = 0
        complete = False
        try:
            async for chunk in source:
                if chunks is not None:
                    size += len(chunk)
                    if size > limit:
                        chunks = None  # NOTE: too large to keep; keep streaming
                        flight.release("unstorable")
                    else:
                        chunks.append(bytes(chunk))
                yield chunk
            complete = True
        finally:
            try:
                if complete and chunks is not None:
                    entry = self._make_entry(request, response, b"".join(chunks), request_time,
                                             response_time)
                    await self._store(found, request, response, entry)
                    flight.release("stored", entry if entry.status != 206 else None, request)
            except Exception as exc:
                log.warning("cache store failed for %s: %s", found.key, exc)
            finally:
                flight.release("failed" if not complete else "unstorable")
                if not complete:
                    # The client went away mid-body: let the origin transfer go too.
                    await close_body(source)

    async def _validate(self, request: Request, found: _Lookup, entry: Entry,
                        req_cc: Directives, flight: _Flight) -> Response:
        request_time = self.clock()
        head = request.method == "HEAD"
        # RFC 9111 §4.3.5: a HEAD is validated with a HEAD; its answer freshens the stored GET.
        conditional = self._conditional(request, entry, "HEAD" if head else "GET")
        try:
            response = await self.inner.handle(conditional)
        except OriginError as exc:
            if self._stale_if_error(entry, req_cc, disconnected=True):
                return self._stale(request, entry, "stale-if-error")
            raise exc
        status = response.status
        if status == 304 and entry.status != 0:
            updated = await self._freshen(found, entry, response, request_time)
            if updated is not None:
                return self._from_entry(request, updated, updated.age(self.clock()), cache_status(
                    self.name, fwd="stale", fwd_status=304, stored=True,
                    ttl=updated.lifetime - updated.initial_age))
        if head and status == 200:
            return await self._head_update(request, found, entry, response, request_time)
        if status in _ERROR_STATUSES and self._stale_if_error(entry, req_cc, disconnected=False):
            await _discard(response)
            return self._stale(request, entry, "stale-if-error")
        if status == 304:
            # A 304 we cannot apply: fetch the full response unconditionally.
            await _discard(response)
            request_time = self.clock()
            response = await self.inner.handle(_unconditional(request, request.method))
            status = response.status
            if head and status == 200:
                return await self._head_update(request, found, entry, response, request_time)
        # NOTE: a HEAD's answer is never stored as a GET's (§3: "method").
        return await self._admit(request, found, response, request_time, "stale", status, flight)

    async def _head_update(self, request: Request, found: _Lookup, entry: Entry,
                           response: Response, request_time: float) -> Response:
        """Apply a 200 answer to a HEAD to the stored GET response (RFC 9111 §4.3.5).

        Matching validators (and Content-Length, if sent) update the stored
        header fields as a 304 would (§3.2) and the client gets the updated
        stored response's fields; a mismatch means the stored response no
        longer describes the resource, so it is dropped (the RFC's "consider
        it stale", without keeping a copy that can no longer be validated).
        """
        await _discard(response)
        response._body = b""
        if _head_matches(entry, response):
            updated = await self._freshen(found, entry, response, request_time)
            if updated is not None:
                return self._from_entry(request, updated, updated.age(self.clock()), cache_status(
                    self.name, fwd="stale", fwd_status=200, stored=True,
                    ttl=updated.lifetime - updated.initial_age))
        await self.store.delete(found.storage_key)
        self._mark(response, cache_status(self.name, fwd="stale", fwd_status=200,
                                          detail="method"))
        return response

    def _stale(self, request: Request, entry: Entry, detail: str) -> Response:
        age = entry.age(self.clock())
        return self._from_entry(request, entry, age, cache_status(
            self.name, hit=True, ttl=entry.lifetime - age, detail=detail))

    def _conditional(self, request: Request, entry: Entry, method: str = "GET") -> Request:
        """Return the validation request for ``entry`` (RFC 9111 §4.3.1)."""
        items = [p for p in request.headers.raw if p[0] not in _CONDITIONALS]
        if entry.etag is not None:
            # NOTE: the stored entity-tag goes back verbatim (§4.3.1: "the
            # entity tag ... of the stored response"), even a malformed
            # unquoted one: the origin that made it compares its own bytes.
            items.append(("if-none-match", entry.etag.strip()))
        if entry.last_modified is not None:
            raw = entry.header("last-modified")
            if raw:
                items.append(("if-modified-since", raw))
        return Request(method, request.url, Headers.from_trusted(items), b"", cf=request.cf)

    def _refresh_later(self, request: Request, found: _Lookup) -> None:
        key = found.storage_key
        if key in self._refreshing or found.key in self._inflight:
            return
        self._refreshing.add(key)
        background_request = Request("GET", request.url, request.headers.copy(), b"",
                                     cf=request.cf)

        async def refresh() -> None:
            try:
                entry = await self.store.get(key)
                if entry is None:
                    return
                request_time = self.clock()
                response = await self.inner.handle(self._conditional(background_request, entry))
                if response.status == 304:
                    await self._freshen(found, entry, response, request_time)
                    return
                if response.status in _ERROR_STATUSES:
                    await _discard(response)
                    return
                out = await self._admit(background_request, found, response, request_time,
                                        "stale", response.status, _Flight(None, key))
                await _discard(out)
            except Exception as exc:
                log.warning("background revalidation of %s failed: %s", key, exc)
            finally:
                self._refreshing.discard(key)

        self.background(refresh())

    def _stale_if_error(self, entry: Entry, req_cc: Directives, *, disconnected: bool) -> bool:
        """Return True if ``entry`` may be served because the origin failed (RFC 5861 §4)."""
        d = entry.directives
        if entry.status == 0 or d.must_revalidate or ("no-cache" in d and d.get("no-cache") is None):
            return False
        given = d.delta("stale-if-error")
        if req_cc.present and "stale-if-error" in req_cc:
            requested = req_cc.delta("stale-if-error") or 0
            given = requested if given is None else max(given, requested)
        if given is None:
            if not disconnected or d.proxy_revalidate or "s-maxage" in d:
                return False
            window = self.policy.stale_if_error_default
        else:
            window = float(given)
        staleness = entry.age(self.clock()) - entry.lifetime
        return staleness <= window

    # -- storing ----------------------------------------------------------------------------

    def _why_not_store(self, request: Request, response: Response) -> str | None:
        """Return why ``response`` may not be stored (RFC 9111 §3), or None if it may."""
        status = response.status
        if request.method != "GET":
            return "method"
        if status < 200 or status == 304:
            return "status"
        if status == 206 and _partial_key(request, response) is None:
            return "status"
        items = response.headers.raw
        d, _ = self.policy.facts.directives(items)
        if d.must_understand:
            if status not in UNDERSTOOD_STATUSES:
                return "must-understand"
        elif d.no_store:
            return "no-store"
        if "private" in d and d.get("private") is None:
            return "private"
        if "authorization" in request.headers and not _auth_allowed(d):
            return "authorization"
        if self.policy.honor_request_directives:
            cc = request.headers.get_all("cache-control")
            if cc and parse_cache_control(cc).no_store:
                return "request-no-store"
        vary = [v for k, v in items if k == "vary"]
        if vary and parse_vary(vary) is None:
            return "vary-star"
        set_cookie = self.policy.set_cookie
        if set_cookie != "store" and set_cookie != "strip" and any(
                k == "set-cookie" for k, _ in items):
            # "explicit": stored only when the origin made it cacheable for
            # shared caches on purpose (RFC 9111 §3 allows storing it; §7.3
            # notes the risk, which heuristic freshness must not take).
            if set_cookie == "bypass" or not (
                    "max-age" in d or "s-maxage" in d or "public" in d
                    or any(k == "expires" for k, _ in items)):
                return "set-cookie"
        if not ("max-age" in d or "s-maxage" in d or any(k == "expires" for k, _ in items)
                or "public" in d or status in _HEURISTIC_OR_VALIDATED_OK):
            return "not-cacheable"
        if not any(k in ("etag", "last-modified") for k, _ in items):
            # NOTE: a copy that is stale at once and cannot be validated is
            # useless unless explicitly fresh or servable stale.
            lifetime_hints = ("max-age", "s-maxage", "stale-while-revalidate", "stale-if-error")
            if not any(d.delta(h) for h in lifetime_hints) and not any(
                    k == "expires" for k, _ in items) and self.policy.facts.default_ttl <= 0:
                return "no-freshness"
        return None

    def _make_entry(self, request: Request, response: Response, body: bytes,
                    request_time: float, response_time: float) -> Entry:
        items = response.headers.raw
        policy = self.policy
        drop = set(_NOT_STORED)
        for k, v in items:
            if k == "connection":
                drop.update(t.strip().lower() for t in v.split(","))
        d, _ = policy.facts.directives(items)
        for name in ("no-cache", "private"):
            # RFC 9111 §5.2.2.4, §5.2.2.7: listed fields are not stored.
            listed = d.field_names(name)
            if listed:
                drop.update(listed)
        if policy.set_cookie == "strip":
            drop.add("set-cookie")
        stored = [(k, v) for k, v in items if k not in drop and k != "content-length"]
        stored.append(("content-length", str(len(body))))
        date_values = [v for k, v in items if k == "date"]
        if not date_values:
            # RFC 9110 §6.6.1: a recipient with a clock may add a missing Date.
            stored.append(("date", format_http_date(response_time)))
        date = parse_http_date(date_values[0]) if date_values else response_time
        initial_age = corrected_initial_age(
            age=age_value([v for k, v in items if k == "age"]), date=date,
            request_time=request_time, response_time=response_time)
        vary_names = parse_vary([v for k, v in items if k == "vary"]) or ()
        tags: tuple[str, ...] = ()
        tag_values = [v for k, v in items if k == policy.tag_header]
        if tag_values:
            tags = tuple(t.strip() for v in tag_values for t in v.split(",") if t.strip())[:64]
        return Entry(response.status, stored, body, initial_age=initial_age,
                     response_time=response_time, request_time=request_time, facts=policy.facts,
                     vary=vary_names, tags=tags)

    def _retention(self, entry: Entry) -> float:
        d = entry.directives
        extra = max(d.delta("stale-while-revalidate") or 0, d.delta("stale-if-error") or 0,
                    self.policy.stale_if_error_default)
        if entry.etag is not None or entry.last_modified is not None:
            extra = self.policy.max_ttl  # NOTE: a validator keeps a stale copy useful
        return max(1.0, min(self.policy.max_ttl, entry.lifetime - entry.initial_age + extra))

    async def _store(self, found: _Lookup, request: Request, response: Response,
                     entry: Entry) -> None:
        key = found.key
        ttl = self._retention(entry)
        if entry.status == 206:
            # RFC 9111 §3.3: kept apart from complete responses: for the same
            # Range, and (the latest one) for ranges within it or completion.
            await self.store.put(key + (_partial_key(request, response) or ""), entry, ttl)
            await self.store.put(key + _PARTIAL_LATEST, entry, ttl)
            return
        if entry.vary:
            values = vary_values(request.headers, entry.vary)
            skey = secondary_key(key, entry.vary, values)
            # The marker names the stored variants by entity-tag (latest first, a few).
            old = self._get_now(key) if self._get_now is not None else await self.store.get(key)
            variants = [p for p in old.headers if not p[1].endswith("\t" + skey[len(key):])] \
                if old is not None and old.status == 0 and old.vary == entry.vary else []
            if entry.etag is not None:
                variants.insert(0, ("variant", f"{entry.etag.strip()}\t{skey[len(key):]}"))
            marker = Entry.marker(entry.vary, entry.response_time, self.policy.facts,
                                  variants[:_MAX_VARIANT_TAGS])
            await self.store.put(key, marker, ttl)
            await self.store.put(skey, entry, ttl)
            if "accept-language" in entry.vary:
                language = (entry.header("content-language") or "").strip().lower()
                if language and "," not in language:
                    # Also findable by the language it is in (see _variant).
                    index = entry.vary.index("accept-language")
                    await self.store.put(secondary_key(key, entry.vary, values[:index] + (
                        LANGUAGE_ALIAS + language,) + values[index + 1:]), entry, ttl)
        else:
            await self.store.put(key, entry, ttl)

    async def _freshen(self, found: _Lookup, entry: Entry, response: Response,
                       request_time: float) -> Entry | None:
        """Update ``entry`` from a 304 (RFC 9111 §3.2, §4.3.4); None if it does not apply."""
        new_items = response.headers.raw
        new_etag = next((v for k, v in new_items if k == "etag"), None)
        if new_etag is not None and entry.etag is not None and new_etag.strip() != entry.etag.strip():
            return None  # §4.3.4: the 304 selects a different stored response
        skip = set(_NOT_UPDATED)
        for k, v in new_items:
            if k == "connection":
                skip.update(t.strip().lower() for t in v.split(","))
        d, _ = self.policy.facts.directives(new_items)
        for name in ("no-cache", "private"):
            listed = d.field_names(name)  # §3.1: listed fields are not stored
            if listed:
                skip.update(listed)
        if self.policy.set_cookie in ("bypass", "strip"):
            skip.add("set-cookie")
        replaced = {k for k, _ in new_items if k not in skip}
        items = [p for p in entry.headers if p[0] not in replaced]
        items.extend(p for p in new_items if p[0] not in skip)
        response_time = self.clock()
        date_values = [v for k, v in new_items if k == "date"]
        date = parse_http_date(date_values[0]) if date_values else response_time
        if not date_values:
            items = [p for p in items if p[0] != "date"]
            items.append(("date", format_http_date(response_time)))
        updated = Entry(entry.status, items, entry.body,
                        initial_age=corrected_initial_age(
                            age=age_value([v for k, v in new_items if k == "age"]), date=date,
                            request_time=request_time, response_time=response_time),
                        response_time=response_time, request_time=request_time,
                        facts=self.policy.facts, vary=entry.vary, tags=entry.tags)
        if updated.directives.no_store and not updated.directives.must_understand:
            await self.store.delete(found.storage_key)
            return updated
        await self.store.put(found.storage_key, updated, self._retention(updated))
        return updated

    async def _invalidate(self, request: Request, response: Response) -> None:
        """Invalidate the target URI and same-host Location/Content-Location (RFC 9111 §4.4)."""
        keys = {self._key(request)}
        host = (request.headers.get("host") or request.url.netloc).lower()
        for name in ("location", "content-location"):
            value = response.headers.get(name)
            if not value:
                continue
            target = urlsplit(urljoin(str(request.url), value))
            if target.netloc.lower() != host and target.netloc.lower() != request.url.netloc.lower():
                continue  # §4.4: only URIs of the same origin
            keys.add(self.policy.keys.url_key(
                f"{host}\x00{target.geturl()}", host, target.path or "/", target.query,
                target.scheme))
        for key in keys:
            await self.store.purge(key=key)

    @staticmethod
    def _mark(response: Response, member: str) -> None:
        response.headers.raw.append(("cache-status", member))


# Statuses storable without explicit freshness: heuristically cacheable ones
# (RFC 9111 §3 "a status code that is defined as heuristically cacheable").
from ._freshness import HEURISTICALLY_CACHEABLE as _HEURISTIC_OR_VALIDATED_OK  # noqa: E402

_PARTIAL = "\x00\x1frange="  # after a primary key: a stored 206 (never a Vary key)
_CONTENT_RANGE = re.compile(r"bytes[ \t]+(\d+)-(\d+)/(\d+|\*)\Z", re.IGNORECASE)


_PARTIAL_LATEST = "\x00\x1fpartial"  # the latest stored 206 of a primary key
_MAX_VARIANT_TAGS = 8  # entity-tags of stored variants a marker remembers


def _held_span(entry: Entry) -> tuple[int, int, int | None] | None:
    """Return (first, last, complete length or None) of a stored 206 whose body fits its range."""
    m = _CONTENT_RANGE.match((entry.header("content-range") or "").strip())
    if m is None:
        return None
    first, last = int(m.group(1)), int(m.group(2))
    if len(entry.body) != last - first + 1:
        return None  # NOTE: a body that disagrees with its Content-Range is never sliced
    return first, last, None if m.group(3) == "*" else int(m.group(3))


def _range_spec(value: str) -> str:
    return "".join(value.split()).lower()


def _partial_key(request: Request, response: Response) -> str | None:
    """Return the storage suffix of a storable 206, or None (RFC 9111 §3.3).

    Stored: an answer to a GET with one Range, with a single well-formed
    Content-Range and no Vary; it is reused for the same Range only.
    """
    spec = request.headers.get("range")
    if spec is None or request.method != "GET" or "vary" in response.headers:
        return None
    content_range = response.headers.get_all("content-range")
    m = _CONTENT_RANGE.match(content_range[0].strip()) if len(content_range) == 1 else None
    if m is None or int(m.group(1)) > int(m.group(2)):
        return None
    return _PARTIAL + _range_spec(spec)


def _auth_allowed(d: Directives) -> bool:
    """RFC 9111 §3.5: a shared cache may reuse responses to authorized requests only so."""
    return d.must_revalidate or d.public or "s-maxage" in d


def _head_matches(entry: Entry, response: Response) -> bool:
    """Return True if a HEAD's 200 describes ``entry`` (RFC 9111 §4.3.5).

    Each validator the HEAD response carries must match the stored one, and
    so must its Content-Length if it has one.
    """
    headers = response.headers
    etag = headers.get("etag")
    if etag is not None and (entry.etag is None or etag.strip() != entry.etag.strip()):
        return False
    modified = headers.get("last-modified")
    if modified is not None:
        stored = entry.header("last-modified")
        if stored is None or parse_http_date(stored) != parse_http_date(modified):
            return False
    length = headers.get("content-length")
    return length is None or length.strip() == str(len(entry.body))


def _unconditional(request: Request, method: str = "GET") -> Request:
    items = [p for p in request.headers.raw if p[0] not in _CONDITIONALS]
    return Request(method, request.url, Headers.from_trusted(items), b"", cf=request.cf)


async def _discard(response: Response) -> None:
    body = response.body
    if not isinstance(body, bytes):
        try:
            async for _ in response.stream():
                pass
        except Exception:
            pass
