"""Safe geo redirects: targets that can only go where the operator allowed, and bot exemption.

APPSEC: a redirect whose target any input can steer is an open redirect.
Every Location this module produces passes :func:`safe_location`:

- a relative target is an absolute path: it starts with one ``/`` and its
  second character is neither ``/`` nor ``\\`` (``//evil.com`` and
  ``/\\evil.com`` are network-path references to another host in browsers,
  RFC 3986 §4.2 and the WHATWG URL parser's backslash rule);
- an absolute target is ``https://`` (or ``http://``) with a host that is in
  the allowlist exactly, no userinfo and no port (``https:evil.com`` has no
  authority and is refused; ``https://ok.com@evil.com`` has userinfo);
- control characters, spaces and backslashes are refused anywhere (CR/LF
  would split the response; browsers strip tabs and newlines from URLs);
- the first two characters are also checked after percent-decoding, so
  that ``/%2F%2Fevil.com`` cannot become ``//evil.com`` in a layer that
  decodes before redirecting again.

The client's path and query are carried into the target percent-encoded
(:func:`quote_path`), never raw.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import quote, unquote, urlsplit

from ..geo import GeoContext

__all__ = ["SEARCH_BOT", "is_search_bot", "quote_path", "safe_location"]

# RFC 3986 §3.3 pchar plus "/" and "%" (already-encoded octets stay as they are).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")

# User agents of the crawlers of search engines (the exemption only skips the
# redirect; spoofing one gains a client nothing an opt-out cookie would not).
SEARCH_BOT = re.compile(
    r"googlebot|google-inspectiontool|storebot-google|adsbot-google|bingbot|bingpreview|"
    r"duckduckbot|yandex(?:bot|images)|baiduspider|applebot|slurp|seznambot|qwantbot|"
    r"petalbot|yeti/|sogou web spider|exabot|mojeekbot",
    re.IGNORECASE,
)


def quote_path(path: str) -> str:
    """Percent-encode what may not appear raw in a path, keeping existing escapes."""
    return quote(path, safe=_PATH_SAFE)


def quote_query(query: str) -> str:
    """Percent-encode what may not appear raw in a query, keeping existing escapes."""
    return quote(query, safe=_QUERY_SAFE)


def safe_location(target: str, allowed_hosts: Collection[str]) -> str | None:
    """Return ``target`` if it is a safe redirect target, else None (see the module docstring)."""
    if not target or len(target) > 8192 or _UNSAFE_CHARS.search(target):
        return None
    if target[0] == "/":
        head = unquote(target[:9])
        if len(head) > 1 and head[1] in "/\\":
            return None
        if len(target) > 1 and target[1] in "/\\":
            return None
        return target
    scheme, sep, _ = target.partition("://")
    if not sep or scheme.lower() not in ("https", "http"):
        return None  # "https:evil.com", "javascript:...", "evil.com/x"
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    netloc = parts.netloc
    if not netloc or "@" in netloc or ":" in netloc or "%" in netloc:
        return None
    if netloc.lower() not in allowed_hosts:
        return None
    return target


def is_search_bot(user_agent: str | None, geo: GeoContext) -> bool:
    """Tell whether the client is a search-engine crawler, verified where cf can tell.

    The user agent must name a known crawler. Where Cloudflare reports bot
    verification (``cf.botManagement.verifiedBot``, ``cf.verifiedBotCategory``)
    the client must also be verified, and a given category must be a search
    engine's; without those fields (no Bot Management) the user agent decides.
    """
    if not user_agent or not SEARCH_BOT.search(user_agent):
        return False
    verified = geo.verified_bot
    if verified is False:
        return False  # says it is Googlebot, Cloudflare says it is not
    category = geo.verified_bot_category
    if category is not None and "search engine" not in category.lower():
        return False
    return True
