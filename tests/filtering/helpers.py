"""Shared builders for the filtering tests."""

from __future__ import annotations

from typing import Any

from edgeline.filtering import RequestView
from edgeline.messages import Request


def make_request(target: str = "/", method: str = "GET", headers: dict[str, str] | None = None,
                 body: bytes = b"", cf: dict[str, Any] | None = None,
                 host: str | None = "shop.example.com") -> Request:
    """Build a request for https://shop.example.com + target (Host set unless None)."""
    all_headers = dict(headers or {})
    if host is not None:
        all_headers.setdefault("host", host)
    return Request(method, "https://shop.example.com" + target, list(all_headers.items()), body,
                   cf=cf or {})


def make_view(target: str = "/", *, now: float = 1_700_000_000.0, **options: Any) -> RequestView:
    request = make_request(target, **options)
    body = request.body if isinstance(request.body, bytes) else None
    return RequestView(request, None, now=now, body=body)
