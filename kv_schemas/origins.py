"""How one origin is reached: the ``Origin`` value kept in KV and compiled into a transport.

Routes name an origin (``Origin.name``); the configuration plane decodes
these values once, when configuration loads, and compiles each with
``edgeline.origin.build_origin_transport(origin, base, env=env)``. Every field
but ``name`` and ``urls`` has a default, so an operator writes only what
differs (msgspec evolution rule: new fields always get defaults).

Fields of ``Origin``:

``name``
    The identity routes refer to. Letters, digits, ``-``, ``_``, ``.``.
``urls``
    Absolute ``http(s)://host[:port][/base]`` URLs in failover order: each
    request goes to the first whose circuit breaker admits it, and moves on to
    the next when that one cannot be reached (see ``edgeline.origin``).
``connect_timeout``
    Seconds to establish a connection, per attempt. Applied by transports
    that can tell connecting apart (httpx); the Workers ``fetch`` cannot, and
    there only ``timeout`` applies.
``timeout``
    Seconds from sending an attempt until the response head arrives
    (the total for one attempt, connect included).
``idle_timeout``
    Seconds the response body may stall between two chunks before the
    stream is cut (it is not a bound on the whole body: SSE and large
    downloads run as long as they keep moving). ``0`` disables it.
``retry``
    A ``Retry``: how failed idempotent requests are tried again.
``breaker``
    A ``Breaker``: when the origin URL is taken out of rotation.
``max_request_body``
    The largest request body, in bytes, passed on; larger ones are refused
    with 413 (from Content-Length before the origin is contacted, or when a
    stream without a length crosses the limit). ``None`` means no limit.
``host``
    The Host sent upstream: ``"origin"`` (the origin URL's host, the
    default), ``"preserve"`` (the client's Host, for origins that serve
    several public names), or a literal host name.
``auth``
    An ``OriginAuth``, or ``None``: a credential from a secret so that the
    origin can refuse traffic that did not come through the edge.
``forwarded``
    A ``ForwardedPolicy``: what the origin learns about the client.
``via``
    The pseudonym in the ``Via`` field (RFC 9110 §7.6.3) added to requests
    and responses; ``""`` sends none.
``request_id_header``
    The field carrying the request id (kept from the client when it is a
    sane token, else generated); ``""`` sends none.
``trace``
    Continue the client's W3C ``traceparent`` or start a new trace.

Fields of ``Retry``: ``attempts`` (total tries, the first included; 1
disables retrying), ``backoff`` and ``backoff_max`` (seconds; full-jitter
exponential backoff: try n waits a uniform time in ``[0, min(backoff_max,
backoff * 2**(n-1))]``), ``on_status`` (statuses that count as retryable
failures, e.g. 502/503/504), ``budget_ratio`` (retries may add at most this
fraction to the requests sent in the last ``budget_window`` seconds, so that a
failing origin does not get its load multiplied) and ``budget_min`` (retries
always allowed per window, so that quiet routes can still retry).

Fields of ``Breaker``: ``failures`` (consecutive failures that open it),
``open_for`` (seconds it stays open, announced as Retry-After, before
letting probes through: half-open), ``probes`` (concurrent trial requests in
half-open; a success closes it, a failure opens it again) and ``on_status``
(statuses counted as failures besides unreachable/timeout/malformed).

Fields of ``ForwardedPolicy`` (the trust policy):

``mode``
    ``"replace"`` (default): Forwarded and X-Forwarded-* from the client are
    dropped (anyone can forge them) and set afresh from what the edge knows.
    ``"append"``: kept, with this hop appended; only for an edge that sits
    behind a proxy you trust to have set them. ``"strip"``: dropped, and
    none sent (the origin learns nothing of the client).
``forwarded``, ``x_forwarded``
    Which of RFC 7239 ``Forwarded`` and the de-facto ``X-Forwarded-For``,
    ``-Proto`` and ``-Host`` to send.
``client_ip_header``
    Where the edge reads the client's address: on Cloudflare,
    ``cf-connecting-ip``, which the platform sets and clients cannot forge.

Fields of ``OriginAuth``: ``secret`` (the env binding holding the shared
secret; never the secret itself), ``header`` (the field it travels in) and
``scheme``: ``"static"`` sends the secret as-is; ``"hmac"`` sends
``t=<unix seconds>,sig=<hex HMAC-SHA256 of "t\\nMETHOD\\npath?query">``, which
an origin checks with ``edgeline.origin.verify_origin_signature`` and which
cannot be replayed after ``max_age`` seconds even if logged.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = ["Breaker", "ForwardedPolicy", "Origin", "OriginAuth", "Retry"]

_IDEMPOTENT_RETRY_STATUS = [502, 503, 504]

Seconds = Annotated[float, msgspec.Meta(ge=0, le=3600)]
PositiveSeconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]
HeaderName = Annotated[str, msgspec.Meta(pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$", max_length=64)]
# An absolute http(s) URL with a host; no query, fragment or userinfo.
OriginURL = Annotated[str, msgspec.Meta(pattern=r"^https?://[^/?#@\s]+(/[^?#\s]*)?$", max_length=2048)]
Status = Annotated[int, msgspec.Meta(ge=100, le=599)]


class Retry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Retry policy for idempotent requests: attempts, jittered backoff, a budget."""

    attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 2
    backoff: Seconds = 0.05
    backoff_max: Seconds = 1.0
    on_status: list[Status] = msgspec.field(default_factory=lambda: list(_IDEMPOTENT_RETRY_STATUS))
    budget_ratio: Annotated[float, msgspec.Meta(ge=0, le=10)] = 0.2
    budget_min: Annotated[int, msgspec.Meta(ge=0)] = 10
    budget_window: PositiveSeconds = 10.0


class Breaker(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Circuit breaker thresholds, per origin URL: closed → open → half-open."""

    failures: Annotated[int, msgspec.Meta(ge=1)] = 5
    open_for: PositiveSeconds = 10.0
    probes: Annotated[int, msgspec.Meta(ge=1)] = 1
    on_status: list[Status] = msgspec.field(default_factory=lambda: [502, 503, 504])


class ForwardedPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The trust policy for Forwarded / X-Forwarded-* (see the module docstring)."""

    mode: Literal["replace", "append", "strip"] = "replace"
    forwarded: bool = True
    x_forwarded: bool = True
    client_ip_header: HeaderName = "cf-connecting-ip"


class OriginAuth(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Authenticate the edge to the origin with a secret read from an env binding."""

    secret: Annotated[str, msgspec.Meta(min_length=1)]
    header: HeaderName = "x-edge-auth"
    scheme: Literal["static", "hmac"] = "static"
    max_age: PositiveSeconds = 300.0


class Origin(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """One origin API: where it is, and how it is reached (see the module docstring)."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=64)]
    urls: Annotated[list[OriginURL], msgspec.Meta(min_length=1, max_length=16)]
    connect_timeout: PositiveSeconds = 5.0
    timeout: PositiveSeconds = 30.0
    idle_timeout: Seconds = 60.0
    retry: Retry = msgspec.field(default_factory=Retry)
    breaker: Breaker = msgspec.field(default_factory=Breaker)
    max_request_body: Annotated[int, msgspec.Meta(ge=0)] | None = 10 * 1024 * 1024
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] = "origin"
    auth: OriginAuth | None = None
    forwarded: ForwardedPolicy = msgspec.field(default_factory=ForwardedPolicy)
    via: Annotated[str, msgspec.Meta(pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$", max_length=64)] = "edgeline"
    request_id_header: HeaderName = "x-request-id"
    trace: bool = True
