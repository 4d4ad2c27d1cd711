"""Request routing: map (method, path, host) to a target and its parameters.

Two implementations sit behind the :class:`~edgeline.routing.RouterProtocol`
seam and pass the same contract tests: :class:`Router` (compiled to Python
code once, the one to serve with) and :class:`ReferenceRouter` (tries every
route; the oracle the compiled one is tested against).

Patterns
    ``/users`` (static), ``/users/{id}`` (any non-empty segment),
    ``/users/{id:int}``, ``/items/{uid:uuid}``, ``/x/{v:custom}`` (typed, see
    :class:`Converter`), ``/files/{rest:path}`` (tail wildcard, last segment
    only; ``""`` for ``/files/``). A parameter spans a whole segment. A bad
    or conflicting route raises :class:`RouteError` from ``add``, naming the
    route and the reason. Two routes conflict when they have the same host
    pattern, method and shape (the same segments, parameter names aside); the
    same shape under different methods must use the same parameter names.

Paths
    Matching is on the normalized path: empty segments dropped, dot segments
    removed (RFC 3986 §5.2.4, ``%2E`` included), then split on ``/`` and each
    segment percent-decoded, so ``%2F`` never separates segments. Details and
    reasons in :mod:`edgeline.routing._normalize`; :func:`normalize_path` gives
    the path to forward to an origin.

Priority
    1. Host: routes for the exact host, then ``*.suffix`` patterns (longest
       suffix first), then routes with no host.
    2. Path, segment by segment from the left: at the first segment where two
       matching routes differ, static text beats a typed parameter (``int``,
       ``uuid``, then custom converters in registration order), which beats a
       plain ``{name}``, which beats a ``{name:path}`` wildcard. So
       ``/a/b/{x}`` beats ``/a/{y}/c``, and a fully static route always wins.
    3. Among the routes that match, the best one that accepts the method is
       chosen; HEAD is accepted by a route with GET (RFC 9110 §9.3.2) unless
       HEAD is registered for it. If routes match the path but none accepts
       the method, ``match`` returns ``(MethodNotAllowed(allowed), params)``:
       ``allowed`` is the sorted union of their methods, with HEAD when GET
       is there (OPTIONS only if registered), ``params`` those of the best
       matching route. ``None`` means nothing matched the path.

Trailing slash (``trailing_slash=`` on either router)
    ``"strict"`` (default): ``/a`` and ``/a/`` are different paths; a route
    matches only the form it was written with. Predictable, and caches and
    origins see the same distinction.
    ``"ignore"``: a trailing slash is dropped from routes and request paths
    before matching (``/`` stays), so ``/a`` and ``/a/`` are one route.
    ``"redirect"``: strict, but when nothing matches and the other form would
    match with the request's method, ``match`` returns
    ``(Redirect(location), {})``; answer 308 to ``location`` plus the query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from ._compiled import Router
from ._converters import INT, MISSING, UUID, Converter
from ._group import RouteGroup
from ._normalize import normalize_host, normalize_path
from ._types import MethodNotAllowed, Redirect, RouteError
from ._types import Router as RouterProtocol

if TYPE_CHECKING:
    from ._reference import ReferenceRouter

# PERF: imported on first use (PEP 562): only tests and benchmarks route with the oracle.
_SUBMODULES = {
    "._reference": ("ReferenceRouter",),
}

__all__ = [
    "INT",
    "MISSING",
    "UUID",
    "Converter",
    "MethodNotAllowed",
    "Redirect",
    "ReferenceRouter",
    "RouteError",
    "RouteGroup",
    "Router",
    "RouterProtocol",
    "normalize_host",
    "normalize_path",
]

__getattr__, __dir__ = lazy_names(__name__, globals(), _SUBMODULES)
