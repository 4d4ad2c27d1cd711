"""edgeline's local emulator of the Workers platform, for CPython.

It installs the stand-in for the Workers SDK as the ``workers`` module, emulates
KV in SQLite, fills ``request.cf``, honours ``waitUntil`` and serves the
worker through uvicorn (see docs/adr/0001-asgi-server.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["install_workers_module"]

STANDIN_PATH = Path(__file__).with_name("standin")


def install_workers_module() -> None:
    """Make ``import workers`` resolve to the stand-in (idempotent).

    Raises RuntimeError if another ``workers`` module is already imported,
    e.g. the real SDK installed in the same environment.
    """
    loaded = sys.modules.get("workers")
    if loaded is not None:
        if getattr(loaded, "EDGELINE_STANDIN", False):
            return
        raise RuntimeError(
            f"a different 'workers' module is already imported ({loaded!r}); the emulator "
            "needs its own stand-in: uninstall workers-runtime-sdk from this environment"
        )
    path = str(STANDIN_PATH)
    if path not in sys.path:
        sys.path.insert(0, path)
    import workers  # noqa: F401  (the stand-in, now first on the path)
