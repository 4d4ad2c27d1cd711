"""The personalization stage once a plan applies: decide, tell the origin, mark the response.

Steps 2 to 7 of the stage described in :mod:`edgeline.personalize._middleware`,
which calls :func:`apply_plan` for every request served under a plan.

PERF: a module of its own, imported with the first plan, so that a worker
whose configuration has no geo policies never loads the plan and the modules
it needs (under Pyodide every one of them is compiled from source at start-up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import Context
from ..headers import Headers
from ..messages import Request, Response, _charset
from ..types import CallNext
from ._fields import STATE_KEY, VARIANT_HEADER
from ._plan import NO_VISIT, Decision, GeoPlan, _cookie
from ._redirect import is_search_bot
from ._slots import SlotFiller, encode_values, fill_stream

__all__ = ["Expose", "apply_plan"]

_COOKIE_MAX_AGE = 400 * 24 * 3600  # RFC 6265bis caps Max-Age at 400 days
_MAX_EXPOSURE_COOKIE = 3000

Expose = Callable[[Context, dict[str, Any]], None]
"""Report one new assignment of a client to an experiment arm."""


async def apply_plan(
    plan: GeoPlan, request: Request, ctx: Context, call_next: CallNext,
    items: list[tuple[str, str]], accept: str | None, cookie_header: str | None,
    expose: Expose, fill_html: bool,
) -> Response:
    """Serve ``request`` under ``plan``.

    ``items`` is the request's own field list, already stripped of client-sent
    ``x-edgeline-*`` fields; ``accept`` and ``cookie_header`` are its
    Accept-Language and Cookie values (None when absent).
    """
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
