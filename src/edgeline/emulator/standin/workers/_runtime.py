"""The emulator's per-isolate state behind ``workers.env``, ``waitUntil`` and compat flags."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_env: Any = None
_flags: frozenset[str] = frozenset()
_ctx: ContextVar[Any] = ContextVar("workers_ctx", default=None)


class _EnvOverlay:
    """``env`` with some names overridden (``patch_env``)."""

    def __init__(self, base: Any, overrides: dict[str, Any]) -> None:
        self._base = base
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._base, name)


def configure(env: Any, flags: frozenset[str] | set[str] = frozenset()) -> None:
    """Install the isolate's env and compatibility flags (called by the emulator)."""
    global _env, _flags
    _env = env
    _flags = frozenset(flags)


def compat_flags() -> frozenset[str]:
    return _flags


def set_request_context(ctx: Any) -> Any:
    return _ctx.set(ctx)


def reset_request_context(token: Any) -> None:
    _ctx.reset(token)


def _wait_until(awaitable: Any) -> None:
    ctx = _ctx.get()
    if ctx is None:
        raise RuntimeError("waitUntil() called outside of a request")
    ctx.waitUntil(awaitable)


class _CloudflareWorkers:
    """The ``cloudflare:workers`` module: ``env`` and ``waitUntil``."""

    @property
    def env(self) -> Any:
        if _env is None:
            raise RuntimeError("no worker environment: is the emulator running?")
        return _env

    @property
    def waitUntil(self) -> Any:
        return _wait_until


_MODULE = _CloudflareWorkers()


def cloudflare_workers_module() -> _CloudflareWorkers:
    return _MODULE


@contextmanager
def patched_env(overrides: dict[str, Any]) -> Iterator[None]:
    global _env
    saved = _env
    _env = _EnvOverlay(saved, overrides)
    try:
        yield
    finally:
        _env = saved
