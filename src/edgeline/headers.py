"""HTTP header fields: case-insensitive, multi-valued, order-preserving.

Names are stored lower-cased, as the Workers runtime and HTTP/2 (RFC 9113
§8.2.2) present them. Values keep their order; reading a name that occurs
several times joins the values with ", " (RFC 9110 §5.3), except
``Set-Cookie``, whose values cannot be joined (RFC 6265 §3) and are read
with :meth:`Headers.get_all`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Union

__all__ = ["Headers", "HeadersInit", "Wire"]

HeadersInit = Union["Headers", Mapping[str, str], Iterable[tuple[str, str]], None]
Wire = tuple[list[tuple[bytes, bytes]], bool]
"""The latin-1 encoded form of leading fields, and whether Content-Length is among them."""

# RFC 9110 §5.1: field-name = token; §5.5: field-value excludes CR, LF, NUL.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


# PERF: names already checked -> lower-cased; bounded so that odd names cannot grow it.
_CHECKED: dict[str, str] = {}
_MAX_CHECKED = 512


def _check(name: str, value: str) -> tuple[str, str]:
    key = _CHECKED.get(name) if type(name) is str else None
    if key is None:
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ValueError(f"invalid header name {name!r}: must be an RFC 9110 token")
        key = name.lower()
        if type(name) is str and len(_CHECKED) < _MAX_CHECKED:
            _CHECKED[name] = key
    if not isinstance(value, str):
        raise TypeError(f"header {name!r}: value must be str, not {type(value).__name__}")
    # PERF: three substring tests cost half a regex search on short values.
    if "\r" in value or "\n" in value or "\x00" in value:
        # APPSEC: CR/LF in a value would let input split the response.
        raise ValueError(f"header {name!r}: value contains CR, LF or NUL")
    return key, value.strip(" \t")


class Headers(MutableMapping[str, str]):
    """Hold header fields in arrival order, looked up without regard to case."""

    # NOTE: ``_wire`` caches the encoded form of the first fields (see
    # ``encoded``); every change other than an append drops it. Handing out
    # the list (``raw``) keeps it but notes those fields as they were
    # (``_seen``), and the wire is used again only while they still are.
    __slots__ = ("_items", "_wire", "_seen")

    def __init__(self, init: HeadersInit = None) -> None:
        self._items: list[tuple[str, str]] = []
        self._wire: Wire | None = None
        self._seen: list[tuple[str, str]] | None = None
        if init is None:
            return
        if isinstance(init, Headers):
            self._items = list(init._items)
            self._wire = init._checked_wire()
            return
        # PERF: a dict is the common case; the ABC check costs more than a field.
        pairs = init.items() if type(init) is dict or isinstance(init, Mapping) else init
        for name, value in pairs:
            self._items.append(_check(name, value))

    @classmethod
    def from_trusted(cls, items: list[tuple[str, str]], wire: Wire | None = None) -> Headers:
        """Wrap pairs already lower-cased and validated, without copying them.

        PERF: used by adapters for headers that a server or runtime has
        already parsed and checked; skips per-field validation. ``wire``,
        from an earlier :meth:`encoded` of the leading pairs of ``items``,
        spares encoding them again (a cache hit sends stored fields).
        """
        headers = cls.__new__(cls)
        headers._items = items
        headers._wire = wire
        headers._seen = None
        return headers

    def _checked_wire(self) -> Wire | None:
        """Return the cached wire if the fields it encodes are unchanged, else drop it."""
        wire = self._wire
        seen = self._seen
        # NOTE: ``_seen`` stays: whoever holds the list may still change it.
        if wire is not None and seen is not None and self._items[: len(seen)] != seen:
            wire = self._wire = self._seen = None
        return wire

    def encoded(self) -> Wire:
        """Return the fields encoded as latin-1 pairs for the wire, and whether Content-Length is set.

        The returned list is the caller's to extend.
        """
        items = self._items
        wire = self._wire if self._seen is None else self._checked_wire()
        if wire is None:
            out: list[tuple[bytes, bytes]] = []
            has_length = False
            start = 0
        else:
            prefix, has_length = wire
            out = prefix.copy()
            start = len(prefix)
            if start == len(items):
                return out, has_length
        for k, v in items[start:] if start else items:
            if k == "content-length":
                has_length = True
            out.append((k.encode("latin-1"), v.encode("latin-1")))
        return out, has_length

    # -- reading ---------------------------------------------------------------

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """Return the field's values joined with ", ", or ``default`` if absent."""
        key = name.lower()
        # PERF: one loop and no list for the common single-line field.
        found: str | None = None
        more: list[str] | None = None
        for k, v in self._items:
            if k == key:
                if found is None:
                    found = v
                elif more is None:
                    more = [found, v]
                else:
                    more.append(v)
        if found is None:
            return default
        if more is None or key == "set-cookie":
            return found
        return ", ".join(more)

    def get_all(self, name: str) -> list[str]:
        """Return every value of the field, in order (empty if absent)."""
        key = name.lower()
        return [v for k, v in self._items if k == key]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        for k, _ in self._items:
            if k == key:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for k, _ in self._items:
            if k not in seen:
                seen.add(k)
                yield k

    def __len__(self) -> int:
        return len({k for k, _ in self._items})

    def multi_items(self) -> list[tuple[str, str]]:
        """Return every (name, value) pair in order, repeated names included."""
        return list(self._items)

    @property
    def raw(self) -> list[tuple[str, str]]:
        """The underlying list of pairs; treat as read-only."""
        # NOTE: the caller may change the list in place (appends are common):
        # the fields the wire encodes are noted, to be compared when it is used.
        wire = self._wire
        if wire is not None and self._seen is None:
            self._seen = self._items[: len(wire[0])]
        return self._items

    # -- writing ---------------------------------------------------------------

    def __setitem__(self, name: str, value: str) -> None:
        """Replace all values of ``name`` with ``value``, keeping its first position."""
        key, value = _check(name, value)
        items = self._items
        # PERF: a field set on the way out (Server-Timing, Cache-Status) is
        # usually new: one plain scan, then an append that keeps the wire.
        for pair in items:
            if pair[0] == key:
                i = items.index(pair)  # the first pair of this name
                items[i] = (key, value)
                self._items = items[: i + 1] + [p for p in items[i + 1 :] if p[0] != key]
                self._wire = self._seen = None
                return
        items.append((key, value))

    def add(self, name: str, value: str) -> None:
        """Append a value for ``name``, keeping any existing ones."""
        self._items.append(_check(name, value))

    def setdefault(self, name: str, default: str = "") -> str:
        """Return the field's value, setting it to ``default`` first if absent."""
        current = self.get(name)
        if current is None:
            self[name] = default
            return default
        return current

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        kept = [p for p in self._items if p[0] != key]
        if len(kept) == len(self._items):
            raise KeyError(name)
        self._items = kept
        self._wire = self._seen = None

    def discard(self, *names: str) -> None:
        """Remove the named fields if present."""
        keys = {n.lower() for n in names}
        self._items = [p for p in self._items if p[0] not in keys]
        self._wire = self._seen = None

    def copy(self) -> Headers:
        """Return an independent copy."""
        return Headers.from_trusted(list(self._items), self._checked_wire())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            # Order matters among values of one field, not between fields.
            by_name = lambda p: p[0]  # noqa: E731
            return sorted(self._items, key=by_name) == sorted(other._items, key=by_name)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
