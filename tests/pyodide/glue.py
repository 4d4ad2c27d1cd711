"""Run inside Pyodide: import a worker and call it the way workerd does.

workerd builds the entrypoint class with ``(ctx, env)`` (the SDK's class
wrapper patches ``ctx.waitUntil`` and wraps ``env``), converts the incoming
JS request with ``workers.python_from_rpc`` and the returned value with
``workers.python_to_rpc``. This module does the same with the real SDK.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

from pyodide.code import eval_code_async

_worker_paths: list[str] = []
_snippet_globals: dict[str, Any] = {"__name__": "__harness__"}


def _forget(path: str) -> None:
    """Drop a previously loaded worker's folder and modules."""
    if path in sys.path:
        sys.path.remove(path)
    local = {name.removesuffix(".py") for name in os.listdir(path)}
    prefix = path.rstrip("/") + "/"
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(prefix) or name.partition(".")[0] in local:
            del sys.modules[name]


def load_worker(path: str, main: str) -> Any:
    """Import the worker in ``path`` whose main module is ``main``."""
    while _worker_paths:
        _forget(_worker_paths.pop())
    sys.path.insert(0, path)
    _worker_paths.append(path)
    importlib.invalidate_caches()
    return importlib.import_module(main)


async def dispatch(module: Any, js_request: Any, env: Any, ctx: Any) -> Any:
    """Serve one request with the module's ``Default`` entrypoint; return a JS Response."""
    from workers import python_from_rpc, python_to_rpc

    entry = getattr(module, "Default", None)
    if entry is None:
        raise RuntimeError(f"{module.__name__} defines no Default entrypoint class")
    instance = entry(ctx, env)
    result = await instance.fetch(python_from_rpc(js_request))
    return python_to_rpc(result)


async def run_snippet(code: str) -> str:
    """Run ``code`` (top-level await allowed); return its last expression as JSON."""
    result = await eval_code_async(code, _snippet_globals)
    return json.dumps(result, default=repr)
