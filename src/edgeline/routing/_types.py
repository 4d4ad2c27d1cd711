"""The router seam: two methods, ``add`` and ``match``.

Every router implementation (the compiled router, the reference matcher used
by the contract tests) satisfies :class:`Router`. Besides a real target,
``match`` can hand back two marker targets: :class:`MethodNotAllowed` (answer
405) and :class:`Redirect` (answer 308, only with ``trailing_slash="redirect"``).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["MethodNotAllowed", "Redirect", "Router", "RouteError"]


class RouteError(ValueError):
    """A route was rejected when added: malformed, or in conflict with another."""


class MethodNotAllowed:
    """Returned as the target when the path matches but the method does not.

    ``allowed`` lists the methods the path does accept, sorted, for the
    ``Allow`` header of a 405 response (RFC 9110 §15.5.6).
    """

    __slots__ = ("allowed",)

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.allowed = allowed

    def __repr__(self) -> str:
        return f"MethodNotAllowed({self.allowed!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MethodNotAllowed) and other.allowed == self.allowed

    def __hash__(self) -> int:
        return hash(self.allowed)


class Redirect:
    """Returned as the target when only the other trailing-slash form matches.

    ``location`` is the normalized, still percent-encoded path to send the
    client to; the app appends the query string and answers 308 Permanent
    Redirect (RFC 9110 §15.4.9), which keeps the method and body.
    """

    __slots__ = ("location",)

    def __init__(self, location: str) -> None:
        self.location = location

    def __repr__(self) -> str:
        return f"Redirect({self.location!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Redirect) and other.location == self.location

    def __hash__(self) -> int:
        return hash(self.location)


class Router(Protocol):
    """Map (method, path, host) to a target and its captured parameters."""

    def add(self, method: str, path: str, target: Any, *, host: str | None = None) -> None:
        """Register ``target`` for ``method`` on ``path``; raise RouteError if it is bad."""
        ...

    def match(self, method: str, path: str, host: str = "") -> tuple[Any, dict[str, Any]] | None:
        """Return ``(target, params)``, ``(MethodNotAllowed, params)`` or None."""
        ...
