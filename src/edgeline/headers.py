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

__all__ = ["Headers", "HeadersInit"]

HeadersInit = Union["Headers", Mapping[str, str], Iterable[tuple[str, str]], None]

# RFC 9110 §5.1: field-name = token; §5.5: field-value excludes CR, LF, NUL.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def _check(name: str, value: str) -> tuple[str, str]:
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise ValueError(f"invalid header name {name!r}: must be an RFC 9110 token")
    if not isinstance(value, str):
        raise TypeError(f"header {name!r}: value must be str, not {type(value).__name__}")
    if _BAD_VALUE.search(value):
        # APPSEC: CR/LF in a value would let input split the response.
        raise ValueError(f"header {name!r}: value contains CR, LF or NUL")
    return name.lower(), value.strip(" \t")


class Headers(MutableMapping[str, str]):
    """Hold header fields in arrival order, looked up without regard to case."""

    __slots__ = ("_items",)

    def __init__(self, init: HeadersInit = None) -> None:
        self._items: list[tuple[str, str]] = []
        if init is None:
            return
        if isinstance(init, Headers):
            self._items = list(init._items)
            return
        pairs = init.items() if isinstance(init, Mapping) else init
        for name, value in pairs:
            self._items.append(_check(name, value))

    @classmethod
    def from_trusted(cls, items: list[tuple[str, str]]) -> Headers:
        """Wrap pairs already lower-cased and validated, without copying them.

        PERF: used by adapters for headers that a server or runtime has
        already parsed and checked; skips per-field validation.
        """
        headers = cls.__new__(cls)
        headers._items = items
        return headers

    # -- reading ---------------------------------------------------------------

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """Return the field's values joined with ", ", or ``default`` if absent."""
        key = name.lower()
        found = [v for k, v in self._items if k == key]
        if not found:
            return default
        if len(found) == 1 or key == "set-cookie":
            return found[0]
        return ", ".join(found)

    def get_all(self, name: str) -> list[str]:
        """Return every value of the field, in order (empty if absent)."""
        key = name.lower()
        return [v for k, v in self._items if k == key]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(k == key for k, _ in self._items)

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
        return self._items

    # -- writing ---------------------------------------------------------------

    def __setitem__(self, name: str, value: str) -> None:
        """Replace all values of ``name`` with ``value``, keeping its first position."""
        key, value = _check(name, value)
        items = self._items
        for i, (k, _) in enumerate(items):
            if k == key:
                items[i] = (key, value)
                self._items = items[: i + 1] + [p for p in items[i + 1 :] if p[0] != key]
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

    def discard(self, *names: str) -> None:
        """Remove the named fields if present."""
        keys = {n.lower() for n in names}
        self._items = [p for p in self._items if p[0] not in keys]

    def copy(self) -> Headers:
        """Return an independent copy."""
        return Headers.from_trusted(list(self._items))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            # Order matters among values of one field, not between fields.
            by_name = lambda p: p[0]  # noqa: E731
            return sorted(self._items, key=by_name) == sorted(other._items, key=by_name)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
