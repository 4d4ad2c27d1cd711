"""A stored response and its facts, computed once when it is stored.

``Entry`` keeps what RFC 9111 §4.2.3 needs to know later: the status, the
header fields, the body, ``corrected_initial_age`` and ``response_time``;
the directives in force, the freshness lifetime and validators are
derived once (on store, or on decode from a shared tier) and kept.

``encode``/``decode`` give a compact byte form for the KV and Cache API
tiers: ``b"ELC1"``, a 4-byte length, a JSON head, then the body.
"""

from __future__ import annotations

import json
import struct

from ..headers import Headers, Wire
from ._directives import (
    EMPTY,
    Directives,
    parse_cache_control,
    parse_surrogate_control,
    parse_targeted,
)
from ._freshness import freshness_lifetime, parse_http_date

__all__ = ["Entry", "EntryFacts", "decode", "encode"]

_MAGIC = b"ELC1"


class EntryFacts:
    """The settings that decide how a stored response's headers are read."""

    __slots__ = ("targeted_fields", "heuristic_fraction", "heuristic_max", "default_ttl", "shared",
                 "surrogate_target")

    def __init__(
        self, *, targeted_fields: tuple[str, ...] = ("edgeline-cache-control", "cdn-cache-control"),
        heuristic_fraction: float = 0.1, heuristic_max: float = 86400.0,
        default_ttl: float = 0.0, shared: bool = True, surrogate_target: str | None = None,
    ) -> None:
        self.targeted_fields = tuple(f.lower() for f in targeted_fields)
        self.surrogate_target = surrogate_target.lower() if surrogate_target else None
        self.heuristic_fraction = heuristic_fraction
        self.heuristic_max = heuristic_max
        self.default_ttl = default_ttl
        self.shared = shared

    def directives(self, headers: list[tuple[str, str]]) -> tuple[Directives, bool]:
        """Return (directives in force, from a targeted field?) (RFC 9213 §2.1)."""
        for field in self.targeted_fields:
            values = [v for k, v in headers if k == field]
            if values:
                parsed = parse_targeted(values)
                if parsed.present:
                    return parsed, True
        if self.surrogate_target is not None:
            values = [v for k, v in headers if k == "surrogate-control"]
            if values:
                parsed = parse_surrogate_control(values, self.surrogate_target)
                if parsed.present:
                    return parsed, True
        values = [v for k, v in headers if k == "cache-control"]
        return (parse_cache_control(values) if values else EMPTY), False


class Entry:
    """One stored response (or, with ``vary`` set and no status, a Vary marker)."""

    __slots__ = ("status", "headers", "body", "initial_age", "response_time", "request_time",
                 "vary", "tags", "directives", "targeted", "lifetime", "heuristic", "etag",
                 "last_modified", "date", "size", "hits", "must_validate", "_wire")

    def __init__(
        self, status: int, headers: list[tuple[str, str]], body: bytes, *,
        initial_age: float, response_time: float, request_time: float,
        facts: EntryFacts, vary: tuple[str, ...] = (), tags: tuple[str, ...] = (),
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.initial_age = initial_age
        self.response_time = response_time
        self.request_time = request_time
        self.vary = vary
        self.tags = tags
        self.hits = 0
        self.refresh(facts)

    @classmethod
    def marker(cls, vary: tuple[str, ...], response_time: float, facts: EntryFacts,
               variants: list[tuple[str, str]] | None = None) -> Entry:
        """Return the marker stored under a primary key whose responses vary on ``vary``.

        ``variants``: ``("variant", "<etag>\\t<storage key suffix>")`` pairs naming
        the stored variants by entity-tag, for validating them all at once.
        """
        return cls(0, variants or [], b"", initial_age=0.0, response_time=response_time,
                   request_time=response_time, facts=facts, vary=vary)

    @property
    def is_marker(self) -> bool:
        return self.status == 0

    def refresh(self, facts: EntryFacts) -> None:
        """Recompute the derived facts from the headers (after a store or a 304 update)."""
        headers = self.headers
        self.size = len(self.body) + sum(len(k) + len(v) for k, v in headers) + 160
        self._wire: Wire | None = None
        if self.status == 0:
            self.directives, self.targeted = EMPTY, False
            self.lifetime, self.heuristic = 0.0, False
            self.etag = self.last_modified = self.date = None
            self.must_validate = True
            return
        directives, targeted = facts.directives(headers)
        self.directives = directives
        self.targeted = targeted
        # RFC 9111 §5.2.2.4: an unqualified no-cache response is never served unvalidated.
        self.must_validate = "no-cache" in directives and directives.get("no-cache") is None
        etag = last_modified = date = expires = None
        has_expires = False
        for k, v in headers:
            if k == "etag" and etag is None:
                etag = v
            elif k == "last-modified" and last_modified is None:
                last_modified = v
            elif k == "date" and date is None:
                date = v
            elif k == "expires" and not has_expires:
                has_expires, expires = True, v
        self.etag = etag
        self.last_modified = parse_http_date(last_modified)
        self.date = parse_http_date(date)
        self.lifetime, self.heuristic = freshness_lifetime(
            directives, status=self.status, date=self.date if self.date is not None else self.response_time,
            expires=expires, has_expires=has_expires, last_modified=self.last_modified,
            shared=facts.shared, targeted=targeted, heuristic_fraction=facts.heuristic_fraction,
            heuristic_max=facts.heuristic_max, default_ttl=facts.default_ttl)

    @property
    def wire(self) -> Wire:
        """The stored fields encoded for the wire, computed on the first hit and kept."""
        wire = self._wire
        if wire is None:
            wire = self._wire = Headers.from_trusted(self.headers).encoded()
        return wire

    def age(self, now: float) -> float:
        """Return current_age (RFC 9111 §4.2.3)."""
        resident = now - self.response_time
        return self.initial_age + (resident if resident > 0.0 else 0.0)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def __repr__(self) -> str:
        return f"<Entry {self.status} lifetime={self.lifetime:.0f} size={self.size}>"


def encode(entry: Entry) -> bytes:
    """Return ``entry`` as bytes for a shared tier."""
    head = json.dumps({
        "s": entry.status, "h": entry.headers, "ia": entry.initial_age, "rt": entry.response_time,
        "qt": entry.request_time, "v": list(entry.vary), "t": list(entry.tags),
    }, separators=(",", ":")).encode()
    return _MAGIC + struct.pack(">I", len(head)) + head + entry.body


def decode(data: bytes, facts: EntryFacts) -> Entry:
    """Return the entry ``encode`` wrote; raise ValueError for anything else."""
    if data[:4] != _MAGIC or len(data) < 8:
        raise ValueError("not an edgeline cache entry")
    (length,) = struct.unpack(">I", data[4:8])
    try:
        head = json.loads(data[8:8 + length])
        return Entry(int(head["s"]), [(str(k), str(v)) for k, v in head["h"]], bytes(data[8 + length:]),
                     initial_age=float(head["ia"]), response_time=float(head["rt"]),
                     request_time=float(head["qt"]), facts=facts, vary=tuple(head["v"]),
                     tags=tuple(head["t"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"corrupt edgeline cache entry: {exc}") from None
