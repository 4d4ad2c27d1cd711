"""One origin as one transport: ``build_origin_transport(origin, base)``.

The configuration plane decodes ``kv_schemas.origins.Origin`` values and
compiles each here once, when configuration loads; routes then send
requests through the result with ``forward(transport)``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ..errors import BodyTooLarge, ConfigError
from ..messages import Request, Response
from ..types import Transport
from ._body import GuardedBody, LimitedBody
from ._errors import OriginFailure
from ._headers import HeaderPolicy
from ._resilience import (
    HEALTH,
    BreakerTransport,
    FailoverTransport,
    HealthRegistry,
    RetryTransport,
    TimeoutTransport,
)
from ._target import TargetTransport, check_origin_url

if TYPE_CHECKING:
    from kv_schemas.origins import Origin

__all__ = ["OriginTransport", "build_origin_transport"]

log = logging.getLogger("edgeline.origin")


class OriginTransport:
    """The outermost layer for one origin: body limit, header hygiene, failure reports.

    It takes the request as the edge received it (path already stripped of
    any route prefix) and returns the origin's response with hop-by-hop
    fields removed and Via added. Failures propagate as ``OriginFailure``
    carrying the origin's name, the attempts made and the time spent, after
    one log line; ``forward()`` turns them into problem responses.
    """

    __slots__ = ("name", "_inner", "_policy", "_limit", "_idle")

    def __init__(
        self, name: str, inner: Transport, policy: HeaderPolicy, *,
        max_request_body: int | None = None, idle_timeout: float = 0.0,
    ) -> None:
        self.name = name
        self._inner = inner
        self._policy = policy
        self._limit = max_request_body
        self._idle = idle_timeout

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        body = request.body
        limit = self._limit
        if isinstance(body, bytes):
            if limit is not None and len(body) > limit:
                raise BodyTooLarge(f"request body larger than {limit} bytes")
        else:
            if limit is not None:
                length = request.headers.get("content-length")
                # RFC 9110 §8.6: refuse early, before contacting the origin.
                if length is not None and length.isdigit() and int(length) > limit:
                    raise BodyTooLarge(f"request body larger than {limit} bytes")
            body = LimitedBody(body, limit)
        upstream = request.copy(headers=self._policy.upstream(request), body=body)
        try:
            response = await self._inner.handle(upstream)
        except OriginFailure as exc:
            exc.origin = self.name
            exc.elapsed_ms = (time.perf_counter() - started) * 1000.0
            log.warning(
                "origin %s: %s %s failed after %d attempt(s) in %.1f ms: %s: %s",
                self.name, request.method, request.url.path, exc.attempts, exc.elapsed_ms,
                type(exc).__name__, exc,
                extra={"origin": self.name, "attempts": exc.attempts,
                       "elapsed_ms": exc.elapsed_ms, "url": exc.url},
            )
            raise
        headers = self._policy.downstream(response.headers)
        if isinstance(response.body, bytes):
            response.headers = headers
            return response
        guarded = GuardedBody(response.body, self._idle, self.name, str(upstream.url))
        return Response(guarded, response.status, headers)


def _secret(env: Any, name: str, origin: str) -> str:
    value = None
    if env is not None:
        try:
            value = env[name]
        except (KeyError, TypeError, AttributeError):
            value = getattr(env, name, None)
    if value is None or not str(value):
        raise ConfigError(f"origin {origin!r}: auth secret binding {name!r} is not set",
                          key=f"origins.{origin}.auth.secret")
    return str(value)


def build_origin_transport(
    origin: Origin, base: Transport, *, env: Any = None, health: HealthRegistry | None = None,
) -> OriginTransport:
    """Compile ``origin`` into its transport stack over ``base``; check it now.

    ``base`` is the platform's transport (``FetchTransport`` on Workers,
    ``HttpxTransport`` locally, ``AsgiTransport`` in-process). If it offers
    ``with_timeouts(connect=, read=)``, the connect and idle timeouts are
    handed to it (httpx enforces both natively); otherwise only the total
    timeout and the idle guard apply. ``env`` supplies the auth secret;
    ``health`` (default: the isolate's) keeps breakers and budgets.
    """
    where = f"origins.{origin.name}"
    registry = HEALTH if health is None else health
    for i, url in enumerate(origin.urls):
        try:
            check_origin_url(url)
        except ValueError as exc:
            raise ConfigError(str(exc), key=f"{where}.urls[{i}]") from None
    with_timeouts = getattr(base, "with_timeouts", None)
    idle = origin.idle_timeout
    if with_timeouts is not None:
        base = with_timeouts(connect=origin.connect_timeout, read=idle or None)
        idle = 0.0  # NOTE: the base enforces it between reads, more cheaply than a guard
    auth = None
    private: list[str] = []
    if origin.auth is not None:
        secret = _secret(env, origin.auth.secret, origin.name)
        auth = (origin.auth.header.lower(), secret, origin.auth.scheme)
        private.append(origin.auth.header)
    fwd = origin.forwarded
    policy = HeaderPolicy(
        mode=fwd.mode, forwarded=fwd.forwarded, x_forwarded=fwd.x_forwarded,
        client_ip_header=fwd.client_ip_header, via=origin.via,
        request_id_header=origin.request_id_header, trace=origin.trace,
        private_headers=private, keep_host=origin.host == "preserve",
    )
    b = origin.breaker
    members: list[Transport] = []
    for url in origin.urls:
        leaf = TimeoutTransport(base, origin.timeout)
        target = TargetTransport(leaf, url, host=origin.host, auth=auth)
        breaker = registry.breaker(origin.name, url, failures=b.failures, open_for=b.open_for,
                                   probes=b.probes, on_status=b.on_status)
        members.append(BreakerTransport(target, breaker, url))
    r = origin.retry
    inner: Transport = FailoverTransport(members, on_status=r.on_status)
    if r.attempts > 1:
        budget = registry.budget(origin.name, ratio=r.budget_ratio, min_retries=r.budget_min,
                                 window=r.budget_window)
        inner = RetryTransport(inner, attempts=r.attempts, backoff=r.backoff,
                               backoff_max=r.backoff_max, on_status=r.on_status, budget=budget)
    return OriginTransport(origin.name, inner, policy,
                           max_request_body=origin.max_request_body, idle_timeout=idle)
