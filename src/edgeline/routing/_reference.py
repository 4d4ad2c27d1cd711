"""The reference matcher: try every route in turn, then apply the rules literally.

It is slow (linear in the number of routes) and exists so the contract tests
have an obviously correct oracle to hold the compiled router against. It does
its own path normalization, straight from RFC 3986 §5.2.4, rather than sharing
the compiled router's, so the differential tests cover that step too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from ._converters import MISSING, Converter, converter_table, register
from ._normalize import normalize_host
from ._pattern import STR_RANK, RouteSpec, check_trailing_slash, parse_route
from ._types import MethodNotAllowed, Redirect, RouteError

__all__ = ["ReferenceRouter"]

_SLASHES = re.compile(r"//+")


def _remove_dot_segments(path: str) -> str:
    """Apply the RFC 3986 §5.2.4 loop to an absolute path, buffer rules A to E."""
    out: list[str] = []  # each entry is "/segment"
    pos, end = 0, len(path)
    while pos < end:
        if path.startswith("/./", pos) or (end - pos == 2 and path.startswith("/.", pos)):
            pos += 2  # rule B: "/./" or a final "/." becomes "/"
            if pos >= end:
                out.append("/")
            continue
        if path.startswith("/../", pos) or (end - pos == 3 and path.startswith("/..", pos)):
            pos += 3  # rule C: drop the last output segment
            if out:
                out.pop()
            if pos >= end:
                out.append("/")
            continue
        nxt = path.find("/", pos + 1)
        nxt = end if nxt < 0 else nxt
        out.append(path[pos:nxt])  # rule E
        pos = nxt
    return "".join(out) or "/"


def _normalize(path: str) -> str | None:
    """Return the normalized, still encoded path, or None if it is not absolute."""
    if path == "":
        return "/"
    if not path.startswith("/"):
        return None
    collapsed = _SLASHES.sub("/", path)
    parts = []
    for part in collapsed.split("/"):
        spelled = part.lower().replace("%2e", ".")
        parts.append(spelled if spelled in (".", "..") else part)
    return _remove_dot_segments("/".join(parts))


class ReferenceRouter:
    """Match requests by trying every route; slow, short, obviously correct."""

    __slots__ = ("_converters", "_trailing_slash", "_routes")

    def __init__(
        self, *, converters: Iterable[Converter] = (), trailing_slash: str = "strict"
    ) -> None:
        self._converters = converter_table(converters)
        self._trailing_slash = check_trailing_slash(trailing_slash)
        self._routes: list[RouteSpec] = []

    def add_converter(self, converter: Converter) -> None:
        """Make ``{name:converter}`` usable in routes added from now on."""
        register(self._converters, converter)

    def add(self, method: str, path: str, target: Any, *, host: str | None = None) -> None:
        """Register ``target`` for ``method`` on ``path``; raise RouteError if it is bad."""
        spec = parse_route(method, path, target, host, self._converters, self._trailing_slash)
        if target is None:
            raise RouteError(f"route {spec.describe()}: target must not be None")
        for other in self._routes:
            if other.host.pattern != spec.host.pattern or other.shape != spec.shape:
                continue
            if other.method == spec.method:
                raise RouteError(f"route {spec.describe()}: conflicts with {other.describe()}")
            if other.names != spec.names:
                raise RouteError(
                    f"route {spec.describe()}: parameter names {spec.names} differ from "
                    f"{other.names} of {other.describe()}, which has the same path shape"
                )
        self._routes.append(spec)

    def match(self, method: str, path: str, host: str = "") -> tuple[Any, dict[str, Any]] | None:
        """Return ``(target, params)``, ``(MethodNotAllowed, params)``, a Redirect or None."""
        normalized = _normalize(path)
        if normalized is None:
            return None
        segments = [unquote(s) for s in normalized[1:].split("/")]
        if self._trailing_slash == "ignore" and len(segments) > 1 and segments[-1] == "":
            segments.pop()
        host = normalize_host(host)
        found = self._decide(method, segments, host)
        if found is not None or self._trailing_slash != "redirect" or normalized == "/":
            return found
        if segments[-1] == "":
            toggled, location = segments[:-1], normalized[:-1]
        else:
            toggled, location = [*segments, ""], normalized + "/"
        other = self._decide(method, toggled, host)
        if other is not None and not isinstance(other[0], MethodNotAllowed):
            return Redirect(location), {}
        return None

    def _decide(
        self, method: str, segments: list[str], host: str
    ) -> tuple[Any, dict[str, Any]] | None:
        """Pick the best matching route for ``method``, or say 405, or None."""
        candidates: list[tuple[Any, RouteSpec, dict[str, Any]]] = []
        for spec in self._routes:
            if not spec.host.matches(host):
                continue
            params = _bind(spec, segments)
            if params is not None:
                candidates.append(((spec.host.rank, spec.ranks), spec, params))
        if not candidates:
            return None
        # NOTE: sorted() is stable, and routes with equal keys that both match
        # a path share their shape, so each group below is one resource.
        candidates.sort(key=lambda c: c[0])
        groups: dict[Any, dict[str, tuple[RouteSpec, dict[str, Any]]]] = {}
        for key, spec, params in candidates:
            groups.setdefault(key, {})[spec.method] = (spec, params)
        for methods in groups.values():
            chosen = methods.get(method)
            if chosen is None and method == "HEAD":
                chosen = methods.get("GET")
            if chosen is not None:
                return chosen[0].target, chosen[1]
        allowed = {m for methods in groups.values() for m in methods}
        if "GET" in allowed:
            allowed.add("HEAD")
        first = next(iter(groups.values()))
        return MethodNotAllowed(tuple(sorted(allowed))), next(iter(first.values()))[1]


def _bind(spec: RouteSpec, segments: list[str]) -> dict[str, Any] | None:
    """Return the parameters if ``spec`` matches ``segments``, else None."""
    pattern = spec.segments
    fixed = pattern[:-1] if spec.has_tail else pattern
    if spec.has_tail:
        if len(segments) < len(pattern):
            return None
    elif len(segments) != len(pattern):
        return None
    params: dict[str, Any] = {}
    for seg, value in zip(fixed, segments, strict=False):  # a tail leaves extra segments
        if seg.is_static:
            if value != seg.text:
                return None
            continue
        if value == "":
            return None  # a parameter never matches an empty segment
        if seg.rank == STR_RANK or seg.converter is None:
            params[seg.name] = value
            continue
        converted = seg.converter.parse(value)
        if converted is MISSING:
            return None
        params[seg.name] = converted
    if spec.has_tail:
        params[pattern[-1].name] = "/".join(segments[len(fixed) :])
    return params
