"""Parse and check route patterns, methods and host patterns when a route is added.

A route pattern is an absolute path whose segments are either static text or a
whole-segment parameter: ``{name}`` (any non-empty segment), ``{name:conv}``
(a typed parameter, see :mod:`._converters`) or, as the last segment only,
``{name:path}`` (the rest of the path). Static text may be written literally
or percent-encoded; it is compared with the decoded request segment.

Each segment gets a *rank*: static 0, typed parameters 1, 2, ... in converter
registration order, then ``str``, then ``path``. A route's rank vector decides
its priority (see :mod:`edgeline.routing`), and its *shape* (the segments with
parameter names left out) decides when two routes collide.

A host pattern is an exact name (``api.example.com``) or a leading wildcard
(``*.example.com``: any name ending in ``.example.com``, at any depth, not the
bare ``example.com``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal
from urllib.parse import unquote

from ._converters import Converter
from ._types import RouteError

__all__ = [
    "ANY_HOST",
    "PATH_RANK",
    "STR_RANK",
    "HostPattern",
    "PathPattern",
    "RouteSpec",
    "Segment",
    "TrailingSlash",
    "check_method",
    "parse_host",
    "parse_path",
    "parse_route",
]

TrailingSlash = Literal["strict", "ignore", "redirect"]
_POLICIES: Final[tuple[TrailingSlash, ...]] = ("strict", "ignore", "redirect")

STR_RANK: Final = 1 << 20
PATH_RANK: Final = STR_RANK + 1
# NOTE: bounds what a bad configuration can cost at compile time (code size,
# recursion in the code generator); no real API comes near either limit.
MAX_SEGMENTS: Final = 128
MAX_PATTERN_LENGTH: Final = 8192

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?\}\Z")
# RFC 9110 §5.6.2: a method is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\Z")
_DOT_SEGMENTS: Final = frozenset({".", ".."})


class Segment:
    """One segment of a route pattern."""

    __slots__ = ("text", "name", "converter", "rank", "key")

    def __init__(self, text: str, name: str, converter: Converter | None, rank: int) -> None:
        self.text = text  # decoded static text; "" for parameters
        self.name = name  # parameter name; "" for static segments
        self.converter = converter  # typed parameters only
        self.rank = rank
        # What identifies this segment in a route's shape (not its name).
        self.key: tuple[int, str] = (rank, text)

    @property
    def is_static(self) -> bool:
        """Tell whether this segment is static text."""
        return self.rank == 0


class HostPattern:
    """An exact host or a ``*.suffix`` wildcard; ``pattern`` None means any host."""

    __slots__ = ("pattern", "suffix", "rank")

    def __init__(self, pattern: str | None) -> None:
        self.pattern = pattern
        if pattern is None:
            self.suffix = ""
            self.rank: tuple[int, int] = (2, 0)
        elif pattern.startswith("*."):
            self.suffix = pattern[1:]  # ".example.com"
            self.rank = (1, -len(self.suffix))
        else:
            self.suffix = ""
            self.rank = (0, 0)

    def matches(self, host: str) -> bool:
        """Tell whether the normalized ``host`` is covered by this pattern."""
        if self.pattern is None:
            return True
        if self.suffix:
            return len(host) > len(self.suffix) and host.endswith(self.suffix)
        return host == self.pattern


#: The host pattern of routes for any host (immutable, so shared).
ANY_HOST: Final = HostPattern(None)


class PathPattern:
    """A parsed, checked path pattern under a host pattern, whatever the method.

    Routes that differ only by method share one (PERF: a path is parsed once
    however many methods it is added for).
    """

    __slots__ = ("path", "host", "segments", "names", "shape", "ranks", "converters")

    def __init__(self, path: str, host: HostPattern, segments: tuple[Segment, ...]) -> None:
        self.path = path
        self.host = host
        self.segments = segments
        # PERF: one pass (routes are added by the hundred at configuration load).
        names: list[str] = []
        shape: list[tuple[int, str]] = []
        ranks: list[int] = []
        converters: list[Converter | None] = []
        for segment in segments:
            shape.append(segment.key)
            ranks.append(segment.rank)
            converters.append(segment.converter)
            if segment.rank:
                names.append(segment.name)
        self.names = tuple(names)
        self.shape = tuple(shape)
        self.ranks = tuple(ranks)
        # The converter of each typed position (None elsewhere).
        self.converters = tuple(converters)


class RouteSpec:
    """A parsed, checked route: what both routers build their tables from."""

    __slots__ = (
        "method",
        "pattern",
        "path",
        "host",
        "segments",
        "names",
        "shape",
        "ranks",
        "target",
    )

    def __init__(self, method: str, pattern: PathPattern, target: object) -> None:
        self.method = method
        self.pattern = pattern
        self.path = pattern.path
        self.host = pattern.host
        self.segments = pattern.segments
        self.names = pattern.names
        self.shape = pattern.shape
        self.ranks = pattern.ranks
        self.target = target

    @property
    def is_static(self) -> bool:
        """Tell whether every segment is static text."""
        return not self.names

    @property
    def has_tail(self) -> bool:
        """Tell whether the last segment is a ``path`` wildcard."""
        return self.segments[-1].rank == PATH_RANK

    def describe(self) -> str:
        """Return how error messages name this route."""
        return describe(self.method, self.path, self.host.pattern)


def describe(method: object, path: object, host: object) -> str:
    """Return ``METHOD /path`` (with its host, if any) for error messages."""
    where = f" on host {host!r}" if host is not None else ""
    return f"{method} {path}{where}"


def _fail(method: object, path: object, host: object, reason: str) -> RouteError:
    return RouteError(f"route {describe(method, path, host)}: {reason}")


def parse_host(method: str, path: str, host: str | None) -> HostPattern:
    """Check a host pattern and return it normalized (lower case, no trailing dot)."""
    if host is None:
        return ANY_HOST
    if not isinstance(host, str):
        raise _fail(method, path, host, "host must be a string or None")
    name = host.lower().rstrip(".")
    labels = name.split(".")
    if labels and labels[0] == "*":
        labels = labels[1:]
        if not labels:
            raise _fail(method, path, host, "host '*' matches every host; use host=None")
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _fail(
            method,
            path,
            host,
            "host must be a DNS name, optionally starting with '*.', without port",
        )
    return HostPattern(name)


def check_method(method: object, path: object, host: object) -> str:
    """Return ``method`` if it is an HTTP token, else raise RouteError naming the route."""
    if not isinstance(method, str) or not _TOKEN.match(method):
        raise _fail(method, path, host, "method must be an HTTP token (RFC 9110 §9.1)")
    return method


def parse_route(
    method: str,
    path: str,
    target: object,
    host: str | None,
    converters: Mapping[str, tuple[int, Converter]],
    trailing_slash: TrailingSlash,
) -> RouteSpec:
    """Check one route and return its parsed form; raise RouteError naming the problem."""
    check_method(method, path, host)
    return RouteSpec(method, parse_path(method, path, host, converters, trailing_slash), target)


def parse_path(
    method: str,
    path: str,
    host: str | None,
    converters: Mapping[str, tuple[int, Converter]],
    trailing_slash: TrailingSlash,
    known: dict[str, Segment] | None = None,
    hosts: dict[str, HostPattern] | None = None,
) -> PathPattern:
    """Check a route's path and host; raise RouteError naming the route and the problem.

    ``method`` only names the route in error messages. ``known``, if given,
    holds the segments parsed so far by their text, to share (segments are
    immutable); it must stay with one converter table. ``hosts``, if given,
    holds the host patterns parsed so far by their text, likewise.
    """
    if known is None:
        known = {}
    if not isinstance(path, str):
        raise _fail(method, path, host, "path must be a string")
    if not path.startswith("/"):
        raise _fail(method, path, host, "path must start with '/'")
    if len(path) > MAX_PATTERN_LENGTH:
        raise _fail(method, path, host, f"path is longer than {MAX_PATTERN_LENGTH} characters")
    if "?" in path or "#" in path:
        raise _fail(
            method, path, host, "path must not contain '?' or '#' (routes match paths only)"
        )
    if hosts is not None and type(host) is str:
        host_pattern = hosts.get(host)
        if host_pattern is None:
            host_pattern = hosts[host] = parse_host(method, path, host)
    else:
        host_pattern = parse_host(method, path, host)
    raw_segments = path[1:].split("/")
    if len(raw_segments) > MAX_SEGMENTS:
        raise _fail(method, path, host, f"path has more than {MAX_SEGMENTS} segments")
    last = len(raw_segments) - 1
    segments: list[Segment] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_segments):
        segment = known.get(raw)
        if segment is not None:
            # PERF: a segment parsed before; a parameter's name must still be
            # new in this route, and a wildcard last.
            if segment.rank:
                if segment.name in seen:
                    raise _fail(method, path, host, f"parameter {segment.name!r} appears twice")
                seen.add(segment.name)
                if segment.rank == PATH_RANK and index != last:
                    raise _fail(
                        method, path, host, f"{{{segment.name}:path}} must be the last segment"
                    )
            segments.append(segment)
            continue
        if raw and "{" not in raw and "}" not in raw and "%" not in raw and raw[0] != ".":
            # PERF: the common static segment, which needs none of the checks below.
            segment = known[raw] = Segment(raw, "", None, 0)
            segments.append(segment)
            continue
        if "{" in raw or "}" in raw:
            found = _PARAM.match(raw)
            if found is None:
                raise _fail(
                    method,
                    path,
                    host,
                    f"segment {raw!r}: a parameter must be a whole segment, "
                    "written {name} or {name:converter}",
                )
            name, conv_name = found.group(1), found.group(2)
            if name in seen:
                raise _fail(method, path, host, f"parameter {name!r} appears twice")
            seen.add(name)
            if conv_name is None or conv_name == "str":
                segment = Segment("", name, None, STR_RANK)
            elif conv_name == "path":
                if index != last:
                    raise _fail(method, path, host, f"{{{name}:path}} must be the last segment")
                segment = Segment("", name, None, PATH_RANK)
            elif conv_name in converters:
                rank, converter = converters[conv_name]
                segment = Segment("", name, converter, rank)
            else:
                raise _fail(method, path, host, f"unknown converter {conv_name!r} in {raw!r}")
            # NOTE: a converter keeps its name and rank once registered.
            known[raw] = segment
            segments.append(segment)
            continue
        if raw == "" and index != last:
            raise _fail(method, path, host, "empty segment ('//'); request paths never have one")
        text = unquote(raw) if "%" in raw else raw
        if text in _DOT_SEGMENTS:
            raise _fail(
                method,
                path,
                host,
                f"dot segment {raw!r} can never match: request paths are normalized",
            )
        segments.append(Segment(text, "", None, 0))
    if (
        trailing_slash == "ignore"
        and len(segments) > 1
        and segments[-1].text == ""
        and (segments[-1].is_static)
    ):
        # NOTE: with the "ignore" policy "/a/" and "/a" are the same route.
        segments.pop()
    return PathPattern(path, host_pattern, tuple(segments))


def check_trailing_slash(value: str) -> TrailingSlash:
    """Return ``value`` if it names a trailing-slash policy, else raise ValueError."""
    for policy in _POLICIES:
        if value == policy:
            return policy
    raise ValueError(f"trailing_slash must be 'strict', 'ignore' or 'redirect', not {value!r}")
