"""Answer from a stored response: conditional requests (RFC 9110 §13) and byte ranges (§14)."""

from __future__ import annotations

import re

from ..headers import Headers
from ..messages import Request, Response
from ._entry import Entry
from ._freshness import parse_http_date

__all__ = ["byte_range", "etag_matches", "is_not_modified", "not_modified_response",
           "range_response"]

# RFC 9110 §15.4.5: the fields a 304 carries when the 200 would have.
_NOT_MODIFIED_FIELDS = frozenset({
    "cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified",
    "cdn-cache-control", "edgeline-cache-control", "cache-tag", "via",
})
_RANGE = re.compile(r"bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*\Z", re.IGNORECASE)


def _opaque(tag: str) -> str:
    tag = tag.strip()
    if tag[:2] in ("W/", "w/"):
        tag = tag[2:]
    if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
        tag = tag[1:-1]
    return tag


def etag_matches(header: str, stored: str | None) -> bool:
    """Return True if If-None-Match ``header`` matches ``stored`` (weak comparison, §13.1.2)."""
    if stored is None:
        return False
    if header.strip() == "*":
        return True
    want = _opaque(stored)
    raw = stored.strip()
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == raw or _opaque(candidate) == want:
            return True
    return False


def is_not_modified(request: Request, entry: Entry) -> bool:
    """Return True if the client's conditionals make a 304 the answer (RFC 9111 §4.3.2)."""
    headers = request.headers
    inm = headers.get("if-none-match")
    if inm is not None:
        # RFC 9110 §13.2.2: If-None-Match takes precedence; If-Modified-Since is ignored.
        return etag_matches(inm, entry.etag)
    ims = headers.get("if-modified-since")
    if ims is None:
        return False
    since = parse_http_date(ims)
    if since is None:
        return False
    modified = entry.last_modified if entry.last_modified is not None else entry.date
    return modified is not None and modified <= since


def not_modified_response(entry: Entry, extra: list[tuple[str, str]]) -> Response:
    """Return the 304 for ``entry``, with its validator and caching fields."""
    items = [(k, v) for k, v in entry.headers if k in _NOT_MODIFIED_FIELDS]
    items.extend(extra)
    return Response(b"", 304, Headers.from_trusted(items))


def _if_range_ok(value: str, entry: Entry) -> bool:
    value = value.strip()
    if value.startswith(('"', 'W/"')):
        # RFC 9110 §13.1.5: If-Range compares strongly; a weak tag never matches.
        return (entry.etag is not None and not value.startswith("W/")
                and not entry.etag.startswith("W/") and value == entry.etag.strip())
    when = parse_http_date(value)
    return when is not None and entry.last_modified is not None and entry.last_modified == when


def range_response(request: Request, entry: Entry, items: list[tuple[str, str]]) -> Response | None:
    """Return a 206 or 416 for a single byte range over a stored 200 (RFC 9110 §14), or None.

    None means "serve the whole response": no Range, several ranges,
    a failed If-Range, or a stored status other than 200.
    """
    spec = request.headers.get("range")
    if spec is None or entry.status != 200 or request.method != "GET":
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and not _if_range_ok(if_range, entry):
        return None
    m = _RANGE.match(spec.strip())
    if m is None:
        return None  # RFC 9110 §14.2: an unsupported or multi-range spec may be ignored
    first, last = m.group(1), m.group(2)
    body = entry.body
    size = len(body)
    if first == "" and last == "":
        return None
    if first == "":
        n = int(last)
        start, end = max(0, size - n), size - 1
        if n == 0:
            start, end = size, size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None  # invalid range: ignore the header
    headers = [(k, v) for k, v in items if k != "content-length"]
    if start >= size or start > end:
        headers.append(("content-range", f"bytes */{size}"))
        headers.append(("content-length", "0"))
        return Response(b"", 416, Headers.from_trusted(headers))
    part = body[start:end + 1]
    headers.append(("content-range", f"bytes {start}-{end}/{size}"))
    headers.append(("content-length", str(len(part))))
    return Response(part, 206, Headers.from_trusted(headers))


def byte_range(spec: str, size: int | None) -> tuple[int, int] | None:
    """Return the (first, last) byte one single-range ``spec`` selects (RFC 9110 §14.1.2).

    ``size`` is the representation's length (None when unknown: only a
    closed range resolves then). None when the spec is malformed, several
    ranges, or selects nothing.
    """
    m = _RANGE.match(spec.strip())
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if first == "":
        if last == "" or size is None or int(last) == 0:
            return None
        return max(0, size - int(last)), size - 1
    start = int(first)
    if last == "":
        if size is None:
            return None
        end = size - 1
    else:
        end = int(last)
        if end < start:
            return None
        if size is not None:
            end = min(end, size - 1)
    if size is not None and start >= size:
        return None
    return start, end
