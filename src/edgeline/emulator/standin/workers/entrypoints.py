"""Entrypoint base classes: ``WorkerEntrypoint``, ``DurableObject``, ``WorkflowEntrypoint``."""

from __future__ import annotations

import functools
from typing import Any


def handler(func: Any) -> Any:
    """Mark an ``on_fetch``-style handler; arguments already arrive as Python types here."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ._web import WebRequest
        from .request import Request

        if args and isinstance(args[0], WebRequest):
            args = (Request(args[0]), *args[1:])
        return func(*args, **kwargs)

    return wrapper


class WorkerEntrypoint:
    """Base class of a Worker's entrypoint; ``fetch(self, request)`` handles requests."""

    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class DurableObject:
    """Base class of a Durable Object (not emulated: constructing one's binding fails)."""

    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    """Base class of a Workflow (not emulated)."""

    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env
