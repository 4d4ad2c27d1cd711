"""Header hygiene on the way to an origin and back (RFC 9110 §7.6).

``HeaderPolicy`` is compiled once per origin; per request it makes one pass
over the client's fields and adds what the edge owes the origin:

- hop-by-hop fields and those named in Connection are dropped (§7.6.1);
- Forwarded (RFC 7239) and X-Forwarded-For/-Proto/-Host under the trust
  policy (``replace``: the client's are dropped and set afresh; ``append``:
  this hop is added to a chain a trusted proxy began; ``strip``: none);
- Via with the edge's pseudonym (§7.6.3), on requests and responses;
- W3C Trace Context: a valid ``traceparent`` is continued with a new
  parent-id, an invalid or missing one is replaced by a new trace (and its
  ``tracestate`` dropped, as Trace Context §3.3.1.1 requires);
- a request id, kept from the client when it is a sane token;
- CDN-Loop (RFC 8586) with the edge's id; a request that already carries it
  ``loop_limit`` times is a forwarding loop and fails with ``OriginLoop``
  (508) before anything is sent;
- the origin credential's header is always removed from client input, so a
  client can neither forge nor probe it (it is set per URL, see ``_target``).

Randomness is read per call (``os.urandom``), never at import: top-level
state is snapshotted and shared by every isolate started from the snapshot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator

from ..headers import Headers
from ..messages import Request
from ._errors import OriginLoop

__all__ = ["HOP_BY_HOP", "HeaderPolicy", "forwarded_node", "loops_through_here", "node_id",
           "parse_traceparent", "strip_hop_by_hop"]

# RFC 9110 §7.6.1: connection-specific fields are not forwarded, nor are
# any fields the Connection header names. proxy-connection and keep-alive
# are the pre-standard ones (RFC 9112 §9.6, RFC 2068 §19.7.1).
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "proxy-authenticate", "proxy-authorization",
})

_FORWARDING = frozenset({"forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})

# W3C Trace Context §3.2: version-traceid-parentid-flags, lower-case hex.
# A later version may append fields; its first four are read the same way.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:+/=\-]{1,128}$")
_PROTOCOLS = {"HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2": "2", "HTTP/3": "3"}


def _connection_named(items: Iterable[tuple[str, str]]) -> frozenset[str]:
    named = [t.strip().lower() for k, v in items if k == "connection" for t in v.split(",")]
    return frozenset(named) if named else frozenset()


def strip_hop_by_hop(headers: Headers) -> Headers:
    """Return ``headers`` without hop-by-hop fields and those Connection names."""
    items = headers.raw
    drop = HOP_BY_HOP | _connection_named(items)
    return Headers.from_trusted([p for p in items if p[0] not in drop])


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """Return (trace-id, parent-id, flags) of a valid ``traceparent``, else None."""
    if not value:
        return None
    m = _TRACEPARENT.match(value.strip())
    if m is None:
        return None
    version, trace_id, parent_id, flags, rest = m.groups()
    # Trace Context §3.2.2: version ff is invalid; version 00 has exactly four
    # fields; all-zero ids are invalid.
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id, flags


def forwarded_node(address: str | None) -> str:
    """Return ``address`` as an RFC 7239 §6 node: IPv6 bracketed and quoted."""
    if not address:
        return "unknown"
    if ":" in address:
        return f'"[{address.strip("[]")}]"'
    return address


def _quote_if_needed(value: str) -> str:
    # RFC 7239 §4: a value is a token or a quoted-string; a host with a port
    # (":") or an IPv6 literal is not a token.
    if re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class HeaderPolicy:
    """The compiled hygiene for one origin: what to drop, what to add."""

    __slots__ = ("mode", "forwarded", "x_forwarded", "client_ip_header", "via", "request_id",
                 "trace", "cdn_loop", "loop_limit", "_drop")

    def __init__(
        self, *, mode: str = "replace", forwarded: bool = True, x_forwarded: bool = True,
        client_ip_header: str = "cf-connecting-ip", via: str = "edgeline",
        request_id_header: str = "x-request-id", trace: bool = True,
        private_headers: Iterable[str] = (), keep_host: bool = False,
        cdn_loop: str = "edgeline", loop_limit: int = 4,
    ) -> None:
        if mode not in ("replace", "append", "strip"):
            raise ValueError(f"forwarded mode must be replace, append or strip, not {mode!r}")
        if cdn_loop and not _TOKEN.fullmatch(cdn_loop):
            raise ValueError(f"cdn_loop must be a token (RFC 8586 cdn-id), not {cdn_loop!r}")
        if loop_limit < 1:
            raise ValueError(f"loop_limit must be at least 1, not {loop_limit}")
        # RFC 8586: the id appended to CDN-Loop on the way out; a request that
        # arrives with it ``loop_limit`` times is looping (edgeline in front of
        # edgeline with the same id is legitimate up to that depth).
        self.cdn_loop = cdn_loop.lower()
        self.loop_limit = loop_limit
        self.mode = mode
        self.forwarded = forwarded and mode != "strip"
        self.x_forwarded = x_forwarded and mode != "strip"
        self.client_ip_header = client_ip_header.lower()
        self.via = via
        self.request_id = request_id_header.lower()
        self.trace = trace
        drop = set(HOP_BY_HOP) | {h.lower() for h in private_headers}
        if not keep_host:
            drop.add("host")
        if mode != "append":
            drop |= _FORWARDING
        if trace:
            drop |= {"traceparent", "tracestate"}
        if self.request_id:
            drop.add(self.request_id)
        self._drop = frozenset(drop)

    def upstream(self, request: Request) -> Headers:
        """Return the fields to send upstream for ``request`` (Host is set per URL)."""
        items = request.headers.raw
        drop = self._drop
        named = _connection_named(items)
        if named:
            drop = drop | named
        out = [p for p in items if p[0] not in drop]
        headers = request.headers
        url = request.url
        if self.cdn_loop:
            seen = _cdn_loop_count(items, self.cdn_loop)
            if seen >= self.loop_limit:
                raise OriginLoop(f"CDN-Loop names {self.cdn_loop!r} {seen} times", url=str(url))
            out.append(("cdn-loop", f"{self.cdn_loop}; node={node_id()}"))
        if self.forwarded or self.x_forwarded:
            client = headers.get(self.client_ip_header)
            proto = url.scheme or "https"
            host = headers.get("host") or url.netloc
            if self.forwarded:
                node = f"for={forwarded_node(client)};proto={proto}"
                if host:
                    node += f";host={_quote_if_needed(host)}"
                prior = headers.get("forwarded") if self.mode == "append" else None
                out = _replace(out, "forwarded", f"{prior}, {node}" if prior else node)
            if self.x_forwarded:
                chain = headers.get("x-forwarded-for") if self.mode == "append" else None
                ip = client or "unknown"
                out = _replace(out, "x-forwarded-for", f"{chain}, {ip}" if chain else ip)
                if self.mode != "append" or "x-forwarded-proto" not in headers:
                    out = _replace(out, "x-forwarded-proto", proto)
                if host and (self.mode != "append" or "x-forwarded-host" not in headers):
                    out = _replace(out, "x-forwarded-host", host)
        if self.via:
            out = _append_via(out, self.via, _PROTOCOLS.get(str(request.cf.get("httpProtocol")), "1.1"))
        if self.trace:
            parsed = parse_traceparent(headers.get("traceparent"))
            span = os.urandom(8).hex()
            if parsed is None:
                out.append(("traceparent", f"00-{os.urandom(16).hex()}-{span}-01"))
            else:
                trace_id, _, flags = parsed
                out.append(("traceparent", f"00-{trace_id}-{span}-{flags}"))
                state = headers.get("tracestate")
                if state:
                    out.append(("tracestate", state))
        if self.request_id:
            given = headers.get(self.request_id)
            if given is None or not _REQUEST_ID.match(given):
                given = os.urandom(16).hex()
            out.append((self.request_id, given))
        return Headers.from_trusted(out)

    def downstream(self, headers: Headers) -> Headers:
        """Return the origin's response fields fit to pass on to the client."""
        items = headers.raw
        drop = HOP_BY_HOP | _connection_named(items)
        out = [p for p in items if p[0] not in drop]
        if self.via:
            # RFC 9110 §7.6.3: a proxy MUST add Via to each message it forwards.
            out = _append_via(out, self.via, "1.1")
        return Headers.from_trusted(out)


_NODE: list[str] = []


def node_id() -> str:
    """Return this process's CDN-Loop ``node`` parameter (random, made on first use).

    NOTE: made at call time, never at import: top-level state is snapshotted
    and shared by every isolate started from the snapshot.
    """
    if not _NODE:
        _NODE.append(os.urandom(6).hex())
    return _NODE[0]


def loops_through_here(headers: Headers, cdn_id: str = "edgeline") -> bool:
    """Return whether CDN-Loop shows that this very process already forwarded the request.

    A request that comes back to the process that sent it would otherwise
    wait on itself wherever concurrent misses are collapsed.
    """
    mark = f"node={node_id()}"
    return any(mark in params for params in _cdn_loop_params(headers.raw, cdn_id, mark))


def _cdn_loop_count(items: list[tuple[str, str]], cdn_id: str) -> int:
    """Count the CDN-Loop members (RFC 8586 ``cdn-info``) whose cdn-id is ``cdn_id``."""
    return sum(1 for _ in _cdn_loop_params(items, cdn_id, cdn_id))


def _cdn_loop_params(items: list[tuple[str, str]], cdn_id: str, hint: str) -> Iterator[list[str]]:
    """Yield the parameters of each CDN-Loop member whose cdn-id is ``cdn_id``.

    PERF: field values that do not contain ``hint`` (case-insensitively) are skipped unparsed.
    """
    for k, v in items:
        if k == "cdn-loop" and hint in v.lower():
            for member in v.split(","):
                cdn, *params = member.split(";")
                if cdn.strip().lower() == cdn_id:
                    yield [p.strip() for p in params]


def _replace(items: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    kept = [p for p in items if p[0] != name]
    kept.append((name, value))
    return kept


def _append_via(items: list[tuple[str, str]], pseudonym: str, protocol: str) -> list[tuple[str, str]]:
    hop = f"{protocol} {pseudonym}"
    prior = [v for k, v in items if k == "via"]
    if not prior:
        items.append(("via", hop))
        return items
    return _replace(items, "via", ", ".join([*prior, hop]))
