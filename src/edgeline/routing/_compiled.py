"""The compiled router: routes are turned into Python code once, then matched fast.

Routes are checked and filed by path shape, per host pattern, as they are
added. The first ``match`` (or an explicit :meth:`Router.compile` at
configuration load) generates the matcher (see :mod:`._codegen`) under a lock
and swaps it in; adding a route later swaps the compiling one back.

The hot path, for a path that needs no normalization, is one generated
function (see :mod:`._codegen`):

1. one dict lookup on the raw path for routes made only of static segments
   (they win over everything else, so a hit with the method is the answer);
2. ``"%" in path`` and ``"/." in path`` (tested only when there is a dot),
   which prove the path is already normalized; an empty segment (``//``)
   needs no test, since no parameter matches one and the generated code
   rejects a wildcard rest holding one, so such paths miss and go slow;
3. ``path.split("/")``, a switch on the number of segments, then on the
   first one, then string comparisons (dict lookups where a level is wide)
   down to the route, whose params dict is built as a literal.

Anything else (escapes, dot segments, a miss, 405, the trailing-slash
redirect) takes the slow path, which normalizes and then asks the same tables.

Routes registered for a host pattern are compiled when the first request for
a matching host arrives (once per router, under a lock, never again), not at
:meth:`Router.compile`: configuration load only pays for the routes every
request may need. The slow path's table of static routes by decoded segments
is likewise built on its first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

from ._codegen import Finder, Generated, generate
from ._converters import Converter, converter_table, register
from ._normalize import decode_segments, normalize_host, normalize_path
from ._pattern import (
    HostPattern,
    PathPattern,
    RouteSpec,
    Segment,
    TrailingSlash,
    check_method,
    check_trailing_slash,
    parse_path,
)
from ._table import Leaf, Table
from ._types import MethodNotAllowed, Redirect, RouteError

__all__ = ["Router"]

Result = tuple[Any, dict[str, Any]] | None

# Deeper than any request path can be (an HTTP request line is far shorter).
MAX_PATH_SEGMENTS: Final = 1 << 40

# NOTE: the Host header is chosen by the client; bound what it can make us cache.
HOST_CACHE_SIZE: Final = 512


class _AnyMethod:
    """A key no request method equals: finds a leaf whatever its methods."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY"


_ANY: Final = _AnyMethod()


class MatchFunction(Protocol):
    """The shape of :attr:`Router.match`."""

    def __call__(self, method: str, path: str, host: str = "") -> Result: ...


def _leaf_methods(leaf: Leaf) -> dict[Any, Any]:
    """Return the method table the generated code looks targets up in."""
    methods: dict[Any, Any] = dict(leaf.methods)
    # RFC 9110 §9.3.2: HEAD is served by GET unless registered on its own.
    if "GET" in methods and "HEAD" not in methods:
        methods["HEAD"] = methods["GET"]
    methods[_ANY] = True
    return methods


def _slow_for(
    tables: tuple[_CompiledTable, ...],
    slow: Callable[[str, str, tuple[_CompiledTable, ...]], Result],
) -> Callable[[str, str | None], Result]:
    """Return the generated matcher's miss handler: the slow path over ``tables``."""

    def miss(method: str, path: str | None) -> Result:
        # NOTE: path is None when find() reused the matcher on decoded segments.
        return None if path is None else slow(method, path, tables)

    return miss


class _CompiledTable:
    """The compiled form of one host pattern's routes.

    The method tables are copied when it is made, so routes added to the
    router later never leak into it. With ``lazy``, the code is generated on
    the first :meth:`ensure` instead (a host's routes, on the first request
    for that host); the slow path's table of static routes by decoded
    segments is always built on first use.
    """

    __slots__ = (
        "host",
        "by_path",
        "find",
        "methods",
        "generated",
        "_static",
        "_dynamic",
        "_by_segments",
        "deepest",
        "_ignore_slash",
        "_lock",
    )

    def __init__(
        self, table: Table, hot: dict[str, Any] | None, ignore_slash: bool, lazy: bool = False
    ) -> None:
        self.host: HostPattern = table.host
        self.methods = frozenset(table.methods)
        # The most segments a matching path can have (a tail wildcard: any).
        self.deepest = max(
            (
                MAX_PATH_SEGMENTS if leaf.has_tail else len(leaf.shape)
                for leaf in table.leaves.values()
            ),
            default=0,
        )
        snapshot = {id(leaf): _leaf_methods(leaf) for leaf in table.leaves.values()}
        self._static = [
            (leaf, snapshot[id(leaf)]) for leaf in table.leaves.values() if leaf.is_static
        ]
        self._dynamic = ([leaf for leaf in table.leaves.values() if not leaf.is_static], snapshot)
        self._by_segments: dict[tuple[str, ...], dict[Any, Any]] | None = None
        self._ignore_slash = ignore_slash
        self._lock = threading.Lock()
        self.generated: Generated | None = None
        self.by_path: dict[str, dict[Any, Any]] = {}
        self.find: Finder = _unbuilt
        if not lazy:
            self._build(hot)

    def ensure(self) -> None:
        """Generate the code now if it was left for first use (once, under a lock)."""
        if self.generated is None:
            with self._lock:
                if self.generated is None:
                    self._build(None)

    def _build(self, hot: dict[str, Any] | None) -> None:
        # PERF: the raw request path is looked up as is, before normalization;
        # that is only sound for keys that normalization cannot produce from
        # anything but themselves, so keys holding "%" or a decoded "/" stay out.
        self.by_path = {
            "/" + "/".join(leaf.texts): methods
            for leaf, methods in self._static
            if not any("%" in text or "/" in text for text in leaf.texts)
        }
        if hot is not None:
            hot["STATIC"] = self.by_path.get
            hot["SLOW"] = _slow_for((self,), hot["SLOW"])
        leaves, snapshot = self._dynamic
        generated = generate(
            leaves, lambda leaf: snapshot[id(leaf)], hot=hot, ignore_slash=self._ignore_slash
        )
        self.find = generated.find
        self.generated = generated

    def lookup(self, segs: list[str], method: Any) -> Result:
        """Match decoded segments (``segs[0] == ""``) for one method."""
        by_segments = self._by_segments
        if by_segments is None:
            by_segments = self._by_segments = {
                leaf.texts: methods for leaf, methods in self._static
            }
        methods = by_segments.get(tuple(segs[1:]))
        if methods is not None:
            target = methods.get(method)
            if target is not None:
                return target, {}
        return self.find(segs, len(segs), method)


def _unbuilt(segs: list[str], n: int, method: Any) -> Result:
    """Stand in for a lazy table's finder until :meth:`_CompiledTable.ensure` runs."""
    raise RuntimeError("route table used before it was built")


class Router:
    """Route requests with code generated from the routes; the one to serve with.

    ``match`` is an attribute, not a method: it holds the compiling matcher
    until the routes are compiled, then the compiled one (PERF: no extra call
    per request). See :mod:`edgeline.routing` for the matching rules.
    """

    __slots__ = (
        "match",
        "_converters",
        "_trailing_slash",
        "_tables",
        "_patterns",
        "_segments",
        "_hosts",
        "_methods",
        "_lock",
    )

    def __init__(
        self, *, converters: Iterable[Converter] = (), trailing_slash: str = "strict"
    ) -> None:
        self._converters = converter_table(converters)
        self._trailing_slash: TrailingSlash = check_trailing_slash(trailing_slash)
        self._tables: dict[str | None, Table] = {}
        # PERF: (path, host) -> parsed pattern, so a path added for several
        # methods is parsed once.
        self._patterns: dict[tuple[str, str | None], PathPattern] = {}
        self._segments: dict[str, Segment] = {}
        self._hosts: dict[str, HostPattern] = {}
        # PERF: methods already checked (a configuration adds GET hundreds of times).
        self._methods: set[str] = set()
        self._lock = threading.Lock()
        self.match: MatchFunction = self._compile_and_match

    def add_converter(self, converter: Converter) -> None:
        """Make ``{name:converter}`` usable in routes added from now on."""
        register(self._converters, converter)

    def add(self, method: str, path: str, target: Any, *, host: str | None = None) -> None:
        """Register ``target`` for ``method`` on ``path``; raise RouteError if it is bad."""
        if type(method) is not str or method not in self._methods:
            check_method(method, path, host)
            if type(method) is str:
                self._methods.add(method)
        cacheable = type(path) is str and (host is None or type(host) is str)
        pattern = self._patterns.get((path, host)) if cacheable else None
        if pattern is None:
            pattern = parse_path(
                method,
                path,
                host,
                self._converters,
                self._trailing_slash,
                self._segments,
                self._hosts,
            )
            if cacheable:
                self._patterns[(path, host)] = pattern
        spec = RouteSpec(method, pattern, target)
        if target is None:
            raise RouteError(f"route {spec.describe()}: target must not be None")
        with self._lock:
            table = self._tables.get(spec.host.pattern)
            if table is None:
                table = Table(spec.host)
            table.insert(spec)
            self._tables[spec.host.pattern] = table
            self.match = self._compile_and_match

    def compile(self) -> None:
        """Generate the matcher now (at configuration load) instead of on first match."""
        with self._lock:
            self.match = self._build()

    def _compile_and_match(self, method: str, path: str, host: str = "") -> Result:
        """Compile, swap the compiled matcher in, and match with it."""
        self.compile()
        return self.match(method, path, host)

    def _build(self) -> MatchFunction:
        """Compile every table and return the matcher to swap in."""
        tables = sorted(self._tables.values(), key=lambda t: t.host.rank)
        ignore_slash = self._trailing_slash == "ignore"
        if len(tables) == 1 and tables[0].host.pattern is None:
            # PERF: routes that ignore the host get a matcher generated whole.
            hot: dict[str, Any] = {"SLOW": self._slow}
            only = _CompiledTable(tables[0], hot, ignore_slash)
            assert only.generated is not None  # built eagerly, not lazy
            match: MatchFunction = only.generated.match
            return match
        # PERF: a host's own routes are compiled on the first request for that
        # host (most isolates see few of the configured hosts); the routes for
        # any host are needed by every request, so they are compiled now.
        compiled = [
            _CompiledTable(table, None, ignore_slash, lazy=table.host.pattern is not None)
            for table in tables
        ]
        return _multi_table_matcher(compiled, self._slow, ignore_slash)

    def _slow(self, method: str, path: str, tables: tuple[_CompiledTable, ...]) -> Result:
        """Normalize ``path`` and match it; work out 405 and redirects on a miss."""
        normalized = normalize_path(path)
        if normalized is None:
            return None
        segs = decode_segments(normalized)
        if self._trailing_slash == "ignore" and len(segs) > 2 and segs[-1] == "":
            segs.pop()
        # PERF: a path deeper than every route (by more than the segment a
        # trailing-slash redirect may drop) matches nothing; a long path of
        # short segments would otherwise be walked again for 405 and redirect.
        if all(len(segs) > table.deepest + 2 for table in tables):
            return None
        for table in tables:
            found = table.lookup(segs, method)
            if found is not None:
                return found
        first: dict[str, Any] | None = None
        allowed: set[str] = set()
        for table in tables:
            hit = table.lookup(segs, _ANY)
            if hit is None:
                continue
            if first is None:
                first = hit[1]
            allowed.update(m for m in table.methods - allowed if table.lookup(segs, m))
        if first is not None:
            if "GET" in allowed:
                allowed.add("HEAD")
            return MethodNotAllowed(tuple(sorted(allowed))), first
        if self._trailing_slash == "redirect" and normalized != "/":
            if segs[-1] == "":
                toggled, location = segs[:-1], normalized[:-1]
            else:
                toggled, location = [*segs, ""], normalized + "/"
            for table in tables:
                if table.lookup(toggled, method) is not None:
                    return Redirect(location), {}
        return None


def _multi_table_matcher(
    compiled: list[_CompiledTable],
    slow: Callable[[str, str, tuple[_CompiledTable, ...]], Result],
    ignore_slash: bool,
) -> MatchFunction:
    """Return the matcher for routes that depend on the host."""
    exact = {t.host.pattern: t for t in compiled if t.host.rank[0] == 0}
    wildcards = [t for t in compiled if t.host.rank[0] == 1]  # longest suffix first
    fallback = [t for t in compiled if t.host.pattern is None]
    cache: dict[str, tuple[_CompiledTable, ...]] = {}

    def resolve(host: str) -> tuple[_CompiledTable, ...]:
        name = normalize_host(host)
        chosen = [exact[name]] if name in exact else []
        chosen.extend(t for t in wildcards if t.host.matches(name))
        chosen.extend(fallback)
        for table in chosen:
            table.ensure()
        if len(cache) >= HOST_CACHE_SIZE:
            cache.clear()
        cache[host] = result = tuple(chosen)
        return result

    def match(method: str, path: str, host: str = "") -> Result:
        tables = cache.get(host)
        if tables is None:
            tables = resolve(host)
        if "%" in path or "." in path and "/." in path or (ignore_slash and path.endswith("/")):
            return slow(method, path, tables)
        segs = path.split("/")
        n = len(segs)
        if segs[0] or n == 1:
            return slow(method, path, tables)
        # NOTE: host priority comes first, so each table is tried whole
        # (static, then parameters) before the next, less specific one.
        for table in tables:
            methods = table.by_path.get(path)
            if methods is not None:
                target = methods.get(method)
                if target is not None:
                    return target, {}
            found = table.find(segs, n, method)
            if found is not None:
                return found
        return slow(method, path, tables)

    return match
