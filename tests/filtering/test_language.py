"""The rules language: parsing, errors with carets, typing, compiled vs interpreted evaluation."""

from __future__ import annotations

import dataclasses
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeline.filtering import (
    ASNList,
    Binary,
    Call,
    Field,
    Index,
    IPRangeSet,
    ListRef,
    Literal,
    Logical,
    Not,
    PatternList,
    RuleError,
    SetLit,
    StringList,
    compile_expression,
    interpret,
    parse,
    unparse,
)
from edgeline.filtering._parse import _quote

from .helpers import make_view

LISTS = {
    "office": IPRangeSet(["203.0.113.0/24", "2001:db8::/32"]),
    "bad_asns": ASNList(["AS4134", "64512"]),
    "embargo": StringList(["KP", "IR"]),
    "bots": PatternList(["sqlmap", "BadBot"]),
}


def test_precedence_and_or_not() -> None:
    tree = parse('not http.method == "GET" or http.path == "/" and geo.asn > 5')
    assert isinstance(tree, Logical) and tree.op == "or"
    assert isinstance(tree.items[0], Not)
    assert isinstance(tree.items[1], Logical) and tree.items[1].op == "and"


def test_nodes_are_frozen_compare_without_positions_and_take_keywords() -> None:
    built = Binary("==", Field("http.path", 0), Literal("/", "str", 13), 10)
    named = Binary(op="==", left=Field(name="http.path"), right=Literal(value="/", kind="str"))
    parsed = parse('http.path == "/"')
    assert built == named == parsed and hash(built) == hash(named) == hash(parsed)
    assert (built.pos, built.right.pos, named.pos) == (10, 13, 0) == (parsed.pos, parsed.right.pos, 0)  # type: ignore[union-attr]
    assert built != Binary("!=", Field("http.path"), Literal("/", "str"))
    assert repr(Not(Field("geo.is_eu", 4))) == "Not(item=Field(name='geo.is_eu', pos=4), pos=0)"
    for node, name in ((built, "op"), (Literal(1, "int"), "value"), (SetLit(()), "items"),
                       (Logical("or", ()), "items"), (Call("len", ()), "args")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(node, name, None)


def test_literals_sets_lists_and_calls() -> None:
    tree = parse('ip.src in {10.0.0.0/8 "192.0.2.1", 2001:db8::/32} && '
                 'lower(http.header["X-A"]) in $office || !geo.is_eu')
    text = unparse(tree)
    assert parse(text) == tree
    assert "10.0.0.0/8" in text and "2001:db8::/32" in text and "$office" in text


@pytest.mark.parametrize(("source", "line", "column", "message"), [
    ("http.path ==", 1, 13, "expected a value after '=='"),
    ('http.path == "/a" and\n  http.methd == "GET"', 2, 3, "unknown field 'http.methd'"),
    ('http.path = "/"', 1, 11, "'=' is not an operator"),
    ('http.path == "/', 1, 14, "unterminated string"),
    ('geo.asn == "13335"', 1, 9, "cannot compare int with str"),
    ("ip.src in {10.0.0.1/8}", 1, 12, "host bits set"),
    ('http.path matches r"(a+)+$"', 1, 21, "nested quantifiers"),
    ('http.path matches r"(x)\\1"', 1, 21, "backreferences"),
    ("ip.src in $nope", 1, 11, "no list named $nope"),
    ("geo.asn in $office", 1, 12, "cannot be matched against int"),
    ('lower(geo.asn) == "x"', 1, 7, "lower() expects str"),
    ("http.header", 1, 1, "is a map"),
    ("(http.path", 1, 11, "expected ')'"),
    ("http.path", 1, 1, "must be a condition"),
    ('http.path == "a" http.host == "b"', 1, 18, "missing 'and' or 'or'"),
])
def test_errors_point_at_line_and_column(source: str, line: int, column: int, message: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_expression(source, lists=LISTS)
    error = info.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in str(error)
    # The caret sits under the column of the offending line.
    shown = str(error).split("\n")
    assert shown[2].index("^") - 2 == column - 1


def test_fields_functions_and_lists_evaluate() -> None:
    view = make_view(
        "/%61pi/./v1//items/../orders?q=O%27Brien&debug=1",
        headers={"cf-connecting-ip": "203.0.113.9", "user-agent": "sqlmap/1.7",
                 "cookie": "role=admin; theme=dark", "x-api-key": "k1"},
        cf={"country": "kp", "asn": "64512", "isEUCountry": "0", "tlsVersion": "TLSv1.3"},
    )
    checks = {
        'http.path == "/api/v1/orders"': True,
        'http.args["q"] == "O\'Brien"': True,
        'http.query contains "debug=1"': True,
        "ip.src in $office and geo.asn in $bad_asns": True,
        "geo.country in $embargo and not geo.is_eu": True,
        "http.user_agent in $bots": True,
        'http.cookie["role"] == "admin" and http.header["X-API-KEY"] == "k1"': True,
        'tls.version == "TLSv1.3"': True,
        'len(http.args["q"]) == 7 and upper(http.args["q"]) starts_with "O\'B"': True,
        'url_decode(raw.http.path) contains "/./"': True,
        'concat(geo.asn, "-", ip.src) == "64512-203.0.113.9"': True,
        "ip.src == 203.0.113.0/24 and ip.src != 198.51.100.7": True,
        "time.hour < 24 and time.weekday >= 0 and time.now > 0": True,
        'http.host == "shop.example.com"': True,
        'http.path matches r"^/api/v[0-9]+/"': True,
    }
    for source, expected in checks.items():
        expression = compile_expression(source, lists=LISTS)
        assert expression.evaluate(view) is expected, source
        assert interpret(expression.tree, view, LISTS) is expected, source


# -- property tests ----------------------------------------------------------------

_STR_FIELDS = ["http.path", "http.host", "http.method", "http.user_agent", "http.query",
               "geo.country", "http.referer", "raw.http.path"]
_text = st.text(alphabet=string.ascii_letters + string.digits + "/._-'\" %<>é", max_size=8)


def _str_value() -> st.SearchStrategy:
    base = st.one_of(
        st.sampled_from(_STR_FIELDS).map(Field),
        _text.map(lambda t: Literal(t, "str")),
        st.sampled_from(["x-a", "User-Agent", "cookie"]).map(
            lambda k: Index("http.header", Literal(k, "str"))),
        st.sampled_from(["q", "debug"]).map(lambda k: Index("http.args", Literal(k, "str"))),
    )
    return st.recursive(base, lambda inner: st.one_of(
        st.builds(lambda a: Call("lower", (a,)), inner),
        st.builds(lambda a: Call("url_decode", (a,)), inner),
        st.builds(lambda a, b: Call("concat", (a, b)), inner, inner),
    ), max_leaves=3)


def _int_value() -> st.SearchStrategy:
    return st.one_of(
        st.sampled_from(["geo.asn", "time.hour"]).map(Field),
        st.integers(-5, 70000).map(lambda n: Literal(n, "int")),
        _str_value().map(lambda s: Call("len", (s,))),
    )


_networks = st.sampled_from(["203.0.113.0/24", "10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "::1",
                             "0.0.0.0/0"])


def _condition() -> st.SearchStrategy:
    comparisons = st.one_of(
        st.builds(lambda op, a, b: Binary(op, a, b),
                  st.sampled_from(["==", "!=", "<", ">=", "contains", "starts_with", "ends_with"]),
                  _str_value(), _str_value()),
        st.builds(lambda op, a, b: Binary(op, a, b), st.sampled_from(["==", "!=", "<", ">", "<=", ">="]),
                  _int_value(), _int_value()),
        st.builds(lambda a, items: Binary("in", a, SetLit(tuple(Literal(i, "str") for i in items))),
                  _str_value(), st.lists(_text, min_size=1, max_size=3)),
        st.builds(lambda items: Binary("in", Field("ip.src"), SetLit(tuple(Literal(i, "net") for i in items))),
                  st.lists(_networks, min_size=1, max_size=5)),
        st.builds(lambda n: Binary("==", Field("ip.src"), Literal(n, "net")), _networks),
        st.sampled_from(["office"]).map(lambda n: Binary("in", Field("ip.src"), ListRef(n))),
        st.builds(lambda a: Binary("in", a, ListRef("bots")), _str_value()),
        st.builds(lambda a, p: Binary("matches", a, Literal(p, "str")), _str_value(),
                  st.sampled_from(["^/a", "b$", "[0-9]+x", "(?i)select"])),
        st.just(Field("geo.is_eu")),
        st.booleans().map(lambda b: Literal(b, "bool")),
    )
    return st.recursive(comparisons, lambda inner: st.one_of(
        st.builds(Not, inner),
        st.builds(lambda op, items: Logical(op, tuple(items)), st.sampled_from(["and", "or"]),
                  st.lists(inner, min_size=2, max_size=3)),
        # Conditions compared as true/false values: the generated code must keep
        # comparisons from chaining and operators from binding across them.
        st.builds(lambda op, a, b: Binary(op, a, b), st.sampled_from(["==", "!="]), inner, inner),
    ), max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_condition())
def test_round_trip_tree_to_source_to_tree(tree) -> None:  # type: ignore[no-untyped-def]
    source = unparse(tree)
    assert parse(source) == tree
    assert unparse(parse(source)) == source


_paths = st.text(alphabet="/abc.%2fF0Ae'<>", max_size=20).map(lambda p: "/" + p)
_ips = st.sampled_from(["203.0.113.5", "10.1.2.3", "2001:db8::7", "::ffff:10.0.0.1", "", "garbage",
                        "192.0.2.1", "::1"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_condition(), _paths, _ips, _text, st.sampled_from(["US", "KP", "", "de"]))
def test_compiled_and_interpreted_agree(tree, path, ip, agent, country) -> None:  # type: ignore[no-untyped-def]
    source = unparse(tree)
    expression = compile_expression(source, lists=LISTS)
    view = make_view(path + "?q=" + agent.replace("&", "").replace("#", ""),
                     headers={"cf-connecting-ip": ip, "user-agent": agent.strip()},
                     cf={"country": country, "asn": "64512"})
    assert expression.evaluate(view) == interpret(expression.tree, view, LISTS)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), _text))
def test_quoted_text_reads_back_as_itself(text: str) -> None:
    # Both ways of quoting: as it is (printable, no quote or backslash) and escaped.
    quoted = _quote(text)
    assert parse(quoted) == Literal(text, "str")
    assert quoted.startswith('"') and quoted.endswith('"') and "\n" not in quoted


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_fails_cleanly(source: str) -> None:
    try:
        compile_expression(source, lists=LISTS)
    except RuleError as error:
        assert 1 <= error.line and 1 <= error.column
        str(error)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40), st.binary(max_size=40))
def test_no_request_crashes_the_evaluator(path: str, header: str, raw: bytes) -> None:
    clean = "".join(c for c in header if c >= " " and c != "\x7f")
    target = "/" + path.replace("#", "").replace("?", "") + "?a=" + raw.hex()
    view = make_view(target, headers={"user-agent": clean, "cf-connecting-ip": clean,
                                      "cookie": clean, "x-a": clean},
                     cf={"asn": clean, "country": clean})
    for source in ('lower(http.user_agent) contains "a" or ip.src in $office',
                   'url_decode(http.path) matches r"[0-9]+x" and geo.asn > 3',
                   'http.cookie["a"] == "" and http.header["x-a"] in $bots and geo.country in $embargo'):
        expression = compile_expression(source, lists=LISTS)
        assert expression.evaluate(view) == interpret(expression.tree, view, LISTS)


def test_nesting_is_bounded() -> None:
    with pytest.raises(RuleError, match="nested more than"):
        parse("(" * 100 + "true" + ")" * 100)


def _tokens_or_error(tokenize: object, source: str) -> object:
    try:
        return [(t if isinstance(t, tuple) else (t.kind, t.value, t.pos))
                for t in tokenize(source)]  # type: ignore[operator]
    except RuleError as error:
        return ("error", error.message, error.pos)


_TOKEN_TEXT = st.text(alphabet=' \t\n#"r\\ax.:/0129fF-_=!<>&|()[]{},$ÿ٣', max_size=40)
_TOKEN_PIECES = st.lists(st.sampled_from([
    "10.0.0.0/8", "1.2.3.4", "::1", "2001:db8::/32", "::ffff:1.2.3.4", "1:2", "a:b:c", "123",
    "-5", "1.2.3", "12a", "http.path", "and", "or", "not", "==", "!=", "<=", ">", "&&", "||",
    "!", "(", ")", "{", "}", "[", "]", ",", "$x", '"s"', 'r"\\d"', " ", "# c\n", "=", "&", "@",
    "1.2.3.4/24x", "fe80::1:2.3.4.5", "١٢", "dead:beef"]), max_size=12).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_TOKEN_TEXT, _TOKEN_PIECES))
def test_tokens_agree_with_the_reference_tokenizer(source: str) -> None:
    from edgeline.filtering._parse import _tokens

    from ._reference_tokens import tokens as reference

    assert _tokens_or_error(_tokens, source) == _tokens_or_error(reference, source)


# -- a whole phase (shared guards, hoisting, early return) against the interpreter ---------

_PREFIXES = st.sampled_from(["", "/a", "/ab", "/b", "/admin/1", "/admin/12"])
_SHORT = st.sampled_from(["", "a", "ab", "abc", "abcd", "abcde", "b"])


def _conjunct() -> st.SearchStrategy:
    path, query, agent = Field("http.path"), Field("http.query"), Field("http.user_agent")
    header = Index("http.header", Literal("x-a", "str"))
    return st.one_of(
        _PREFIXES.map(lambda p: Binary("starts_with", path, Literal(p, "str"))),
        _SHORT.map(lambda s: Binary("ends_with", path, Literal(s, "str"))),
        _SHORT.map(lambda s: Binary("contains", agent, Literal(s, "str"))),
        _SHORT.map(lambda s: Binary("==", header, Literal(s, "str"))),
        st.lists(_SHORT, min_size=1, max_size=3).map(
            lambda items: Binary("in", header, SetLit(tuple(Literal(i, "str") for i in items)))),
        st.builds(lambda op, n: Binary(op, Call("len", (query,)), Literal(n, "int")),
                  st.sampled_from([">", ">=", "<", "<="]), st.integers(0, 6)),
        st.builds(lambda op, n: Binary(op, Field("geo.asn"), Literal(n, "int")),
                  st.sampled_from(["==", ">", "<="]), st.integers(0, 3)),
        st.just(Binary("in", Field("geo.asn"), ListRef("bad_asns"))),
        st.sampled_from(["^/a[0-9]", "^/ab", "^/b|^/a"]).map(
            lambda p: Binary("matches", path, Literal(p, "str"))),
        _condition(),
    )


_RULE_TREES = st.lists(
    st.lists(_conjunct(), min_size=1, max_size=3).map(
        lambda items: items[0] if len(items) == 1 else Logical("and", tuple(items))),
    min_size=1, max_size=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_RULE_TREES, st.lists(st.booleans(), min_size=12, max_size=12),
       st.lists(st.tuples(st.sampled_from(["/", "/a", "/a1", "/ab", "/abc", "/admin/123", "/b"]),
                          st.text(alphabet="ab=&", max_size=7), _SHORT, _SHORT,
                          st.sampled_from(["0", "1", "2", "64512", "x"])), min_size=1, max_size=6))
def test_a_compiled_phase_agrees_with_interpreting_its_rules(trees, terminal, requests) -> None:  # type: ignore[no-untyped-def]
    from edgeline.filtering import Rule, compile_ruleset

    lists = {**LISTS, "bad_asns": ASNList(["1", "2"])}
    rules = [Rule(f"r{i}", unparse(tree), {"type": "block" if terminal[i] else "log"})
             for i, tree in enumerate(trees)]
    phase = compile_ruleset(rules, lists=lists).phases[0]
    parsed = [parse(rule.expression) for rule in rules]
    for path, query, agent, header, asn in requests:
        view = make_view(path + ("?" + query if query else ""),
                         headers={"user-agent": agent, "x-a": header}, cf={"asn": asn})
        expected = []
        for index, tree in enumerate(parsed):
            if interpret(tree, view, lists):
                expected.append(index)
                if terminal[index]:
                    break
        assert phase.evaluate(view) == expected, (phase.code, path, query, agent, header, asn)


@pytest.mark.parametrize("sources", [
    ['http.user_agent contains "abcde"', 'http.user_agent contains "abcd"',
     'http.user_agent contains "abcdx"'],
    ['http.path starts_with "/ab"', 'http.path starts_with "/a"', 'http.path matches r"^/b[0-9]"'],
    ['http.path ends_with ".php"', 'http.path ends_with "p"'],
    ['len(http.query) > 3', 'len(http.query) > 1', 'len(http.query) <= 2',
     'len(http.query) <= 0'],
    ['http.header["x-a"] == "a"', 'http.header["x-a"] in {"b" "c"}', 'geo.asn in $bad_asns',
     'geo.asn in $bad_asns and http.path starts_with "/a"'],
])
def test_guards_of_every_kind_keep_the_verdicts(sources: list[str]) -> None:
    from edgeline.filtering import Rule, compile_ruleset

    lists = {**LISTS, "bad_asns": ASNList(["1"])}
    rules = [Rule(f"r{i}", source, {"type": "log"}) for i, source in enumerate(sources)]
    phase = compile_ruleset(rules, lists=lists).phases[0]
    guard = re.search(r"^    (g[0-9]+) = ", phase.code, re.MULTILINE)
    assert guard and re.search(rf"^ +if .*\b{guard[1]}\b", phase.code, re.MULTILINE)  # shared
    for path in ("/", "/a", "/ab", "/b1", "/x.php", "/ap"):
        for agent in ("", "abcd", "abcde", "xabcdx", "abc"):
            for query in ("", "q", "q=1", "q=12"):
                for header, asn in (("a", "1"), ("c", "2"), ("", "0")):
                    view = make_view(path + ("?" + query if query else ""),
                                     headers={"user-agent": agent, "x-a": header}, cf={"asn": asn})
                    expected = [i for i, rule in enumerate(rules)
                                if interpret(parse(rule.expression), view, lists)]
                    assert phase.evaluate(view) == expected, (phase.code, view.path, agent)


def _phase(sources: list[str], terminal: frozenset[int] = frozenset()) -> object:
    from edgeline.filtering import Rule, compile_ruleset

    lists = {**LISTS, "bad_asns": ASNList(["1"])}
    rules = [Rule(f"r{i}", source, {"type": "block" if i in terminal else "log"})
             for i, source in enumerate(sources)]
    return compile_ruleset(rules, lists=lists).phases[0]


def _verdicts(phase: object, sources: list[str], terminal: frozenset[int], view: object) -> None:
    expected = []
    for index, source in enumerate(sources):
        if interpret(parse(source), view, {**LISTS, "bad_asns": ASNList(["1"])}):
            expected.append(index)
            if index in terminal:
                break
    assert phase.evaluate(view) == expected, phase.code  # type: ignore[attr-defined]


def test_rules_that_share_a_guard_in_a_row_are_written_in_one_block() -> None:
    sources = ['http.path starts_with "/a1" and geo.asn == 1', 'http.path starts_with "/a2"',
               'http.path starts_with "/a3" or http.path ends_with ".php"',
               'geo.asn > 3', 'http.path starts_with "/a4" and http.header["x-a"] == "b"',
               'http.header["x-a"] in {"c" "d"} and http.path starts_with "/a5"']
    terminal = frozenset({1})
    phase = _phase(sources, terminal)
    code = phase.code  # type: ignore[attr-defined]
    guard = re.search(r"^    (g[0-9]+) = [^\n]*startswith", code, re.MULTILINE)
    assert guard, code
    name = guard[1]
    lines = code.split("\n")
    # Rules 0 and 1 in a block opened by the path guard; rule 2 (an 'or') and rule 3
    # (no path test) outside it; rules 4 and 5 share it again, with the header guard
    # kept in front of rule 5's own test.
    opened = lines.index(f"    if {name}:")
    assert lines[opened + 1].startswith("        if ")
    assert lines[opened + 2].endswith("return [*hits, 1]")
    assert lines[opened + 3].startswith("    if ") and lines[opened + 4] == "    if f1 > 3: hit(3)"
    assert lines[opened + 5] == f"    if {name}:"
    assert re.match(r"        if g[0-9]+ and h[0-9]+ in ", lines[opened + 7]), lines[opened + 7]
    for path in ("/", "/a1", "/a2x", "/a3", "/x.php", "/a4", "/a5"):
        for asn, header in (("1", "b"), ("4", "c"), ("0", "")):
            _verdicts(phase, sources, terminal,
                      make_view(path, headers={"x-a": header}, cf={"asn": asn}))


def test_a_subexpression_in_several_rules_is_computed_once_and_parenthesized_as_needed() -> None:
    sources = ['lower(http.user_agent) contains "bot" and not ip.src in $office',
               'lower(http.user_agent) ends_with "x" or (geo.asn > 1) == (geo.asn < 9)',
               'ip.src in $office and not (http.path == "/a" or lower(http.user_agent) == "y")']
    phase = _phase(sources)
    code = phase.code  # type: ignore[attr-defined]
    assert code.count(".lower()") == 1 and code.count("ipk is not None") == 1, code
    # Parentheses only where Python needs them: around an 'or' under 'not', around
    # comparisons compared with each other (they would chain).
    rules = re.sub(r"_k[0-9]+", "K", "\n".join(code.split("\n")[-4:-1]))
    assert re.fullmatch(r"    if K in (h[0-9]) and not (h[0-9]): hit\(0\)\n"
                        r"    if \1\.endswith\(K\) or \(f1 > 1\) == \(f1 < 9\): hit\(1\)\n"
                        r"    if \2 and not \(f2 == K or \1 == K\): hit\(2\)", rules), code
    for agent in ("", "a bot", "x", "y", "Y"):
        for ip in ("203.0.113.5", "192.0.2.1"):
            for asn in ("0", "5", "10"):
                for path in ("/", "/a"):
                    _verdicts(phase, sources, frozenset(), make_view(
                        path, headers={"user-agent": agent, "cf-connecting-ip": ip},
                        cf={"asn": asn}))
