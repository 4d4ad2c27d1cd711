"""The Cache-Status response field (RFC 9211): one member per cache, this one last."""

from __future__ import annotations

__all__ = ["cache_status"]


def cache_status(
    name: str, *, hit: bool = False, fwd: str | None = None, fwd_status: int | None = None,
    stored: bool = False, ttl: float | None = None, collapsed: bool = False,
    detail: str | None = None,
) -> str:
    """Return this cache's Cache-Status member (RFC 9211 §2).

    ``ttl`` is the response's remaining freshness (negative when stale,
    §2.5); ``detail`` is an sf-token or string with implementation detail.
    """
    parts = [name]
    if hit:
        parts.append("hit")
    if fwd is not None:
        parts.append(f"fwd={fwd}")
        if fwd_status is not None:
            parts.append(f"fwd-status={fwd_status}")
    if stored:
        parts.append("stored")
    if collapsed:
        parts.append("collapsed")
    if ttl is not None:
        parts.append(f"ttl={round(ttl)}")
    if detail:
        parts.append(f"detail={detail}")
    return "; ".join(parts)
