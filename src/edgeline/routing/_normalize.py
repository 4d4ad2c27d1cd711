"""Normalize request paths and hosts into the form routes are matched on.

Every router matches on the *normalized* path, never on the raw one, so two
requests the origin would treat alike reach the same route, and a path cannot
be dressed up to slip past a route (``/admin`` vs ``/./admin`` vs ``//admin``).

The path given to ``match`` is the path component as sent on the wire
(percent-encoded, without the query string). Normalization, in order:

1. ``""`` becomes ``"/"`` (RFC 3986 §6.2.3). Any other path that does not
   start with ``/`` is not an origin-form path (RFC 9112 §3.2.1) and matches
   nothing.
2. Empty segments are dropped (``/a//b`` is ``/a/b``), except a final empty
   segment: a trailing slash is kept and is significant (see the trailing-slash
   policy in :mod:`edgeline.routing`). Same as nginx's ``merge_slashes``.
3. Dot segments are removed per RFC 3986 §5.2.4 (``/a/./b`` is ``/a/b``,
   ``/a/b/../c`` is ``/a/c``, ``..`` never climbs above the root, and a final
   ``.`` or ``..`` leaves a trailing slash). ``%2E`` counts as ``.`` since it
   encodes an unreserved character (RFC 3986 §6.2.2.2), so ``/%2e%2E/`` is a
   dot segment too.
4. The path is split on the literal ``/`` and only then is each segment
   percent-decoded (UTF-8; invalid UTF-8 becomes U+FFFD, malformed escapes are
   kept literally, as :func:`urllib.parse.unquote` does). So ``%2F`` stays
   inside its segment (``/a%2Fb`` is ONE segment ``a/b``, never ``/a/b``),
   ``/users/%61lice`` matches the static route ``/users/alice``, and
   parameters are handed to targets decoded.

Characters outside ASCII in the given path are taken as they are, i.e. as if
they had been percent-encoded UTF-8; a backslash is an ordinary character.

APPSEC: the normalized path is what the route was chosen for; code that sends
the request on to an origin should forward :func:`normalize_path`'s result, not
the raw path, or origin and edge may disagree about which resource was asked for.

Hosts (``Host`` header or URL authority) are normalized by lower-casing,
dropping the port and a trailing dot (RFC 9110 §4.2.3, RFC 1034 §3.1).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["decode_segments", "normalize_host", "normalize_path"]

_SLASHES = re.compile(r"//+")

# NOTE: segments that are "." or ".." once %2E is read as "." (RFC 3986 §6.2.2.2).
_ONE_DOT = frozenset({".", "%2e"})
_TWO_DOTS = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})


def normalize_path(path: str) -> str | None:
    """Return ``path`` normalized but still percent-encoded, or None if not absolute."""
    if not path:
        return "/"
    if path[0] != "/":
        return None
    # PERF: the common case (no escapes, no "//", no dot segments) is returned as is.
    if "%" not in path and "/." not in path:
        # PERF: only empty segments to drop: one pass in C, however many.
        return _SLASHES.sub("/", path) if "//" in path else path
    parts = path[1:].split("/")
    last = len(parts) - 1
    out: list[str] = []
    for index, segment in enumerate(parts):
        folded = segment.lower() if "%" in segment else segment
        if folded in _ONE_DOT or folded in _TWO_DOTS:
            if folded in _TWO_DOTS and out:
                out.pop()
            if index == last:
                # RFC 3986 §5.2.4: "/a/b/.." is "/a/", the final dot leaves a slash.
                out.append("")
            continue
        if segment or index == last:
            out.append(segment)
    return "/" + "/".join(out)


def decode_segments(normalized: str) -> list[str]:
    """Split a normalized path into ``['', seg1, seg2, ...]``, each segment decoded.

    The leading empty string stands for the root, so index ``i`` holds the
    ``i``-th segment, which is how the compiled matcher addresses them.
    """
    segments = normalized.split("/")
    if "%" in normalized:
        segments = [unquote(s) if "%" in s else s for s in segments]
    return segments


def normalize_host(host: str) -> str:
    """Return ``host`` lower-cased, without port or trailing dot."""
    if not host:
        return ""
    if host[0] == "[":
        # An IPv6 literal keeps its colons; only what follows "]" is a port.
        end = host.find("]")
        host = host if end < 0 else host[: end + 1]
    else:
        colon = host.rfind(":")
        if colon >= 0:
            host = host[:colon]
    return host.rstrip(".").lower()
