"""The personalization stage: one middleware that applies the geo plan to each request.

::

    plane = ConfigPlane("EDGE_CONFIG", "edge-config")
    app.use(personalize(plane))   # before the plane, so that KV routes are personalized too
    app.use(plane.middleware)

Per request, in order:

1. APPSEC: every client-sent ``x-edgeline-*`` field is removed; from here
   on such fields are the edge's own (trusted) word to the origin.
2. The client's policy is found (region, then country, then continent).
3. A ``block`` answers 451 (RFC 7725) with a ``Link: <...>; rel="blocked-by"``.
4. A ``redirect`` answers 302/307, unless the client opted out (cookie),
   is a verified search-engine crawler, the method is not GET/HEAD, or it is
   already there. The target must pass the allowlist (never an open redirect).
   Where a policy redirects, ``?edge_geo=off`` opts out (the response sets the
   opt-out cookie, nothing is redirected) and ``?edge_geo=on`` opts back in
   (the cookie is cleared); the parameter is not carried into a redirect.
5. The locale is negotiated (Accept-Language, RFC 4647 lookup), the
   experiments that target the client assign it an arm (sticky id cookie,
   set when missing), and the coarse variant is formed:
   ``bucket|locale|content[|exp:arm,...]``.
6. Trusted fields go to the origin: ``x-edgeline-variant``, ``-region``,
   ``-locale``, ``-currency``, ``-units``, ``-content-variant``,
   ``-experiments``, plus the policy's own ``headers``. A cache keys on the
   variant with :func:`cache_variant` instead of Vary on raw client fields.
7. On the way out: ``Content-Language`` (RFC 9110 §8.5, when the origin set
   none), ``x-edgeline-variant``, the cookies, and HTML placeholders filled
   while streaming (see :mod:`edgeline.personalize._slots`).

The decision is left in ``ctx.state["edgeline.geo"]`` (a :class:`Decision`).
Steps 2 to 7 live in :mod:`edgeline.personalize._stage`, imported with the
first plan: a worker without geo policies does step 1 only and never loads
the plan's modules.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..context import Context
from ..messages import Request, Response
from ..types import CallNext
from ._fields import STATE_KEY, VARIANT_HEADER
from ._nearest import PlannedNearest

if TYPE_CHECKING:
    from ._plan import GeoPlan

__all__ = ["STATE_KEY", "VARIANT_HEADER", "PlanSource", "cache_variant", "nearest_origin",
           "personalize"]

log = logging.getLogger("edgeline.personalize")
exposure_log = logging.getLogger("edgeline.experiments")

# PERF: a name starts with "x-edgeline-" exactly when it sorts within
# ["x-edgeline-", "x-edgeline.") ("." follows "-" in ASCII): two comparisons, no slice.
_TRUSTED_PREFIX = "x-edgeline-"
_TRUSTED_END = "x-edgeline."

OnExposure = Callable[[dict[str, Any]], Awaitable[None] | None]
ApplyPlan = Callable[..., Awaitable[Response]]


def cache_variant(request: Request) -> str:
    """Return the variant the personalization stage put on ``request`` ("" when none).

    Give it to the cache: ``CachingTransport(..., variant=cache_variant)``. It
    reads only the edge's own field (client copies are stripped first).
    """
    for name, value in request.headers.raw:
        if name == VARIANT_HEADER:
            return value
    return ""


class PlanSource:
    """Where the stage finds its plan: a fixed :class:`GeoPlan` or a configuration plane."""

    __slots__ = ("_plan", "_plane", "_loading")

    def __init__(self, source: Any) -> None:
        self._plan: GeoPlan | None = None
        self._plane: Any = None
        self._loading: Any = None
        if source is None:
            return
        if hasattr(source, "current") and hasattr(source, "refresh"):
            self._plane = source
            return
        # NOTE: a plan built in code: its module is loaded already, so importing it costs nothing.
        from ._plan import GeoPlan

        if not isinstance(source, GeoPlan):
            raise TypeError("personalize() takes a GeoPlan or a ConfigPlane, "
                            f"not {type(source).__name__}")
        self._plan = source

    def plan(self) -> GeoPlan | None:
        """Return the plan to serve with now (None: no personalization configured)."""
        plane = self._plane
        if plane is None:
            return self._plan
        current = plane.current
        return current.get("geo") if current is not None else None

    async def ready(self, ctx: Context) -> GeoPlan | None:
        """Return the plan, loading the plane's configuration first on an isolate's first request.

        NOTE: the stage runs before the plane's middleware (so that KV routes
        are personalized), so on the very first request it asks the plane to
        load rather than serve unpersonalized (a 451 must not be skipped).
        Tried once per isolate; afterwards the plane refreshes on its own.
        """
        plane = self._plane
        if plane is None:
            return self._plan
        loading = self._loading
        if plane.current is None and loading is None:
            # A ConfigPlane shares its first load (one KV read, one error logged)
            # with its own loader; a bare source is refreshed.
            ensure = getattr(plane, "ensure_loaded", None)
            first = ensure(ctx) if ensure is not None else plane.refresh(ctx.env, ctx.origin)
            loading = self._loading = asyncio.ensure_future(first)
        if loading is not None and not loading.done():
            try:
                await asyncio.shield(loading)
            except Exception:  # NOTE: refresh never raises; a failed first load serves unpersonalized
                pass
        return self.plan()


def nearest_origin(group: str, source: Any) -> PlannedNearest:
    """Return a transport that sends each request to the nearest healthy origin of ``group``.

    ``source`` is the ConfigPlane (or a GeoPlan); the group comes from
    ``geo.nearest`` in the configuration being served.
    """
    return PlannedNearest(group, source if isinstance(source, PlanSource) else PlanSource(source))


def _load_stage() -> ApplyPlan:
    """Import the plan's part of the stage (PERF: with the first plan, not at start-up)."""
    from ._stage import apply_plan

    return apply_plan


def personalize(
    source: Any, *, on_exposure: OnExposure | None = None, fill_html: bool = True,
) -> Callable[[Request, Context, CallNext], Awaitable[Response]]:
    """Return the personalization middleware for ``source`` (a ConfigPlane or a GeoPlan).

    ``on_exposure(event)`` is called once per new assignment of a client to
    an experiment arm (``event``: experiment, arm, client_id, variant,
    country); an awaitable it returns is handed to ``ctx.wait_until``. The
    default logs one line on the ``edgeline.experiments`` logger.
    ``fill_html`` fills ``<!--edge:NAME-->`` placeholders in HTML responses.
    """
    plans = source if isinstance(source, PlanSource) else PlanSource(source)
    if on_exposure is not None and not callable(on_exposure):
        raise TypeError("on_exposure must be callable")

    fixed = plans._plan if plans._plane is None else None  # PERF: no lookup per request

    def expose(ctx: Context, event: dict[str, Any]) -> None:
        if on_exposure is None:
            exposure_log.info("exposure %s=%s", event["experiment"], event["arm"], extra=event)
            return
        try:
            result = on_exposure(event)
            if inspect.isawaitable(result):
                ctx.wait_until(result)
        except Exception:  # NOTE: analytics must never fail a request
            log.exception("on_exposure failed for %s", event.get("experiment"))

    # The plan's part of the stage: imported now for a plan given in code, else with the first plan.
    apply: ApplyPlan | None = _load_stage() if fixed is not None else None

    # PERF: a plain function handing back the stage's awaitable, so the split
    # from personalize._stage adds no coroutine of its own to a request.
    def personalize(request: Request, ctx: Context, call_next: CallNext) -> Awaitable[Response]:
        # PERF: one pass over the request's fields finds everything the stage reads.
        items = request.headers.raw
        accept = cookie_header = None
        forged = 0
        for name, value in items:
            if name == "cookie":
                cookie_header = value if cookie_header is None else cookie_header + "; " + value
            elif name == "accept-language":
                accept = value if accept is None else accept + ", " + value
            elif _TRUSTED_PREFIX <= name < _TRUSTED_END:
                forged += 1
                field = (name, value)
        if forged:
            # APPSEC: a client must not speak for the edge. The request's own
            # list is changed in place (the trusted fields are appended to it below).
            if forged == 1:
                items.remove(field)  # the first pair equal to it is the one
            else:
                items[:] = [p for p in items if not _TRUSTED_PREFIX <= p[0] < _TRUSTED_END]
        plan = fixed if fixed is not None else plans.plan()
        if plan is None or apply is None:
            return first(request, ctx, call_next, plan, items, accept, cookie_header)
        return apply(plan, request, ctx, call_next, items, accept, cookie_header, expose,
                     fill_html)

    async def first(request: Request, ctx: Context, call_next: CallNext, plan: Any,
                    items: list[tuple[str, str]], accept: str | None,
                    cookie_header: str | None) -> Response:
        # The isolate's first plan: wait for the configuration, import the stage.
        nonlocal apply
        if plan is None:
            plan = await plans.ready(ctx)
            if plan is None:
                return await call_next(request, ctx)
        if apply is None:
            apply = _load_stage()
        return await apply(plan, request, ctx, call_next, items, accept, cookie_header, expose,
                           fill_html)

    return personalize
