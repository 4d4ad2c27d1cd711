"""``edgeline proxy`` as a subprocess against a scripted origin: the cache-tests categories.

Each case scripts the origin for its own path, sends requests through the
proxy, and checks what reached the origin: ``cached`` (nothing),
``not_cached`` (a plain request), ``etag_validated`` / ``lm_validated``
(a conditional request carrying the stored validator).
"""

from __future__ import annotations

import itertools
import time
from email.utils import formatdate
from typing import Any

import pytest

from .conftest import Proxy
from .origin_server import ScriptedOrigin

_ids = itertools.count()


def date(offset: float = 0) -> str:
    return formatdate(time.time() + offset, usegmt=True)


def _path(name: str) -> str:
    return f"/t/{name}-{next(_ids)}"


def exchange(proxy: Proxy, origin: ScriptedOrigin, responses: list[dict[str, Any]],
             second: dict[str, Any] | None = None, first: dict[str, Any] | None = None,
             name: str = "case") -> tuple[str, Any]:
    """Script ``responses``, send two requests; return (what the second did, its response)."""
    path = _path(name)
    origin.script(path, responses)
    first = first or {}
    proxy.client.request(first.get("method", "GET"), path, headers=first.get("headers", {}))
    second = second or {}
    response = proxy.client.request(second.get("method", "GET"), path + second.get("query", ""),
                                    headers=second.get("headers", {}))
    seen = origin.requests(path)
    if len(seen) == 1:
        return "cached", response
    last = seen[-1]["headers"]
    if "if-none-match" in last:
        return "etag_validated", response
    if "if-modified-since" in last:
        return "lm_validated", response
    return "not_cached", response


def ok(headers: list[tuple[str, str]], status: int = 200, body: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": status, "headers": headers}
    if body is not None:
        answer["body"] = body
    return answer


FRESHNESS = [
    ("max-age", [("Cache-Control", "max-age=3600")], "cached"),
    ("none", [], "not_cached"),
    ("s-maxage", [("Cache-Control", "s-maxage=3600")], "cached"),
    ("max-age-0", [("Cache-Control", "max-age=0")], "not_cached"),
    ("max-age-age", [("Cache-Control", "max-age=3600"), ("Age", "7200")], "not_cached"),
    ("s-maxage-wins", [("Cache-Control", "s-maxage=1, max-age=3600"), ("Age", "30")], "not_cached"),
    ("s-maxage-long", [("Cache-Control", "max-age=1, s-maxage=3600"), ("Age", "30")], "cached"),
    ("expires", [("Expires", date(3600)), ("Date", date())], "cached"),
    ("expires-past", [("Expires", date(-3600)), ("Date", date())], "not_cached"),
    ("expires-invalid-0", [("Expires", "0"), ("Date", date())], "not_cached"),
    ("max-age-beats-expires", [("Cache-Control", "max-age=3600"), ("Expires", date(-10)),
                               ("Date", date())], "cached"),
    ("expires-age", [("Expires", date(3600)), ("Date", date()), ("Age", "7200")], "not_cached"),
    ("date-skew", [("Cache-Control", "max-age=3600"), ("Date", date(-7200))], "not_cached"),
]

PARSING = [
    ("quoted", [("Cache-Control", 'max-age="3600"')], "cached"),
    ("case", [("Cache-Control", "MAX-AGE=3600")], "cached"),
    ("leading-zero", [("Cache-Control", "max-age=003600")], "cached"),
    ("dup-first-wins", [("Cache-Control", "max-age=3600, max-age=0")], "cached"),
    ("dup-lines", [("Cache-Control", "max-age=3600"), ("Cache-Control", "max-age=0")], "cached"),
    ("quoted-ext-ignored", [("Cache-Control", 'extension="max-age=3600", max-age=0')], "not_cached"),
    ("quoted-ext-rev", [("Cache-Control", 'max-age=0, extension="max-age=3600"')], "not_cached"),
    ("space-before-eq", [("Cache-Control", "max-age =3600")], "not_cached"),
    ("space-after-eq", [("Cache-Control", "max-age= 3600")], "not_cached"),
    ("single-quoted", [("Cache-Control", "max-age='3600'")], "not_cached"),
    ("trailing-alpha", [("Cache-Control", "max-age=3600a")], "not_cached"),
    ("decimal", [("Cache-Control", "max-age=3600.5")], "not_cached"),
    ("no-store-case", [("Cache-Control", "No-StOrE, max-age=3600")], "not_cached"),
    ("age-invalid-ignored", [("Cache-Control", "max-age=3600"), ("Age", "abc")], "cached"),
    ("age-first-value", [("Cache-Control", "max-age=3600"), ("Age", "7200, 0")], "not_cached"),
]

RESPONSE_DIRECTIVES = [
    ("no-store", [("Cache-Control", "no-store, max-age=3600")], "not_cached"),
    ("private", [("Cache-Control", "private, max-age=3600")], "not_cached"),
    ("no-cache-etag", [("Cache-Control", "no-cache, max-age=3600"), ("ETag", '"a"')],
     "etag_validated"),
    ("no-cache-lm", [("Cache-Control", "no-cache"), ("Last-Modified", date(-86400)),
                     ("Date", date())], "lm_validated"),
    ("no-cache-plain", [("Cache-Control", "no-cache, max-age=3600")], "not_cached"),
    ("must-revalidate-fresh", [("Cache-Control", "max-age=3600, must-revalidate")], "cached"),
    ("must-revalidate-stale", [("Cache-Control", "max-age=10, must-revalidate"),
                               ("ETag", '"b"'), ("Age", "20")], "etag_validated"),
    ("stale-etag", [("Cache-Control", "max-age=10"), ("ETag", "unquoted"), ("Age", "20")],
     "etag_validated"),
    ("set-cookie", [("Cache-Control", "max-age=3600"), ("Set-Cookie", "a=b")], "cached"),
    ("set-cookie-heuristic", [("Last-Modified", date(-86400)), ("Date", date()),
                              ("Set-Cookie", "a=b")], "not_cached"),
    ("vary-star", [("Cache-Control", "max-age=3600"), ("Vary", "*")], "not_cached"),
    ("vary-star-list", [("Cache-Control", "max-age=3600"), ("Vary", "Foo, *")], "not_cached"),
    ("must-understand", [("Cache-Control", "must-understand, no-store, max-age=3600")], "cached"),
    ("cdn-cc", [("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=3600")], "cached"),
    ("cdn-cc-short", [("Cache-Control", "max-age=3600"), ("CDN-Cache-Control", "max-age=0")],
     "not_cached"),
    ("cdn-cc-private", [("Cache-Control", "max-age=3600"), ("CDN-Cache-Control", "private")],
     "not_cached"),
    ("cdn-cc-invalid", [("Cache-Control", "no-store"), ("CDN-Cache-Control", "max-age=1, &&")],
     "not_cached"),
    ("cdn-cc-wrong-type", [("Cache-Control", "no-store"), ("CDN-Cache-Control", 'max-age="9"')],
     "not_cached"),
    ("edgeline-cc-first", [("CDN-Cache-Control", "max-age=3600"),
                           ("Edgeline-Cache-Control", "no-store")], "not_cached"),
    ("edgeline-cc", [("Cache-Control", "private"), ("Edgeline-Cache-Control", "max-age=3600")],
     "cached"),
]


@pytest.mark.parametrize(("name", "headers", "expected"), FRESHNESS + PARSING + RESPONSE_DIRECTIVES,
                         ids=[c[0] for c in FRESHNESS + PARSING + RESPONSE_DIRECTIVES])
def test_response_headers(proxy: Proxy, origin: tuple[ScriptedOrigin, str], name: str,
                          headers: list[tuple[str, str]], expected: str) -> None:
    kind, response = exchange(proxy, origin[0], [ok(headers)], name=name)
    assert kind == expected
    assert response.status_code == 200


HEURISTIC = [(s, True) for s in (200, 203, 204, 404, 405, 410, 414, 501)] + \
            [(s, False) for s in (201, 202, 403, 502, 503, 504, 599)]


@pytest.mark.parametrize(("status", "reused"), HEURISTIC)
def test_heuristic_freshness(proxy: Proxy, origin: tuple[ScriptedOrigin, str], status: int,
                             reused: bool) -> None:
    headers = [("Last-Modified", date(-86400)), ("Date", date())]
    kind, response = exchange(proxy, origin[0], [ok(headers, status)], name=f"h{status}")
    assert response.status_code == status
    # Unreused statuses reach the origin again, conditionally (it answers in full).
    assert (kind == "cached") is reused


def test_heuristic_public_makes_any_status_reusable(proxy: Proxy,
                                                    origin: tuple[ScriptedOrigin, str]) -> None:
    headers = [("Last-Modified", date(-86400)), ("Date", date()), ("Cache-Control", "public")]
    kind, _ = exchange(proxy, origin[0], [ok(headers, 599)])
    assert kind == "cached"


@pytest.mark.parametrize("status", [200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410,
                                    499, 500, 502, 503, 504, 599])
def test_status_with_explicit_freshness(proxy: Proxy, origin: tuple[ScriptedOrigin, str],
                                        status: int) -> None:
    fresh, response = exchange(proxy, origin[0], [ok([("Cache-Control", "max-age=3600")], status)])
    assert fresh == "cached" and response.status_code == status
    stale, _ = exchange(proxy, origin[0], [ok([("Cache-Control", "max-age=10"), ("Age", "20")],
                                              status)])
    assert stale == "not_cached"


def test_vary(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    vary = [("Cache-Control", "max-age=3600"), ("Vary", "Foo")]
    assert exchange(proxy, o, [ok(vary)], {"headers": {"Foo": "1"}}, {"headers": {"Foo": "1"}})[0] == "cached"
    assert exchange(proxy, o, [ok(vary)], {"headers": {"Foo": "2"}}, {"headers": {"Foo": "1"}})[0] == "not_cached"
    assert exchange(proxy, o, [ok(vary)], {}, {"headers": {"Foo": "1"}})[0] == "not_cached"
    assert exchange(proxy, o, [ok(vary)])[0] == "cached"
    assert exchange(proxy, o, [ok(vary)], {"headers": {"Foo": "1, 2"}},
                    {"headers": {"Foo": "1,2"}})[0] == "cached"
    two = [("Cache-Control", "max-age=3600"), ("Vary", "Foo, Bar")]
    assert exchange(proxy, o, [ok(two)], {"headers": {"Foo": "1", "Bar": "b"}},
                    {"headers": {"Foo": "1", "Bar": "a"}})[0] == "not_cached"
    assert exchange(proxy, o, [ok(two)], {"headers": {"bar": "a", "FOO": "1"}},
                    {"headers": {"Foo": "1", "Bar": "a"}})[0] == "cached"


def test_vary_keeps_several_variants(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("variants")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Vary", "Foo")], body="one"),
                    ok([("Cache-Control", "max-age=3600"), ("Vary", "Foo")], body="two")])
    assert proxy.client.get(path, headers={"Foo": "1"}).text == "one"
    assert proxy.client.get(path, headers={"Foo": "2"}).text == "two"
    assert proxy.client.get(path, headers={"Foo": "1"}).text == "one"
    assert proxy.client.get(path, headers={"Foo": "2"}).text == "two"
    assert o.count(path) == 2


def test_conditional_validation_sends_vary_headers(proxy: Proxy,
                                                   origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("cond-vary")
    headers = [("Cache-Control", "max-age=10"), ("Age", "20"), ("ETag", '"v"'), ("Vary", "Abc")]
    o.script(path, [ok(headers)])
    proxy.client.get(path, headers={"Abc": "123"})
    proxy.client.get(path, headers={"Abc": "123"})
    last = o.requests(path)[-1]["headers"]
    assert last["if-none-match"] == '"v"' and last["abc"] == "123"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "M-SEARCH"])
def test_unsafe_methods_invalidate(proxy: Proxy, origin: tuple[ScriptedOrigin, str],
                                   method: str) -> None:
    o = origin[0]
    fresh = ok([("Cache-Control", "max-age=3600")])
    kind, _ = exchange(proxy, o, [fresh, fresh, fresh], first={},
                       second={"method": method})
    path = [p for p in o._log if o._log[p] and o._log[p][-1]["method"] == method][-1]
    assert o.requests(path)[-1]["method"] == method  # passed through
    assert proxy.client.get(path).status_code == 200
    assert o.count(path) == 3  # the GET after the unsafe method went to the origin


def test_failed_unsafe_method_does_not_invalidate(proxy: Proxy,
                                                  origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("post-fail")
    o.script(path, [ok([("Cache-Control", "max-age=3600")]), ok([], 500)])
    proxy.client.get(path)
    assert proxy.client.post(path, content=b"abc").status_code == 500
    proxy.client.get(path)
    assert o.count(path) == 2


@pytest.mark.parametrize("field", ["Location", "Content-Location"])
def test_invalidation_follows_location(proxy: Proxy, origin: tuple[ScriptedOrigin, str],
                                       field: str) -> None:
    o = origin[0]
    target = _path("loc-target")
    poster = _path("loc-post")
    o.script(target, [ok([("Cache-Control", "max-age=3600")])])
    o.script(poster, [ok([(field, target)], 200)])
    proxy.client.get(target)
    proxy.client.get(target)
    assert o.count(target) == 1
    proxy.client.post(poster, content=b"abc")
    proxy.client.get(target)
    assert o.count(target) == 2


def test_methods_pass_through_with_bodies(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("methods")
    o.script(path, [ok([("Cache-Control", "max-age=3600")], 201, body="made")])
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        response = proxy.client.request(method, path, content=b"payload-" + method.encode())
        assert response.status_code == 201 and response.text == "made"
    seen = o.requests(path)
    assert [r["method"] for r in seen] == ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    assert seen[0]["body"] == b"payload-POST"
    assert seen[0]["headers"]["host"] == origin[1].removeprefix("http://")
    assert seen[0]["headers"]["x-forwarded-host"] == proxy.url.removeprefix("http://")
    assert seen[0]["headers"]["x-forwarded-proto"] == "http"


def test_client_conditionals_answered_from_cache(proxy: Proxy,
                                                 origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    headers = [("Cache-Control", "max-age=3600"), ("ETag", '"abcdef"'),
               ("Last-Modified", date(-5000)), ("Date", date())]
    for conditional in ({"If-None-Match": '"abcdef"'}, {"If-None-Match": 'W/"1", "abcdef"'},
                        {"If-None-Match": "abcdef"}, {"If-Modified-Since": date()},
                        {"If-None-Match": '"abcdef"', "If-Modified-Since": date(-100000)}):
        kind, response = exchange(proxy, o, [ok(headers)], {"headers": conditional})
        assert kind == "cached" and response.status_code == 304, conditional
        assert response.headers["etag"] == '"abcdef"'
    kind, response = exchange(proxy, o, [ok(headers)], {"headers": {"If-None-Match": '"zz"'}})
    assert kind == "cached" and response.status_code == 200


def test_304_updates_stored_headers(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("update304")
    first = [("Cache-Control", "max-age=10"), ("Age", "20"), ("ETag", '"e1"'),
             ("Test-Header", "A"), ("Content-Type", "text/plain")]
    second = [("Cache-Control", "max-age=3600"), ("ETag", '"e1"'), ("Test-Header", "B"),
              ("Content-Type", "text/plain;charset=utf-8")]
    o.script(path, [ok(first, body="the body"), ok(second, body="not sent")])
    proxy.client.get(path)
    validated = proxy.client.get(path)
    assert o.requests(path)[-1]["headers"]["if-none-match"] == '"e1"'
    assert validated.status_code == 200 and validated.text == "the body"
    assert validated.headers["test-header"] == "B"
    again = proxy.client.get(path)
    assert o.count(path) == 2
    assert again.headers["test-header"] == "B"
    assert again.headers["content-type"] == "text/plain;charset=utf-8"
    assert "hit" in again.headers["cache-status"]


def test_age_and_date_on_hits(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    sent_date = date()
    kind, response = exchange(proxy, o, [ok([("Cache-Control", "max-age=600"), ("Age", "30"),
                                             ("Date", sent_date)])])
    assert kind == "cached"
    assert int(response.headers["age"]) >= 30
    assert response.headers["date"] == sent_date
    assert response.headers["cache-status"].startswith("edgeline; hit; ttl=")


def test_head_from_stored_get_and_ranges(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("head-range")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("ETag", '"r"')], body="0123456789A")])
    assert proxy.client.get(path).text == "0123456789A"
    head = proxy.client.head(path)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "11"
    assert proxy.client.get(path, headers={"Range": "bytes=0-1"}).text == "01"
    part = proxy.client.get(path, headers={"Range": "bytes=-1"})
    assert part.status_code == 206 and part.text == "A"
    assert part.headers["content-range"] == "bytes 10-10/11"
    assert proxy.client.get(path, headers={"Range": "bytes=1-"}).text == "123456789A"
    assert proxy.client.get(path, headers={"Range": "bytes=20-"}).status_code == 416
    assert proxy.client.get(path, headers={"Range": "bytes=0-1", "If-Range": '"other"'}).status_code == 200
    assert o.count(path) == 1


def test_authorization(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    auth = {"headers": {"Authorization": "Bearer x"}}
    assert exchange(proxy, o, [ok([("Cache-Control", "max-age=3600")])], auth, auth)[0] == "not_cached"
    assert exchange(proxy, o, [ok([("Cache-Control", "max-age=3600, public")])], auth, auth)[0] == "cached"
    assert exchange(proxy, o, [ok([("Cache-Control", "s-maxage=3600")])], auth, auth)[0] == "cached"


def test_request_directives(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    fresh = [ok([("Cache-Control", "max-age=3600")])]
    assert exchange(proxy, o, fresh, {"headers": {"Cache-Control": "no-cache"}})[0] == "not_cached"
    assert exchange(proxy, o, fresh, {"headers": {"Pragma": "no-cache"}})[0] == "not_cached"
    assert exchange(proxy, o, fresh, {"headers": {"Cache-Control": "max-age=0"}})[0] == "not_cached"
    assert exchange(proxy, o, [ok([("Cache-Control", "max-age=1500")])],
                    {"headers": {"Cache-Control": "min-fresh=2000"}})[0] == "not_cached"
    assert exchange(proxy, o, [ok([("Cache-Control", "max-age=1500"), ("Age", "2000")])],
                    {"headers": {"Cache-Control": "max-stale=1000"}})[0] == "cached"
    assert exchange(proxy, o, fresh, {"headers": {"Cache-Control": "no-store"}})[0] == "not_cached"
    path = _path("oic")
    o.script(path, fresh)
    response = proxy.client.get(path, headers={"Cache-Control": "only-if-cached"})
    assert response.status_code == 504 and o.count(path) == 0


def test_query_keys(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    fresh = [ok([("Cache-Control", "max-age=3600")])]
    path = _path("query")
    o.script(path, fresh)
    proxy.client.get(path + "?b=2&a=1&utm_source=news")
    proxy.client.get(path + "?a=1&b=2&fbclid=zzz")
    assert o.count(path) == 1
    proxy.client.get(path + "?a=1&b=3")
    assert o.count(path) == 2
    assert o.requests(path)[0]["query"] == "b=2&a=1&utm_source=news"  # origin sees the real URL


def test_stale_if_error_on_503(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("sie")
    o.script(path, [ok([("Cache-Control", "max-age=10, stale-if-error=600"), ("Age", "20")],
                       body="good"), ok([], 503, body="down")])
    proxy.client.get(path)
    response = proxy.client.get(path)
    assert response.status_code == 200 and response.text == "good"
    assert "stale-if-error" in response.headers["cache-status"]
    path2 = _path("no-sie")
    o.script(path2, [ok([("Cache-Control", "max-age=10"), ("Age", "20")], body="good"),
                     ok([], 503, body="down")])
    proxy.client.get(path2)
    assert proxy.client.get(path2).status_code == 503


def test_stale_while_revalidate(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("swr")
    o.script(path, [ok([("Cache-Control", "max-age=10, stale-while-revalidate=600"), ("Age", "20")],
                       body="old"),
                    ok([("Cache-Control", "max-age=3600")], body="new")])
    proxy.client.get(path)
    stale = proxy.client.get(path)
    assert stale.text == "old" and "stale-while-revalidate" in stale.headers["cache-status"]
    deadline = time.monotonic() + 5
    while o.count(path) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    assert proxy.client.get(path).text == "new"
    assert o.count(path) == 2


def test_stored_headers_omit_connection_and_no_cache_fields(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    kind, response = exchange(proxy, o, [ok([("Cache-Control", 'max-age=3600, no-cache="a"'),
                                             ("a", "1"), ("b", "2")])])
    assert kind == "cached" and "a" not in response.headers and response.headers["b"] == "2"


def test_real_wall_clock_expiry(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("expire")
    o.script(path, [ok([("Cache-Control", "max-age=1")])])
    proxy.client.get(path)
    proxy.client.get(path)
    assert o.count(path) == 1
    time.sleep(1.6)
    proxy.client.get(path)
    assert o.count(path) == 2


def test_origin_down_gives_clean_502(origin: tuple[ScriptedOrigin, str]) -> None:
    from tests.conftest import free_port

    dead = Proxy(f"http://127.0.0.1:{free_port()}")
    try:
        response = dead.client.get("/anything")
        assert response.status_code == 502
        assert response.headers["content-type"] == "application/problem+json"
    finally:
        dead.close()


# -- HEAD freshens a stored GET (RFC 9111 §4.3.5; cache-tests "update-head") ----------------

def _stale_get(o: ScriptedOrigin, name: str, head_answer: dict[str, Any]) -> str:
    path = _path(name)
    o.script(path, [ok([("Cache-Control", "max-age=10"), ("Age", "20"), ("Template-A", "1")],
                       body="the body"), head_answer])
    return path


def test_head_on_stale_get_is_sent_as_head_and_updates_it(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _stale_get(o, "head-update", ok([("Cache-Control", "max-age=1000"),
                                             ("Template-A", "2")], body="the body"))
    proxy.client.get(path)
    head = proxy.client.head(path)
    assert o.requests(path)[-1]["method"] == "HEAD"  # written through as a HEAD
    assert head.status_code == 200 and head.headers["template-a"] == "2"
    again = proxy.client.get(path)
    assert o.count(path) == 2  # the HEAD made the stored GET fresh
    assert again.text == "the body" and again.headers["template-a"] == "2"
    assert "hit" in again.headers["cache-status"]


def test_head_200_keeps_stored_fields_it_does_not_carry(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _stale_get(o, "head-retain", ok([], body="the body"))
    proxy.client.get(path)
    head = proxy.client.head(path)
    assert o.requests(path)[-1]["method"] == "HEAD"
    assert head.headers["template-a"] == "1"


def test_head_with_other_validator_drops_stored_get(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("head-mismatch")
    o.script(path, [ok([("Cache-Control", "max-age=10"), ("Age", "20"), ("ETag", '"one"')],
                       body="old"),
                    ok([("Cache-Control", "max-age=1000"), ("ETag", '"two"')], body="new"),
                    ok([("Cache-Control", "max-age=1000"), ("ETag", '"two"')], body="new")])
    proxy.client.get(path)
    head = proxy.client.head(path)
    assert head.status_code == 200 and head.headers["etag"] == '"two"'
    assert o.requests(path)[1]["headers"]["if-none-match"] == '"one"'
    assert proxy.client.get(path).text == "new"  # the old body is not served under new fields
    assert o.count(path) == 3


def test_head_content_length_mismatch_drops_stored_get(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _stale_get(o, "head-length", ok([("Cache-Control", "max-age=1000")],
                                           body="a longer body than before"))
    proxy.client.get(path)
    proxy.client.head(path)
    assert proxy.client.get(path).text == "a longer body than before"
    assert o.count(path) == 3


def test_head_miss_is_answered_but_not_stored(proxy: Proxy,
                                              origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("head-miss")
    o.script(path, [ok([("Cache-Control", "max-age=3600")], body="body")])
    head = proxy.client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert "detail=method" in head.headers["cache-status"]
    got = proxy.client.get(path)
    assert got.text == "body" and o.count(path) == 2  # the HEAD stored no (empty) GET body
    assert proxy.client.head(path).headers["content-length"] == "4"
    assert o.count(path) == 2


# -- collapsing: waiters released as soon as the leader's outcome is known -----------------

def test_waiters_released_when_streamed_body_outgrows_store(
        origin: tuple[ScriptedOrigin, str], tmp_path: Any) -> None:
    import threading

    o = origin[0]
    config = tmp_path / "cache.toml"
    config.write_text("max_object_bytes = 1000\ncollapse_timeout = 8.0\n")
    running = Proxy(origin[1], config)
    try:
        path = _path("outgrow")
        o.script(path, [{"status": 200, "headers": [("Cache-Control", "max-age=3600")],
                         "chunks": [("x" * 1500, 1.5), ("y" * 10, 0)]}])
        results: list[int] = []

        def fetch() -> None:
            results.append(len(running.client.get(path).content))

        first = threading.Thread(target=fetch)
        first.start()
        deadline = time.monotonic() + 5
        while o.count(path) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        second = threading.Thread(target=fetch)
        second.start()
        first.join(10)
        second.join(10)
        seen = o.requests(path)
        assert results == [1510, 1510] and len(seen) == 2
        # The waiter reached the origin once the body passed the limit, not after it ended.
        assert seen[1]["at"] - seen[0]["at"] < 1.2
    finally:
        running.close()


# -- invalidation (RFC 9111 §4.4) and request directives (§5.2.1) --------------------------

def test_other_host_location_does_not_invalidate(proxy: Proxy,
                                                 origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    target = _path("xhost-target")
    poster = _path("xhost-post")
    o.script(target, [ok([("Cache-Control", "max-age=3600")])])
    o.script(poster, [ok([("Location", "http://elsewhere.example" + target),
                          ("Content-Location", "http://elsewhere.example" + target)], 200)])
    proxy.client.get(target)
    proxy.client.post(poster, content=b"abc")
    proxy.client.get(target)
    assert o.count(target) == 1


def test_failed_unsafe_method_keeps_location_target(proxy: Proxy,
                                                    origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    target = _path("fail-loc-target")
    poster = _path("fail-loc-post")
    o.script(target, [ok([("Cache-Control", "max-age=3600")])])
    o.script(poster, [ok([("Location", target)], 500)])
    proxy.client.get(target)
    proxy.client.post(poster, content=b"abc")
    proxy.client.get(target)
    assert o.count(target) == 1


def test_request_directives_validate_and_refuse(proxy: Proxy,
                                                origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    etag = [ok([("Cache-Control", "max-age=3600"), ("ETag", '"abc"')])]
    assert exchange(proxy, o, etag, {"headers": {"Cache-Control": "no-cache"}})[0] == "etag_validated"
    lm = [ok([("Cache-Control", "max-age=3600"), ("Last-Modified", date(-10000)),
              ("Date", date())])]
    assert exchange(proxy, o, lm, {"headers": {"Cache-Control": "no-cache"}})[0] == "lm_validated"
    aged = [ok([("Cache-Control", "max-age=3600"), ("Age", "1800")])]
    assert exchange(proxy, o, aged, {"headers": {"Cache-Control": "max-age=600"}})[0] == "not_cached"
    assert exchange(proxy, o, [ok([("Cache-Control", "max-age=1500"), ("Age", "1000")])],
                    {"headers": {"Cache-Control": "min-fresh=1000"}})[0] == "not_cached"
    # max-stale does not override must-revalidate (RFC 9111 §5.2.2.2).
    strict = [ok([("Cache-Control", "max-age=1, must-revalidate"), ("Age", "20")])]
    assert exchange(proxy, o, strict, {"headers": {"Cache-Control": "max-stale=1000"}})[0] == \
        "not_cached"
    path = _path("oic-stale")
    o.script(path, [ok([("Cache-Control", "max-age=10"), ("Age", "20")])])
    proxy.client.get(path)
    response = proxy.client.get(path, headers={"Cache-Control": "only-if-cached"})
    assert response.status_code == 504 and o.count(path) == 1
    assert proxy.client.get(path, headers={"Cache-Control": "only-if-cached, max-stale"}
                            ).status_code == 200


@pytest.mark.parametrize("kind", ["kv", "tiered"])
def test_kv_store(origin: tuple[ScriptedOrigin, str], tmp_path: Any, kind: str) -> None:
    from edgeline.emulator.kv import KVStorage

    o = origin[0]
    config = tmp_path / "cache.toml"
    config.write_text(f'store = "{kind}"\nkv_path = "{tmp_path / "kv.sqlite3"}"\n')
    path = _path(f"kv-{kind}")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("ETag", '"k"')], body="kept")])
    running = Proxy(origin[1], config)
    try:
        assert running.client.get(path).text == "kept"
        again = running.client.get(path)
    finally:
        running.close()
    assert again.text == "kept" and "hit" in again.headers["cache-status"]
    assert o.count(path) == 1
    storage = KVStorage(tmp_path / "kv.sqlite3")
    try:
        names = [k["name"] for k in storage.namespace("edgeline-cache").sync.list()["keys"]]
    finally:
        storage.close()
    assert any(path in name for name in names)  # the entry is in the KV file


def test_unknown_store_is_a_config_error(tmp_path: Any) -> None:
    from edgeline.errors import ConfigError
    from edgeline.proxy import load_config

    config = tmp_path / "cache.toml"
    config.write_text('store = "disk"\n')
    with pytest.raises(ConfigError, match="store"):
        load_config(str(config))


def test_a_proxy_whose_origin_is_itself_answers_508() -> None:
    looping = Proxy(None)
    try:
        answer = looping.client.get("/loop", headers={"cdn-loop": "cloudflare"})
        assert answer.status_code == 508
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["title"] == "Loop Detected"
        # The refusal came back through the first hop (it carries that hop's Via).
        assert answer.headers["via"] == "1.1 edgeline"
        assert answer.headers["cache-control"] == "no-store"
    finally:
        looping.close()
