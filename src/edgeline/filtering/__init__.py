"""Request filtering: a rules language compiled at load, lists, managed rules, rate limits, auth.

::

    from edgeline.filtering import (Rule, compile_ruleset, firewall, IPRangeSet,
                                    RateLimiter, JWTAuthenticator, ManagedRules)

    ruleset = compile_ruleset(
        [
            Rule("office-only", 'http.path starts_with "/admin" and not ip.src in $office',
                 {"type": "block", "status": 403}),
            Rule("api-rate", 'http.path starts_with "/api/"', {"type": "rate_limit",
                 "limiter": "api"}, phase="ratelimit"),
        ],
        lists={"office": IPRangeSet(["203.0.113.0/24"])},
        limiters={"api": RateLimiter("api", limit=100, period=60)},
        managed=ManagedRules(paranoia=1),
    )
    app.use(firewall(ruleset))

    app.use(managed_rules(paranoia=2))      # managed rules alone, in front of any origin

Every request is normalized first (:mod:`._normalize`); rules and
signatures see the normal form. See ``docs/rules.md`` for the language.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._lazy import lazy_names
from ..types import Middleware
from ._engine import MAX_BODY, RULE_HEADER, STATE_KEY, firewall

if TYPE_CHECKING:
    from ._ast import Binary, Call, Field, Index, ListRef, Literal, Logical, Node, Not, SetLit
    from ._auth import (
        ALGORITHMS,
        APIKeyAuthenticator,
        AuthResult,
        CryptographyVerifier,
        HMACVerifier,
        JWTAuthenticator,
        Verifier,
        hash_api_key,
    )
    from ._compile import Expression, compile_expression, interpret
    from ._errors import FilterConfigError, RuleError
    from ._fields import FIELDS, FUNCTIONS, MAPS
    from ._http import cors, security_headers
    from ._lists import ASNList, IPRangeSet, ListError, PatternList, StringList, build_list, ip_key
    from ._managed import Hit, ManagedRules
    from ._normalize import normalize_host, normalize_path
    from ._parse import parse, unparse
    from ._ratelimit import Decision, MemoryStore, PenaltyBox, RateLimiter
    from ._regex import RegexRejected, compile_safe
    from ._ruleset import (
        PHASES,
        Action,
        Allow,
        Block,
        Log,
        RateLimit,
        Redirect,
        RemoveHeader,
        RequireAuth,
        Rule,
        Ruleset,
        RulesetInvalid,
        SetHeader,
        compile_ruleset,
    )
    from ._view import RequestView

# PERF: submodules are imported on first use (PEP 562), so that a worker pays at
# start-up only for what its code touches.
_SUBMODULES = {
    "._ast": (
        "Binary", "Call", "Field", "Index", "ListRef", "Literal", "Logical", "Node", "Not",
        "SetLit",
    ),
    "._auth": (
        "ALGORITHMS", "APIKeyAuthenticator", "AuthResult", "CryptographyVerifier",
        "HMACVerifier", "JWTAuthenticator", "Verifier", "hash_api_key",
    ),
    "._compile": ("Expression", "compile_expression", "interpret"),
    "._errors": ("FilterConfigError", "RuleError"),
    "._fields": ("FIELDS", "FUNCTIONS", "MAPS"),
    "._http": ("cors", "security_headers"),
    "._lists": (
        "ASNList", "IPRangeSet", "ListError", "PatternList", "StringList", "build_list",
        "ip_key",
    ),
    "._managed": ("Hit", "ManagedRules"),
    "._normalize": ("normalize_host", "normalize_path"),
    "._parse": ("parse", "unparse"),
    "._ratelimit": ("Decision", "MemoryStore", "PenaltyBox", "RateLimiter"),
    "._regex": ("RegexRejected", "compile_safe"),
    "._view": ("RequestView",),
    "._ruleset": (
        "PHASES", "Action", "Allow", "Block", "Log", "RateLimit", "Redirect", "RemoveHeader",
        "RequireAuth", "Rule", "Ruleset", "RulesetInvalid", "SetHeader", "compile_ruleset",
    ),
}

__all__ = [
    "ALGORITHMS",
    "FIELDS",
    "FUNCTIONS",
    "MAPS",
    "MAX_BODY",
    "PHASES",
    "RULE_HEADER",
    "STATE_KEY",
    "APIKeyAuthenticator",
    "ASNList",
    "Action",
    "Allow",
    "AuthResult",
    "Binary",
    "Block",
    "Call",
    "CryptographyVerifier",
    "Decision",
    "Expression",
    "Field",
    "FilterConfigError",
    "HMACVerifier",
    "Hit",
    "IPRangeSet",
    "Index",
    "JWTAuthenticator",
    "ListError",
    "ListRef",
    "Literal",
    "Log",
    "Logical",
    "ManagedRules",
    "MemoryStore",
    "Node",
    "Not",
    "PatternList",
    "PenaltyBox",
    "RateLimit",
    "RateLimiter",
    "Redirect",
    "RegexRejected",
    "RemoveHeader",
    "RequestView",
    "RequireAuth",
    "Rule",
    "RuleError",
    "Ruleset",
    "RulesetInvalid",
    "SetLit",
    "SetHeader",
    "StringList",
    "Verifier",
    "build_list",
    "compile_expression",
    "compile_ruleset",
    "compile_safe",
    "cors",
    "firewall",
    "hash_api_key",
    "interpret",
    "ip_key",
    "managed_rules",
    "normalize_host",
    "normalize_path",
    "parse",
    "security_headers",
    "unparse",
]


def managed_rules(paranoia: int = 1, *, mode: str = "block", exclude: Iterable[str] = (),
                  inspect_body: bool = True, max_body: int = MAX_BODY, dev: bool = False,
                  status: int = 403) -> Middleware:
    """Return middleware running only the managed rules at ``paranoia`` (1-4).

    ``mode="log"`` records matches without blocking; ``exclude`` turns off
    rule ids or id prefixes (``"EL-PROBE-101"`` for a WordPress origin);
    ``dev`` names the matched rule in the ``x-edgeline-rule`` header.
    """
    from ._managed import ManagedRules
    from ._ruleset import compile_ruleset

    managed = ManagedRules(paranoia, mode=mode, exclude=exclude, inspect_body=inspect_body,
                           max_body=max_body, status=status)
    middleware = firewall(compile_ruleset([], managed=managed), dev=dev, max_body=max_body)
    middleware.__qualname__ = f"managed_rules(paranoia={paranoia})"
    return middleware

__getattr__, __dir__ = lazy_names(__name__, globals(), _SUBMODULES)
