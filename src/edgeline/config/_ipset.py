"""IP lists compiled for lookup: sorted integer ranges searched with bisect.

Building is on the configuration-load path (a 10k-entry list must compile in
a few milliseconds), so IPv4 entries in canonical form take a batch path of
C-level calls (``map``, ``inet_aton``, string scans of the joined list) and
anything else (IPv6, odd forms, errors) goes through :mod:`ipaddress`, which
also words the error for a bad entry.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate, repeat
from operator import add, gt, itemgetter, mod
from typing import Final

_inet_aton: Callable[[str], bytes] | None
try:
    from socket import inet_aton as _inet_aton
except ImportError:  # NOTE: a runtime without _socket: every list takes the ipaddress path.
    _inet_aton = None

__all__ = ["IPSet", "IPListError"]

# Anything but digits, dots, slashes and newlines sends a batch to the careful path.
_NOT_V4_CHARS: Final = str.maketrans("", "", "0123456789./\n")
# Leading zeros are refused (ipaddress does; inet_aton would read them as octal).
# PERF: digits 1-9 become "1", so a leading zero is one of six plain substrings.
_ONES: Final = str.maketrans("123456789", "111111111")
_LEADING_ZEROS: Final = (".00", ".01", "\n00", "\n01", "/00", "/01")
# Prefix length text -> network size; anything else (08, 33, "x") is not here.
_V4_SIZE: Final = {"": 1, **{str(p): 1 << (32 - p) for p in range(33)}}
_FIRST = itemgetter(0)
_THIRD = itemgetter(2)


class IPListError(ValueError):
    """An entry of an IP list is not an address or network; ``index`` says which."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def _batch_v4(entries: list[str]) -> tuple[list[int], list[int]] | None:
    """Parse IPv4 entries in canonical form in bulk; None sends them to the careful path.

    PERF: every step is a C-level call over the whole list. The checks are
    what make ``inet_aton`` as strict as ``ipaddress``: only digits, dots and
    ``/``; no leading zeros; exactly three dots per entry (the total is 3n,
    and ``inet_aton`` refuses more than three in any one entry, so none can
    have fewer); each octet at most 255 (``inet_aton`` refuses more).
    """
    if _inet_aton is None:
        return None
    count = len(entries)
    if not count:
        return [], []
    joined = "\n" + "\n".join(entries) + "\n"
    if joined.translate(_NOT_V4_CHARS) or joined.count(".") != 3 * count:
        return None
    ones = joined.translate(_ONES)
    if any(zero in ones for zero in _LEADING_ZEROS) or "\n/" in joined or "/\n" in joined:
        return None
    parts = [entry.partition("/") for entry in entries]
    try:
        packed = list(map(_inet_aton, map(_FIRST, parts)))
        sizes = list(map(_V4_SIZE.__getitem__, map(_THIRD, parts)))
    except (OSError, KeyError):
        return None  # an octet over 255, a bad prefix length: the careful path says which
    starts: list[int] = list(map(int.from_bytes, packed, repeat("big")))  # type: ignore[arg-type]
    if any(map(mod, starts, sizes)):
        return None  # host bits set
    return starts, list(map(add, starts, sizes))


def _careful(index: int, entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(entry.strip(), strict=True)
    except ValueError as exc:
        text = str(exc)
        if "has host bits set" in text:
            network = ipaddress.ip_network(entry.strip(), strict=False)
            text = f"{entry!r} has host bits set (did you mean {network}?)"
        elif entry not in text:
            text = f"{entry!r}: {text}"
        raise IPListError(index, text) from None


def _ranges(starts: list[int], ends: list[int]) -> tuple[list[int], list[int]]:
    # ends are exclusive. Sort by start, then keep the running maximum of ends so
    # that one bisect answers "does any range starting at or before x reach past x".
    if any(map(gt, starts, starts[1:])):
        order = sorted(range(len(starts)), key=starts.__getitem__)
        starts = list(map(starts.__getitem__, order))
        ends = list(map(ends.__getitem__, order))
    return starts, list(accumulate(ends, max))


class IPSet:
    """A set of IPv4/IPv6 addresses and networks with O(log n) membership."""

    __slots__ = ("_v4_starts", "_v4_ends", "_v6_starts", "_v6_ends", "size")

    def __init__(self, entries: Sequence[str] = ()) -> None:
        v4_entries = [e for e in entries if ":" not in e]
        batch = _batch_v4(v4_entries) if len(v4_entries) == len(entries) else None
        v4_starts: list[int] = []
        v4_ends: list[int] = []
        v6_starts: list[int] = []
        v6_ends: list[int] = []
        if batch is not None:
            v4_starts, v4_ends = batch
        else:
            for index, entry in enumerate(entries):
                network = _careful(index, entry)
                start = int(network.network_address)
                if network.version == 4:
                    v4_starts.append(start)
                    v4_ends.append(start + network.num_addresses)
                else:
                    v6_starts.append(start)
                    v6_ends.append(start + network.num_addresses)
        self._v4_starts, self._v4_ends = _ranges(v4_starts, v4_ends)
        self._v6_starts, self._v6_ends = _ranges(v6_starts, v6_ends)
        self.size = len(entries)

    def __contains__(self, address: object) -> bool:
        """Return whether ``address`` (text or an ipaddress object) is in the set.

        Text that is not an IP address is simply not in the set: a client
        address header can hold anything.
        """
        if isinstance(address, str):
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                return False
        elif isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            parsed = address
        else:
            return False
        if parsed.version == 6:
            mapped = parsed.ipv4_mapped
            if mapped is None:
                return _hit(self._v6_starts, self._v6_ends, int(parsed))
            parsed = mapped
        return _hit(self._v4_starts, self._v4_ends, int(parsed))

    def __len__(self) -> int:
        return self.size

    def ranges(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Return the half-open ``[start, end)`` integer ranges: (IPv4, IPv6)."""
        return (list(zip(self._v4_starts, self._v4_ends, strict=True)),
                list(zip(self._v6_starts, self._v6_ends, strict=True)))

    def __repr__(self) -> str:
        return f"IPSet({self.size} entries)"


def _hit(starts: list[int], ends: list[int], value: int) -> bool:
    index = bisect_right(starts, value) - 1
    return index >= 0 and ends[index] > value


def sort_entries(entries: Sequence[str]) -> list[str]:
    """Return ``entries`` in address order (IPv4 first), text unchanged.

    PERF: ``edgeline config push``/``bulk`` store lists in this order, so that
    loading finds the ranges already sorted and skips the sort at isolate start.
    """
    def key(entry: str) -> tuple[int, int, int]:
        network = ipaddress.ip_network(entry.strip(), strict=False)
        return network.version, int(network.network_address), network.prefixlen

    return sorted(entries, key=key)
