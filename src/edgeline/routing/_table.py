"""The compiled router's route table: one resource (leaf) per path shape, per host.

A *shape* is a route's segments with parameter names left out: static text,
or the rank of its parameter kind (see :mod:`._pattern`). Routes of one shape
under one host are one resource, whatever their methods; that is where
conflicts are detected, and what the code generator groups and orders.
"""

from __future__ import annotations

from typing import Any

from ._converters import Converter
from ._pattern import PATH_RANK, HostPattern, RouteSpec
from ._types import RouteError

__all__ = ["Leaf", "Table"]


class Leaf:
    """One resource: a path shape with its targets by method."""

    __slots__ = ("shape", "ranks", "names", "converters", "methods", "specs")

    def __init__(self, spec: RouteSpec) -> None:
        self.shape = spec.shape
        self.ranks = spec.ranks
        self.names = spec.names
        # The converter of each typed position (None elsewhere).
        self.converters: tuple[Converter | None, ...] = spec.pattern.converters
        self.methods: dict[str, Any] = {}
        self.specs: list[RouteSpec] = []

    @property
    def is_static(self) -> bool:
        """Tell whether every segment is static text."""
        return not self.names

    @property
    def has_tail(self) -> bool:
        """Tell whether the last segment is a ``path`` wildcard."""
        return self.ranks[-1] == PATH_RANK

    @property
    def texts(self) -> tuple[str, ...]:
        """Return the static texts, in order (parameters left out)."""
        return tuple(text for rank, text in self.shape if rank == 0)


class Table:
    """Every route registered for one host pattern."""

    __slots__ = ("host", "leaves", "methods")

    def __init__(self, host: HostPattern) -> None:
        self.host = host
        self.leaves: dict[tuple[tuple[int, str], ...], Leaf] = {}
        self.methods: set[str] = set()

    def insert(self, spec: RouteSpec) -> None:
        """Add ``spec``; raise RouteError (changing nothing) if it collides."""
        leaf = self.leaves.get(spec.shape)
        if leaf is not None:
            if spec.method in leaf.methods:
                other = next(s for s in leaf.specs if s.method == spec.method)
                raise RouteError(f"route {spec.describe()}: conflicts with {other.describe()}")
            if leaf.names != spec.names:
                other = leaf.specs[0]
                raise RouteError(
                    f"route {spec.describe()}: parameter names {spec.names} differ from "
                    f"{other.names} of {other.describe()}, which has the same path shape"
                )
        else:
            leaf = self.leaves[spec.shape] = Leaf(spec)
        leaf.methods[spec.method] = spec.target
        leaf.specs.append(spec)
        self.methods.add(spec.method)
