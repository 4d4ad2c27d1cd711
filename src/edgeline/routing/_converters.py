"""Typed path parameters: a converter turns one decoded segment into a value.

A converter is a name plus a function ``str -> value`` that raises
``ValueError`` when the segment does not fit, optionally guarded by a regular
expression the whole segment must match first (cheaper than an exception on
the paths that do not fit). It is used in a route as ``{name:converter}``.

Built in:

- ``str`` (the default for ``{name}``): any non-empty segment, as a string.
- ``int``: one or more ASCII digits, as a non-negative ``int`` (leading zeros
  allowed; more digits than the interpreter's int/str limit do not match).
- ``uuid``: the canonical 8-4-4-4-12 hex form, either case, as ``uuid.UUID``.
- ``path``: only as the last segment; the rest of the path (its decoded
  segments joined by ``/``; ``""`` for a bare trailing slash), as a string.

``str`` and ``path`` are handled by the routers themselves; ``int``, ``uuid``
and custom converters are :class:`Converter` objects. Among typed parameters
at the same position, converters are tried in registration order (``int``,
``uuid``, then custom ones as they were added to the router).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

__all__ = [
    "BUILTIN_CONVERTERS",
    "INT",
    "MISSING",
    "RESERVED_NAMES",
    "UUID",
    "Converter",
    "converter_table",
    "int_or_missing",
    "register",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: Converter names the routers treat specially; a Converter may not take them.
RESERVED_NAMES: Final = frozenset({"str", "path"})


class _Missing:
    """The type of :data:`MISSING`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: What :meth:`Converter.parse` returns for a segment that does not fit.
MISSING: Final = _Missing()


class Converter:
    """Turn one path segment into a typed value, or refuse it."""

    __slots__ = ("name", "convert", "regex", "_fullmatch")

    def __init__(self, name: str, convert: Callable[[str], Any], regex: str | None = None) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"converter name {name!r} is not an identifier")
        if name in RESERVED_NAMES:
            raise ValueError(f"converter name {name!r} is reserved")
        if not callable(convert):
            raise ValueError(f"converter {name!r}: convert must be callable")
        self.name = name
        self.convert = convert
        self.regex = regex
        # NOTE: compiled once here so a bad regex fails at configuration time.
        self._fullmatch = re.compile(regex).fullmatch if regex is not None else None

    def parse(self, segment: str) -> Any:
        """Return the converted segment, or :data:`MISSING` if it does not fit."""
        if self._fullmatch is not None and self._fullmatch(segment) is None:
            return MISSING
        try:
            return self.convert(segment)
        except ValueError:
            return MISSING

    def __repr__(self) -> str:
        return f"Converter({self.name!r})"


def _to_int(segment: str) -> int:
    """Convert ASCII digits to an int; refuse anything else."""
    # NOTE: str.isdigit alone accepts "²" and Arabic-Indic digits; routes want ASCII.
    if segment.isascii() and segment.isdigit():
        return int(segment)
    raise ValueError(segment)


def _to_uuid(segment: str) -> Any:
    """Convert the canonical hex form to a ``uuid.UUID``."""
    # PERF: uuid is imported by the first route that converts one, not at start-up
    # (under Pyodide its import alone costs about as much as the whole router).
    from uuid import UUID

    return UUID(segment)


INT: Final = Converter("int", _to_int)
UUID: Final = Converter(
    "uuid",
    _to_uuid,
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
)

# NOTE: int("9" * n) raises ValueError beyond sys.get_int_max_str_digits(),
# which cannot be set below 640; shorter runs of digits convert directly.
_INT_SAFE_DIGITS: Final = 640


def int_or_missing(segment: str) -> Any:
    """Return what :data:`INT` makes of ``segment``: an int, or :data:`MISSING`.

    PERF: the compiled router calls it instead of ``INT.parse``: one call
    that cannot raise, not two and a caught exception on a miss.
    """
    if segment.isascii() and segment.isdigit():
        if len(segment) < _INT_SAFE_DIGITS:
            return int(segment)
        return INT.parse(segment)
    return MISSING


#: The typed converters every router starts with, in priority order.
BUILTIN_CONVERTERS: Final = (INT, UUID)


def converter_table(extra: Iterable[Converter] = ()) -> dict[str, tuple[int, Converter]]:
    """Return a fresh name -> (rank, converter) table: the built-ins, then ``extra``."""
    table: dict[str, tuple[int, Converter]] = {}
    for converter in (*BUILTIN_CONVERTERS, *extra):
        register(table, converter)
    return table


def register(table: dict[str, tuple[int, Converter]], converter: Converter) -> None:
    """Add ``converter`` to ``table`` after the others; refuse a name already taken."""
    if not isinstance(converter, Converter):
        raise TypeError(f"expected a Converter, got {type(converter).__name__}")
    if converter.name in table:
        raise ValueError(f"a converter named {converter.name!r} is already registered")
    # NOTE: rank 0 is static text, so typed parameters start at 1.
    table[converter.name] = (len(table) + 1, converter)
