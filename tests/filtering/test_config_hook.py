"""The configuration-plane hook: today's structured rules become a Ruleset, problems keep paths."""

from __future__ import annotations

import ipaddress

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


# -- the plane's parsed IP lists are reused, in the filtering key space ----------------

_V4 = st.builds(lambda a, p: f"{ipaddress.IPv4Address(a)}/{p}", st.integers(0, 2**32 - 1),
                st.integers(8, 32)).map(lambda n: str(ipaddress.ip_network(n, strict=False)))
_V6 = st.builds(lambda a, p: f"{ipaddress.IPv6Address(a)}/{p}", st.integers(0, 2**128 - 1),
                st.integers(16, 128)).map(lambda n: str(ipaddress.ip_network(n, strict=False)))
_MAPPED = st.integers(0, 2**32 - 1).map(lambda a: f"::ffff:{ipaddress.IPv4Address(a)}")
_PROBE = st.one_of(st.integers(0, 2**32 - 1).map(lambda a: str(ipaddress.IPv4Address(a))),
                   st.integers(0, 2**128 - 1).map(lambda a: str(ipaddress.IPv6Address(a))),
                   _MAPPED)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_V4, _V6, _MAPPED), min_size=1, max_size=30), st.lists(_PROBE, max_size=30))
def test_plane_ip_sets_convert_to_the_same_membership(entries: list[str], probes: list[str]) -> None:
    from edgeline.config import IPSet
    from edgeline.filtering._lists import IPRangeSet
    from edgeline.filtering.config import _from_plane_set

    reference = IPRangeSet(entries, name="l")
    converted = _from_plane_set(IPSet(entries), "l")
    if converted is None:  # a mapped range: parsed afresh instead
        assert any(e.startswith("::ffff:") for e in entries) or any(":" in e for e in entries)
        return
    assert len(converted) == len(entries)
    for entry in entries:  # every listed network's first and last address
        network = ipaddress.ip_network(entry, strict=False)
        for address in (network.network_address, network.broadcast_address):
            assert (str(address) in converted) == (str(address) in reference)
    for probe in probes:
        assert (probe in converted) == (probe in reference), probe
