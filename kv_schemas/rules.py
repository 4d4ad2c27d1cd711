"""Request filtering rules, as data.

A ``Rule`` has an ``id``, a ``match`` (every condition given must hold; an
empty match matches every request) and an ``action``, a tagged union on
``type``: ``block`` (answer ``status``), ``allow`` (stop evaluating, let the
request through) or ``log`` (record and go on). Rules run in list order.

NOTE: this is the minimal, versioned shape the configuration plane validates
today (references to IP lists are checked when configuration loads); the
filtering issue adds the evaluator and may add conditions and actions,
following the evolution rules in :mod:`kv_schemas`.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ._base import CountryCode, HostPattern, Method, Name, Schema

__all__ = ["Allow", "Block", "Log", "Match", "Rule", "RuleAction"]


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


RuleAction = Block | Allow | Log


class Rule(Schema, frozen=True):
    """One filtering rule."""

    id: Name
    action: RuleAction
    match: Match = msgspec.field(default_factory=Match)
    enabled: bool = True
    description: str = ""
