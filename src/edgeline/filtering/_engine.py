"""The filtering middleware: normalize, run the phases, act, and mark the response.

::

    ruleset = compile_ruleset(rules, lists=lists, limiters=limiters,
                              authenticators=authenticators, managed=ManagedRules(paranoia=2))
    app.use(firewall(ruleset, dev=True))

``firewall`` also takes a callable ``(ctx) -> Ruleset | None`` so the ruleset
can come from the configuration plane and change without a restart; a
request reads it once and uses only it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..context import Context
from ..messages import Request, Response
from ..types import CallNext, Middleware
from ._ruleset import (
    Allow,
    Block,
    Log,
    RateLimit,
    Redirect,
    RemoveHeader,
    RequireAuth,
    Ruleset,
    SetHeader,
)
from ._view import MAX_BODY, RequestView

__all__ = ["RULE_HEADER", "STATE_KEY", "firewall", "read_body_prefix"]

log = logging.getLogger("edgeline.filtering")

RULE_HEADER = "x-edgeline-rule"
"""Response header naming the matched rule ids (only with ``dev=True``)."""

STATE_KEY = "edgeline.filtering"
"""``ctx.state`` key holding ``{"matched": [...], "action": ..., "claims": {...}}``."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def read_body_prefix(request: Request, limit: int) -> tuple[bytes, Request]:
    """Read up to ``limit`` bytes of the body; return them and a request still carrying all of it."""
    body = request.body
    if isinstance(body, bytes):
        return body[:limit], request
    chunks: list[bytes] = []
    size = 0
    stream = request.stream()
    async for chunk in stream:
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    prefix = b"".join(chunks)

    async def replay() -> AsyncIterator[bytes]:
        yield prefix
        async for rest in stream:
            yield rest

    if size < limit:
        return prefix, request.copy(body=prefix)
    return prefix[:limit], request.copy(body=replay())


def _blocked(action: Block, rule_id: str) -> Response:
    if action.body:
        response = Response(action.body.encode(), action.status,
                            {"content-type": action.content_type})
    else:
        response = Response.problem(action.status, "Forbidden" if action.status == 403 else
                                    "Request refused", f"refused by rule {rule_id}")
    response.headers["cache-control"] = "no-store"
    return response


def firewall(
    ruleset: Ruleset | Callable[[Context], Ruleset | None],
    *, dev: bool = False, fail_open: bool = True, max_body: int = MAX_BODY,
    clock: Callable[[], float] = time.time,
) -> Middleware:
    """Return middleware that runs ``ruleset`` (or the one the callable gives) on every request.

    ``dev``: name the matched rules in the ``x-edgeline-rule`` response
    header. ``fail_open``: if evaluation itself fails (a bug, never a rule
    mismatch), log it and serve the request rather than refuse it.
    """
    if isinstance(ruleset, Ruleset):
        fixed: Ruleset | None = ruleset
        provider: Callable[[Context], Ruleset | None] | None = None
    elif callable(ruleset):
        fixed, provider = None, ruleset
    else:
        raise TypeError("firewall() takes a Ruleset or a callable (ctx) -> Ruleset | None")
    if max_body < 0:
        raise ValueError("max_body must be >= 0")

    async def filter_request(request: Request, ctx: Context, call_next: CallNext) -> Response:
        current = fixed if provider is None else provider(ctx)
        if current is None:
            return await call_next(request, ctx)
        if current.trusted_headers:
            # APPSEC: only the edge may set these; a client's copies never reach the origin.
            request.headers.discard(*current.trusted_headers)
        body = None
        if current.needs_body and request.method in _BODY_METHODS and max_body:
            body, request = await read_body_prefix(request, max_body)
            ctx.request = request
        view = RequestView(request, ctx, now=clock(), body=body)
        state: dict[str, Any] = {"matched": [], "action": None}
        ctx.state[STATE_KEY] = state
        try:
            outcome = await _run(current, view, request, ctx, state)
        except Exception:
            if not fail_open:
                raise
            log.exception("filtering failed; serving the request unfiltered (fail_open)")
            outcome = (None, [], [])
        early, response_ops, extra = outcome
        if early is not None:
            response = early
        else:
            response = await call_next(request, ctx)
        for op in response_ops:
            if isinstance(op, SetHeader):
                response.headers[op.name] = op.value
            else:
                response.headers.discard(op.name)
        for name, value in extra:
            response.headers.setdefault(name, value)
        if dev and state["matched"]:
            response.headers[RULE_HEADER] = ", ".join(state["matched"])
        return response

    filter_request.__qualname__ = "firewall"
    return filter_request


# id(ruleset) -> (ruleset, its phases list, its managed rules, the phases in running order
# with None standing for the managed phase). PERF: worked out once per ruleset, not per
# request. Rulesets are slotted (not weakly referenceable), so entries hold them; the few
# a configuration plane swaps in over time are dropped all at once past _ORDERS_MAX.
_ORDERS: dict[int, tuple[Ruleset, object, object, tuple[Any, ...]]] = {}
_ORDERS_MAX = 16


def _phase_order(ruleset: Ruleset) -> tuple[Any, ...]:
    entry = _ORDERS.get(id(ruleset))
    if entry is not None and entry[0] is ruleset and entry[1] is ruleset.phases \
            and entry[2] is ruleset.managed:
        return entry[3]
    phases: list[Any] = list(ruleset.phases)
    if ruleset.managed is not None:
        # The managed phase sits between "custom" and "transform".
        at = next((i for i, p in enumerate(phases) if p.name == "transform"), len(phases))
        phases.insert(at, None)
    order = tuple(phases)
    if len(_ORDERS) >= _ORDERS_MAX:
        _ORDERS.clear()
    _ORDERS[id(ruleset)] = (ruleset, ruleset.phases, ruleset.managed, order)
    return order


async def _run(
    ruleset: Ruleset, view: RequestView, request: Request, ctx: Context, state: dict[str, Any],
) -> tuple[Response | None, list[Any], list[tuple[str, str]]]:
    matched: list[str] = state["matched"]
    response_ops: list[Any] = []
    extra: list[tuple[str, str]] = []
    managed = ruleset.managed
    for phase in _phase_order(ruleset):
        if phase is None:
            hit = managed.inspect(view)
            if hit is not None:
                matched.append(hit.id)
                if managed.mode == "block":
                    log.info("managed rule %s (%s) blocked %s %s: %s", hit.id, hit.category,
                             request.method, view.path, hit.message)
                    state["action"] = "block"
                    return managed.response(hit), response_ops, extra
                log.info("managed rule %s (%s) matched %s %s (log only)", hit.id, hit.category,
                         request.method, view.path)
            continue
        hits = phase.evaluate(view)
        for index in hits:
            rule = phase.rules[index]
            action = rule.action
            matched.append(rule.id)
            if isinstance(action, Log):
                log.info("rule %s matched %s %s", rule.id, request.method, view.path)
            elif isinstance(action, Block):
                log.info("rule %s blocked %s %s", rule.id, request.method, view.path)
                state["action"] = "block"
                return _blocked(action, rule.id), response_ops, extra
            elif isinstance(action, Allow):
                log.info("rule %s allowed %s %s", rule.id, request.method, view.path)
                state["action"] = "allow"
                return None, response_ops, extra
            elif isinstance(action, Redirect):
                location = action.location
                query = request.url.query
                if action.keep_query and query:
                    location += ("&" if "?" in location else "?") + query
                state["action"] = "redirect"
                return Response.redirect(location, action.status), response_ops, extra
            elif isinstance(action, (SetHeader, RemoveHeader)):
                if action.target == "response":
                    response_ops.append(action)
                elif isinstance(action, SetHeader):
                    request.headers[action.name] = action.value
                else:
                    request.headers.discard(action.name)
            elif isinstance(action, RateLimit):
                limiter = ruleset.limiters[action.limiter]
                decision = await limiter.check(view, ctx.env, view.now)
                if not decision.allowed:
                    log.info("rule %s rate limited %s %s (limiter %s)", rule.id, request.method,
                             view.path, action.limiter)
                    state["action"] = "rate_limit"
                    from ._ratelimit import too_many_requests

                    return too_many_requests(decision), response_ops, extra
                extra.extend(decision.headers().items())
            elif isinstance(action, RequireAuth):
                authenticator = ruleset.authenticators[action.authenticator]
                result = await authenticator.authenticate(request, ctx, view.now)
                if not result.ok:
                    log.info("rule %s refused %s %s: %s", rule.id, request.method, view.path,
                             result.description)
                    state["action"] = "require_auth"
                    from ._auth import unauthorized

                    return unauthorized(result), response_ops, extra
                for name, value in result.headers.items():
                    request.headers[name] = value
                state["claims"] = result.claims
    return None, response_ops, extra


