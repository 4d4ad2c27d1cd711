"""CachePolicy: the settings of one cache, checked when built."""

from __future__ import annotations

from collections.abc import Iterable

from ._entry import EntryFacts
from ._keys import DEFAULT_IGNORED_PARAMS, KeyPolicy

__all__ = ["CachePolicy"]


class CachePolicy:
    """How a CachingTransport stores and serves (RFC 9111 shared cache by default).

    - ``name``: this cache's name in Cache-Status (RFC 9211 §2).
    - ``targeted_field``: the edgeline-targeted field (RFC 9213 style), read
      before ``CDN-Cache-Control`` (if ``cdn_cache_control``), which is read
      before ``Cache-Control``.
    - ``max_object_size``: larger bodies stream through and are not stored.
    - ``set_cookie``: ``"bypass"`` (a response with Set-Cookie is not stored),
      ``"explicit"`` (stored with it only when the response is explicitly
      cacheable: ``max-age``, ``s-maxage``, ``public`` or ``Expires``),
      ``"store"`` (stored with it), ``"strip"`` (stored without it).
    - ``honor_request_directives``: obey the client's no-cache, max-age,
      min-fresh, max-stale, only-if-cached, no-store (RFC 9111 §5.2.1).
    - ``stale_if_error_default``: seconds past freshness a response may be
      served when the origin cannot be reached at all (RFC 9111 §4.2.4:
      a disconnected cache may); 0 turns it off. 5xx answers need the
      response's own ``stale-if-error`` (RFC 5861 §4).
    - ``collapse_timeout``: how long a request waits for another's origin
      fetch of the same key before going itself (or getting stale).
    - ``heuristic_fraction`` / ``heuristic_max``: RFC 9111 §4.2.2.
    - ``default_ttl``: freshness for heuristically cacheable responses
      without any (0: none, which is what RFC 9111 expects).
    - ``surrogate_control``: also read ``Surrogate-Control`` (W3C Edge
      Architecture), after the RFC 9213 fields and before Cache-Control,
      obeying directives untargeted or aimed at ``name``.
    """

    __slots__ = ("name", "keys", "facts", "max_object_size", "set_cookie",
                 "honor_request_directives", "stale_if_error_default", "collapse_timeout",
                 "max_ttl", "tag_header")

    def __init__(
        self, *, name: str = "edgeline", ignored_params: Iterable[str] = DEFAULT_IGNORED_PARAMS,
        targeted_field: str = "edgeline-cache-control", cdn_cache_control: bool = True,
        max_object_size: int = 8 * 1024 * 1024, set_cookie: str = "bypass",
        honor_request_directives: bool = True, stale_if_error_default: float = 86400.0,
        collapse_timeout: float = 10.0, heuristic_fraction: float = 0.1,
        heuristic_max: float = 86400.0, default_ttl: float = 0.0, max_ttl: float = 30 * 86400,
        tag_header: str = "cache-tag", key_max_length: int = 512,
        surrogate_control: bool = False,
    ) -> None:
        if set_cookie not in ("bypass", "explicit", "store", "strip"):
            raise ValueError("set_cookie must be 'bypass', 'explicit', 'store' or 'strip', "
                             f"not {set_cookie!r}")
        for label, value in (("max_object_size", max_object_size),
                             ("collapse_timeout", collapse_timeout), ("max_ttl", max_ttl)):
            if value <= 0:
                raise ValueError(f"{label} must be positive, not {value!r}")
        for label, value in (("stale_if_error_default", stale_if_error_default),
                             ("heuristic_max", heuristic_max), ("default_ttl", default_ttl)):
            if value < 0:
                raise ValueError(f"{label} must not be negative, not {value!r}")
        if not 0 <= heuristic_fraction <= 1:
            raise ValueError(f"heuristic_fraction must be within 0..1, not {heuristic_fraction!r}")
        self.name = name
        self.keys = KeyPolicy(ignored_params=ignored_params, max_length=key_max_length)
        fields = (targeted_field.lower(),) + (("cdn-cache-control",) if cdn_cache_control else ())
        self.facts = EntryFacts(targeted_fields=fields, heuristic_fraction=heuristic_fraction,
                                heuristic_max=heuristic_max, default_ttl=default_ttl,
                                surrogate_target=name if surrogate_control else None)
        self.max_object_size = max_object_size
        self.set_cookie = set_cookie
        self.honor_request_directives = honor_request_directives
        self.stale_if_error_default = stale_if_error_default
        self.collapse_timeout = collapse_timeout
        self.max_ttl = max_ttl
        self.tag_header = tag_header.lower()
