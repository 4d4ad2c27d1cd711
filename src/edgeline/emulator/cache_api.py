"""A local ``caches.default``: the Workers Cache API with its documented semantics.

What it honours, as Cloudflare documents for the Cache API:

- ``put`` raises TypeError for a request method other than GET, a 206
  response, and a response with ``Vary: *``; a response carrying
  Set-Cookie is not stored (nor one with ``no-store`` or ``private``).
  The lifetime comes from Cache-Control (``s-maxage``, then ``max-age``)
  or Expires; without either the response is not stored. ``Cache-Tag``,
  ETag and Last-Modified are kept.
- ``match`` (GET only unless ``ignore_method``) answers Range with 206,
  If-None-Match (weak comparison) and If-Modified-Since with 304, and
  returns None for expired entries. It has no stale-while-revalidate and
  no stale-if-error: an expired entry is gone.
- ``delete`` returns whether something was removed.

Beyond the in-worker API, ``purge_tags`` and ``purge_prefix`` stand in for
the zone purge API (by Cache-Tag, by URL prefix). It is local to one
emulated data centre, like the real cache. The store is in memory.

:class:`PlatformCache` is the same cache as worker code sees it on the
platform (``caches.default`` from ``js``): it takes and returns the web
``Request`` / ``Response`` objects of the ``workers`` stand-in, so the
Cloudflare adapter's ``WorkersCache`` runs the same code here as on
Workers. :func:`platform_caches` is the emulated ``caches`` global.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ..cache._directives import parse_cache_control
from ..cache._freshness import parse_http_date
from ..cache._serve import etag_matches
from ..headers import Headers
from ..messages import Request, Response

__all__ = ["EmulatedCache", "PlatformCache", "PlatformCaches", "platform_caches"]

_RANGE_OK = ("bytes=",)


class _Stored:
    __slots__ = ("status", "headers", "body", "expires", "tags", "etag", "last_modified")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes, expires: float,
                 tags: frozenset[str]) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.expires = expires
        self.tags = tags
        self.etag = next((v for k, v in headers if k == "etag"), None)
        self.last_modified = parse_http_date(next((v for k, v in headers if k == "last-modified"), None))


class EmulatedCache:
    """One named cache (``caches.default`` or ``await caches.open(name)``)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._entries: dict[str, _Stored] = {}
        self._clock = clock

    @staticmethod
    def _url(request: Request | str) -> str:
        return request if isinstance(request, str) else str(request.url)

    async def put(self, request: Request | str, response: Response) -> None:
        """Store ``response`` for ``request`` as the Workers Cache API would."""
        method = "GET" if isinstance(request, str) else request.method
        if method != "GET":
            raise TypeError("Cannot cache response to non-GET request.")
        if response.status == 206:
            raise TypeError("Cannot cache response to a range request (206 Partial Content).")
        vary = ",".join(response.headers.get_all("vary"))
        if any(v.strip() == "*" for v in vary.split(",")):
            raise TypeError("Cannot cache response with 'Vary: *' header.")
        body = await response.read()
        if "set-cookie" in response.headers:
            return
        cc = parse_cache_control(response.headers.get_all("cache-control"))
        if cc.no_store or cc.private:
            return
        now = self._clock()
        ttl = cc.delta("s-maxage")
        if ttl is None:
            ttl = cc.delta("max-age")
        if ttl is None:
            expires = parse_http_date(response.headers.get("expires"))
            if expires is None:
                return
            ttl = int(expires - now)
        if ttl <= 0:
            return
        tags = frozenset(t.strip() for v in response.headers.get_all("cache-tag")
                         for t in v.split(",") if t.strip())
        self._entries[self._url(request)] = _Stored(
            response.status, response.headers.multi_items(), body, now + ttl, tags)

    async def match(self, request: Request | str, *, ignore_method: bool = False) -> Response | None:
        """Return the stored response for ``request`` (304/206 as its headers ask), or None."""
        if isinstance(request, str):
            request = Request("GET", request)
        if request.method != "GET" and not ignore_method:
            return None
        stored = self._entries.get(str(request.url))
        if stored is None:
            return None
        if stored.expires <= self._clock():
            del self._entries[str(request.url)]
            return None
        headers = request.headers
        inm = headers.get("if-none-match")
        if inm is not None and etag_matches(inm, stored.etag):
            return Response(b"", 304, Headers.from_trusted(list(stored.headers)))
        ims = parse_http_date(headers.get("if-modified-since"))
        if inm is None and ims is not None and stored.last_modified is not None \
                and stored.last_modified <= ims:
            return Response(b"", 304, Headers.from_trusted(list(stored.headers)))
        spec = headers.get("range")
        if spec and spec.startswith(_RANGE_OK) and "," not in spec:
            first, _, last = spec[6:].partition("-")
            size = len(stored.body)
            try:
                if first:
                    start, end = int(first), min(int(last), size - 1) if last else size - 1
                else:
                    start, end = max(0, size - int(last)), size - 1
            except ValueError:
                start, end = 0, -2
            if 0 <= start <= end:
                items = [p for p in stored.headers if p[0] != "content-length"]
                items += [("content-range", f"bytes {start}-{end}/{size}"),
                          ("content-length", str(end - start + 1))]
                return Response(stored.body[start:end + 1], 206, Headers.from_trusted(items))
            if start >= size:
                return Response(b"", 416, {"content-range": f"bytes */{size}"})
        return Response(stored.body, stored.status, Headers.from_trusted(list(stored.headers)))

    async def delete(self, request: Request | str, *, ignore_method: bool = False) -> bool:
        """Remove the entry for ``request``; return whether there was one."""
        return self._entries.pop(self._url(request), None) is not None

    async def purge_tags(self, tags: Iterable[str]) -> int:
        """Remove every entry stored with one of ``tags`` (the zone purge-by-tag call)."""
        wanted = set(tags)
        doomed = [url for url, s in self._entries.items() if s.tags & wanted]
        for url in doomed:
            del self._entries[url]
        return len(doomed)

    async def purge_prefix(self, prefix: str) -> int:
        """Remove every entry whose URL starts with ``prefix`` (the zone purge-by-prefix call)."""
        doomed = [url for url in self._entries if url.startswith(prefix)]
        for url in doomed:
            del self._entries[url]
        return len(doomed)


class PlatformCache:
    """An :class:`EmulatedCache` behind the web API: ``match`` / ``put`` / ``delete``.

    Requests and responses are the ``workers`` stand-in's web objects (what
    ``js_object`` gives), as the platform's cache takes them; a URL string
    works as the request, as on the platform.
    """

    def __init__(self, cache: EmulatedCache | None = None) -> None:
        self.cache = cache if cache is not None else EmulatedCache()

    @staticmethod
    def _request(request: Any) -> Request | str:
        if isinstance(request, str):
            return request
        return Request(request.method, request.url, Headers(list(request.headers)))

    async def match(self, request: Any, options: Any = None) -> Any:
        """Return the stored web Response for ``request``, or None (JS ``undefined``)."""
        from workers._web import WebHeaders, WebResponse

        ignore = bool(options and getattr(options, "ignoreMethod", False))
        found = await self.cache.match(self._request(request), ignore_method=ignore)
        if found is None:
            return None
        body = await found.read()
        return WebResponse(body or None, status=found.status,
                           headers=WebHeaders(found.headers.multi_items()))

    async def put(self, request: Any, response: Any) -> None:
        """Store a web Response (its body is read), raising TypeError as the platform does."""
        body = (await response.arrayBuffer()).to_bytes()
        await self.cache.put(self._request(request), Response(
            body, response.status, Headers(list(response.headers))))

    async def delete(self, request: Any, options: Any = None) -> bool:
        return await self.cache.delete(self._request(request))


class PlatformCaches:
    """The emulated ``caches`` global: ``default`` and ``await open(name)``."""

    def __init__(self) -> None:
        self.default = PlatformCache()
        self._named: dict[str, PlatformCache] = {}

    async def open(self, name: str) -> PlatformCache:
        return self._named.setdefault(name, PlatformCache())


_CACHES: list[PlatformCaches] = []


def platform_caches() -> PlatformCaches:
    """Return this process's emulated ``caches`` (made on first use, never at import)."""
    if not _CACHES:
        _CACHES.append(PlatformCaches())
    return _CACHES[0]
