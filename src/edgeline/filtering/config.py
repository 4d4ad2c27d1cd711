"""Compile the ``rules`` part of a KV configuration into a Ruleset (the configuration-plane hook).

Register it with the configuration plane (which owns ``edgeline.config``)::

    from edgeline.config import compiler
    from edgeline.filtering.config import compile_rules_part  # imports msgspec lazily
    compiler("rules")(compile_rules_part)

It reads ``config.rules`` and ``config.ip_lists`` of a ``kv_schemas.EdgeConfig``.
A rule is either today's structured ``match`` (methods, path prefix, hosts,
countries, ASNs, IP list), which is translated into an expression, or, once
the schema gains it, an ``expression`` string in the rules language; either
way every problem is reported at its field path, with line and column for
expressions. Fields this code does not know yet are read with ``getattr`` and
defaults, so the hook works before and after the schema change.
"""

from __future__ import annotations

from typing import Any

from ._errors import FilterConfigError, RuleError
from ._lists import IPRangeSet, ListError
from ._managed import ManagedRules
from ._parse import _quote
from ._ruleset import Rule, Ruleset, RulesetInvalid, compile_ruleset

__all__ = ["compile_rules_part", "match_to_expression"]


def match_to_expression(match: Any) -> str:
    """Translate a structured ``kv_schemas.Match`` into an equivalent expression."""
    parts: list[str] = []
    if match.methods:
        parts.append("http.method in {" + " ".join(_quote(m) for m in match.methods) + "}")
    if match.path_prefix is not None:
        parts.append(f"http.path starts_with {_quote(match.path_prefix)}")
    if match.hosts:
        hosts = []
        for pattern in match.hosts:
            host = pattern.lower()
            if host.startswith("*."):
                hosts.append(f"http.host ends_with {_quote(host[1:])}")
            else:
                hosts.append(f"http.host == {_quote(host)}")
        parts.append(hosts[0] if len(hosts) == 1 else "(" + " or ".join(hosts) + ")")
    if match.countries:
        parts.append("geo.country in {" + " ".join(_quote(c) for c in match.countries) + "}")
    if match.asns:
        parts.append("geo.asn in {" + " ".join(str(a) for a in match.asns) + "}")
    if match.ip_list is not None:
        parts.append(f"ip.src in ${match.ip_list}")
    return " and ".join(parts) if parts else "true"


def _action(action: Any) -> dict[str, Any]:
    kind = type(action).__name__.lower()
    if kind == "block":
        return {"type": "block", "status": action.status, "body": action.message}
    if kind in ("allow", "log"):
        return {"type": kind}
    # A variant added to the schema later: its fields are the action's options.
    import msgspec
    data = msgspec.to_builtins(action)
    return dict(data) if isinstance(data, dict) else {"type": kind}


def compile_rules_part(config: Any, build: Any) -> Ruleset:
    """Compile ``config.rules`` (with ``config.ip_lists``); record problems on ``build``."""
    lists: dict[str, Any] = {}
    for index, item in enumerate(getattr(config, "ip_lists", ())):
        try:
            lists[item.name] = IPRangeSet(item.entries, name=item.name)
        except ListError as exc:
            build.problem(f"$.ip_lists[{index}].entries[{(exc.line or 1) - 1}]", exc.reason)
    rules: list[Rule] = []
    paths: dict[str, int] = {}
    for index, item in enumerate(getattr(config, "rules", ())):
        path = f"$.rules[{index}]"
        expression = getattr(item, "expression", None) or match_to_expression(item.match)
        try:
            rules.append(Rule(item.id, expression, _action(item.action),
                              phase=getattr(item, "phase", "custom"), description=item.description,
                              enabled=item.enabled))
            paths[item.id] = index
        except FilterConfigError as exc:
            build.problem(f"{path}", str(exc))
    paranoia = getattr(config, "managed_paranoia", None)
    managed = ManagedRules(paranoia) if paranoia else None
    try:
        return compile_ruleset(rules, lists=lists, managed=managed)
    except RulesetInvalid as invalid:
        for error in invalid.errors:
            if isinstance(error, RuleError) and error.rule in paths:
                where = f"$.rules[{paths[error.rule]}].expression"
                build.problem(where, f"line {error.line}, column {error.column}: {error.message}")
            else:
                build.problem("$.rules", str(error))
        return compile_ruleset([], lists=lists)
