"""RPC conversions; in one CPython process there is no boundary to convert across."""

from __future__ import annotations

from typing import Any

from edgeline.emulator.jsobject import JsDict

from ._web import JsObject

__all__ = ["JsDict", "python_from_rpc", "python_to_rpc"]


def python_from_rpc(obj: Any) -> Any:
    """Convert a value arriving over RPC to Python types (JS objects become JsDict)."""
    if isinstance(obj, JsObject):
        return python_from_rpc(obj.to_py())
    if isinstance(obj, dict):
        return JsDict({k: python_from_rpc(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [python_from_rpc(v) for v in obj]
    return obj


def python_to_rpc(value: Any) -> Any:
    """Check that a value may cross RPC, and return it unchanged."""
    if isinstance(value, (tuple, bytearray)):
        raise TypeError(f"{type(value)} cannot be sent over RPC.")
    return value


class _EnvWrapper:
    """``env`` as the SDK presents it: bindings by attribute."""

    def __init__(self, env: Any) -> None:
        self._env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)
