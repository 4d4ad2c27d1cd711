"""The filtering middleware's work once a ruleset applies: run the phases, act, mark the response.

:func:`edgeline.filtering.firewall` calls :func:`apply_ruleset` for every
request that has a ruleset to answer to.

PERF: a module of its own, imported with the first ruleset, so that a worker
whose configuration has no rules never loads the evaluation, the request
view, the rule types and the lists (under Pyodide every one of them is
compiled from source at start-up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..context import Context
from ..messages import Request, Response
from ..types import CallNext
from ._engine import RULE_HEADER, STATE_KEY, read_body_prefix
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
from ._view import RequestView

__all__ = ["apply_ruleset"]

log = logging.getLogger("edgeline.filtering")

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def apply_ruleset(
    current: Ruleset, request: Request, ctx: Context, call_next: CallNext, *,
    dev: bool, fail_open: bool, max_body: int, clock: Callable[[], float],
) -> Response:
    """Serve ``request`` under ``current`` (the options are :func:`firewall`'s)."""
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


def _blocked(action: Block, rule_id: str) -> Response:
    if action.body:
        response = Response(action.body.encode(), action.status,
                            {"content-type": action.content_type})
    else:
        response = Response.problem(action.status, "Forbidden" if action.status == 403 else
                                    "Request refused", f"refused by rule {rule_id}")
    response.headers["cache-control"] = "no-store"
    return response


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


