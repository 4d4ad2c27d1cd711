"""Failures on the way to an origin, each one an ``OriginError`` with its HTTP status.

::

    OriginError (edgeline.errors)     502
    ├── OriginUnreachable             502  no connection (refused, DNS, TLS): nothing was sent
    ├── OriginReset                   502  the connection broke after the request went out
    ├── OriginBadResponse             502  the answer was not valid HTTP
    ├── OriginStreamError             502  the response body broke off mid-stream
    ├── OriginTimeout                 504  no response head within the timeout
    ├── OriginUnavailable             503  every URL's breaker is open (Retry-After)
    └── OriginLoop                    508  the request already passed this edge too often

Every one carries ``origin`` (the name), ``url``, ``attempts``, ``elapsed_ms``
and ``sent`` (False when the request certainly never reached the origin, so
it is safe to send elsewhere whatever its method). A transport raises these;
``forward()`` turns them into RFC 9457 problem responses with
:meth:`OriginFailure.response`.

NOTE: the cache's stale-if-error (RFC 5861 §4) hooks in here: a layer that
holds a stale copy catches ``OriginError`` (or passes ``on_error`` to
``forward()``) and answers with the copy instead of ``exc.response()``.
"""

from __future__ import annotations

import math

from ..errors import OriginError
from ..messages import Response

__all__ = [
    "OriginBadResponse", "OriginFailure", "OriginLoop", "OriginReset", "OriginStreamError",
    "OriginTimeout", "OriginUnavailable", "OriginUnreachable", "problem_for",
]


class OriginFailure(OriginError):
    """Base of the origin path's own failures; fields describe where and how it failed."""

    sent = True

    def __init__(
        self, detail: str = "", *, url: str = "", sent: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.url = url
        self.origin = ""
        self.attempts = 1
        self.elapsed_ms = 0.0
        self.retry_after = retry_after
        if sent is not None:
            self.sent = sent

    def response(self) -> Response:
        """Return the problem+json response a client gets for this failure."""
        return problem_for(self)


class OriginUnreachable(OriginFailure):
    """No connection could be made; the request was never sent."""

    sent = False
    public_detail = "the origin could not be reached"


class OriginReset(OriginFailure):
    """The connection was lost after the request was (maybe partly) sent."""

    public_detail = "the connection to the origin was lost"


class OriginBadResponse(OriginFailure):
    """The origin's answer was not a valid HTTP response."""

    public_detail = "the origin sent a malformed response"


class OriginStreamError(OriginFailure):
    """The response body broke off after its head had been passed on."""

    public_detail = "the origin's response broke off"


class OriginTimeout(OriginFailure):
    """The origin did not send a response head in time (RFC 9110 §15.6.5)."""

    status = 504
    title = "Gateway Timeout"
    public_detail = "the origin did not answer in time"


class OriginUnavailable(OriginFailure):
    """Every origin URL is out of rotation (breakers open); nothing was sent."""

    status = 503
    title = "Service Unavailable"
    sent = False
    public_detail = "the origin is temporarily unavailable"


class OriginLoop(OriginFailure):
    """The request carries this edge's CDN-Loop id too often (RFC 8586): a forwarding loop.

    Typically an origin URL that points back at the edge itself. Nothing was sent.
    """

    status = 508
    title = "Loop Detected"
    sent = False
    public_detail = "the request has already passed through this edge too many times"


def problem_for(exc: OriginError) -> Response:
    """Return an RFC 9457 problem response for ``exc``, with Retry-After when known.

    APPSEC: the body names no host, URL or internal error text; those go to
    the log only.
    """
    detail = getattr(exc, "public_detail", "the origin could not be reached")
    headers = [("cache-control", "no-store")]
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        # RFC 9110 §10.2.3: delay-seconds is a non-negative integer.
        headers.append(("retry-after", str(max(1, math.ceil(retry_after)))))
    return Response.problem(exc.status, type(exc).title, detail, headers=headers)
