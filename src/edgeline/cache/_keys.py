"""Cache keys and Vary: what makes two requests share a stored response.

Primary key (RFC 9111 §4, "the target URI"): ``host + normalized path +
"?" + query``, where the query keeps its parameters in a stable order
(sorted by name; values of one name keep their order) and loses those
configured as ignored (tracking parameters: ``utm_*``, ``fbclid``,
``gclid``, ...). An optional personalization variant (a short string such
as ``"DE|de|EUR"`` from the geo layer) is appended after ``#``; it is the
edge's own choice of variant, never raw client input.

Bounded: a key longer than ``max_length`` keeps its first part readable
(prefix purges still work on it) and ends with a SHA-256 of the rest, so
an unbounded URL never becomes an unbounded key.

Vary (RFC 9111 §4.1): the secondary key is built from the request's
values of the fields the stored response's ``Vary`` names, normalised by
combining field lines and removing whitespace around commas (a form §4.1
names as semantically identical). ``Vary: *`` never matches.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

from ..headers import Headers
from ..messages import Request

__all__ = ["DEFAULT_IGNORED_PARAMS", "LANGUAGE_ALIAS", "KeyPolicy", "normalize_accept_language",
           "normalize_path", "parse_vary", "preferred_language", "secondary_key", "vary_values"]

DEFAULT_IGNORED_PARAMS = (
    "utm_*", "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
    "_ga", "_gl", "yclid", "igshid",
)

VARY_SEP = "\x00"  # between the primary key and the Vary part; never in a URL
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_COMMA_WS = re.compile(r"[ \t]*,[ \t]*")


def _pct(m: re.Match[str]) -> str:
    ch = chr(int(m.group(1), 16))
    # RFC 3986 §6.2.2.2: decode unreserved characters, upper-case the rest.
    return ch if ch in _UNRESERVED else "%" + m.group(1).upper()


def normalize_path(path: str) -> str:
    """Return ``path`` in RFC 3986 §6.2.2 normal form (percent-encoding, dot segments)."""
    if "%" in path:
        path = _PCT.sub(_pct, path)
    if "/." in path:
        # RFC 3986 §5.2.4 remove_dot_segments
        out: list[str] = []
        for seg in path.split("/")[1:]:
            if seg == "..":
                if out:
                    out.pop()
            elif seg != ".":
                out.append(seg)
        trailing = path.endswith(("/.", "/.."))
        path = "/" + "/".join(out) + ("/" if trailing and out else "")
    return path or "/"


class KeyPolicy:
    """Compute primary cache keys; configured once, used per request."""

    __slots__ = ("_exact", "_patterns", "max_length", "include_scheme", "_memo")

    def __init__(
        self, *, ignored_params: Iterable[str] = DEFAULT_IGNORED_PARAMS,
        max_length: int = 512, include_scheme: bool = False,
    ) -> None:
        exact: set[str] = set()
        patterns: list[re.Pattern[str]] = []
        for name in ignored_params:
            if not isinstance(name, str) or not name:
                raise ValueError(f"ignored query parameter must be a non-empty string, not {name!r}")
            if any(c in name for c in "*?["):
                patterns.append(re.compile(fnmatch.translate(name)))
            else:
                exact.add(name)
        if max_length < 128:
            raise ValueError(f"max_length must be at least 128, not {max_length}")
        self._exact = frozenset(exact)
        self._patterns = tuple(patterns)
        self.max_length = max_length
        self.include_scheme = include_scheme
        self._memo: dict[str, str] = {}

    def _ignored(self, name: str) -> bool:
        return name in self._exact or any(p.match(name) for p in self._patterns)

    def _query(self, query: str) -> str:
        pairs = []
        for part in query.split("&"):
            if not part:
                continue
            name, eq, value = part.partition("=")
            name_d = unquote(name.replace("+", " "))
            if self._ignored(name_d):
                continue
            pairs.append((name_d, unquote(value.replace("+", " ")) if eq else None))
        pairs.sort(key=lambda p: p[0])  # stable: values of one name keep their order
        return "&".join(quote(n, safe="") + ("" if v is None else "=" + quote(v, safe=""))
                        for n, v in pairs)

    def url_key(self, url: str, host: str, path: str, query: str, scheme: str = "") -> str:
        """Return the primary key for the given URL parts."""
        memo = self._memo
        found = memo.get(url)
        if found is not None:
            return found
        key = host.lower() + normalize_path(path)
        if query:
            normalized = self._query(query)
            if normalized:
                key += "?" + normalized
        if self.include_scheme and scheme:
            key = scheme + "://" + key
        key = self.bound(key)
        if len(memo) >= 4096:
            memo.clear()  # PERF: a bounded memo of raw URL -> key for hot URLs
        memo[url] = key
        return key

    def bound(self, key: str) -> str:
        """Return ``key`` cut to ``max_length`` with a digest of the cut part."""
        if len(key) <= self.max_length:
            return key
        keep = self.max_length - 66
        digest = hashlib.sha256(key[keep:].encode("utf-8", "surrogatepass")).hexdigest()
        return key[:keep] + "#~" + digest

    def key(self, request: Request, variant: str = "") -> str:
        """Return the primary key of ``request`` (plus a personalization ``variant``)."""
        url = request.url
        host = request.headers.get("host") or url.netloc
        raw = f"{host}\x00{url}"
        # PERF: a memoized URL needs none of its parts split out.
        key = self._memo.get(raw)
        if key is None:
            key = self.url_key(raw, host, url.path, url.query, url.scheme)
        if variant:
            if len(variant) > 64:
                variant = hashlib.sha256(variant.encode()).hexdigest()
            key += "#" + variant
        return key


def parse_vary(values: list[str]) -> tuple[str, ...] | None:
    """Return the sorted, lower-cased field names of ``Vary``; None for ``*``."""
    names: set[str] = set()
    for line in values:
        for item in line.split(","):
            name = item.strip().lower()
            if name == "*":
                return None
            if name:
                names.add(name)
    return tuple(sorted(names))


def vary_values(headers: Headers, names: tuple[str, ...]) -> tuple[str | None, ...]:
    """Return the normalised values of ``names`` in ``headers`` (None when absent)."""
    out: list[str | None] = []
    for name in names:
        found = headers.get_all(name)
        if not found:
            out.append(None)
        elif name == "accept-language":
            out.append(normalize_accept_language(",".join(found)))
        else:
            out.append(_COMMA_WS.sub(",", ",".join(v.strip(" \t") for v in found)))
    return tuple(out)


def _language_ranges(value: str) -> list[tuple[float, int, str]]:
    """Return (-q, position, lower-cased range) for each range of an Accept-Language value."""
    ranges: list[tuple[float, int, str]] = []
    for i, item in enumerate(value.split(",")):
        tag, _, params = item.partition(";")
        tag = tag.strip(" \t").lower()
        if not tag:
            continue
        q = 1.0
        for param in params.split(";"):
            pname, eq, pvalue = param.strip(" \t").partition("=")
            if eq and pname.lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(pvalue.strip())))
                except ValueError:
                    q = 1.0
        ranges.append((-q, i, tag))
    return ranges


def normalize_accept_language(value: str) -> str:
    """Return ``Accept-Language`` in a canonical form (RFC 9111 §4.1 normalisation).

    Case, whitespace and the order of ranges with equal weight do not change
    what a client asks for (RFC 9110 §12.5.4, RFC 4647 §2): ``en, de``,
    ``De,EN`` and `` de ,en`` select the same response.
    """
    ranges = sorted((q, tag) for q, _, tag in _language_ranges(value))
    return ",".join(tag if q == -1.0 else f"{tag};q={-q:g}" for q, tag in ranges)


def preferred_language(value: str) -> str | None:
    """Return the range a client weights highest (first among equals), or None.

    ``*`` and ranges with ``q=0`` are never preferred.
    """
    best = min((r for r in _language_ranges(value) if r[0] < 0 and r[2] != "*"), default=None)
    return best[2] if best is not None else None


LANGUAGE_ALIAS = "\x01lang="  # an Accept-Language value no client can send


def secondary_key(primary: str, names: tuple[str, ...], values: tuple[str | None, ...]) -> str:
    """Return the storage key of one Vary variant of ``primary``."""
    parts = "\x1f".join(f"{n}\x1e{'' if v is None else '=' + v}" for n, v in zip(names, values, strict=True))
    if len(parts) > 256:
        parts = "#" + hashlib.sha256(parts.encode("utf-8", "surrogatepass")).hexdigest()
    return primary + VARY_SEP + parts
