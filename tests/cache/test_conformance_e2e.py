"""``edgeline proxy`` against a scripted origin: behaviours the HTTP caching test suites probe.

Every request here carries what a conformance client sends on each request
to keep its own fetch layer from caching (``Cache-Control:
nothing-to-see-here``, ``Pragma: foo``): an unknown request directive must
not change what the cache does (RFC 9111 §5.2: unknown directives are
ignored).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .conftest import OriginThread, Proxy
from .origin_server import ScriptedOrigin
from .test_proxy_e2e import _path, date, ok

CLIENT = {"Cache-Control": "nothing-to-see-here", "Pragma": "foo"}


def get(proxy: Proxy, path: str, method: str = "GET", **headers: str) -> httpx.Response:
    return proxy.client.request(method, path, headers={**CLIENT, **headers})


def wait_for(origin: ScriptedOrigin, path: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while origin.count(path) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def until_body(proxy: Proxy, path: str, body: str) -> httpx.Response:
    """Request ``path`` until the refreshed copy is served (it is stored just after arriving)."""
    deadline = time.monotonic() + 10
    while True:
        answer = get(proxy, path)
        if answer.text == body or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


# -- RFC 5861 stale-while-revalidate with an unrelated request directive --------------------

def test_swr_serves_stale_and_refreshes_in_the_background(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("swr-client")
    o.script(path, [ok([("Cache-Control", "max-age=0, stale-while-revalidate=3600"),
                        ("ETag", '"abc"')], body="old"),
                    ok([("Cache-Control", "max-age=3600"), ("ETag", '"def"')], body="new")])
    get(proxy, path)
    stale = get(proxy, path)
    assert stale.text == "old" and stale.headers["etag"] == '"abc"'
    assert "stale-while-revalidate" in stale.headers["cache-status"]
    wait_for(o, path, 2)
    assert o.requests(path)[1]["headers"]["if-none-match"] == '"abc"'
    fresh = until_body(proxy, path, "new")
    assert fresh.text == "new" and fresh.headers["etag"] == '"def"'
    assert "hit" in fresh.headers["cache-status"] and o.count(path) == 2


def test_swr_window_ends(proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("swr-window")
    o.script(path, [ok([("Cache-Control", "max-age=1, stale-while-revalidate=4"),
                        ("Age", "20")], body="old"), ok([], body="new")])
    get(proxy, path)
    assert get(proxy, path).text == "new"  # 19 s stale: past the 4 s window
    assert o.count(path) == 2


@pytest.mark.parametrize("directive", ["no-cache", "max-age=0", "min-fresh=10"])
def test_swr_not_used_when_the_client_asks_for_fresh(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str], directive: str) -> None:
    o = origin[0]
    path = _path("swr-strict")
    o.script(path, [ok([("Cache-Control", "max-age=0, stale-while-revalidate=3600")], body="old"),
                    ok([], body="new")])
    get(proxy, path)
    assert proxy.client.get(path, headers={"Cache-Control": directive}).text == "new"


def test_unknown_request_directive_does_not_stop_hits(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("unknown-directive")
    o.script(path, [ok([("Cache-Control", "max-age=3600")])])
    get(proxy, path)
    assert "hit" in get(proxy, path).headers["cache-status"]
    assert o.count(path) == 1


# -- validation sends the stored entity-tag as it was received (RFC 9111 §4.3.1) ------------

@pytest.mark.parametrize("etag", ['"abc"', 'W/"abc"', "ABCDEFGHIJ"])
def test_validation_sends_the_stored_etag_verbatim(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str], etag: str) -> None:
    o = origin[0]
    path = _path("etag-verbatim")
    o.script(path, [ok([("Cache-Control", "max-age=10"), ("Age", "20"), ("ETag", etag)],
                       body="kept")])
    get(proxy, path)
    again = get(proxy, path)
    assert o.requests(path)[1]["headers"]["if-none-match"] == etag
    assert again.status_code == 200 and again.text == "kept"  # the origin said 304


# -- Set-Cookie: stored when explicitly cacheable (the proxy's "explicit" default) ---------

def test_set_cookie_stored_with_explicit_freshness(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("cookie")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Set-Cookie", "a=c")])])
    get(proxy, path)
    hit = get(proxy, path)
    assert "hit" in hit.headers["cache-status"] and hit.headers["set-cookie"] == "a=c"


def test_set_cookie_bypass_setting(origin: tuple[ScriptedOrigin, str], tmp_path: Any) -> None:
    o = origin[0]
    config = tmp_path / "cache.toml"
    config.write_text('set_cookie = "bypass"\n')
    running = Proxy(origin[1], config)
    try:
        path = _path("cookie-bypass")
        o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Set-Cookie", "a=c")])])
        get(running, path)
        assert "detail=set-cookie" in get(running, path).headers["cache-status"]
        assert o.count(path) == 2
    finally:
        running.close()


# -- stored fields (RFC 9111 §3.1) and 304 updates (§3.2) -----------------------------------

def test_proxy_authentication_info_is_not_stored(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("pai")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Proxy-Authentication-Info", "x"),
                        ("Test-Header", "kept")])])
    get(proxy, path)
    hit = get(proxy, path)
    assert "proxy-authentication-info" not in hit.headers and hit.headers["test-header"] == "kept"


def test_304_updates_content_encoding_but_not_content_length(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("304-fields")
    first = [("Cache-Control", "max-age=1"), ("Age", "5"), ("ETag", '"e"'),
             ("Content-Encoding", "x-one"), ("Content-Range", "one")]
    second = [("Cache-Control", "max-age=3600"), ("ETag", '"e"'),
              ("Content-Encoding", "x-two"), ("Content-Range", "two"), ("X-New", "1")]
    o.script(path, [ok(first, body="0123456789"), ok(second, body="ignored body")])
    get(proxy, path)
    validated = get(proxy, path)
    assert o.requests(path)[1]["headers"]["if-none-match"] == '"e"'
    hit = get(proxy, path)
    for response in (validated, hit):
        assert response.headers["content-encoding"] == "x-two"
        assert response.headers["content-range"] == "two"
        assert response.headers["x-new"] == "1"
        assert response.headers["content-length"] == "10" and response.content == b"0123456789"
    assert o.count(path) == 2


def test_304_with_another_strong_etag_is_not_applied(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("304-other")
    o.script(path, [ok([("Cache-Control", "max-age=1"), ("Age", "5"), ("ETag", '"one"'),
                        ("Test-Header", "A")], body="first"),
                    {"status": 304, "headers": [("ETag", '"two"'), ("Test-Header", "B")],
                     "conditional": False},
                    ok([("Cache-Control", "max-age=3600"), ("ETag", '"two"')], body="second")])
    get(proxy, path)
    answer = get(proxy, path)
    assert answer.text == "second" and "test-header" not in answer.headers
    assert "if-none-match" not in o.requests(path)[2]["headers"]  # refetched in full


# -- Vary: Accept-Language normalised and selected by weight (RFC 9111 §4.1) ----------------

@pytest.mark.parametrize("second", ["de, en", "eN, De", "en ,   de", "de;q=1, en"])
def test_accept_language_normalised(proxy: Proxy, origin: tuple[ScriptedOrigin, str],
                                    second: str) -> None:
    o = origin[0]
    path = _path("lang-norm")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Vary", "Accept-Language")])])
    get(proxy, path, **{"Accept-Language": "en, de"})
    assert "hit" in get(proxy, path, **{"Accept-Language": second}).headers["cache-status"]
    assert "hit" not in get(proxy, path, **{"Accept-Language": "fr"}).headers["cache-status"]


def test_accept_language_selects_stored_content_language(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("lang-select")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Vary", "Accept-Language"),
                        ("Content-Language", "de")], body="Hallo"),
                    ok([("Cache-Control", "max-age=3600"), ("Vary", "Accept-Language"),
                        ("Content-Language", "fr")], body="Bonjour")])
    get(proxy, path, **{"Accept-Language": "en, de"})
    chosen = get(proxy, path, **{"Accept-Language": "fr;q=0.5, de;q=1.0"})
    assert chosen.text == "Hallo" and "hit" in chosen.headers["cache-status"]
    other = get(proxy, path, **{"Accept-Language": "fr, de;q=0.5"})  # prefers French
    assert other.text == "Bonjour" and o.count(path) == 2


# -- POST answers reused for GET (RFC 9110 §9.3.3) ------------------------------------------

def test_post_with_content_location_and_freshness_answers_later_gets(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("post-cache")
    o.script(path, [ok([("Expires", date(3600)), ("Date", date()), ("Content-Location", path)],
                       body="made")])
    assert proxy.client.post(path, content=b"12345", headers=CLIENT).text == "made"
    hit = get(proxy, path)
    assert hit.text == "made" and "hit" in hit.headers["cache-status"]
    assert [r["method"] for r in o.requests(path)] == ["POST"]


@pytest.mark.parametrize("headers", [
    [("Cache-Control", "max-age=3600")],                                   # no Content-Location
    [("Content-Location", "/elsewhere")],                                  # no freshness
    [("Cache-Control", "max-age=3600"), ("Content-Location", "/other")],   # another URI
])
def test_post_answers_not_reused_otherwise(proxy: Proxy, origin: tuple[ScriptedOrigin, str],
                                           headers: list[tuple[str, str]]) -> None:
    o = origin[0]
    path = _path("post-nocache")
    o.script(path, [ok(headers, body="made"), ok([], body="got")])
    proxy.client.post(path, content=b"12345", headers=CLIENT)
    assert get(proxy, path).text == "got"


# -- Surrogate-Control (W3C Edge Architecture), on in edgeline proxy ------------------------

SURROGATE = [
    ("sc-max-age", [("Surrogate-Control", "max-age=3600")], "cached"),
    ("sc-over-cc-no-store", [("Cache-Control", "no-store"),
                             ("Surrogate-Control", "max-age=3600")], "cached"),
    ("sc-targeted-at-us", [("Cache-Control", "no-store"),
                           ("Surrogate-Control", "max-age=3600;edgeline")], "cached"),
    ("sc-other-target", [("Surrogate-Control", "max-age=3600;not-for-you")], "not_cached"),
    ("sc-zero-beats-expires", [("Surrogate-Control", "max-age=0"), ("Expires", date(3600)),
                               ("Date", date())], "not_cached"),
    ("sc-short-beats-cc", [("Cache-Control", "max-age=3600"), ("Surrogate-Control", "max-age=1"),
                           ("Age", "5")], "not_cached"),
    ("sc-no-store", [("Cache-Control", "max-age=3600"), ("Surrogate-Control", "no-store")],
     "not_cached"),
]


@pytest.mark.parametrize(("name", "headers", "expected"), SURROGATE, ids=[c[0] for c in SURROGATE])
def test_surrogate_control(proxy: Proxy, origin: tuple[ScriptedOrigin, str], name: str,
                           headers: list[tuple[str, str]], expected: str) -> None:
    o = origin[0]
    path = _path(name)
    o.script(path, [ok(headers)])
    get(proxy, path)
    get(proxy, path)
    assert ("cached" if o.count(path) == 1 else "not_cached") == expected
    assert o.requests(path)[0]["headers"]["surrogate-capability"] == 'edgeline="Surrogate/1.0"'


# -- 206 answers reused for the same Range (RFC 9111 §3.3) ----------------------------------

def test_partial_response_reused_for_the_same_range(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("partial")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Content-Range", "bytes 5-9/10")],
                       status=206, body="56789"),
                    ok([("Cache-Control", "max-age=3600")], body="0123456789")])
    first = get(proxy, path, Range="bytes=-5")
    assert first.status_code == 206 and o.requests(path)[0]["headers"]["range"] == "bytes=-5"
    again = get(proxy, path, Range="bytes=-5")
    assert again.status_code == 206 and again.text == "56789"
    assert again.headers["content-range"] == "bytes 5-9/10" and "hit" in again.headers["cache-status"]
    full = get(proxy, path)  # a stored 206 never answers a request for the whole
    assert full.status_code == 200 and full.text == "0123456789" and o.count(path) == 2
    assert get(proxy, path, Range="bytes=0-1").text == "01"  # from the stored 200
    assert o.count(path) == 2


# -- a disconnected origin: stale served unless the response forbids it (§4.2.4) ------------

@pytest.mark.parametrize(("cc", "served"), [
    ("max-age=1", True), ("max-age=1, stale-if-error=60", True),
    ("max-age=1, must-revalidate", False), ("max-age=1, proxy-revalidate", False),
    ("max-age=1, no-cache", False), ("max-age=1, s-maxage=1", False),
])
def test_stale_when_the_origin_is_gone(cc: str, served: bool) -> None:
    app = ScriptedOrigin()
    path = _path("gone")
    app.script(path, [ok([("Cache-Control", cc), ("Age", "5")], body="kept")])
    server = OriginThread(app).__enter__()
    try:
        proxy = Proxy(server.url)
    except BaseException:
        server.__exit__(None, None, None)
        raise
    try:
        assert get(proxy, path).text == "kept"
    finally:
        server.__exit__(None, None, None)  # the origin goes away
    try:
        answer = get(proxy, path)
        if served:
            assert answer.status_code == 200 and answer.text == "kept"
            assert "stale-if-error" in answer.headers["cache-status"]
        else:
            assert answer.status_code in (502, 504) and "kept" not in answer.text
    finally:
        proxy.close()


# -- an origin that sends more than its Content-Length does not poison the pool -------------

def test_misframed_origin_response_does_not_break_the_next_exchange() -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    body = b"0123456789abcdefghijklmnopqrstuvwxyz"

    def connection(sock: socket.socket) -> None:
        buffer = b""
        with sock:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    # /short declares 10 bytes and sends 36, as a broken origin might.
                    length = b"10" if b" /short" in head.split(b"\r\n")[0] else b"36"
                    sock.sendall(b"HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\n"
                                 b"Content-Length: " + length + b"\r\n\r\n" + body)

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=connection, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    proxy = Proxy(f"http://127.0.0.1:{listener.getsockname()[1]}")
    try:
        assert get(proxy, "/short").content == b"0123456789"
        for path in ("/next", "/after"):  # the same pooled connection would carry these
            answer = get(proxy, path)
            assert answer.status_code == 200 and answer.content == body
    finally:
        proxy.close()
        listener.close()


@pytest.mark.parametrize(("field", "first", "second"), [
    ("Test-Header", "A", "B"), ("X-Test-Header", "A", "B"), ("Content-Foo", "A", "B"),
    ("X-Content-Foo", "A", "B"), ("Content-Type", "text/plain", "text/plain;charset=utf-8"),
    ("Content-Location", "/foo", "/bar"), ("Expires", date(3600), date(7200)),
    ("Set-Cookie", "a=b", "a=c"), ("X-Frame-Options", "deny", "sameorigin"),
])
def test_304_updates_and_returns_each_field(proxy: Proxy, origin: tuple[ScriptedOrigin, str],
                                            field: str, first: str, second: str) -> None:
    o = origin[0]
    path = _path("304-each")
    o.script(path, [ok([("Cache-Control", "max-age=2"), ("Age", "5"), ("ETag", '"v"'),
                        (field, first)]),
                    ok([("Cache-Control", "max-age=3600"), ("ETag", '"v"'), (field, second)])])
    get(proxy, path)
    validated = get(proxy, path)
    hit = get(proxy, path)
    assert o.count(path) == 2 and "hit" in hit.headers["cache-status"]
    assert validated.headers[field] == second and hit.headers[field] == second


def test_head_answered_410_leaves_the_stored_get_alone(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("head-410")
    o.script(path, [ok([("Cache-Control", "max-age=2"), ("Age", "5"), ("Template-A", "1")],
                       body="the body"),
                    ok([("Cache-Control", "max-age=1000"), ("Template-A", "2")], status=410),
                    ok([("Cache-Control", "max-age=1000"), ("Template-A", "3")], body="again")])
    get(proxy, path)
    head = get(proxy, path, method="HEAD")
    assert head.status_code == 410 and o.requests(path)[1]["method"] == "HEAD"
    # §4.3.5 updates stored GETs from a 200 only: the 410's fields are not grafted onto
    # the stored 200, which stays stale and is validated by the next GET.
    after = get(proxy, path)
    assert after.text == "again" and after.headers["template-a"] == "3" and o.count(path) == 3


def test_ranges_within_a_stored_partial_are_served_from_it(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("partial-within")
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Content-Range", "bytes 2-7/10")],
                       status=206, body="234567"), ok([], body="unused")])
    assert get(proxy, path, Range="bytes=2-7").text == "234567"
    inner = get(proxy, path, Range="bytes=3-5")
    assert inner.status_code == 206 and inner.text == "345"
    assert inner.headers["content-range"] == "bytes 3-5/10" and inner.headers["content-length"] == "3"
    tail = get(proxy, path, Range="bytes=6-")  # 6-9: 8 and 9 are not held: to the origin
    assert tail.text == "unused" and o.count(path) == 2


def test_misfit_partial_is_replayed_but_never_sliced(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("partial-misfit")
    # Six bytes claimed, five sent: the same Range gets the origin's answer again,
    # other ranges are not cut out of a body that disagrees with its Content-Range.
    o.script(path, [ok([("Cache-Control", "max-age=3600"), ("Content-Range", "bytes 4-9/10")],
                       status=206, body="01234"), ok([], body="from origin")])
    get(proxy, path, Range="bytes=-5")
    assert get(proxy, path, Range="bytes=-5").text == "01234"
    assert get(proxy, path, Range="bytes=6-8").text == "from origin"


def test_stored_partial_is_completed_with_a_range_request(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("partial-complete")
    part = [("Cache-Control", "max-age=3600"), ("ETag", '"s"')]
    o.script(path, [ok([*part, ("Content-Range", "bytes 0-4/10")], status=206, body="01234"),
                    {"status": 206, "headers": [*part, ("Content-Range", "bytes 5-9/10"),
                                                ("X-Second", "1")],
                     "body": "56789", "conditional": False}])
    get(proxy, path, Range="bytes=0-4")
    whole = get(proxy, path)
    sent = o.requests(path)[1]["headers"]
    assert sent["range"] == "bytes=5-" and sent["if-range"] == '"s"'
    assert whole.status_code == 200 and whole.text == "0123456789"
    assert "content-range" not in whole.headers and whole.headers["x-second"] == "1"
    again = get(proxy, path)
    assert again.text == "0123456789" and "hit" in again.headers["cache-status"]
    assert o.count(path) == 2


def test_partial_without_validator_is_not_combined(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("partial-nocombine")
    fresh = [("Cache-Control", "max-age=3600")]
    o.script(path, [ok([*fresh, ("Content-Range", "bytes 0-4/10")], status=206, body="01234"),
                    ok([*fresh, ("Content-Range", "bytes 5-9/10")], status=206, body="56789"),
                    ok(fresh, body="0123456789")])
    get(proxy, path, Range="bytes=0-4")
    whole = get(proxy, path)
    assert o.requests(path)[1]["headers"]["range"] == "bytes=5-"
    # No strong validator shows the parts belong together: the whole is fetched instead.
    assert whole.status_code == 200 and whole.text == "0123456789"
    assert "range" not in o.requests(path)[2]["headers"]


# -- a Vary miss validates the stored variants by entity-tag (RFC 9111 §4.3.1, §4.3.4) -----

def test_vary_miss_reuses_a_variant_the_origin_names(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("vary-validate")
    answer = [("Cache-Control", "max-age=3600"), ("Vary", "Abc"), ("ETag", '"same"')]
    o.script(path, [ok(answer, body="shared body"), ok([*answer, ("X-New", "1")], body="unused")])
    get(proxy, path, Abc="1")
    other = get(proxy, path, Abc="2")
    sent = o.requests(path)[1]["headers"]
    assert sent["if-none-match"] == '"same"' and sent["abc"] == "2"
    assert other.status_code == 200 and other.text == "shared body"
    assert other.headers["x-new"] == "1" and "fwd-status=304" in other.headers["cache-status"]
    again = get(proxy, path, Abc="2")
    assert again.text == "shared body" and "hit" in again.headers["cache-status"]
    assert o.count(path) == 2


def test_vary_miss_with_another_representation_stores_it(
        proxy: Proxy, origin: tuple[ScriptedOrigin, str]) -> None:
    o = origin[0]
    path = _path("vary-validate-other")
    answer = [("Cache-Control", "max-age=3600"), ("Vary", "Abc")]
    o.script(path, [ok([*answer, ("ETag", '"one"')], body="first"),
                    ok([*answer, ("ETag", '"two"')], body="second")])
    get(proxy, path, Abc="1")
    assert get(proxy, path, Abc="2").text == "second"
    assert o.requests(path)[1]["headers"]["if-none-match"] == '"one"'
    assert get(proxy, path, Abc="1").text == "first" and get(proxy, path, Abc="2").text == "second"
    third = get(proxy, path, Abc="3")  # both stored variants are offered now
    assert set(o.requests(path)[2]["headers"]["if-none-match"].split(", ")) == {'"one"', '"two"'}
    assert third.text == "second" and o.count(path) == 3
