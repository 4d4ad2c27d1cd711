"""Route groups: register many routes under one path prefix and host."""

from __future__ import annotations

import re
from typing import Any, Protocol

from ._types import RouteError

__all__ = ["RouteGroup"]

_PREFIX = re.compile(r"(/[^/?#]+)*\Z")


class _Adds(Protocol):
    """Anything routes can be added to: a router or another group."""

    def add(self, method: str, path: str, target: Any, *, host: str | None = None) -> None: ...


class RouteGroup:
    """Add routes to a router under a shared prefix (and, optionally, host).

    ``RouteGroup(router, "/api/v1").add("GET", "/users", t)`` registers
    ``GET /api/v1/users``. The path is appended to the prefix as written, so
    ``add("GET", "/", t)`` registers ``/api/v1/`` (trailing slash included).
    Groups nest: ``group.group("/admin")``. A route's own ``host`` overrides
    the group's.
    """

    __slots__ = ("_parent", "prefix", "host")

    def __init__(self, parent: _Adds, prefix: str = "", *, host: str | None = None) -> None:
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise RouteError(
                f"group prefix {prefix!r}: must be empty or '/segment' repeated, "
                "without a trailing slash"
            )
        self._parent = parent
        self.prefix = prefix
        self.host = host

    def add(self, method: str, path: str, target: Any, *, host: str | None = None) -> None:
        """Register ``target`` for ``method`` on prefix + ``path``."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise RouteError(f"route {method} {self.prefix}{path}: path must start with '/'")
        self._parent.add(method, self.prefix + path, target, host=host if host else self.host)

    def group(self, prefix: str, *, host: str | None = None) -> RouteGroup:
        """Return a nested group under this one's prefix (and host, unless given)."""
        return RouteGroup(self, prefix, host=host if host else self.host)
