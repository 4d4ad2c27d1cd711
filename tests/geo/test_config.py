"""Geo configuration: compiled into a plan, and every mistake named by its path."""

from __future__ import annotations

import json

import pytest

from edgeline.config import ConfigInvalid, load_config, validate_file
from tests.conftest import ROOT

from .helpers import config


def problems(doc: dict) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as info:
        load_config(json.dumps(doc))
    return {p.path: p.message for p in info.value.problems}


def test_example_configuration_compiles_to_a_plan() -> None:
    compiled = validate_file(str(ROOT / "config" / "edge.toml"))
    plan = compiled["geo"]
    assert set(plan.policies) >= {"germany", "france", "california", "embargoed"}
    assert plan.by_region["US-CA"].name == "california"
    assert [e.name for e in plan.experiments] == ["greeting-style"]
    assert compiled["geo_policies"].for_location("US", "NA", "CA").name == "california"


def test_version_1_documents_still_load() -> None:
    doc = {"version": 1, "geo_policies": [{"name": "eu", "continents": ["EU"]}]}
    assert len(load_config(json.dumps(doc))["geo"]) == 1


@pytest.mark.parametrize(("change", "path", "words"), [
    ({"geo_policies": [{"name": "x", "countries": ["UK"]}]},
     "$.geo_policies[0].countries[0]", "not an ISO 3166-1"),
    ({"geo_policies": [{"name": "x", "regions": ["QQ-CA"]}]},
     "$.geo_policies[0].regions[0]", "not an ISO 3166-1"),
    ({"geo_policies": [{"name": "x", "countries": ["DE"],
                        "redirect": {"host": "evil.com"}}]},
     "$.geo_policies[0].redirect.host", "not in $.geo.redirect_hosts"),
    ({"geo_policies": [{"name": "x", "redirect": {"host": "example.de",
                                                  "path_prefix": "/de"}}]},
     "$.geo_policies[0].redirect", "exactly one"),
    ({"geo_policies": [{"name": "x", "headers": {"X-Edgeline-Variant": "a"}}]},
     "$.geo_policies[0].headers", "edge's own"),
    ({"geo_policies": [{"name": "a", "regions": ["US-CA"]}, {"name": "b", "regions": ["US-CA"]}]},
     "$.geo_policies[1].regions[0]", "already claimed"),
    ({"experiments": [{"name": "e", "arms": [{"name": "a"}]}, {"name": "e", "arms": [{"name": "a"}]}]},
     "$.experiments[1].name", "defined twice"),
    ({"experiments": [{"name": "e", "arms": [{"name": "a", "weight": 0}]}]},
     "$.experiments[0].arms", "add up to 0"),
    ({"experiments": [{"name": "e", "countries": ["ZZ"], "arms": [{"name": "a"}]}]},
     "$.experiments[0].countries[0]", "not an ISO 3166-1"),
    ({"geo": {"nearest": [{"name": "g", "origins": [{"origin": "nope", "latitude": 0,
                                                      "longitude": 0}]}]}},
     "$.geo.nearest[0].origins[0].origin", "no origin named 'nope'"),
    ({"geo": {"nearest": [{"name": "api", "origins": [{"origin": "api", "latitude": 0,
                                                        "longitude": 0}]}]}},
     "$.geo.nearest[0].name", "also an origin's name"),
    ({"geo": {"opt_out_param": "a=b"}}, "$.geo.opt_out_param", "matching regex"),
])
def test_mistakes_are_named(change, path, words) -> None:
    doc = config()
    if "geo" in change:
        change = {"geo": {**doc["geo"], **change["geo"]}}
    doc.update(change)
    found = problems(doc)
    assert path in found and words in found[path], found


@pytest.mark.parametrize(("field", "value"), [
    ("redirect", {"path_prefix": "//evil.com"}),
    ("redirect", {"path_prefix": "/\\evil.com"}),
    ("redirect", {"path_prefix": "https://evil.com"}),
    ("redirect", {"host": "evil.com/x"}),
    ("redirect", {"host": "ok.com@evil.com"}),
    ("redirect", {"host": "ok.com\r\nX: y"}),
    ("redirect", {"status": 301, "path_prefix": "/x"}),
    ("block", {"reason": "x", "blocked_by": "javascript:alert(1)"}),
    ("locale", "not a tag!"),
    ("units", "furlongs"),
])
def test_hostile_or_wrong_values_fail_decoding(field, value) -> None:
    doc = config(geo_policies=[{"name": "x", field: value}])
    found = problems(doc)
    assert any(p.startswith(f"$.geo_policies[0].{field}") for p in found), found


def test_redirect_host_allowlist_is_checked_in_the_schema_too() -> None:
    doc = config()
    doc["geo"]["redirect_hosts"] = ["//evil.com"]
    assert "$.geo.redirect_hosts[0]" in problems(doc)
