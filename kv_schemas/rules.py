"""Request filtering rules, as data.

A ``Rule`` has an ``id``, a condition and an ``action``. The condition is an
``expression`` in the rules language (docs/rules.md), or, for simple cases, a
structured ``match`` (every condition given must hold; an empty match
matches every request); an expression wins when both are given. The action
is a tagged union on ``type``: ``block`` (answer ``status``), ``allow`` (stop
evaluating, let the request through), ``log`` (record and go on),
``redirect``, ``set_header``, ``remove_header``, ``rate_limit`` (count the
request against a limit of ``EdgeConfig.rate_limits``; 429 beyond it) and
``require_auth`` (an authenticator of ``EdgeConfig.authenticators`` must
accept the request; 401 otherwise). Rules run phase by phase
(``access``, ``ratelimit``, ``auth``, ``custom``, ``transform``), in list
order within a phase. Expressions are compiled when configuration loads; a
rule that does not compile is reported with its line and column and the
whole configuration is rejected.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ._base import CountryCode, HostPattern, Method, Name, Schema

__all__ = ["Allow", "Block", "Log", "Match", "RateLimit", "Redirect", "RemoveHeader",
           "RequireAuth", "Rule", "RuleAction", "SetHeader"]


class Match(Schema, frozen=True):
    """Conditions on a request; all that are given must hold."""

    methods: tuple[Method, ...] = ()
    path_prefix: Annotated[str, msgspec.Meta(pattern=r"^/", max_length=2048)] | None = None
    hosts: tuple[HostPattern, ...] = ()
    countries: tuple[CountryCode, ...] = ()
    asns: tuple[Annotated[int, msgspec.Meta(ge=0, le=4294967295)], ...] = ()
    # The client's address is in this IP list (a key of EdgeConfig.ip_lists).
    ip_list: Name | None = None


class Block(Schema, frozen=True, tag="block", tag_field="type"):
    """Refuse the request."""

    status: Annotated[int, msgspec.Meta(ge=400, le=599)] = 403
    message: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class Allow(Schema, frozen=True, tag="allow", tag_field="type"):
    """Let the request through without evaluating later rules."""


class Log(Schema, frozen=True, tag="log", tag_field="type"):
    """Record that the rule matched, and go on."""


class Redirect(Schema, frozen=True, tag="redirect", tag_field="type"):
    """Send the client elsewhere (RFC 9110 §15.4)."""

    location: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    status: Literal[301, 302, 303, 307, 308] = 302
    keep_query: bool = False


HeaderName = Annotated[str, msgspec.Meta(pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$", max_length=256)]
Target = Literal["request", "response"]


class SetHeader(Schema, frozen=True, tag="set_header", tag_field="type"):
    """Set a header on the request to the origin, or on the response."""

    name: HeaderName
    value: Annotated[str, msgspec.Meta(max_length=8192)]
    target: Target = "request"


class RemoveHeader(Schema, frozen=True, tag="remove_header", tag_field="type"):
    """Remove a header from the request to the origin, or from the response."""

    name: HeaderName
    target: Target = "request"


class RateLimit(Schema, frozen=True, tag="rate_limit", tag_field="type"):
    """Count the request against the named limit (a name in EdgeConfig.rate_limits)."""

    limiter: Name


class RequireAuth(Schema, frozen=True, tag="require_auth", tag_field="type"):
    """Refuse the request unless the named authenticator (in EdgeConfig.authenticators) accepts it."""

    authenticator: Name


RuleAction = Block | Allow | Log | Redirect | SetHeader | RemoveHeader | RateLimit | RequireAuth
Phase = Literal["access", "ratelimit", "auth", "custom", "transform"]


class Rule(Schema, frozen=True):
    """One filtering rule."""

    id: Name
    action: RuleAction
    match: Match = msgspec.field(default_factory=Match)
    # The condition in the rules language; wins over ``match`` when given.
    expression: Annotated[str, msgspec.Meta(min_length=1, max_length=16384)] | None = None
    phase: Phase = "custom"
    enabled: bool = True
    description: str = ""
