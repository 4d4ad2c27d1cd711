"""Names the personalization stage and its plan share.

A module of its own so that the stage (:mod:`._middleware`) can be imported
without the plan (:mod:`._plan`), which it loads only when a plan applies.
"""

from __future__ import annotations

__all__ = ["STATE_KEY", "VARIANT_HEADER"]

STATE_KEY = "edgeline.geo"
"""``ctx.state`` key holding the request's :class:`~edgeline.personalize.Decision`."""

VARIANT_HEADER = "x-edgeline-variant"
"""The field that carries the request's variant to the origin (and the cache key)."""
