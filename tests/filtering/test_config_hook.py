"""The configuration-plane hook: today's structured rules become a Ruleset, problems keep paths."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeline.config import compile_config
from edgeline.config._compile import Build
from edgeline.config._errors import ConfigInvalid
from edgeline.filtering import Ruleset, compile_expression
from edgeline.filtering.config import compile_rules_part, match_to_expression
from kv_schemas import EdgeConfig, Match

from .helpers import make_view

DOC = {
    "version": 1,
    "ip_lists": [{"name": "office", "entries": ["203.0.113.0/24"]}],
    "rules": [
        {"id": "office-ok", "action": {"type": "allow"}, "match": {"ip_list": "office"}},
        {"id": "no-admin", "action": {"type": "block", "status": 403},
         "match": {"path_prefix": "/admin", "methods": ["GET", "POST"],
                   "hosts": ["*.example.com"], "countries": ["KP"], "asns": [64512]}},
    ],
}


def test_structured_match_translates_to_an_equivalent_expression() -> None:
    match = Match(methods=("GET",), path_prefix="/a\"b", hosts=("x.test", "*.example.com"),
                  countries=("DE",), asns=(1,), ip_list="office")
    source = match_to_expression(match)
    assert source == ('http.method in {"GET"} and http.path starts_with "/a\\"b" and '
                      '(http.host == "x.test" or http.host ends_with ".example.com") and '
                      'geo.country in {"DE"} and geo.asn in {1} and ip.src in $office')
    assert match_to_expression(Match()) == "true"


def test_hook_compiles_todays_documents() -> None:
    config = msgspec.convert(DOC, EdgeConfig)
    build = Build(None, None)
    ruleset = compile_rules_part(config, build)
    assert isinstance(ruleset, Ruleset) and not build.problems
    phase = ruleset.phases[0]
    view = make_view("/admin/x", host="shop.example.com", cf={"country": "KP", "asn": "64512"})
    assert [phase.rules[i].id for i in phase.evaluate(view)] == ["no-admin"]
    view = make_view("/admin/x", headers={"cf-connecting-ip": "203.0.113.5"})
    assert [phase.rules[i].id for i in phase.evaluate(view)] == ["office-ok"]
    compile_expression(match_to_expression(config.rules[1].match))


def test_hook_registered_with_the_plane_reports_paths() -> None:
    bad = {**DOC, "ip_lists": [{"name": "office", "entries": ["203.0.113.1/24"]}]}
    config = msgspec.convert(bad, EdgeConfig)
    with pytest.raises(ConfigInvalid) as info:
        compile_config(config, only={"rules": compile_rules_part})
    problem = info.value.problems[0]
    assert problem.path == "$.ip_lists[0].entries[0]" and "host bits set" in problem.message


# -- the plane's IP lists are the rules' lists --------------------------------------------


def test_the_plane_builds_each_ip_list_once_for_the_rules() -> None:
    doc = {**DOC, "ip_lists": [{"name": "office",
                                "entries": ["203.0.113.0/24", "2001:db8::/32", "::ffff:192.0.2.0/120"]}]}
    compiled = compile_config(msgspec.convert(doc, EdgeConfig))
    office = compiled["ip_lists"]["office"]
    assert compiled["rules"].lists["office"] is office
    phase = compiled["rules"].phases[0]
    for address, listed in (("203.0.113.5", True), ("2001:db8::1", True), ("192.0.2.9", True),
                            ("::ffff:203.0.113.5", True), ("198.51.100.1", False)):
        view = make_view("/", headers={"cf-connecting-ip": address})
        assert (phase.rules[0].id in [phase.rules[i].id for i in phase.evaluate(view)]) is listed


def test_a_list_the_plane_rejects_is_reported_once() -> None:
    bad = {**DOC, "ip_lists": [{"name": "office", "entries": ["203.0.113.1/24"]}]}
    with pytest.raises(ConfigInvalid) as info:
        compile_config(msgspec.convert(bad, EdgeConfig))
    paths = [p.path for p in info.value.problems]
    assert paths.count("$.ip_lists[0].entries[0]") == 1, paths


# -- structured matches become trees without the parser --------------------------------

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
_MATCHES = st.builds(
    Match,
    methods=st.lists(st.sampled_from(["GET", "POST", "PUT"]), max_size=3).map(tuple),
    path_prefix=st.none() | _TEXT.map(lambda t: "/" + t),
    hosts=st.lists(st.one_of(_TEXT, _TEXT.map(lambda t: "*." + t)), max_size=3).map(tuple),
    countries=st.lists(st.sampled_from(["DE", "FR", "KP", "T1"]), max_size=3).map(tuple),
    asns=st.lists(st.integers(0, 4294967295), max_size=3).map(tuple),
    ip_list=st.none() | st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}(\.[a-z_]{1,3})?",
                                      fullmatch=True))


def _positions(node: object) -> list[tuple[str, int]]:
    out = [(type(node).__name__, node.pos)]  # type: ignore[attr-defined]
    for child in ("left", "right", "item", "key"):
        if hasattr(node, child):
            out += _positions(getattr(node, child))
    for many in ("items", "args"):
        for child in getattr(node, many, ()):
            out += _positions(child)
    return out


@settings(max_examples=300, deadline=None)
@given(_MATCHES)
def test_structured_trees_are_what_the_parser_builds(match: Match) -> None:
    from edgeline.filtering import parse
    from edgeline.filtering.config import match_to_tree

    source, tree = match_to_tree(match)
    assert source == match_to_expression(match)
    parsed = parse(source)
    assert tree == parsed
    assert _positions(tree) == _positions(parsed)


def test_a_structured_match_may_name_any_list_the_schema_allows() -> None:
    doc = {**DOC, "ip_lists": [{"name": "bad-ips.v4", "entries": ["203.0.113.0/24"]}],
           "rules": [{"id": "r", "action": {"type": "block"}, "match": {"ip_list": "bad-ips.v4"}}]}
    compiled = compile_config(msgspec.convert(doc, EdgeConfig))
    phase = compiled["rules"].phases[0]
    assert phase.evaluate(make_view("/", headers={"cf-connecting-ip": "203.0.113.5"})) == [0]
    assert phase.evaluate(make_view("/", headers={"cf-connecting-ip": "203.0.114.5"})) == []
