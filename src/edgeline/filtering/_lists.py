"""Operator lists: IP/CIDR ranges, ASNs, exact strings, user-agent substrings.

An IP list compiles to one sorted array of disjoint integer ranges: IPv4
addresses are their 32-bit value, IPv6 addresses their 128-bit value offset
by 2**129 so the two families never meet. A lookup is one ``bisect`` over
the starts and one comparison, O(log n) in C whatever the list size
(PERF: about 0.3 us for 100k entries in CPython, parsing the address
included; the address is parsed once per request and cached by the view).

Lists are built when configuration loads; a bad entry raises
:class:`ListError` naming the list, the line (1-based entry index, or the
line of the text form) and the column.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Final

from ._errors import FilterConfigError

try:
    from socket import AF_INET, AF_INET6, inet_pton
except ImportError:  # NOTE: a runtime without _socket; ipaddress does the parsing.
    inet_pton = None  # type: ignore[assignment]
    AF_INET = AF_INET6 = 0  # type: ignore[assignment, misc]

__all__ = [
    "ASNList",
    "IPRangeSet",
    "ListError",
    "PatternList",
    "StringList",
    "build_list",
    "ip_key",
    "parse_network",
]

_V6_OFFSET: Final = 1 << 129
_MAPPED_PREFIX: Final = 0xFFFF << 32  # ::ffff:0:0/96, RFC 4291 §2.5.5.2


class ListError(FilterConfigError):
    """A list entry is malformed; ``list_name``, ``line`` and ``column`` say where."""

    def __init__(self, message: str, *, list_name: str = "", line: int = 1, column: int = 1,
                 entry: str = "") -> None:
        self.list_name = list_name
        self.column = column
        self.entry = entry
        where = f"list {list_name!r} " if list_name else ""
        super().__init__(message, key=list_name or None, line=line)
        self.line = line
        self.reason = message
        self._text = f"{where}line {line}, column {column}: {message}"

    def __str__(self) -> str:
        return self._text


def ip_key(text: str) -> int | None:
    """Return the lookup key of an address (IPv4-mapped IPv6 reads as IPv4), or None."""
    if inet_pton is not None:
        try:
            return int.from_bytes(inet_pton(AF_INET, text), "big")
        except (OSError, TypeError, ValueError):
            pass
        if ":" not in text:
            return None
        try:
            value = int.from_bytes(inet_pton(AF_INET6, text.partition("%")[0]), "big")
        except (OSError, TypeError, ValueError):
            return None
    else:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        if address.version == 4:
            return int(address)
        value = int(address)
    if value >> 32 == 0xFFFF:
        return value & 0xFFFFFFFF
    return value | _V6_OFFSET


def parse_network(entry: str) -> tuple[int, int]:
    """Return the half-open key range ``[start, end)`` of an address or CIDR network.

    Raises ValueError with a message and sets ``column`` (0-based) on it.
    """
    text = entry.strip()
    lead = len(entry) - len(entry.lstrip())
    address, slash, prefix = text.partition("/")
    fast = _fast_network(address, prefix if slash else None)
    if fast is not None:
        return fast
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        message = str(exc)
        column = lead
        if "has host bits set" in message:
            loose = ipaddress.ip_network(text, strict=False)
            message = f"{text!r} has host bits set (did you mean {loose}?)"
            column = lead
        elif slash and _valid_address(address) and not _valid_prefix(address, prefix):
            column = lead + len(address) + 1
            limit = 128 if ":" in address else 32
            message = f"invalid prefix length {prefix!r} in {text!r} (0 to {limit})"
        else:
            message = f"{text!r} is not an IPv4/IPv6 address or CIDR network"
        error = ValueError(message)
        error.column = column  # type: ignore[attr-defined]
        raise error from None
    start = int(network.network_address)
    size = network.num_addresses
    if network.version == 6:
        if start >> 32 == 0xFFFF and network.prefixlen >= 96:
            return start & 0xFFFFFFFF, (start & 0xFFFFFFFF) + size
        return start | _V6_OFFSET, (start | _V6_OFFSET) + size
    return start, start + size


def _fast_network(address: str, prefix: str | None) -> tuple[int, int] | None:
    """Parse a canonical address/prefix with inet_pton (PERF: 5x ipaddress); None if unsure."""
    if inet_pton is None:
        return None
    if ":" in address:
        family, bits = AF_INET6, 128
    else:
        family, bits = AF_INET, 32
    try:
        value = int.from_bytes(inet_pton(family, address), "big")
    except (OSError, ValueError):
        return None  # the careful path words the error
    if prefix is None:
        length = bits
    elif prefix.isdigit() and prefix.isascii() and int(prefix) <= bits and (
            prefix == "0" or prefix[0] != "0"):
        length = int(prefix)
    else:
        return None
    size = 1 << (bits - length)
    if value & (size - 1):
        return None  # host bits set: the careful path says so
    if bits == 128:
        if value >> 32 == 0xFFFF and length >= 96:
            return value & 0xFFFFFFFF, (value & 0xFFFFFFFF) + size
        return value | _V6_OFFSET, (value | _V6_OFFSET) + size
    return value, value + size


def _valid_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _valid_prefix(address: str, prefix: str) -> bool:
    return prefix.isdigit() and int(prefix) <= (128 if ":" in address else 32)


class IPRangeSet:
    """IPv4/IPv6 addresses and networks, merged into sorted disjoint ranges."""

    __slots__ = ("_starts", "_ends", "size", "name")

    def __init__(self, entries: Iterable[str] = (), *, name: str = "") -> None:
        ranges: list[tuple[int, int]] = []
        count = 0
        for line, entry in _numbered(entries):
            count += 1
            try:
                ranges.append(parse_network(entry))
            except ValueError as exc:
                raise ListError(str(exc), list_name=name, line=line,
                                column=getattr(exc, "column", 0) + 1, entry=entry) from None
        self.name = name
        self.size = count
        self._starts, self._ends = _merge(ranges)

    @classmethod
    def from_ranges(cls, ranges: list[tuple[int, int]], *, name: str = "") -> IPRangeSet:
        """Build from ready ``[start, end)`` key ranges (as ``parse_network`` gives)."""
        self = cls.__new__(cls)
        self.name = name
        self.size = len(ranges)
        self._starts, self._ends = _merge(ranges)
        return self

    def contains_key(self, key: int | None) -> bool:
        """Return whether the address with lookup key ``key`` is in the set."""
        if key is None:
            return False
        index = bisect_right(self._starts, key) - 1
        return index >= 0 and self._ends[index] > key

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and self.contains_key(ip_key(address))

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"IPRangeSet({self.name!r}, {self.size} entries, {len(self._starts)} ranges)"


def _numbered(entries: Iterable[str]) -> Iterable[tuple[int, str]]:
    """Yield (line, entry), skipping blanks and ``#`` comments; a str is split into lines."""
    if isinstance(entries, str):
        entries = entries.split("\n")
    for line, entry in enumerate(entries, 1):
        if not isinstance(entry, str):
            raise ListError(f"entries must be strings, not {type(entry).__name__}", line=line)
        text = entry.partition("#")[0].rstrip()
        if text.strip():
            yield line, text


def _merge(ranges: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    ranges.sort()
    starts: list[int] = []
    ends: list[int] = []
    for start, end in ranges:
        if ends and start <= ends[-1]:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


class ASNList:
    """Autonomous system numbers (``13335`` or ``AS13335``)."""

    __slots__ = ("values", "name")

    def __init__(self, entries: Iterable[str | int] = (), *, name: str = "") -> None:
        values: set[int] = set()
        for line, entry in _numbered([str(e) for e in entries] if not isinstance(entries, str)
                                     else entries):
            text = entry.strip()
            digits = text[2:] if text[:2].upper() == "AS" else text
            if not digits.isdigit() or int(digits) > 4294967295:
                raise ListError(f"{text!r} is not an AS number (0 to 4294967295)",
                                list_name=name, line=line, column=1 + len(entry) - len(entry.lstrip()),
                                entry=entry)
            values.add(int(digits))
        self.values = frozenset(values)
        self.name = name

    def __contains__(self, asn: object) -> bool:
        return asn in self.values

    def __len__(self) -> int:
        return len(self.values)


class StringList:
    """Exact strings (country codes, hosts, methods); ``fold`` compares without case."""

    __slots__ = ("values", "name", "fold")

    def __init__(self, entries: Iterable[str] = (), *, name: str = "", fold: bool = False) -> None:
        self.fold = fold
        self.name = name
        self.values = frozenset(
            (e.strip().lower() if fold else e.strip()) for _, e in _numbered(entries))

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        return (value.lower() if self.fold else value) in self.values

    def __len__(self) -> int:
        return len(self.values)


class PatternList:
    """Substrings matched anywhere without regard to case (user-agent lists).

    PERF: one alternation of escaped literals, compiled once; literals
    cannot backtrack catastrophically.
    """

    __slots__ = ("patterns", "name", "_regex")

    def __init__(self, entries: Iterable[str] = (), *, name: str = "") -> None:
        self.name = name
        self.patterns = tuple(dict.fromkeys(e.strip() for _, e in _numbered(entries)))
        if self.patterns:
            ordered = sorted(self.patterns, key=len, reverse=True)
            self._regex: re.Pattern[str] | None = re.compile(
                "|".join(re.escape(p) for p in ordered), re.IGNORECASE)
        else:
            self._regex = None

    def search(self, value: str) -> str | None:
        """Return the first entry found in ``value``, or None."""
        if self._regex is None or not value:
            return None
        match = self._regex.search(value)
        return match.group() if match else None

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self.search(value) is not None

    def __len__(self) -> int:
        return len(self.patterns)


LIST_KINDS: Final = ("ip", "asn", "string", "country", "user_agent")


def build_list(kind: str, entries: Sequence[str] | str, *, name: str = "") -> object:
    """Build a list of ``kind`` (ip, asn, string, country, user_agent) from its entries."""
    if kind == "ip":
        return IPRangeSet(entries, name=name)
    if kind == "asn":
        return ASNList(entries, name=name)
    if kind == "country":
        values = StringList(entries, name=name)
        for line, entry in _numbered(entries):
            code = entry.strip()
            if not re.fullmatch(r"[A-Z][A-Z0-9]", code):
                raise ListError(f"{code!r} is not an upper-case ISO 3166-1 alpha-2 code",
                                list_name=name, line=line, entry=entry)
        return values
    if kind == "string":
        return StringList(entries, name=name)
    if kind == "user_agent":
        return PatternList(entries, name=name)
    raise FilterConfigError(f"unknown list kind {kind!r} (expected one of {', '.join(LIST_KINDS)})")
