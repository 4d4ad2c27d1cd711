"""The filtering middleware: normalize, run the phases, act, and mark the response.

::

    ruleset = compile_ruleset(rules, lists=lists, limiters=limiters,
                              authenticators=authenticators, managed=ManagedRules(paranoia=2))
    app.use(firewall(ruleset, dev=True))

``firewall`` also takes a callable ``(ctx) -> Ruleset | None`` so the ruleset
can come from the configuration plane and change without a restart; a
request reads it once and uses only it. The evaluation itself lives in
:mod:`edgeline.filtering._apply`, imported with the first ruleset.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from ..context import Context
from ..messages import Request, Response
from ..types import CallNext, Middleware

if TYPE_CHECKING:
    from ._ruleset import Ruleset

__all__ = ["MAX_BODY", "RULE_HEADER", "STATE_KEY", "firewall", "read_body_prefix"]

MAX_BODY = 65_536
"""Bytes of a request body rules and signatures inspect (the rest is not read)."""

RULE_HEADER = "x-edgeline-rule"
"""Response header naming the matched rule ids (only with ``dev=True``)."""

STATE_KEY = "edgeline.filtering"
"""``ctx.state`` key holding ``{"matched": [...], "action": ..., "claims": {...}}``."""

ApplyRuleset = Callable[..., Awaitable[Response]]


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
    fixed: Ruleset | None = None
    provider: Callable[[Context], Ruleset | None] | None = None
    apply: ApplyRuleset | None = None  # the evaluation, imported with the first ruleset
    if callable(ruleset):
        provider = ruleset
    else:
        # NOTE: a Ruleset was compiled by the caller, so its module is loaded already.
        from ._ruleset import Ruleset

        if not isinstance(ruleset, Ruleset):
            raise TypeError("firewall() takes a Ruleset or a callable (ctx) -> Ruleset | None")
        fixed = ruleset
        apply = _load_apply()
    if max_body < 0:
        raise ValueError("max_body must be >= 0")

    # PERF: a plain function handing back the evaluation's awaitable, so the
    # split from filtering._apply adds no coroutine of its own to a request.
    def filter_request(request: Request, ctx: Context, call_next: CallNext) -> Awaitable[Response]:
        nonlocal apply
        current = fixed if provider is None else provider(ctx)
        if current is None:
            return call_next(request, ctx)
        if apply is None:
            apply = _load_apply()
        return apply(current, request, ctx, call_next, dev=dev, fail_open=fail_open,
                     max_body=max_body, clock=clock)

    filter_request.__qualname__ = "firewall"
    return filter_request


def _load_apply() -> ApplyRuleset:
    """Import the evaluation (PERF: with the first ruleset, not at start-up)."""
    from ._apply import apply_ruleset

    return apply_ruleset
