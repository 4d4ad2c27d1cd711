"""Keep the cyclic garbage collector off the heap that start-up builds.

A worker holds large long-lived tables (compiled routes and rules, the
managed rules' screens, configuration). CPython's full collections walk
every tracked object, so each one pauses the event loop (about 3 ms for
the 30,000 objects of the end-to-end benchmark's worker, ``bench/e2e.py``)
although that heap never becomes garbage. :func:`settle` moves it out of
the collector's sight (``gc.freeze``: the permanent generation); objects
created later are collected as before.
"""

from __future__ import annotations

import gc

__all__ = ["settle"]


def settle() -> None:
    """Collect the garbage start-up left, then freeze every object still alive.

    Call it once the app is built and again after its code or configuration
    is replaced: the objects an earlier call froze are unfrozen first, so
    those the replaced version leaves behind in reference cycles (a module's
    functions and its globals) are collected instead of kept for good.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
