"""Geo redirects never become open redirects; crawlers are exempt only when verified."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline.errors import ConfigError
from edgeline.geo import GeoContext
from edgeline.personalize import Redirect, is_search_bot, safe_location

ALLOWED = frozenset({"example.de"})

HOSTILE = [
    "//evil.com", "//evil.com/path", "/\\evil.com", "\\\\evil.com", "https:evil.com",
    "https:/evil.com", "http:\\\\evil.com", "/%2F%2Fevil.com", "/%2f/evil.com", "/%5Cevil.com",
    "https://evil.com/", "https://example.de@evil.com/", "https://evil.com\\@example.de/",
    "https://example.de:8443/", "https://example.de.evil.com/", "https://%65xample.de/",
    "/x\r\nSet-Cookie: a=b", "/x\nLocation: //evil.com", "\t//evil.com", " //evil.com",
    "/\t/evil.com", "javascript:alert(1)", "data:text/html,x", "evil.com", "", "ftp://example.de/",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_are_refused(target) -> None:
    assert safe_location(target, ALLOWED) is None


@pytest.mark.parametrize("target", ["/", "/de/shop", "/de/%2Fx", "https://example.de/",
                                    "https://EXAMPLE.de/x?y=1", "http://example.de/a"])
def test_safe_targets_pass(target) -> None:
    assert safe_location(target, ALLOWED) == target


@pytest.mark.parametrize("path", ["//evil.com", "/\\evil.com", "///evil.com/x", "/%2F%2Fevil.com",
                                  "/shop/\r\nx", "/shop/ü", "/shop/<script>"])
def test_client_paths_stay_under_the_prefix(path) -> None:
    location = Redirect(path_prefix="/fr").location("edge.test", path, "", ALLOWED)
    assert location is not None and location.startswith("/fr/")
    assert safe_location(location, ()) == location


def test_host_redirect_keeps_path_and_query_encoded() -> None:
    r = Redirect(host="example.de", status=307)
    assert r.location("shop.ch", "/a b", "q=1\r\n", ALLOWED) == "https://example.de/a%20b?q=1%0D%0A"
    assert r.location("example.de", "/x", "", ALLOWED) is None  # already there: no loop
    assert r.location("shop.ch", "//evil.com", "", ALLOWED) == "https://example.de/evil.com"


def test_prefix_redirect_does_not_loop() -> None:
    r = Redirect(path_prefix="/fr/")
    assert r.location("h", "/fr", "", ALLOWED) is None
    assert r.location("h", "/fr/shop", "", ALLOWED) is None
    assert r.location("h", "/fra", "", ALLOWED) == "/fr/fra"
    assert r.location("h", "/", "a=1", ALLOWED) == "/fr/?a=1"


@pytest.mark.parametrize("prefix", ["//evil.com", "/\\evil.com", "https://evil.com", "evil", "/"])
def test_unsafe_prefixes_are_refused_when_compiled(prefix) -> None:
    with pytest.raises(ConfigError):
        Redirect(path_prefix=prefix)


@given(st.text(max_size=60), st.text(max_size=30), st.sampled_from(["/fr", "/de-DE/shop"]))
def test_no_path_or_query_escapes_the_prefix(path, query, prefix) -> None:
    location = Redirect(path_prefix=prefix).location("h", "/" + path, query, ALLOWED)
    if location is not None:
        assert location.startswith(prefix + "/") or location == prefix
        assert safe_location(location, ()) == location


@given(st.text(max_size=60), st.text(max_size=30))
def test_no_path_or_query_changes_the_host(path, query) -> None:
    location = Redirect(host="example.de").location("other", "/" + path, query, ALLOWED)
    assert location is not None and urlsplit(location).netloc == "example.de"
    assert safe_location(location, ALLOWED) == location


GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(("ua", "cf", "exempt"), [
    (GOOGLEBOT, {}, True),                                                  # no bot data: UA
    (GOOGLEBOT, {"botManagement": {"verifiedBot": True}}, True),
    (GOOGLEBOT, {"botManagement": {"verifiedBot": False}}, False),          # an impostor
    (GOOGLEBOT, {"verifiedBotCategory": "Search Engine Crawler"}, True),
    (GOOGLEBOT, {"verifiedBotCategory": "Monitoring & Analytics"}, False),
    ("Mozilla/5.0 (compatible; bingbot/2.0)", {}, True),
    ("Mozilla/5.0 Firefox/120.0", {"botManagement": {"verifiedBot": True}}, False),
    (None, {}, False),
])
def test_search_bots(ua, cf, exempt) -> None:
    assert is_search_bot(ua, GeoContext(cf)) is exempt
