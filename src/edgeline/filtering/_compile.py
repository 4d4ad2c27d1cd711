"""Type-check rule expressions and compile them, once, into Python code.

Compilation turns each rule's tree into one Python expression over local
variables; a whole phase of rules becomes one generated function that
loads every scalar field it needs from the :class:`RequestView` once and
then tests the rules in order with plain ``if`` statements (PERF: no
per-node calls, no dispatch, constants and bound methods in the function's
globals). Regexes are compiled with :func:`compile_safe`, sets become
frozensets or IP range sets, list references are resolved to the list
objects, all at load time.

:func:`interpret` walks the same tree per request with no preparation at
all; it is the reference the compiled code is tested against, and the
baseline of ``bench/rules.py``.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Mapping
from typing import Any, Final

from ._ast import Binary, Call, Field, Index, ListRef, Literal, Logical, Node, Not, SetLit
from ._errors import RuleError
from ._fields import FIELDS, FUNCTIONS, MAPS, to_string, url_decode
from ._lists import ASNList, IPRangeSet, PatternList, StringList, parse_network
from ._parse import parse
from ._regex import MAX_SUBJECT, RegexRejected, compile_safe, literal_prefix

__all__ = ["Expression", "Generator", "check", "compile_expression", "interpret"]

_ORDER: Final = frozenset({"<", ">", "<=", ">="})
_STRING_OPS: Final = frozenset({"contains", "starts_with", "ends_with", "matches"})
_LIST_TYPES: Final[dict[type, str]] = {IPRangeSet: "ip", ASNList: "int", StringList: "str",
                                       PatternList: "str"}


class _Checker:
    """Infer and check the type of every node; raise RuleError at the first mistake."""

    __slots__ = ("source", "lists")

    def __init__(self, source: str, lists: Mapping[str, Any]) -> None:
        self.source = source
        self.lists = lists

    def fail(self, message: str, node: Node) -> RuleError:
        return RuleError(message, self.source, node.pos)

    def type_of(self, node: Node) -> str:
        # PERF: the most frequent nodes of rules are tested first.
        if isinstance(node, Binary):
            self.binary(node)
            return "bool"
        if isinstance(node, Logical):
            for item in node.items:
                got = self.type_of(item)
                if got != "bool":
                    raise self.fail(f"'{node.op}' needs true/false operands, not {got}", item)
            return "bool"
        if isinstance(node, Field):
            spec = FIELDS.get(node.name)
            if spec is None:
                if node.name in MAPS:
                    raise self.fail(f"{node.name} is a map: index it, as in "
                                    f"{node.name}[\"name\"]", node)
                raise self.fail(f"unknown field {node.name!r}{_suggest(node.name)}", node)
            return spec[0]
        if isinstance(node, Literal):
            return node.kind
        if isinstance(node, Not):
            got = self.type_of(node.item)
            if got != "bool":
                raise self.fail(f"'not' needs true/false operands, not {got}", node.item)
            return "bool"
        if isinstance(node, Index):
            if node.name not in MAPS:
                what = "a field" if node.name in FIELDS else "unknown"
                raise self.fail(f"{node.name!r} cannot be indexed ({what}; maps are "
                                f"{', '.join(MAPS)})", node)
            if self.type_of(node.key) != "str":
                raise self.fail("a map key must be a string", node.key)
            return "str"
        if isinstance(node, Call):
            fspec = FUNCTIONS.get(node.name)
            if fspec is None:
                raise self.fail(f"unknown function {node.name!r} (known: "
                                f"{', '.join(sorted(FUNCTIONS))})", node)
            params: tuple[str, ...] | None = fspec[0]
            result = fspec[1]
            if params is None:
                if not node.args:
                    raise self.fail(f"{node.name}() needs at least one argument", node)
                for arg in node.args:
                    if self.type_of(arg) in ("map", "net"):
                        raise self.fail(f"{node.name}() cannot take this value", arg)
                return result
            if len(node.args) != len(params):
                raise self.fail(f"{node.name}() takes {len(params)} argument"
                                f"{'s' if len(params) != 1 else ''}, not {len(node.args)}", node)
            for arg, want in zip(node.args, params, strict=True):
                got = self.type_of(arg)
                if want != "any" and got != want:
                    raise self.fail(f"{node.name}() expects {want}, not {got}", arg)
            return result
        if isinstance(node, (SetLit, ListRef)):
            raise self.fail("a set or list can only follow 'in'", node)
        raise TypeError(f"not a node: {node!r}")

    def binary(self, node: Binary) -> None:
        left = self.type_of(node.left)
        op = node.op
        if op == "in":
            right = node.right
            if isinstance(right, ListRef):
                found = self.lists.get(right.name)
                if found is None:
                    known = ", ".join(f"${n}" for n in sorted(self.lists)) or "none"
                    raise self.fail(f"no list named ${right.name} (known: {known})", right)
                want = _LIST_TYPES.get(type(found))
                if want != left:
                    raise self.fail(f"${right.name} holds {_kind(found)}; it cannot be "
                                    f"matched against {left}", right)
                return
            assert isinstance(right, SetLit)
            if left == "ip":
                for item in right.items:
                    if item.kind not in ("net", "str"):
                        raise self.fail("an IP set holds addresses and networks", item)
                    _network(self, item)
                return
            if left not in ("str", "int", "bool"):
                raise self.fail(f"a {left} value cannot be tested against a set", node.left)
            for item in right.items:
                if item.kind != left:
                    raise self.fail(f"set item is {item.kind}, but the value is {left}", item)
            return
        right_type = self.type_of(node.right)
        if left == "ip":
            if op not in ("==", "!="):
                raise self.fail(f"'{op}' does not apply to an address (use == or 'in')", node)
            if right_type not in ("net", "str") or not isinstance(node.right, Literal):
                raise self.fail("compare the address with an IP or CIDR literal", node.right)
            _network(self, node.right)
            return
        if right_type == "net" or left == "net":
            raise self.fail("an IP literal can only be compared with ip.src", node)
        if op in _STRING_OPS:
            if left != "str" or right_type != "str":
                raise self.fail(f"'{op}' needs strings, not {left} and {right_type}", node)
            if op == "matches":
                if not isinstance(node.right, Literal):
                    raise self.fail("the pattern of 'matches' must be a string literal",
                                    node.right)
                _regex(self, node.right)
            return
        if left != right_type:
            raise self.fail(f"cannot compare {left} with {right_type}", node)
        if op in _ORDER and left == "bool":
            raise self.fail(f"'{op}' does not apply to true/false", node)


def _kind(found: object) -> str:
    return {IPRangeSet: "IP networks", ASNList: "AS numbers", StringList: "strings",
            PatternList: "user-agent patterns"}.get(type(found), "values")


def _network(checker: _Checker, item: Literal) -> tuple[int, int]:
    try:
        return parse_network(str(item.value))
    except ValueError as exc:
        raise checker.fail(str(exc), item) from None


def _regex(checker: _Checker, item: Literal) -> re.Pattern[str]:
    try:
        return compile_safe(str(item.value))
    except RegexRejected as exc:
        # Point at the pattern literal; its offset inside the string when known.
        pos = item.pos + (2 if checker.source.startswith("r", item.pos) else 1) + exc.offset
        raise RuleError(f"regex rejected: {exc}", checker.source, pos) from None


def _suggest(name: str) -> str:
    import difflib
    close = difflib.get_close_matches(name, list(FIELDS) + list(MAPS), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def check(node: Node, source: str, lists: Mapping[str, Any] | None = None) -> str:
    """Return the type of ``node``; raise RuleError if it is not well typed."""
    return _Checker(source, lists or {}).type_of(node)


# -- code generation ----------------------------------------------------------------

# How tightly a piece of generated code binds, loosest first. PERF: code is
# parenthesized only where Python needs it: compile() reads every pair of
# parentheses at a cost (about a microsecond a pair on CPython 3.11), and a
# configuration's rules pay it when they load (bench/config.py).
_OR: Final = 1
_AND: Final = 2
_NOT: Final = 3
_CMP: Final = 4  # comparisons and membership tests; they chain, so an operand needs _ATOM
_ATOM: Final = 5  # names, literals, calls, subscripts
_LEAVES: Final = frozenset({Literal, Field, SetLit, ListRef})
_IP_TESTS: Final = frozenset({"in", "==", "!="})
_NO_FIELD: Final = ("",)


class Generator:
    """Turn checked trees into Python source over shared constants and field locals.

    Each load compiles its own trees; within one compile, what several passes
    need of a node (its set's values, a network, a regex and its literal
    prefix) is worked out once, and nodes computed up front are found by
    identity (PERF: no hashing or comparing of subtrees while code is written).
    """

    __slots__ = ("namespace", "fields", "maps", "uses_ip", "_constants", "source", "lists",
                 "named", "_lines", "_sets", "_networks", "_regexes")

    def __init__(self, lists: Mapping[str, Any] | None = None) -> None:
        self.namespace: dict[str, Any] = {"_url_decode": url_decode, "_to_string": to_string,
                                          "_MAX": MAX_SUBJECT}
        self.fields: dict[str, str] = {}  # field name -> local variable
        self.maps: dict[str, str] = {}
        self.uses_ip = False
        self._constants: dict[tuple[str, Any], str] = {}
        self.source = ""
        self.lists = lists or {}
        # id() of a node of the trees being compiled -> the local computed up front for it
        self.named: dict[int, str] = {}
        self._lines: list[str] = []  # the statements that compute those locals
        self._sets: dict[int, frozenset[Any]] = {}
        self._networks: dict[str, tuple[int, int]] = {}
        self._regexes: dict[str, tuple[re.Pattern[str], str]] = {}

    def hoist(self, trees: list[Node], sources: list[str]) -> None:
        """Compute pure subexpressions used more than once a single time, up front.

        PERF: ``lower(http.user_agent)`` or ``ip.src in $blocklist`` written in
        twenty rules is evaluated once per request. Only cheap, total nodes
        are hoisted (function calls, map lookups, IP membership); regexes
        stay behind the ``and`` that guards them.
        """
        found: dict[Node, list[Node]] = {}  # a subtree -> its occurrences, in order
        order: list[tuple[list[Node], str]] = []
        nodes: list[Node] = []
        for tree, source in zip(trees, sources, strict=True):
            if type(tree) in _LEAVES:
                continue
            _hoistables(tree, nodes)
            for node in nodes:
                same = found.get(node)
                if same is None:
                    found[node] = [node]
                    continue
                same.append(node)
                if len(same) == 2:
                    order.append((same, source))
            nodes.clear()
        named = self.named
        for same, source in order:
            self.source = source
            code = self.code(same[0])[0]
            name = f"h{len(self._lines)}"
            self._lines.append(f"{name} = {code}")
            for node in same:
                named[id(node)] = name

    def guards(self, trees: list[Node]) -> dict[int, list[str]]:
        """Give rules that share a cheap necessary test one guard, computed up front.

        A rule ``A and B and ...`` can only match when each conjunct holds,
        and ``A or B`` only when one of them does. Tests of the same kind on
        the same value, in two rules or more (``http.path starts_with
        "/admin/3"`` and ``... "/api/v2/"``; ``http.header["x-v"] == "1"``
        and ``... == "2"``; ``ip.src in {10.0.0.0/8}`` and ``ip.src ==
        192.0.2.1``), are summed up by one test that holds whenever any of
        them does (``f.startswith(("/admin/3", "/api/v2/"))``,
        ``m.get("x-v") in {"1", "2"}``, one lookup in the union of the
        networks). Returns rule index -> its guards (``["g1", "(g2 or g4)"]``,
        each fit to be an operand of ``and``); the rule's code becomes
        ``g1 and (g2 or g4) and (rule)``. The rules themselves are unchanged,
        so a guard can only skip work, never change a verdict.

        PERF: most requests match few rules; a guard that fails skips its
        rules for one local-variable test each.
        """
        needs: list[tuple[int, tuple[tuple[Any, Any, Node], ...]]] = []  # (rule, need)
        members: dict[Any, list[tuple[Any, Node]]] = {}
        owner: dict[Any, int] = {}  # a test -> the first rule that needs it
        shared: set[Any] = set()  # tests needed by two rules or more
        for index, tree in enumerate(trees):
            items = tree.items if isinstance(tree, Logical) and tree.op == "and" else (tree,)
            for item in items:
                anchor = self._anchor(item)
                need = (anchor,) if anchor is not None else self._alternatives(item)
                if need is None:
                    continue
                needs.append((index, need))
                for key, value, node in need:
                    group = members.get(key)
                    if group is None:
                        members[key] = [(value, node)]
                        owner[key] = index
                    else:
                        group.append((value, node))
                        if owner[key] != index:
                            shared.add(key)
        # name, and whether it is a guard (True) or the very test the rules make (False)
        names: dict[Any, tuple[str, bool]] = {}
        out: dict[int, list[str]] = {}
        for index, need in needs:
            if len(need) == 1:
                key = need[0][0]
                if key not in shared:
                    continue
                name, useful = names.get(key) or self._guard_name(key, members[key], names)
                part = name
            else:
                if not all(key in shared for key, _, _ in need):
                    continue
                alternatives: list[str] = []
                useful = False
                for key, _, _ in need:
                    name, guard = names.get(key) or self._guard_name(key, members[key], names)
                    if name not in alternatives:
                        alternatives.append(name)
                    useful = useful or guard
                part = (alternatives[0] if len(alternatives) == 1
                        else f"({' or '.join(alternatives)})")
            if useful:  # else the rule makes the same test, computed up front
                parts = out.get(index)
                if parts is None:
                    out[index] = [part]
                else:
                    parts.append(part)
        return out

    def _guard_name(self, key: Any, members: list[tuple[Any, Node]],
                    names: dict[Any, tuple[str, bool]]) -> tuple[str, bool]:
        exact = all(node.op != "matches" for _, node in members)  # type: ignore[union-attr]
        first = members[0][0]
        if exact and all(value == first for value, _ in members):
            # Every rule makes this same test: compute it once, where the rules make it.
            code = self.code(members[0][1])[0]
            guard = False
        else:
            subject = members[0][1].left  # type: ignore[union-attr]
            code = self._guard_code(key, [value for value, _ in members], subject)
            guard = True
        if code.isidentifier():
            name = code  # already computed up front
        else:
            name = f"g{len(self._lines)}"
            self._lines.append(f"{name} = {code}")
        if not guard:
            for _, node in members:
                self.named[id(node)] = name
        names[key] = (name, guard)
        return name, guard

    def _alternatives(self, node: Node) -> tuple[tuple[Any, Any, Node], ...] | None:
        """Return, for ``A or B``, a test that ``A`` needs and one that ``B`` needs, or None."""
        if not (isinstance(node, Logical) and node.op == "or"):
            return None
        alternatives = []
        for item in node.items:
            conjuncts = item.items if isinstance(item, Logical) and item.op == "and" else (item,)
            found = next((anchor for conjunct in conjuncts
                          if (anchor := self._anchor(conjunct)) is not None), None)
            if found is None:
                return None
            alternatives.append(found)
        return tuple(alternatives)

    def _anchor(self, node: Node) -> tuple[Any, Any, Node] | None:
        """Return (kind and subject, value, node) of a test a guard can sum up, or None."""
        if not isinstance(node, Binary):
            return None
        left, op, right = node.left, node.op, node.right
        subject: Any
        if isinstance(left, Field):
            if FIELDS.get(left.name, _NO_FIELD)[0] == "ip":
                if op == "in" and isinstance(right, ListRef):
                    return ("list", left.name, right.name), None, node
                if op == "in" and isinstance(right, SetLit):
                    items: tuple[Literal, ...] = right.items
                elif op == "==" and isinstance(right, Literal):
                    items = (right,)
                else:
                    return None
                return ("ip",), [self.network(item) for item in items], node
            subject = left.name
        elif isinstance(left, Index):
            subject = (left.name, left.key.value) if isinstance(left.key, Literal) else left
        elif isinstance(left, Call):
            subject = left
        else:
            return None
        if op == "in":
            if isinstance(right, SetLit):
                return ("in", subject), self.set_values(right), node
            if isinstance(right, ListRef):
                return ("list", subject, right.name), None, node
            return None
        if not isinstance(right, Literal):
            return None
        value = right.value
        if isinstance(value, bool):
            return None
        if op == "==":
            return ("in", subject), frozenset((value,)), node
        if op in ("starts_with", "ends_with") and isinstance(value, str):
            return (op, subject), value, node
        if op == "contains" and isinstance(value, str) and value:
            return ("contains", subject, value[:4]), value, node
        if op == "matches":
            prefix = self.regex(right)[1]
            return (("starts_with", subject), prefix, node) if prefix else None
        if op in _ORDER and type(value) is int:
            return (op, subject), value, node
        return None

    def _guard_code(self, key: Any, values: list[Any], subject_node: Node) -> str:
        kind = key[0]
        if kind == "ip":
            self.uses_ip = True
            networks = IPRangeSet.from_ranges(r for ranges in values for r in ranges)
            return self.ip_lookup(networks, ("guard", "ip", tuple(networks.spans())))[0]
        subject = self.expr(subject_node)
        if kind == "in":
            union = frozenset().union(*values)
            return f"{subject} in {self.constant(union, ('guard', union))}"
        if kind in ("starts_with", "ends_with"):
            texts = tuple(sorted(set(values)))
            method = "startswith" if kind == "starts_with" else "endswith"
            return f"{subject}.{method}({self.constant(texts, ('guard', kind, texts))})"
        if kind == "contains":
            common = values[0]
            for value in values[1:]:
                while not value.startswith(common):
                    common = common[:-1]
            return f"{self.constant(common)} in {subject}"
        bound = min(values) if kind in (">", ">=") else max(values)
        return f"{subject} {kind} {bound!r}"

    def set_values(self, node: SetLit) -> frozenset[Any]:
        """Return the values of a set literal (once per node and compile)."""
        values = self._sets.get(id(node))
        if values is None:
            values = self._sets[id(node)] = frozenset([item.value for item in node.items])
        return values

    def network(self, item: Literal) -> tuple[int, int]:
        """Return the range of an IP literal (once per spelling and compile)."""
        text = str(item.value)
        found = self._networks.get(text)
        if found is None:
            found = self._networks[text] = _network(_Checker(self.source, self.lists), item)
        return found

    def regex(self, item: Literal) -> tuple[re.Pattern[str], str]:
        """Return a pattern literal compiled, and its literal prefix (once per compile)."""
        text = str(item.value)
        found = self._regexes.get(text)
        if found is None:
            pattern = _regex(_Checker(self.source, self.lists), item)
            found = self._regexes[text] = (pattern, literal_prefix(pattern))
        return found

    def ip_lookup(self, ranges: IPRangeSet, key: Any) -> tuple[str, int]:
        """Return code testing ``ipk`` against ``ranges`` (PERF: inline, no Python call)."""
        spans = ranges.spans() if len(ranges) <= 4 else ()
        if spans or not len(ranges):
            # PERF: a few ranges are cheaper as inline comparisons than as a lookup.
            tests = [f"{start} <= ipk < {end}" if end - start > 1 else f"ipk == {start}"
                     for start, end in spans]
            if len(tests) > 1:
                return f"ipk is not None and ({' or '.join(tests)})", _AND
            return f"ipk is not None and {tests[0] if tests else 'False'}", _AND
        starts, ends = ranges.arrays()
        self.namespace["_bisect"] = bisect_right
        s = self.constant(starts, ("starts", key))
        e = self.constant(ends, ("ends", key))
        return f"ipk is not None and {e}[_bisect({s}, ipk) - 1] > ipk", _AND

    def constant(self, value: Any, key: Any = None) -> str:
        """Bind ``value`` in the generated code's globals; return its name."""
        ident = (type(value).__name__, key if key is not None else value)
        try:
            name = self._constants.get(ident)
        except TypeError:
            name = None
            ident = ("id", id(value))
        if name is None:
            name = f"_k{len(self.namespace)}"
            self.namespace[name] = value
            self._constants[ident] = name
        return name

    def field(self, name: str) -> str:
        local = self.fields.get(name)
        if local is None:
            local = self.fields[name] = f"f{len(self.fields)}"
        return local

    def prologue(self) -> list[str]:
        """Return the statements that load every field the generated code reads."""
        lines = [f"{local} = v.{FIELDS[name][1]}" for name, local in self.fields.items()]
        lines += [f"{local} = v.{MAPS[name][0]}" for name, local in self.maps.items()]
        if self.uses_ip:
            lines.append("ipk = v.ip_key")
        return lines + self._lines

    def expr(self, node: Node) -> str:
        """Return code for ``node`` that is safe as an operand anywhere (an atom)."""
        code, precedence = self.code(node)
        return code if precedence == _ATOM else f"({code})"

    def operand(self, node: Node, least: int) -> str:
        """Return code for ``node`` where an expression binding at least ``least`` belongs."""
        code, precedence = self.code(node)
        return code if precedence >= least else f"({code})"

    def conjoin(self, tests: list[str], node: Node) -> str:
        """Return code for ``tests and node`` (``tests``: operands of ``and``, maybe none)."""
        if not tests:
            return self.code(node)[0]
        return " and ".join((*tests, self.operand(node, _AND)))

    def code(self, node: Node) -> tuple[str, int]:
        """Return code for ``node`` with no parentheses around it, and how tightly it binds."""
        if self.named:
            name = self.named.get(id(node))
            if name is not None:
                return name, _ATOM
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Logical):
            if node.op == "and":
                return " and ".join([self.operand(i, _AND) for i in node.items]), _AND
            return " or ".join([self.operand(i, _OR) for i in node.items]), _OR
        if isinstance(node, Field):
            return self.field(node.name), _ATOM
        if isinstance(node, Literal):
            if isinstance(node.value, (bool, int)):
                return repr(node.value), _ATOM
            return self.constant(node.value), _ATOM
        if isinstance(node, Not):
            return "not " + self.operand(node.item, _NOT), _NOT
        if isinstance(node, Index):
            local = self.maps.get(node.name)
            if local is None:
                local = self.maps[node.name] = f"m{len(self.maps)}"
            fold = MAPS[node.name][1]
            if isinstance(node.key, Literal):
                text = str(node.key.value)
                return f"{local}.get({self.constant(text.lower() if fold else text)}, '')", _ATOM
            key = self.expr(node.key)
            return f"{local}.get({key}{'.lower()' if fold else ''}, '')", _ATOM
        if isinstance(node, Call):
            args = [self.expr(a) for a in node.args]
            if node.name == "concat":
                return "''.join((" + "".join(f"_to_string({a})," for a in args) + "))", _ATOM
            return FUNCTIONS[node.name][2].format(*args), _ATOM
        raise TypeError(f"cannot generate code for {node!r}")

    def binary(self, node: Binary) -> tuple[str, int]:
        op = node.op
        left_node, right = node.left, node.right
        # PERF: fields and literals are never computed up front: their code is written here.
        if not isinstance(left_node, Field):
            left = self.expr(left_node)
        elif FIELDS.get(left_node.name, _NO_FIELD)[0] != "ip":
            left = self.field(left_node.name)
        else:
            self.uses_ip = True
            if op == "in" and isinstance(right, ListRef):
                return self.ip_lookup(self.lists[right.name], ("list", right.name))
            if op == "in":
                assert isinstance(right, SetLit)
                ranges = [self.network(item) for item in right.items]
            else:
                assert isinstance(right, Literal)
                ranges = [self.network(right)]
            test = self.ip_lookup(IPRangeSet.from_ranges(ranges), ("ipset", tuple(ranges)))[0]
            return (f"not ({test})", _NOT) if op == "!=" else (test, _AND)
        if op == "in":
            if isinstance(right, ListRef):
                found = self.lists[right.name]
                if isinstance(found, PatternList):
                    search = self.constant(found.search, ("list", right.name))
                    return f"{search}({left}) is not None", _CMP
                return f"{left} in {self.constant(found.values, ('list', right.name))}", _CMP
            assert isinstance(right, SetLit)
            return f"{left} in {self.constant(self.set_values(right))}", _CMP
        if op == "matches":
            assert isinstance(right, Literal)
            pattern, prefix = self.regex(right)
            search = self.constant(pattern.search, ("re", pattern.pattern))
            if prefix:
                # PERF: an anchored pattern cannot match a value without its literal start.
                return (f"{left}.startswith({self.constant(prefix)}) and "
                        f"{search}({left}, 0, _MAX) is not None"), _AND
            return f"{search}({left}, 0, _MAX) is not None", _CMP
        if isinstance(right, Literal) and type(right.value) is str:
            other = self.constant(right.value)
        else:
            other = self.expr(right)
        if op == "contains":
            return f"{other} in {left}", _CMP
        if op == "starts_with":
            return f"{left}.startswith({other})", _ATOM
        if op == "ends_with":
            return f"{left}.endswith({other})", _ATOM
        return f"{left} {op} {other}", _CMP


def _hoistables(node: Node, out: list[Node]) -> None:
    """Append the subtrees of ``node`` worth computing up front, children first.

    PERF: leaves (fields, literals, sets, list names) are never hoisted and
    have no children: they are not visited.
    """
    if isinstance(node, Binary):
        left, right = node.left, node.right
        if type(left) not in _LEAVES:
            _hoistables(left, out)
        elif (isinstance(left, Field) and node.op in _IP_TESTS
              and FIELDS.get(left.name, _NO_FIELD)[0] == "ip"):
            out.append(node)  # its right side is a leaf: a list, a set or a literal
            return
        if type(right) not in _LEAVES:
            _hoistables(right, out)
    elif isinstance(node, Logical):
        for item in node.items:
            if type(item) not in _LEAVES:
                _hoistables(item, out)
    elif isinstance(node, Not):
        if type(node.item) not in _LEAVES:
            _hoistables(node.item, out)
    elif isinstance(node, (Call, Index)):
        for child in node.args if isinstance(node, Call) else (node.key,):
            if type(child) not in _LEAVES:
                _hoistables(child, out)
        out.append(node)


class Expression:
    """One compiled expression: ``evaluate(view)`` runs the generated code."""

    __slots__ = ("source", "tree", "type", "code", "evaluate")

    def __init__(self, source: str, tree: Node, type_: str, code: str, function: Any) -> None:
        self.source = source
        self.tree = tree
        self.type = type_
        self.code = code
        self.evaluate = function

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def compile_expression(
    source: str, *, lists: Mapping[str, Any] | None = None, want: str | None = "bool",
) -> Expression:
    """Parse, check and compile ``source``; ``want`` is the type it must have (None: any)."""
    tree = parse(source)
    type_ = check(tree, source, lists)
    if want is not None and type_ != want:
        raise RuleError(f"the expression must be {_TYPE_NAMES.get(want, want)}, but it is "
                        f"{_TYPE_NAMES.get(type_, type_)}", source, 0)
    generator = Generator(lists)
    generator.source = source
    body = generator.code(tree)[0]
    lines = ["def _expression(v):", *("    " + line for line in generator.prologue()),
             f"    return {body}"]
    code = "\n".join(lines)
    namespace = dict(generator.namespace)
    exec(compile(code, f"<rule {source[:40]!r}>", "exec"), namespace)
    return Expression(source, tree, type_, code, namespace["_expression"])


_TYPE_NAMES: Final = {"bool": "a condition (true/false)", "str": "a string", "int": "an integer",
                      "ip": "an address"}


# -- the reference interpreter ------------------------------------------------------


def interpret(node: Node, view: Any, lists: Mapping[str, Any] | None = None) -> Any:
    """Evaluate ``node`` against ``view`` by walking the tree (no preparation)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        return getattr(view, FIELDS[node.name][1])
    if isinstance(node, Index):
        attr, fold, _ = MAPS[node.name]
        key = interpret(node.key, view, lists)
        return getattr(view, attr).get(key.lower() if fold else key, "")
    if isinstance(node, Call):
        args = [interpret(a, view, lists) for a in node.args]
        name = node.name
        if name == "lower":
            return args[0].lower()
        if name == "upper":
            return args[0].upper()
        if name == "len":
            return len(args[0])
        if name == "trim":
            return args[0].strip()
        if name == "url_decode":
            return url_decode(args[0])
        if name == "to_string":
            return to_string(args[0])
        if name == "concat":
            return "".join(to_string(a) for a in args)
        raise ValueError(f"unknown function {name}")
    if isinstance(node, Logical):
        if node.op == "and":
            return all(interpret(i, view, lists) for i in node.items)
        return any(interpret(i, view, lists) for i in node.items)
    if isinstance(node, Not):
        return not interpret(node.item, view, lists)
    if isinstance(node, Binary):
        return _interpret_binary(node, view, lists or {})
    raise TypeError(f"cannot evaluate {node!r}")


def _in_network(address: str, literal: object) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    network = ipaddress.ip_network(str(literal).strip(), strict=True)
    if network.version == 6 and parsed.version == 4 and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    return parsed.version == network.version and parsed in network


def _interpret_binary(node: Binary, view: Any, lists: Mapping[str, Any]) -> bool:
    op = node.op
    if isinstance(node.left, Field) and FIELDS[node.left.name][0] == "ip":
        address = view.ip
        if op == "in" and isinstance(node.right, ListRef):
            return address in lists[node.right.name]
        items = node.right.items if isinstance(node.right, SetLit) else (node.right,)
        found = any(_in_network(address, item.value) for item in items)  # type: ignore[union-attr]
        return not found if op == "!=" else found
    left = interpret(node.left, view, lists)
    if op == "in":
        if isinstance(node.right, ListRef):
            return left in lists[node.right.name]
        assert isinstance(node.right, SetLit)
        return any(left == item.value and type(left) is type(item.value)
                   for item in node.right.items)
    if op == "matches":
        assert isinstance(node.right, Literal)
        return re.search(str(node.right.value), left[:MAX_SUBJECT]) is not None
    right = interpret(node.right, view, lists)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    if op == ">=":
        return bool(left >= right)
    if op == "contains":
        return right in left
    if op == "starts_with":
        return bool(left.startswith(right))
    if op == "ends_with":
        return bool(left.endswith(right))
    raise ValueError(f"unknown operator {op}")
