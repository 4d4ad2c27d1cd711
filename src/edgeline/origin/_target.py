"""Point a request at one origin URL: rebase the path, set Host, add the credential."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from ..messages import Request, Response
from ..types import Transport

__all__ = ["TargetTransport", "check_origin_url", "sign_origin_request",
           "verify_origin_signature"]


def check_origin_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL without query or fragment."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"origin must be an absolute http(s) URL, not {url!r}")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"origin URL {url!r} must not carry a query, fragment or userinfo")
    return url


def sign_origin_request(secret: str, method: str, target: str, now: float | None = None) -> str:
    """Return the ``t=…,sig=…`` credential for ``method target`` (path and query)."""
    stamp = int(time.time() if now is None else now)
    import hashlib
    import hmac  # PERF: imported on first use, not at isolate start

    mac = hmac.new(secret.encode(), f"{stamp}\n{method}\n{target}".encode(), hashlib.sha256)
    return f"t={stamp},sig={mac.hexdigest()}"


def verify_origin_signature(
    value: str | None, secret: str, method: str, target: str, *, max_age: float = 300.0,
    now: float | None = None,
) -> bool:
    """Tell whether ``value`` is a fresh credential for ``method target``: for origins.

    ``target`` is the path and query as the origin received them. A value
    older (or further in the future) than ``max_age`` seconds is refused.
    """
    if not value:
        return False
    fields = dict(part.partition("=")[::2] for part in value.split(","))
    stamp, sig = fields.get("t", ""), fields.get("sig", "")
    if not stamp.isdigit() or not sig:
        return False
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > max_age:
        return False
    expected = sign_origin_request(secret, method, target, now=int(stamp)).partition(",sig=")[2]
    import hmac

    return hmac.compare_digest(expected, sig)


class TargetTransport:
    """Send each request to ``url`` (its base path prefixed), with Host and credential set.

    ``host``: ``"origin"`` for the URL's host, ``"preserve"`` to keep the
    Host the request carries, or a literal name. ``auth``: ``(header,
    secret, scheme)`` with scheme ``"static"`` or ``"hmac"``.
    """

    __slots__ = ("_inner", "url", "_prefix", "_base_path", "_host", "_auth")

    def __init__(
        self, inner: Transport, url: str, *, host: str = "origin",
        auth: tuple[str, str, str] | None = None,
    ) -> None:
        check_origin_url(url)
        parts = urlsplit(url)
        self._inner = inner
        self.url = url
        self._base_path = parts.path.rstrip("/")
        self._prefix = f"{parts.scheme}://{parts.netloc}"
        self._host = None if host == "preserve" else parts.netloc if host == "origin" else host
        if auth is not None and auth[2] not in ("static", "hmac"):
            raise ValueError(f"origin auth scheme must be static or hmac, not {auth[2]!r}")
        self._auth = auth

    async def handle(self, request: Request) -> Response:
        url = request.url
        target = self._base_path + url.path
        query = url.query
        if query:
            target += "?" + query
        headers = request.headers.copy()
        items = headers.raw
        if self._host is not None:
            items.append(("host", self._host))
        auth = self._auth
        if auth is not None:
            name, secret, scheme = auth
            items.append((name, secret if scheme == "static"
                          else sign_origin_request(secret, request.method, target)))
        return await self._inner.handle(request.copy(url=self._prefix + target, headers=headers))
