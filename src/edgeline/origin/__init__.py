"""The way to origin APIs: transports, resilience, header hygiene, clean failures.

Transports share one method, ``async handle(request) -> Response``:

- ``edgeline.adapters.cloudflare.FetchTransport``: the Workers ``fetch``;
- ``edgeline.origin.httpx_transport.HttpxTransport``: httpx, for CPython
  (imported from its own module: Pyodide has no httpx);
- ``AsgiTransport``: an ASGI app in the same process.

Resilience wraps them (``TimeoutTransport``, ``BreakerTransport``,
``FailoverTransport``, ``RetryTransport``), and ``build_origin_transport``
compiles a ``kv_schemas.origins.Origin`` into the whole stack. ``forward()``
is the handler that sends a route's requests through it.

For the cache's stale-if-error: catch ``OriginError`` around a transport, or
pass ``on_error`` to ``forward()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from ._errors import (
    OriginBadResponse,
    OriginFailure,
    OriginLoop,
    OriginReset,
    OriginStreamError,
    OriginTimeout,
    OriginUnavailable,
    OriginUnreachable,
    problem_for,
)
from ._forward import OnError, forward, upstream_request
from ._headers import HOP_BY_HOP, HeaderPolicy, parse_traceparent, strip_hop_by_hop
from ._target import TargetTransport, sign_origin_request, verify_origin_signature

if TYPE_CHECKING:
    from ._origin import OriginTransport, build_origin_transport
    from ._resilience import (
        HEALTH,
        IDEMPOTENT,
        BreakerTransport,
        CircuitBreaker,
        FailoverTransport,
        HealthRegistry,
        RetryBudget,
        RetryTransport,
        TimeoutTransport,
        backoff_delay,
    )
    from .asgi import AsgiTransport

# PERF: submodules are imported on first use (PEP 562), so that a worker pays at
# start-up only for what its code touches (a deployed worker never mounts an ASGI app).
_SUBMODULES = {
    ".asgi": ("AsgiTransport",),
    "._origin": ("OriginTransport", "build_origin_transport"),
    "._resilience": (
        "HEALTH", "IDEMPOTENT", "BreakerTransport", "CircuitBreaker", "FailoverTransport",
        "HealthRegistry", "RetryBudget", "RetryTransport", "TimeoutTransport", "backoff_delay",
    ),
}

__all__ = [
    "HEALTH", "HOP_BY_HOP", "IDEMPOTENT", "AsgiTransport", "BreakerTransport", "CircuitBreaker",
    "FailoverTransport", "HeaderPolicy", "HealthRegistry", "OnError", "OriginBadResponse",
    "OriginFailure", "OriginLoop", "OriginReset", "OriginStreamError", "OriginTimeout", "OriginTransport",
    "OriginUnavailable", "OriginUnreachable", "RetryBudget", "RetryTransport", "TargetTransport",
    "TimeoutTransport", "backoff_delay", "build_origin_transport", "forward",
    "parse_traceparent", "problem_for", "sign_origin_request", "strip_hop_by_hop",
    "upstream_request", "verify_origin_signature",
]

__getattr__, __dir__ = lazy_names(__name__, globals(), _SUBMODULES)
