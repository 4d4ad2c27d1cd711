"""Operator lists: IP/CIDR ranges, ASNs, exact strings, user-agent substrings.

An IP list compiles to sorted integer ranges in one key space: IPv4
addresses are their 32-bit value (IPv4-mapped IPv6 addresses and networks,
``::ffff:0:0/96``, read as the IPv4 ones: RFC 4291 §2.5.5.2), other IPv6
addresses their 128-bit value offset by 2**129 so the two families never
meet. The ranges are sorted by start, and each end is the running maximum
of the ends so far, so a lookup is one ``bisect`` over the starts and one
comparison, O(log n) in C whatever the list size (PERF: well under a
microsecond for 100k entries in CPython; the address is parsed once per
request and cached by the view). The same :class:`IPRangeSet` serves the
configuration plane (``$.ip_lists``) and the rules language.

Lists are built when configuration loads; a bad entry raises
:class:`ListError` naming the list, the entry (``index``, 0-based, and
``line``, 1-based) and the column. PERF: entries in canonical form are
parsed in bulk (:func:`_batch`), and a list already in address order (as
``edgeline config push`` stores it) is neither sorted nor copied: one pass
confirms the order and finds the few overlapping ranges (:func:`_sorted`).
"""

from __future__ import annotations

import ipaddress
import re
import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, chain, compress, count, islice, repeat
from operator import add, gt, itemgetter, mod
from struct import Struct
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
# The prefix length of an IPv4 entry in canonical form ("" when none) -> network size.
_V4_SIZE: Final = {"": 1, **{str(p): 1 << (32 - p) for p in range(33)}}
# An array type code of 4-byte unsigned items: packed IPv4 addresses read as integers.
_U32: Final = next(code for code in "IL" if array(code).itemsize == 4)
_U32_BE: Final = Struct("!I").unpack
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_THIRD = itemgetter(2)


class ListError(FilterConfigError):
    """A list entry is malformed; ``list_name``, ``index``/``line`` and ``column`` say where.

    ``index`` is the 0-based position of the entry (for a list given as
    text, of its line); ``line`` is ``index + 1``; ``reason`` is the message
    without the place.
    """

    def __init__(self, message: str, *, list_name: str = "", line: int = 1, column: int = 1,
                 entry: str = "") -> None:
        self.list_name = list_name
        self.column = column
        self.entry = entry
        where = f"list {list_name!r} " if list_name else ""
        super().__init__(message, key=list_name or None, line=line)
        self.line = line
        self.index = line - 1
        self.reason = message
        self._text = f"{where}line {line}, column {column}: {message}"

    def __str__(self) -> str:
        return self._text


def ip_key(text: str) -> int | None:
    """Return the lookup key of an address (IPv4-mapped IPv6 reads as IPv4), or None."""
    if inet_pton is not None:
        try:
            return _U32_BE(inet_pton(AF_INET, text))[0]
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
    """IPv4/IPv6 addresses and networks with O(log n) membership (``in``).

    Built from entries (a sequence of strings, or text with one entry a
    line; blank lines and ``#`` comments are skipped); a bad entry raises
    :class:`ListError` saying which and why, as strictly as
    :mod:`ipaddress` (``10.0.0.1/8`` has host bits set, ``01.2.3.4`` has a
    leading zero).
    """

    __slots__ = ("_starts", "_ends", "size", "name")

    def __init__(self, entries: Iterable[str] | str = (), *, name: str = "") -> None:
        if isinstance(entries, str):
            entries = entries.split("\n")
        elif not isinstance(entries, (list, tuple)):
            entries = list(entries)
        batch = _batch(entries)
        if batch is None:
            starts, ends, count = _careful(entries, name)
        else:
            (starts, ends), count = batch, len(entries)
        self.name = name
        self.size = count
        self._starts, self._ends = _sorted(starts, ends)

    @classmethod
    def from_ranges(cls, ranges: Iterable[tuple[int, int]], *, name: str = "") -> IPRangeSet:
        """Build from ready ``[start, end)`` key ranges (as ``parse_network`` gives)."""
        self = cls.__new__(cls)
        pairs = sorted(ranges)
        self.name = name
        self.size = len(pairs)
        self._starts = [-1, *map(_FIRST, pairs)]
        self._ends = [0, *accumulate(map(_SECOND, pairs), max)]
        return self

    def arrays(self) -> tuple[list[int], list[int]]:
        """Return the lookup arrays ``(starts, ends)``; treat them as read-only.

        ``ends[bisect_right(starts, key) - 1] > key`` is membership for a
        key of :func:`ip_key` (``starts[0]`` is a sentinel below every key,
        so the index is never negative). Generated rule code inlines it.
        """
        return self._starts, self._ends

    def contains_key(self, key: int | None) -> bool:
        """Return whether the address with lookup key ``key`` (see :func:`ip_key`) is in the set."""
        return key is not None and self._ends[bisect_right(self._starts, key) - 1] > key

    def __contains__(self, address: object) -> bool:
        """Return whether ``address`` (text or an ``ipaddress`` address) is in the set.

        Text that is not an IP address is simply not in the set: a client
        address header can hold anything.
        """
        if isinstance(address, str):
            return self.contains_key(ip_key(address))
        if isinstance(address, ipaddress.IPv4Address):
            return self.contains_key(int(address))
        if isinstance(address, ipaddress.IPv6Address):
            return self.contains_key(_v6_key(int(address)))
        return False

    def spans(self) -> list[tuple[int, int]]:
        """Return the set as sorted, disjoint ``[start, end)`` key ranges."""
        out: list[tuple[int, int]] = []
        for start, end in zip(self._starts[1:], self._ends[1:], strict=True):
            if out and start <= out[-1][1]:
                if end > out[-1][1]:
                    out[-1] = (out[-1][0], end)
            else:
                out.append((start, end))
        return out

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"IPRangeSet({self.name!r}, {self.size} entries)"


def _v6_key(value: int) -> int:
    if value >> 32 == 0xFFFF:
        return value & 0xFFFFFFFF
    return value | _V6_OFFSET


def _batch(entries: Sequence[str]) -> tuple[list[int], list[int]] | None:
    """Parse entries in canonical form in bulk; None sends the list to the careful path.

    PERF: IPv4 entries take C-level calls over the whole list (``map`` of
    ``inet_pton``, one ``array`` conversion of the packed addresses, dict
    lookups of the prefix lengths); ``inet_pton`` is as strict as
    :mod:`ipaddress` (no leading zeros, four decimal octets up to 255).
    IPv6 entries are parsed one by one. Anything else (blank lines,
    comments, surrounding blanks, a netmask, a bad entry) is left to the
    careful path, which also words the error.
    """
    if inet_pton is None:
        return None
    if not entries:
        return [], []
    try:
        joined = "\n".join(entries)
    except TypeError:
        return None  # not all strings: the careful path says which
    if joined.endswith("/") or "/\n" in joined:
        return None  # "1.2.3.4/": an empty prefix length
    v6 = ":" in joined
    v4 = entries
    v6_ranges: list[tuple[int, int]] = []
    if v6:
        v4 = [entry for entry in entries if ":" not in entry]
        for entry in entries:
            if ":" in entry:
                address, slash, prefix = entry.partition("/")
                found = _fast_network(address, prefix if slash else None)
                if found is None:
                    return None
                v6_ranges.append(found)
    parts = list(map(str.partition, v4, repeat("/")))
    try:
        packed = b"".join(map(inet_pton, repeat(AF_INET), map(_FIRST, parts)))
        sizes = list(map(_V4_SIZE.__getitem__, map(_THIRD, parts)))
    except (OSError, ValueError, KeyError):
        return None
    numbers = array(_U32, packed)
    if sys.byteorder == "little":
        numbers.byteswap()
    starts: list[int] = numbers.tolist()
    if any(map(mod, starts, sizes)):
        return None  # host bits set: the careful path says where
    ends = list(map(add, starts, sizes))
    if v6_ranges:
        starts += map(_FIRST, v6_ranges)
        ends += map(_SECOND, v6_ranges)
    return starts, ends


def _careful(entries: Sequence[str], name: str) -> tuple[list[int], list[int], int]:
    starts: list[int] = []
    ends: list[int] = []
    count = 0
    for line, entry in _numbered(entries):
        count += 1
        try:
            start, end = parse_network(entry)
        except ValueError as exc:
            raise ListError(str(exc), list_name=name, line=line,
                            column=getattr(exc, "column", 0) + 1, entry=entry) from None
        starts.append(start)
        ends.append(end)
    return starts, ends, count


def _sorted(starts: list[int], ends: list[int]) -> tuple[list[int], list[int]]:
    """Return the lookup arrays of the ranges ``[starts[i], ends[i])``, given in any order.

    Sorted by start, each end replaced by the running maximum of the ends so
    far: one bisect then answers "does any range starting at or before x
    reach past x". A sentinel range ``[-1, 0)`` goes first. The lists given
    may be changed in place and returned.
    """
    # PERF: when no range reaches past the start of the next one, the ranges are
    # sorted and disjoint (start < end <= next start) and the ends are their own
    # running maximum: one pass, the usual case for a list `edgeline config push`
    # stored in address order. Otherwise only the overlapping runs are visited.
    overlaps = _overlaps(starts, ends)
    first = next(overlaps, None)
    if first is not None and any(map(gt, islice(starts, first, None),
                                      islice(starts, first + 1, None))):
        # Out of order (the ranges before `first` are in order, as said above).
        order = sorted(range(len(starts)), key=starts.__getitem__)
        starts = list(map(starts.__getitem__, order))
        ends = list(map(ends.__getitem__, order))
        overlaps = _overlaps(starts, ends)
        first = next(overlaps, None)
    if first is not None:
        _running_max(starts, ends, chain((first,), overlaps))
    starts.insert(0, -1)
    ends.insert(0, 0)
    return starts, ends


def _overlaps(starts: list[int], ends: list[int]) -> Iterator[int]:
    """Yield, lazily, each ``i`` whose range reaches past the start of range ``i + 1``."""
    return compress(count(), map(gt, ends, islice(starts, 1, None)))


def _running_max(starts: list[int], ends: list[int], overlaps: Iterable[int]) -> None:
    """Make each end the maximum of the ends so far, in place; ``starts`` is sorted.

    Only the runs that begin at an overlap (``overlaps``, in increasing
    order, read lazily) can change: where the running maximum up to ``j -
    1`` is at most ``starts[j]``, it is below ``ends[j]``, which then stays.
    A run goes on while the next range starts below the maximum so far.
    """
    size = len(starts)
    reached = 0
    for index in overlaps:
        if index < reached:
            continue  # inside a run already made
        top = ends[index]
        after = index + 1
        while after < size and starts[after] < top:
            if ends[after] < top:
                ends[after] = top
            else:
                top = ends[after]
            after += 1
        reached = after


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
