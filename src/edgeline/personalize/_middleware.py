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
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..context import Context
from ..headers import Headers
from ..messages import Request, Response, _charset
from ..types import CallNext
from ._nearest import PlannedNearest
from ._plan import NO_VISIT, VARIANT_HEADER, Decision, GeoPlan, _cookie
from ._redirect import is_search_bot
from ._slots import SlotFiller, encode_values, fill_stream

__all__ = ["STATE_KEY", "VARIANT_HEADER", "PlanSource", "cache_variant", "nearest_origin",
           "personalize"]

log = logging.getLogger("edgeline.personalize")
exposure_log = logging.getLogger("edgeline.experiments")

STATE_KEY = "edgeline.geo"
# PERF: a name starts with "x-edgeline-" exactly when it sorts within
# ["x-edgeline-", "x-edgeline.") ("." follows "-" in ASCII): two comparisons, no slice.
_TRUSTED_PREFIX = "x-edgeline-"
_TRUSTED_END = "x-edgeline."
_COOKIE_MAX_AGE = 400 * 24 * 3600  # RFC 6265bis caps Max-Age at 400 days
_MAX_EXPOSURE_COOKIE = 3000

OnExposure = Callable[[dict[str, Any]], Awaitable[None] | None]


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
        if source is None or isinstance(source, GeoPlan):
            self._plan = source
        elif hasattr(source, "current") and hasattr(source, "refresh"):
            self._plane = source
        else:
            raise TypeError("personalize() takes a GeoPlan or a ConfigPlane, "
                            f"not {type(source).__name__}")

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


# PERF: Content-Type value -> is it HTML; an origin sends a handful of distinct values.
_HTML_TYPES: dict[str, bool] = {}


def _is_html(content_type: str) -> bool:
    """Tell whether a Content-Type is ``text/html`` (any case, any parameters); memoized."""
    html = content_type[:9].lower() == "text/html"
    if len(_HTML_TYPES) >= 256:
        _HTML_TYPES.clear()
    _HTML_TYPES[content_type] = html
    return html


def _set_cookie(name: str, value: str, secure: bool, max_age: int = _COOKIE_MAX_AGE) -> str:
    return (f"{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax; HttpOnly"
            + ("; Secure" if secure else ""))


def _opt_out_cookie(plan: GeoPlan, choice: str, secure: bool) -> str:
    """Return the Set-Cookie value for ``?edge_geo=off`` (set) or ``=on`` (cleared, Max-Age=0)."""
    if choice == "off":
        return _set_cookie(plan.opt_out_cookie, "1", secure)
    return _set_cookie(plan.opt_out_cookie, "", secure, max_age=0)


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

    async def personalize(request: Request, ctx: Context, call_next: CallNext) -> Response:
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
        if plan is None:
            plan = await plans.ready(ctx)
            if plan is None:
                return await call_next(request, ctx)
        # PERF: the plan answers from the raw cf fields (memoized); ctx.geo is left
        # for the slow paths below and for later stages.
        cf = request.cf
        try:
            located = plan.by_raw_country.get(cf.get("country"))  # where the country decides
            if located is None:
                located = plan.located[cf.get("country"), cf.get("regionCode"),
                                       cf.get("continent")]
        except (KeyError, TypeError):  # not seen yet (or unhashable): GeoPlan.locate decides
            located = plan.locate(cf)
        policy, country, continent = located
        path = None
        opt_out: str | None = None  # "off"/"on" from the query: the cookie to set on the way out
        if not policy.passive:
            path = request.url.path
            block = policy.block
            if block is not None and block.applies(path):
                return _blocked(block, policy.name)
            redirect = policy.redirect
            if redirect is not None:
                query = request.url.query
                opt_out = plan.opt_out_choice(query)
                if (opt_out != "off" and request.method in ("GET", "HEAD")
                        and redirect.applies(path)):
                    if opt_out is not None:
                        query = plan.without_opt_out(query)
                    target = redirect.location(request.host, path, query, plan.redirect_hosts)
                    if (target is not None
                            and (opt_out == "on"
                                 or _cookie(cookie_header, plan.opt_out_cookie) != "1")
                            and not (plan.exempt_bots and is_search_bot(
                                request.headers.get("user-agent"), ctx.geo))):
                        # Varies by location and cookie: no shared cache may keep it.
                        answer = [("location", target), ("cache-control", "private, no-store")]
                        if opt_out is not None:
                            answer.append(("set-cookie", _opt_out_cookie(
                                plan, opt_out, request.url.scheme == "https")))
                        return Response(b"", redirect.status, Headers.from_trusted(answer))
        resolved = policy.resolved.get(accept)
        if resolved is None:
            resolved = policy.resolve(accept)
        locale, variant, fields, others, language = resolved
        if not plan.experiments:
            visit = NO_VISIT
        elif plan.targeted_experiments:
            visit = plan.visit(cookie_header, country, continent,
                               path if path is not None else request.url.path)
        else:
            # PERF: a returning client's Cookie field was seen before: no parsing, no hashing.
            visit = plan.visits.get(cookie_header)  # type: ignore[assignment]
            if visit is None:
                visit = plan.visit(cookie_header)
        # Trusted fields for the origin (and the cache key), after the strip above.
        if visit.joined is not None:
            extended = visit.extended.get(variant)
            variant, fields = extended if extended is not None else visit.extend(variant, others)
        items += fields
        variant_field = fields[0]
        decision = Decision(policy, locale, visit.arms, variant, visit.client_id, visit.new_id)
        if visit.pending:  # PERF: a returning client's cookie records every label
            _exposures(plan, decision, visit, country, ctx, expose)
        ctx.state[STATE_KEY] = decision

        response = await call_next(request, ctx)

        headers = response.headers
        has_language = has_variant = False
        content_type = None
        for name, value in headers.raw:
            if name == "content-language":
                has_language = True
            elif name == VARIANT_HEADER:
                has_variant = True
            elif name == "content-type":
                content_type = value
        raw = headers.raw
        if language is not None and not has_language:
            raw.append(language)
        if has_variant:
            headers.discard(VARIANT_HEADER)
            raw = headers.raw
        raw.append(variant_field)
        new_id = visit.new_id
        if new_id or decision.exposure_cookie is not None or opt_out is not None:
            secure = request.url.scheme == "https"
            if opt_out is not None:
                raw.append(("set-cookie", _opt_out_cookie(plan, opt_out, secure)))
            if new_id:
                raw.append(("set-cookie", _set_cookie(plan.id_cookie, visit.client_id or "",
                                                      secure)))
            if decision.exposure_cookie is not None:
                raw.append(("set-cookie", _set_cookie(plan.exposure_cookie,
                                                      decision.exposure_cookie, secure)))
        if fill_html and content_type is not None and request.method != "HEAD":
            html = _HTML_TYPES.get(content_type)
            if html is None:
                html = _is_html(content_type)
            if html:
                response = _fill(response, decision, ctx.geo, content_type)
        return response

    return personalize


def _exposures(plan: GeoPlan, decision: Decision, visit: Any, country: str | None,
               ctx: Context, expose: Callable[[Context, dict[str, Any]], None]) -> None:
    """Log each assignment the client's exposure cookie does not record yet; update the cookie."""
    raw = visit.recorded
    labels = visit.labels
    seen = raw.split("|") if raw else ()
    new = [label for label in labels if label not in seen]
    if not new:
        return
    decision.exposed = tuple(new)
    for label in new:
        name, _, arm = label.partition(":")
        expose(ctx, {"experiment": name, "arm": arm, "client_id": decision.client_id,
                     "variant": decision.variant, "country": country})
    # Keep records of other live experiments; replace this one's (its arm may have changed).
    kept = [label for label in seen
            if plan.is_experiment(label.partition(":")[0])
            and label.partition(":")[0] not in decision.arms]
    value = "|".join(sorted(labels) + kept)
    if len(value) > _MAX_EXPOSURE_COOKIE:
        value = "|".join(sorted(labels))
    decision.exposure_cookie = value


def _blocked(block: Any, policy: str) -> Response:
    headers = [("cache-control", "private, no-store")]
    if block.blocked_by:
        # RFC 7725 §4: identify the entity implementing the block.
        headers.append(("link", f'<{block.blocked_by}>; rel="blocked-by"'))
    response = Response.problem(451, "Unavailable For Legal Reasons", block.reason,
                                headers=Headers.from_trusted(headers))
    return response


def _fill(response: Response, decision: Decision, geo: Any, content_type: str) -> Response:
    """Return ``response`` with its HTML placeholders filled (streamed bodies stay streamed)."""
    headers = response.headers
    encoding = headers.get("content-encoding")
    if encoding and encoding.lower() != "identity":
        return response  # NOTE: compressed bytes cannot be scanned; origins send these uncompressed
    if response.status in (204, 206, 304):
        return response
    body = response.body
    if isinstance(body, bytes) and b"<!--edge:" not in body:
        return response
    values = encode_values(decision.slot_values(geo), _charset(content_type))
    if not values:
        return response
    filler = SlotFiller(values)
    if isinstance(body, bytes):
        filled = filler.feed(body) + filler.flush()
        if "content-length" in headers:
            headers["content-length"] = str(len(filled))
        out = Response(filled, response.status, headers)
    else:
        headers.discard("content-length")
        out = Response(fill_stream(body, filler), response.status, headers)
    etag = headers.get("etag")
    if etag and not etag.startswith("W/"):
        # RFC 9110 §8.8.3: the bytes changed, so a strong validator no longer holds.
        headers["etag"] = "W/" + etag
    return out
