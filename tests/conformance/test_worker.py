"""One worker, every runtime: the emulator and real Pyodide must answer alike.

A difference between runtimes is either a bug (fixed) or a documented gap
(skipped on that runtime, with the reason).
"""

from __future__ import annotations

import hashlib

import pytest

from tests.conformance.conftest import Runtime


def test_edge_answered_route_uses_geo_from_cf(runtime: Runtime) -> None:
    plain = runtime.request("GET", "/hello/ada")
    assert plain.status == 200
    assert plain.body == b"Hello, ada! (from the edge)\n"
    assert plain.header("content-type") == "text/plain; charset=utf-8"
    assert plain.header("x-edge-colo") == "SFO"
    assert "edge;dur=" in (plain.header("server-timing") or "")
    german = runtime.request("GET", "/hello/ada", country="DE")
    assert german.body.startswith(b"Hallo, ada!") and german.header("x-edge-colo") == "FRA"


def test_geo_route_reports_request_cf(runtime: Runtime) -> None:
    geo = runtime.request("GET", "/geo", country="JP").json()
    assert geo["country"] == "JP" and geo["timezone"] == "Asia/Tokyo" and geo["colo"] == "NRT"
    assert abs(float(geo["latitude"]) - 35.68) < 0.1


def test_index_is_json_and_counts_visits_in_wait_until(runtime: Runtime) -> None:
    before = runtime.request("GET", "/visits").json()["visits"]
    index = runtime.request("GET", "/")
    assert index.status == 200 and index.json()["service"] == "edgeline example worker"
    runtime.settle()
    assert runtime.request("GET", "/visits").json() == {"visits": before + 1}


def test_unknown_path_is_a_404_problem(runtime: Runtime) -> None:
    missing = runtime.request("GET", "/no/such/route")
    assert missing.status == 404
    assert missing.header("content-type") == "application/problem+json"
    assert missing.json()["title"] == "Not Found"


def test_wrong_method_is_a_405_with_allow(runtime: Runtime) -> None:
    wrong = runtime.request("DELETE", "/hello/ada")
    assert wrong.status == 405
    assert "GET" in (wrong.header("allow") or "")
    assert wrong.json()["status"] == 405


def test_handler_exception_is_a_500_without_a_traceback(runtime: Runtime) -> None:
    failed = runtime.request("GET", "/conformance/fail")
    assert failed.status == 500
    assert b"deliberate failure" not in failed.body and b"Traceback" not in failed.body
    assert runtime.request("GET", "/hello/x").status == 200  # still serving


def test_head_gets_headers_without_a_body(runtime: Runtime) -> None:
    head = runtime.request("HEAD", "/hello/ada")
    assert head.status == 200 and head.body == b""


def test_null_body_status_has_no_body(runtime: Runtime) -> None:
    empty = runtime.request("GET", "/conformance/empty")
    assert empty.status == 204 and empty.body == b""


def test_streamed_response_arrives_in_chunks(runtime: Runtime) -> None:
    streamed = runtime.request("GET", "/conformance/stream?n=5")
    assert streamed.status == 200
    assert streamed.body == b"".join(f"chunk {i}\n".encode() for i in range(5))
    # Each chunk leaves the worker as it is produced, not as one buffer.
    assert len(streamed.chunks) >= 2
    assert streamed.header("content-length") is None


@pytest.mark.parametrize("size", [0, 1, 70_000])
def test_request_body_is_read_as_a_stream(runtime: Runtime, size: int) -> None:
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    echoed = runtime.request("POST", "/conformance/echo", body=body,
                             headers=[("content-type", "application/octet-stream")]).json()
    assert echoed["length"] == size
    assert echoed["sha256"] == hashlib.sha256(body).hexdigest()
    assert echoed["content_type"] == "application/octet-stream"


def test_get_without_body_reads_as_empty(runtime: Runtime) -> None:
    assert runtime.request("GET", "/conformance/request-body").json() == {"body": ""}


def test_multi_valued_headers_and_set_cookie(runtime: Runtime) -> None:
    reply = runtime.request("GET", "/conformance/headers", headers=[
        ("x-multi", "a"), ("x-multi", "b"), ("x-single", "v"),
        ("cookie", "one=1; two=2"),
    ])
    seen = reply.json()
    # RFC 9110 §5.3: repeated fields are combined with ", " by the runtime
    # (workerd and the emulator alike), so the worker sees one value.
    assert seen["x-multi"] == ["a, b"]
    assert seen["x-single"] == "v"
    assert seen["cookies"] == {"one": "1", "two": "2"}
    # RFC 6265 §3: Set-Cookie values are never combined.
    assert sorted(reply.header_list("set-cookie")) == ["a=1; Path=/", "b=2; Path=/; HttpOnly"]
    assert reply.header("x-multi") == "one, two"


def test_wait_until_runs_after_the_response(runtime: Runtime) -> None:
    key = f"later-{runtime.name}"
    assert runtime.request("GET", f"/conformance/later?key={key}").body == b"scheduled"
    # The response went out before the background write (300 ms later).
    assert runtime.request("GET", f"/conformance/kv?key={key}").json() == {"value": None}
    runtime.settle()
    assert runtime.request("GET", f"/conformance/kv?key={key}").json() == {"value": "written-later"}


def test_origin_fetch_reaches_a_real_server(runtime: Runtime) -> None:
    items = runtime.request("GET", "/api/items")
    assert items.status == 200 and items.header("x-served-by") == "demo-origin"
    assert items.json()[0]["name"] == "espresso"
    one = runtime.request("GET", "/api/items/1")
    assert one.status == 200 and one.header("cache-control") == "public, max-age=30"
    assert runtime.request("GET", "/api/items/999").status == 404


def test_origin_receives_the_streamed_request_body(runtime: Runtime) -> None:
    body = b"y" * 100_000
    echo = runtime.request("POST", "/api/echo?q=1", body=body,
                           headers=[("content-type", "application/octet-stream")]).json()
    assert echo["method"] == "POST" and echo["query"] == "q=1"
    assert echo["body_bytes"] == len(body)
    seen = {k: v for k, v in echo["headers"]}
    assert seen["content-type"] == "application/octet-stream"
    assert seen["host"].startswith("127.0.0.1:")


def test_origin_stream_passes_through(runtime: Runtime) -> None:
    events = runtime.request("GET", "/api/stream?n=3")
    assert events.status == 200 and events.header("content-type") == "text/event-stream"
    assert events.body.count(b"data: tick") == 3
    assert len(events.chunks) >= 2


def test_origin_redirect_is_passed_on_not_followed(runtime: Runtime) -> None:
    moved = runtime.request("GET", "/api/redirect")
    assert moved.status == 302 and moved.header("location") == "/api/items"


def test_origin_set_cookies_stay_separate(runtime: Runtime) -> None:
    reply = runtime.request("GET", "/api/cookies")
    assert reply.status == 200 and reply.body == b"ok"
    assert sorted(reply.header_list("set-cookie")) == ["session=abc; Path=/", "theme=dark; Path=/"]


def test_unreachable_origin_is_a_502_problem(runtime: Runtime) -> None:
    reply = runtime.request("GET", "/conformance/unreachable")
    assert reply.status == 502
    problem = reply.json()
    assert problem["title"] == "Bad Gateway" and problem["status"] == 502
