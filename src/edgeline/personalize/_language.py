"""Accept-Language negotiation: RFC 9110 §12.5.4 parsing, RFC 4647 §3.4 lookup.

``parse_accept_language`` turns the field into language ranges ordered by
weight (q-value), highest first, ties in the order the client sent them.
``Negotiator.lookup`` then finds, for the first range that yields one, the
available tag it falls back to by RFC 4647 lookup: the range, then the range
with its last subtag removed, and so on (a singleton left at the end is
removed with the subtag after it: ``zh-Hant-x-wadegile`` → ``zh-Hant``).

Defined behaviour for bad input: an element that is not a well-formed
``language-range [weight]`` is skipped, the others still count; a field with
no usable element (empty, garbage, only ``q=0``) yields no ranges, and
lookup returns the default. Ranges are matched case-insensitively (RFC 4647
§2) and returned in the case the operator configured. ``*`` never selects a
tag in lookup (§3.4: the default is returned instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Negotiator", "lookup", "parse_accept_language"]

# RFC 4647 §2.1: language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*"
_RANGE = re.compile(r"^(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)$")
# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
# Bounds: a client cannot make the edge parse an unbounded list.
MAX_ELEMENTS = 32
MAX_FIELD = 2048


def parse_accept_language(value: str | None) -> list[tuple[str, float]]:
    """Return ``[(range, q), ...]`` by descending q (stable), lower-cased, q=0 dropped."""
    if not value:
        return []
    out: list[tuple[int, float, str]] = []
    for position, element in enumerate(value[:MAX_FIELD].split(",")[:MAX_ELEMENTS]):
        tag, _, params = element.partition(";")
        tag = tag.strip(" \t")
        if not tag:
            continue  # RFC 9110 §5.6.1: empty list elements are ignored
        if not _RANGE.match(tag):
            continue
        q = 1.0
        if params:
            name, eq, raw = params.strip(" \t").partition("=")
            if name.strip(" \t").lower() != "q" or not eq:
                continue
            raw = raw.strip(" \t")
            if not _QVALUE.match(raw):
                continue
            q = float(raw)
        if q > 0:
            out.append((position, q, tag.lower()))
    out.sort(key=lambda item: (-item[1], item[0]))
    return [(tag, q) for _, q, tag in out]


def _truncations(language_range: str) -> Iterable[str]:
    subtags = language_range.split("-")
    while subtags:
        yield "-".join(subtags)
        subtags.pop()
        # RFC 4647 §3.4: a trailing singleton is removed together with what followed it.
        if subtags and len(subtags[-1]) == 1:
            subtags.pop()


def lookup(ranges: Iterable[str], available: dict[str, str], default: str | None) -> str | None:
    """Return the tag RFC 4647 lookup picks from ``available`` (lower-case → configured)."""
    for language_range in ranges:
        if language_range == "*":
            continue
        for candidate in _truncations(language_range):
            found = available.get(candidate)
            if found is not None:
                return found
    return default


class Negotiator:
    """Pick a language tag from a fixed list for each Accept-Language value; memoized."""

    __slots__ = ("available", "default", "_memo")

    MEMO_SIZE = 2048

    def __init__(self, available: Iterable[str], default: str | None) -> None:
        self.available = {tag.lower(): tag for tag in available}
        if default is not None:
            self.available.setdefault(default.lower(), default)
        self.default = default
        self._memo: dict[str, str | None] = {}

    def negotiate(self, accept_language: str | None) -> str | None:
        """Return the tag for a request's Accept-Language (the default when none fits)."""
        if not accept_language:
            return self.default
        memo = self._memo
        try:
            return memo[accept_language]
        except KeyError:
            pass
        # PERF: browsers send a handful of distinct values; parse each once.
        found = lookup((r for r, _ in parse_accept_language(accept_language)), self.available,
                       self.default)
        if len(memo) >= self.MEMO_SIZE:
            memo.clear()
        memo[accept_language] = found
        return found
