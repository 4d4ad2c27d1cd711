"""IP lists of the configuration (``$.ip_lists``): the rules' IP sets, and their stored order.

A list compiles to an :class:`edgeline.filtering.IPRangeSet` (sorted
integer ranges, bisect lookup; IPv4 and IPv6), the same object rules read
with ``ip.src in $name``: the plane builds each list once and the rules
compiler uses it as is. ``IPSet`` and ``IPListError`` are its names here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..filtering._lists import IPRangeSet, ListError, parse_network

__all__ = ["IPListError", "IPSet", "sort_entries"]

IPSet = IPRangeSet
IPListError = ListError


def sort_entries(entries: Sequence[str]) -> list[str]:
    """Return ``entries`` in address order (IPv4 first), text unchanged.

    Blank and comment-only entries come first, in their order. PERF:
    ``edgeline config push``/``bulk`` store lists in this order, so that
    loading finds the ranges already sorted and skips the sort at isolate start.
    """
    def key(item: tuple[int, str]) -> tuple[int, int, int]:
        index, entry = item
        text = entry.partition("#")[0].strip()
        if not text:
            return 0, index, 0
        start, end = parse_network(text)
        return 1, start, start - end  # a wider network first

    return [entry for _, entry in sorted(enumerate(entries), key=key)]
