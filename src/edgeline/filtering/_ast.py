"""The rules language's syntax tree: small frozen nodes that carry their source position.

Positions (``pos``) are offsets into the expression text; :class:`RuleError`
turns one into a line and a column. Equality ignores positions, so that a
tree printed by :func:`edgeline.filtering.unparse` and parsed again compares
equal to the original (the round-trip property the tests check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Union


def _hasher(*names: str) -> Callable[[Any], int]:
    """Return a ``__hash__`` over the compared fields ``names``, computed once per node.

    PERF: compiling a ruleset hashes subtrees many times (hoisting, guards);
    a frozen node's hash never changes, so it is kept in a slot.
    """
    get = attrgetter(*names)

    def node_hash(node: Any) -> int:
        value: int = node._hash
        if not value:
            value = hash((type(node).__name__, get(node))) or 1
            object.__setattr__(node, "_hash", value)
        return value

    return node_hash


__all__ = [
    "Binary",
    "Call",
    "Field",
    "Index",
    "ListRef",
    "Literal",
    "Logical",
    "Node",
    "Not",
    "SetLit",
]


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, integer or boolean constant, or an IP network (``10.0.0.0/8``)."""

    value: str | int | bool
    kind: str  # "str" | "int" | "bool" | "net"
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('value', 'kind')


@dataclass(frozen=True, slots=True)
class Field:
    """A request field by name (``http.path``, ``ip.src``)."""

    name: str
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('name')


@dataclass(frozen=True, slots=True)
class Index:
    """A map field indexed by a key (``http.header["user-agent"]``)."""

    name: str
    key: Node
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('name', 'key')


@dataclass(frozen=True, slots=True)
class Call:
    """A function applied to arguments (``lower(http.path)``)."""

    name: str
    args: tuple[Node, ...]
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('name', 'args')


@dataclass(frozen=True, slots=True)
class SetLit:
    """A literal set (``{"GET" "HEAD"}``, ``{10.0.0.0/8 192.0.2.1}``)."""

    items: tuple[Literal, ...]
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('items')


@dataclass(frozen=True, slots=True)
class ListRef:
    """A named list kept by operators (``$office_ips``)."""

    name: str
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('name')


@dataclass(frozen=True, slots=True)
class Binary:
    """A comparison or membership test: ``left op right``."""

    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('op', 'left', 'right')


@dataclass(frozen=True, slots=True)
class Logical:
    """``and`` / ``or`` over two or more operands, evaluated left to right."""

    op: str  # "and" | "or"
    items: tuple[Node, ...]
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('op', 'items')


@dataclass(frozen=True, slots=True)
class Not:
    """Logical negation."""

    item: Node
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('item')


Node = Union[Literal, Field, Index, Call, SetLit, ListRef, Binary, Logical, Not]  # noqa: UP007 - a runtime alias
