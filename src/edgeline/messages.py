"""Request and Response: the runtime-neutral HTTP messages every layer passes around.

A body is ``bytes`` (possibly empty) or an async iterable of ``bytes`` chunks.
Streamed bodies are never buffered unless a caller asks for the whole body
(``read()``, ``text()``, ``json()``); a streamed body can be consumed once.
"""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from .errors import BodyConsumed, BodyTooLarge
from .headers import Headers, HeadersInit
from .url import URL

__all__ = ["Body", "Request", "Response", "close_body"]

Body = bytes | AsyncIterable[bytes]
BodyInit = bytes | bytearray | memoryview | str | AsyncIterable[bytes] | None


def _coerce_body(body: BodyInit) -> Body:
    if type(body) is bytes:  # PERF: the common case first
        return body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "__aiter__"):
        return body
    raise TypeError(f"body must be bytes, str or an async iterable of bytes, not {type(body).__name__}")


async def close_body(body: object) -> None:
    """Close a streamed body that will not be read to its end (its stream and connection).

    Calls the iterator's ``aclose`` if it has one; an error while closing is
    ignored, since the body is being given up. Bytes need nothing.
    """
    close = getattr(body, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            pass


class _Message:
    """Body handling shared by requests and responses."""

    __slots__ = ("headers", "_body", "_streamed")

    headers: Headers
    _body: Body
    _streamed: bool

    @property
    def is_streaming(self) -> bool:
        """True while the body is an unread stream of unknown length."""
        return not isinstance(self._body, bytes)

    @property
    def body(self) -> Body:
        """The body as given: bytes, or the async iterable to stream from."""
        return self._body

    async def stream(self) -> AsyncIterator[bytes]:
        """Yield the body in chunks; a streamed body can be consumed only once."""
        body = self._body
        if isinstance(body, bytes):
            if body:
                yield body
            return
        if self._streamed:
            raise BodyConsumed("the body stream has already been consumed")
        self._streamed = True
        async for chunk in body:
            if chunk:
                yield bytes(chunk)

    async def read(self, limit: int | None = None) -> bytes:
        """Return the whole body, buffering a stream (at most ``limit`` bytes)."""
        body = self._body
        if isinstance(body, bytes):
            if limit is not None and len(body) > limit:
                raise BodyTooLarge(f"body larger than {limit} bytes")
            return body
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise BodyTooLarge(f"body larger than {limit} bytes")
            chunks.append(chunk)
        self._body = b"".join(chunks)
        return self._body

    async def text(self) -> str:
        """Return the body decoded with the charset of Content-Type (UTF-8 by default)."""
        raw = await self.read()
        return raw.decode(_charset(self.headers.get("content-type")), errors="replace")

    async def json(self) -> Any:
        """Return the body parsed as JSON."""
        return _json.loads(await self.read())


def _charset(content_type: str | None) -> str:
    if content_type:
        for param in content_type.split(";")[1:]:
            name, _, value = param.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"').lower()
                try:
                    "".encode(charset)
                except LookupError:
                    break
                return charset
    return "utf-8"


class Request(_Message):
    """An HTTP request as the edge sees it.

    ``cf`` holds the platform's request metadata (on Cloudflare,
    ``request.cf``: geo, ASN, TLS facts) as a plain dict; ``params`` holds
    the path parameters captured by the router.
    """

    __slots__ = ("method", "url", "cf", "params", "_cookies")

    def __init__(
        self,
        method: str,
        url: str | URL,
        headers: HeadersInit = None,
        body: BodyInit = None,
        *,
        cf: dict[str, Any] | None = None,
    ) -> None:
        self.method = method.upper()
        self.url = url if isinstance(url, URL) else URL(url)
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self._body = _coerce_body(body)
        self._streamed = False
        self.cf: dict[str, Any] = cf if cf is not None else {}
        self.params: dict[str, Any] = {}
        self._cookies: dict[str, str] | None = None

    @classmethod
    def from_trusted(
        cls, method: str, url: URL, headers: Headers, body: Body, cf: dict[str, Any],
    ) -> Request:
        """Build a request from parts an adapter has already checked, converting nothing.

        PERF: ``method`` upper-case, ``body`` bytes or an async iterable.
        """
        request = cls.__new__(cls)
        request.method = method
        request.url = url
        request.headers = headers
        request._body = body
        request._streamed = False
        request.cf = cf
        request.params = {}
        request._cookies = None
        return request

    @property
    def path(self) -> str:
        return self.url.path

    @property
    def host(self) -> str:
        """The Host header without port, lower-cased; the URL's host if absent."""
        host = self.headers.get("host")
        if not host:
            return self.url.host
        if host.startswith("["):  # IPv6 literal, RFC 3986 §3.2.2
            return host[: host.find("]") + 1].lower()
        return host.partition(":")[0].lower()

    @property
    def query(self) -> str:
        return self.url.query

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client (RFC 6265 §5.4), parsed on first use."""
        cookies = self._cookies
        if cookies is None:
            # PERF: http.cookies is imported by the first request that reads cookies.
            from http.cookies import CookieError, SimpleCookie

            cookies = {}
            for header in self.headers.get_all("cookie"):
                for part in header.split(";"):
                    jar = SimpleCookie()
                    try:
                        jar.load(part.strip())
                    except CookieError:
                        continue  # NOTE: one malformed pair must not hide the others
                    for name, morsel in jar.items():
                        cookies.setdefault(name, morsel.value)
            self._cookies = cookies
        return cookies

    def copy(self, **changes: Any) -> Request:
        """Return a new request sharing this one's body, with some fields replaced."""
        clone = Request(
            changes.get("method", self.method),
            changes.get("url", self.url),
            changes.get("headers", self.headers.copy()),
            changes.get("body", self._body),
            cf=changes.get("cf", self.cf),
        )
        clone.params = self.params
        return clone

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class Response(_Message):
    """An HTTP response."""

    __slots__ = ("status",)

    def __init__(
        self,
        body: BodyInit = None,
        status: int = 200,
        headers: HeadersInit = None,
    ) -> None:
        if not 100 <= status <= 999:
            raise ValueError(f"status must be a three-digit code, not {status!r}")
        self.status = status
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self._body = _coerce_body(body)
        self._streamed = False

    @classmethod
    def from_trusted(cls, body: Body, status: int, headers: Headers) -> Response:
        """Build a response from parts already checked (a stored one), converting nothing."""
        response = cls.__new__(cls)
        response.status = status
        response.headers = headers
        response._body = body
        response._streamed = False
        return response

    @classmethod
    def from_text(
        cls, text: str, status: int = 200, headers: HeadersInit = None,
        *, content_type: str = "text/plain; charset=utf-8",
    ) -> Response:
        """Return a text response with its Content-Type set."""
        response = cls(text.encode(), status, headers)
        response.headers.setdefault("content-type", content_type)
        return response

    @classmethod
    def from_html(cls, html: str, status: int = 200, headers: HeadersInit = None) -> Response:
        """Return an HTML response."""
        return cls.from_text(html, status, headers, content_type="text/html; charset=utf-8")

    @classmethod
    def from_json(
        cls, data: Any, status: int = 200, headers: HeadersInit = None,
        *, content_type: str = "application/json",
    ) -> Response:
        """Return ``data`` serialized as compact JSON."""
        body = _json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        response = cls(body, status, headers)
        response.headers.setdefault("content-type", content_type)
        return response

    @classmethod
    def redirect(cls, location: str, status: int = 302, headers: HeadersInit = None) -> Response:
        """Return a redirect to ``location`` (RFC 9110 §15.4)."""
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"redirect status must be 301, 302, 303, 307 or 308, not {status}")
        response = cls(b"", status, headers)
        response.headers["location"] = location
        return response

    @classmethod
    def problem(
        cls, status: int, title: str, detail: str = "", headers: HeadersInit = None,
        **extra: Any,
    ) -> Response:
        """Return an RFC 9457 problem details response."""
        doc: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
        if detail:
            doc["detail"] = detail
        doc.update(extra)
        return cls.from_json(doc, status, headers, content_type="application/problem+json")

    def __repr__(self) -> str:
        return f"<Response {self.status}>"
