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


def _setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """Return the ``__set__`` of each named slot of ``cls``."""
    return tuple(getattr(cls, name).__set__ for name in names)


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


@dataclass(frozen=True, slots=True, init=False)
class Literal:
    """A string, integer or boolean constant, or an IP network (``10.0.0.0/8``)."""

    value: str | int | bool
    kind: str  # "str" | "int" | "bool" | "net"
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('value', 'kind')

    def __init__(self, value: str | int | bool, kind: str, pos: int = 0) -> None:
        _literal_value(self, value)
        _literal_kind(self, kind)
        _literal_pos(self, pos)
        _literal_hash(self, 0)


@dataclass(frozen=True, slots=True, init=False)
class Field:
    """A request field by name (``http.path``, ``ip.src``)."""

    name: str
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('name')

    def __init__(self, name: str, pos: int = 0) -> None:
        _field_name(self, name)
        _field_pos(self, pos)
        _field_hash(self, 0)


@dataclass(frozen=True, slots=True, init=False)
class Index:
    """A map field indexed by a key (``http.header["user-agent"]``)."""

    name: str
    key: Node
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('name', 'key')

    def __init__(self, name: str, key: Node, pos: int = 0) -> None:
        _index_name(self, name)
        _index_key(self, key)
        _index_pos(self, pos)
        _index_hash(self, 0)


@dataclass(frozen=True, slots=True, init=False)
class Call:
    """A function applied to arguments (``lower(http.path)``)."""

    name: str
    args: tuple[Node, ...]
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('name', 'args')

    def __init__(self, name: str, args: tuple[Node, ...], pos: int = 0) -> None:
        _call_name(self, name)
        _call_args(self, args)
        _call_pos(self, pos)
        _call_hash(self, 0)


@dataclass(frozen=True, slots=True, init=False)
class SetLit:
    """A literal set (``{"GET" "HEAD"}``, ``{10.0.0.0/8 192.0.2.1}``)."""

    items: tuple[Literal, ...]
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('items')

    def __init__(self, items: tuple[Literal, ...], pos: int = 0) -> None:
        _setlit_items(self, items)
        _setlit_pos(self, pos)
        _setlit_hash(self, 0)


@dataclass(frozen=True, slots=True, init=False)
class ListRef:
    """A named list kept by operators (``$office_ips``)."""

    name: str
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('name')

    def __init__(self, name: str, pos: int = 0) -> None:
        _listref_name(self, name)
        _listref_pos(self, pos)
        _listref_hash(self, 0)


@dataclass(frozen=True, slots=True, init=False)
class Binary:
    """A comparison or membership test: ``left op right``."""

    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('op', 'left', 'right')

    def __init__(self, op: str, left: Node, right: Node, pos: int = 0) -> None:
        _binary_op(self, op)
        _binary_left(self, left)
        _binary_right(self, right)
        _binary_pos(self, pos)
        _binary_hash(self, 0)


@dataclass(frozen=True, slots=True, init=False)
class Logical:
    """``and`` / ``or`` over two or more operands, evaluated left to right."""

    op: str  # "and" | "or"
    items: tuple[Node, ...]
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('op', 'items')

    def __init__(self, op: str, items: tuple[Node, ...], pos: int = 0) -> None:
        _logical_op(self, op)
        _logical_items(self, items)
        _logical_pos(self, pos)
        _logical_hash(self, 0)


@dataclass(frozen=True, slots=True, init=False)
class Not:
    """Logical negation."""

    item: Node
    pos: int = field(default=0, compare=False)
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    __hash__ = _hasher('item')

    def __init__(self, item: Node, pos: int = 0) -> None:
        _not_item(self, item)
        _not_pos(self, pos)
        _not_hash(self, 0)


Node = Union[Literal, Field, Index, Call, SetLit, ListRef, Binary, Logical, Not]  # noqa: UP007 - a runtime alias


# PERF: a node's __init__ stores through its slots' descriptors what the frozen
# dataclass __init__ would store through object.__setattr__, in about half the
# time (structured rules build several hundred nodes when a configuration loads).
# The class stays frozen: setting an attribute afterwards raises.
(_literal_value, _literal_kind, _literal_pos, _literal_hash) = _setters(
    Literal, 'value', 'kind', 'pos', '_hash')
_field_name, _field_pos, _field_hash = _setters(Field, 'name', 'pos', '_hash')
_index_name, _index_key, _index_pos, _index_hash = _setters(Index, 'name', 'key', 'pos', '_hash')
_call_name, _call_args, _call_pos, _call_hash = _setters(Call, 'name', 'args', 'pos', '_hash')
_setlit_items, _setlit_pos, _setlit_hash = _setters(SetLit, 'items', 'pos', '_hash')
_listref_name, _listref_pos, _listref_hash = _setters(ListRef, 'name', 'pos', '_hash')
(_binary_op, _binary_left, _binary_right, _binary_pos, _binary_hash) = _setters(
    Binary, 'op', 'left', 'right', 'pos', '_hash')
(_logical_op, _logical_items, _logical_pos, _logical_hash) = _setters(
    Logical, 'op', 'items', 'pos', '_hash')
_not_item, _not_pos, _not_hash = _setters(Not, 'item', 'pos', '_hash')
