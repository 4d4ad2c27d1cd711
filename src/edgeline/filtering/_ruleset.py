"""Rules, actions and phases, compiled once into a Ruleset.

A rule is an id, an expression (the rules language), an action and a phase.
Phases run in this order; within one, rules run in the order given:

``access``     early allow/deny by address, country, ASN (cheap lookups)
``ratelimit``  ``rate_limit`` actions
``auth``       ``require_auth`` actions
``custom``     the operator's general rules (the default phase)
``managed``    the managed signatures shipped with edgeline (see ``managed_rules``)
``transform``  header changes on the way to the origin and back

Actions: ``block`` (status, body), ``allow`` (skip every later rule,
managed ones included), ``log``, ``redirect`` (location, status),
``set_header``/``remove_header`` (on the request or the response),
``rate_limit`` (a named limiter), ``require_auth`` (a named authenticator).
``block``, ``allow`` and ``redirect`` end evaluation; ``rate_limit`` and
``require_auth`` end it only when they refuse the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..headers import Headers
from ._errors import FilterConfigError, RuleError

if TYPE_CHECKING:
    from ._compile import Generator

__all__ = [
    "PHASES",
    "Action",
    "Allow",
    "Block",
    "Log",
    "Redirect",
    "RemoveHeader",
    "RequireAuth",
    "RateLimit",
    "Rule",
    "Ruleset",
    "RulesetInvalid",
    "SetHeader",
    "action_from_dict",
    "compile_ruleset",
]

PHASES: Final = ("access", "ratelimit", "auth", "custom", "managed", "transform")
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")


class Action:
    """Base of the actions; ``terminal`` actions end evaluation when their rule matches."""

    __slots__ = ()
    type = ""
    terminal = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        slot: str
        for slot in self.__slots__:
            out[slot] = getattr(self, slot)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Action) and type(self) is type(other) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.as_dict().items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_dict()!r})"


class Block(Action):
    """Answer ``status`` with ``body`` instead of serving the request."""

    __slots__ = ("status", "body", "content_type")
    type = "block"
    terminal = True

    def __init__(self, status: int = 403, body: str = "",
                 content_type: str = "text/plain; charset=utf-8") -> None:
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise FilterConfigError(f"block: status must be 400-599, not {status!r}")
        if len(body) > 65536:
            raise FilterConfigError("block: body longer than 64 KiB")
        self.status = status
        self.body = body
        self.content_type = content_type


class Allow(Action):
    """Let the request through, skipping every later rule (managed rules included)."""

    __slots__ = ()
    type = "allow"
    terminal = True


class Log(Action):
    """Record the match and go on."""

    __slots__ = ()
    type = "log"


class Redirect(Action):
    """Redirect the client (RFC 9110 §15.4)."""

    __slots__ = ("location", "status", "keep_query")
    type = "redirect"
    terminal = True

    def __init__(self, location: str, status: int = 302, keep_query: bool = False) -> None:
        if status not in (301, 302, 303, 307, 308):
            raise FilterConfigError(f"redirect: status must be 301, 302, 303, 307 or 308, not {status}")
        if not location or any(c in location for c in "\r\n\x00"):
            raise FilterConfigError("redirect: location must be non-empty, without CR, LF or NUL")
        self.location = location
        self.status = status
        self.keep_query = keep_query


def _target(target: str, what: str) -> str:
    if target not in ("request", "response"):
        raise FilterConfigError(f"{what}: target must be 'request' or 'response', not {target!r}")
    return target


class SetHeader(Action):
    """Set a header on the request to the origin or on the response."""

    __slots__ = ("name", "value", "target")
    type = "set_header"

    def __init__(self, name: str, value: str, target: str = "request") -> None:
        try:
            Headers({name: value})
        except (ValueError, TypeError) as exc:
            raise FilterConfigError(f"set_header: {exc}") from None
        self.name = name.lower()
        self.value = value
        self.target = _target(target, "set_header")


class RemoveHeader(Action):
    """Remove a header from the request to the origin or from the response."""

    __slots__ = ("name", "target")
    type = "remove_header"

    def __init__(self, name: str, target: str = "request") -> None:
        try:
            Headers({name: ""})
        except (ValueError, TypeError) as exc:
            raise FilterConfigError(f"remove_header: {exc}") from None
        self.name = name.lower()
        self.target = _target(target, "remove_header")


class RateLimit(Action):
    """Count the request against the named limiter; refuse it with 429 beyond the limit."""

    __slots__ = ("limiter",)
    type = "rate_limit"

    def __init__(self, limiter: str) -> None:
        self.limiter = limiter


class RequireAuth(Action):
    """Refuse the request with 401 unless the named authenticator accepts it."""

    __slots__ = ("authenticator",)
    type = "require_auth"

    def __init__(self, authenticator: str) -> None:
        self.authenticator = authenticator


_ACTIONS: Final[dict[str, type[Action]]] = {
    cls.type: cls for cls in (Block, Allow, Log, Redirect, SetHeader, RemoveHeader, RateLimit,
                              RequireAuth)
}


def action_from_dict(data: Mapping[str, Any]) -> Action:
    """Build an action from ``{"type": "block", "status": 403, ...}``."""
    if not isinstance(data, Mapping) or "type" not in data:
        raise FilterConfigError("an action is an object with a 'type'")
    cls = _ACTIONS.get(str(data["type"]))
    if cls is None:
        raise FilterConfigError(f"unknown action type {data['type']!r} (known: "
                                f"{', '.join(_ACTIONS)})")
    options = {k: v for k, v in data.items() if k != "type"}
    unknown = set(options) - set(cls.__slots__)
    if unknown:
        raise FilterConfigError(f"{cls.type}: unknown option(s) {', '.join(sorted(unknown))}")
    try:
        return cls(**options)
    except TypeError as exc:
        raise FilterConfigError(f"{cls.type}: {exc}") from None


class Rule:
    """One rule: ``id``, ``expression``, ``action``, ``phase``.

    ``tree``: the expression's syntax tree when the caller already has it
    (as :func:`parse` would return it, positions included); otherwise the
    expression is parsed when the ruleset compiles.
    """

    __slots__ = ("id", "expression", "action", "phase", "description", "enabled", "tree")

    def __init__(self, id: str, expression: str, action: Action | Mapping[str, Any],
                 *, phase: str = "custom", description: str = "", enabled: bool = True,
                 tree: Any = None) -> None:
        if not isinstance(id, str) or not _RULE_ID.match(id):
            raise FilterConfigError(f"rule id {id!r} must be 1-64 letters, digits, '_.:-'")
        if phase not in PHASES or phase == "managed":
            raise FilterConfigError(f"rule {id!r}: phase must be one of "
                                    f"{', '.join(p for p in PHASES if p != 'managed')}, not {phase!r}")
        self.id = id
        self.expression = expression
        self.action = action if isinstance(action, Action) else action_from_dict(action)
        self.phase = phase
        self.description = description
        self.enabled = enabled
        self.tree = tree

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Build a rule from its JSON form (``id``, ``expression``, ``action``, ...)."""
        known = {"id", "expression", "action", "phase", "description", "enabled"}
        unknown = set(data) - known
        if unknown:
            raise FilterConfigError(f"rule {data.get('id')!r}: unknown field(s) "
                                    f"{', '.join(sorted(unknown))}")
        for required in ("id", "expression", "action"):
            if required not in data:
                raise FilterConfigError(f"rule {data.get('id')!r}: missing {required!r}")
        return cls(data["id"], data["expression"], data["action"],
                   phase=data.get("phase", "custom"), description=data.get("description", ""),
                   enabled=data.get("enabled", True))

    def __repr__(self) -> str:
        return f"Rule({self.id!r}, {self.expression!r}, {self.action!r}, phase={self.phase!r})"


class RulesetInvalid(FilterConfigError):
    """A ruleset was rejected; ``errors`` holds every problem found (RuleError or other)."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class _Phase:
    __slots__ = ("name", "rules", "evaluate", "code")

    def __init__(self, name: str, rules: list[Rule], evaluate: Any, code: str) -> None:
        self.name = name
        self.rules = rules
        self.evaluate = evaluate
        self.code = code


class Ruleset:
    """Rules compiled per phase, with the lists, limiters and authenticators they name."""

    __slots__ = ("rules", "phases", "lists", "limiters", "authenticators", "managed",
                 "needs_body", "trusted_headers")

    def __init__(self, rules: list[Rule], phases: list[_Phase], lists: Mapping[str, Any],
                 limiters: Mapping[str, Any], authenticators: Mapping[str, Any],
                 managed: Any, needs_body: bool) -> None:
        self.rules = rules
        self.phases = phases
        self.lists = dict(lists)
        self.limiters = dict(limiters)
        self.authenticators = dict(authenticators)
        self.managed = managed
        self.needs_body = needs_body
        trusted: set[str] = set()
        for auth in self.authenticators.values():
            trusted |= set(getattr(auth, "trusted_headers", ()))
        self.trusted_headers = frozenset(trusted)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"<Ruleset {len(self.rules)} rules, phases={[p.name for p in self.phases]}>"


def _phase_function(name: str, rules: list[Rule], trees: list[Any], generator: Generator,
                    sources: list[str]) -> tuple[Any, str]:
    generator.hoist(trees, sources)
    guards = generator.guards(trees) if len(trees) > 1 else {}
    parts = [guards.get(index, ()) for index in range(len(trees))]
    body: list[str] = []
    index = 0
    while index < len(trees):
        # PERF: a guard that the next rules share opens one block for them all, which
        # they are then written inside without it: fewer tests per request, and less
        # for compile() to read when the configuration loads (bench/config.py).
        block, end = "", index + 1
        for part in parts[index]:
            after = index + 1
            while after < len(trees) and part in parts[after]:
                after += 1
            if after > end:
                block, end = part, after
        indent = "    "
        if block:
            body.append(f"    if {block}:")
            indent = "        "
        for at in range(index, end):
            generator.source = sources[at]
            condition = generator.conjoin([part for part in parts[at] if part != block],
                                          trees[at])
            # PERF: one line a rule and a local for append: fewer tokens and nodes for
            # compile() (a seventh less time for 100 rules), which the first request
            # of an isolate pays when its configuration loads (bench/config.py).
            if rules[at].action.terminal:
                body.append(f"{indent}if {condition}: return [*hits, {at}]")
            else:
                body.append(f"{indent}if {condition}: hit({at})")
        index = end
    lines = [f"def _phase_{name}(v):"]
    lines += ["    " + line for line in generator.prologue()]
    lines.append("    hits = []")
    lines.append("    hit = hits.append")
    lines += body
    lines.append("    return hits")
    code = "\n".join(lines)
    namespace = dict(generator.namespace)
    exec(compile(code, f"<ruleset phase {name}>", "exec"), namespace)
    return namespace[f"_phase_{name}"], code


def compile_ruleset(
    rules: Iterable[Rule | Mapping[str, Any]], *, lists: Mapping[str, Any] | None = None,
    limiters: Mapping[str, Any] | None = None, authenticators: Mapping[str, Any] | None = None,
    managed: Any = None,
) -> Ruleset:
    """Check and compile ``rules``; raise RulesetInvalid listing every problem."""
    # PERF: the rules compiler is imported by the first ruleset compiled, not with the
    # middleware (a worker whose configuration has no rules never loads it).
    from ._compile import Generator, check
    from ._parse import parse

    lists = lists or {}
    limiters = limiters or {}
    authenticators = authenticators or {}
    errors: list[Exception] = []
    accepted: list[Rule] = []
    trees: dict[str, Any] = {}
    seen: set[str] = set()
    for position, item in enumerate(rules):
        try:
            rule = item if isinstance(item, Rule) else Rule.from_dict(item)
        except FilterConfigError as exc:
            errors.append(FilterConfigError(f"rules[{position}]: {exc}"))
            continue
        if rule.id in seen:
            errors.append(FilterConfigError(f"rule id {rule.id!r} is used twice"))
            continue
        seen.add(rule.id)
        action = rule.action
        if isinstance(action, RateLimit) and action.limiter not in limiters:
            errors.append(FilterConfigError(
                f"rule {rule.id!r}: no rate limiter named {action.limiter!r} "
                f"(known: {', '.join(sorted(limiters)) or 'none'})"))
            continue
        if isinstance(action, RequireAuth) and action.authenticator not in authenticators:
            errors.append(FilterConfigError(
                f"rule {rule.id!r}: no authenticator named {action.authenticator!r} "
                f"(known: {', '.join(sorted(authenticators)) or 'none'})"))
            continue
        if not isinstance(rule.expression, str):
            errors.append(FilterConfigError(f"rule {rule.id!r}: expression must be a string"))
            continue
        try:
            tree = rule.tree if rule.tree is not None else parse(rule.expression)
            type_ = check(tree, rule.expression, lists)
            if type_ != "bool":
                raise RuleError(f"a rule's expression must be a condition, not {type_}",
                                rule.expression, 0)
        except RuleError as exc:
            errors.append(exc.with_rule(rule.id))
            continue
        if rule.enabled:
            trees[rule.id] = tree
            accepted.append(rule)
    if errors:
        raise RulesetInvalid(errors)
    phases: list[_Phase] = []
    needs_body = managed is not None and getattr(managed, "inspects_body", False)
    for name in PHASES:
        if name == "managed":
            continue
        members = [r for r in accepted if r.phase == name]
        if not members:
            continue
        generator = Generator(lists)
        function, code = _phase_function(name, members, [trees[r.id] for r in members],
                                         generator, [r.expression for r in members])
        if "http.body" in generator.fields:
            needs_body = True
        phases.append(_Phase(name, members, function, code))
    return Ruleset(accepted, phases, lists, limiters, authenticators, managed, needs_body)
