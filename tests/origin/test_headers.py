"""Header hygiene (RFC 9110 §7.6, RFC 7239, W3C Trace Context)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline import Request
from edgeline.headers import Headers
from edgeline.origin import HeaderPolicy, parse_traceparent, strip_hop_by_hop
from edgeline.origin._errors import OriginLoop, problem_for
from edgeline.origin._headers import forwarded_node, loops_through_here, node_id

CLIENT = {"host": "shop.example", "cf-connecting-ip": "203.0.113.7"}


def request(headers: dict[str, str] | list[tuple[str, str]], **cf: str) -> Request:
    return Request("GET", "https://shop.example/a?b=1", headers, cf=cf)


def test_hop_by_hop_and_connection_named_fields_are_dropped() -> None:
    h = Headers([("connection", "close, X-Secret"), ("x-secret", "1"), ("keep-alive", "5"),
                 ("te", "trailers"), ("upgrade", "h2c"), ("accept", "*/*")])
    assert strip_hop_by_hop(h).raw == [("accept", "*/*")]
    out = HeaderPolicy(via="", trace=False, request_id_header="").upstream(request(
        [*h.raw, *CLIENT.items()]))
    assert "x-secret" not in out and "connection" not in out and "host" not in out
    assert out["accept"] == "*/*"


def test_replace_mode_drops_forged_forwarding_and_sets_it_afresh() -> None:
    forged = {**CLIENT, "x-forwarded-for": "10.0.0.1", "forwarded": "for=10.0.0.1",
              "x-forwarded-host": "evil.example"}
    out = HeaderPolicy().upstream(request(forged))
    assert out.get_all("x-forwarded-for") == ["203.0.113.7"]
    assert out["forwarded"] == "for=203.0.113.7;proto=https;host=shop.example"
    assert out["x-forwarded-proto"] == "https" and out["x-forwarded-host"] == "shop.example"


def test_append_mode_extends_a_trusted_chain() -> None:
    chain = {**CLIENT, "x-forwarded-for": "198.51.100.1", "forwarded": "for=198.51.100.1",
             "x-forwarded-proto": "http"}
    out = HeaderPolicy(mode="append").upstream(request(chain))
    assert out["x-forwarded-for"] == "198.51.100.1, 203.0.113.7"
    assert out["forwarded"].startswith("for=198.51.100.1, for=203.0.113.7")
    assert out["x-forwarded-proto"] == "http"  # kept: the trusted proxy saw the client


def test_strip_mode_sends_nothing_about_the_client() -> None:
    out = HeaderPolicy(mode="strip").upstream(request({**CLIENT, "x-forwarded-for": "1.2.3.4"}))
    assert not any(k in out for k in ("forwarded", "x-forwarded-for", "x-forwarded-proto"))


def test_ipv6_and_ports_are_quoted_in_forwarded() -> None:
    assert forwarded_node("2001:db8::1") == '"[2001:db8::1]"'
    assert forwarded_node(None) == "unknown"
    out = HeaderPolicy().upstream(request({"host": "shop.example:8443",
                                           "cf-connecting-ip": "2001:db8::1"}))
    assert out["forwarded"] == 'for="[2001:db8::1]";proto=https;host="shop.example:8443"'


def test_via_is_appended_with_the_received_protocol() -> None:
    out = HeaderPolicy().upstream(request({**CLIENT, "via": "1.1 cdn"}, httpProtocol="HTTP/2"))
    assert out["via"] == "1.1 cdn, 2 edgeline"
    down = HeaderPolicy().downstream(Headers({"connection": "x-a", "x-a": "1", "etag": '"1"'}))
    assert down.raw == [("etag", '"1"'), ("via", "1.1 edgeline")]


def test_traceparent_is_continued_or_started() -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    out = HeaderPolicy().upstream(request({**CLIENT, "traceparent": incoming,
                                           "tracestate": "k=v"}))
    trace_id, parent, flags = parse_traceparent(out["traceparent"])  # type: ignore[misc]
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and flags == "01"
    assert parent != "00f067aa0ba902b7"  # the edge is a new span
    assert out["tracestate"] == "k=v"
    fresh = HeaderPolicy().upstream(request({**CLIENT, "traceparent": "garbage",
                                             "tracestate": "k=v"}))
    assert parse_traceparent(fresh["traceparent"]) is not None
    assert "tracestate" not in fresh  # Trace Context: state of an invalid parent is dropped
    again = HeaderPolicy().upstream(request(CLIENT))
    assert again["traceparent"] != fresh["traceparent"]  # random per call


def test_request_id_is_kept_when_sane_and_generated_otherwise() -> None:
    kept = HeaderPolicy().upstream(request({**CLIENT, "x-request-id": "abc-123"}))
    assert kept["x-request-id"] == "abc-123"
    made = HeaderPolicy().upstream(request({**CLIENT, "x-request-id": "a b;<script>"}))
    assert re.fullmatch(r"[0-9a-f]{32}", made["x-request-id"])


def test_private_headers_never_come_from_the_client() -> None:
    out = HeaderPolicy(private_headers=["X-Edge-Auth"]).upstream(
        request({**CLIENT, "x-edge-auth": "guess"}))
    assert "x-edge-auth" not in out


HEX = "0123456789abcdef"


@given(st.text(alphabet=HEX, min_size=32, max_size=32), st.text(alphabet=HEX, min_size=16,
       max_size=16), st.text(alphabet=HEX, min_size=2, max_size=2))
def test_traceparent_accepts_exactly_the_valid_version_00_values(
    trace_id: str, parent: str, flags: str,
) -> None:
    parsed = parse_traceparent(f"00-{trace_id}-{parent}-{flags}")
    valid = trace_id != "0" * 32 and parent != "0" * 16
    assert (parsed == (trace_id, parent, flags)) if valid else parsed is None
    assert parse_traceparent(f"00-{trace_id}-{parent}-{flags}-extra") is None
    assert parse_traceparent(f"ff-{trace_id}-{parent}-{flags}") is None
    assert parse_traceparent(f"00-{trace_id.upper()}-{parent}-{flags}") in (None, parsed)


@given(st.text(max_size=80))
def test_traceparent_never_raises_and_output_is_always_valid(value: str) -> None:
    parse_traceparent(value)
    try:
        req = request({**CLIENT, "traceparent": value})
    except ValueError:
        return  # not a legal field value at all
    out = HeaderPolicy().upstream(req)
    assert parse_traceparent(out["traceparent"]) is not None


def test_cdn_loop_is_appended_and_a_loop_is_refused_before_sending() -> None:
    policy = HeaderPolicy(loop_limit=3)
    out = policy.upstream(request({**CLIENT, "cdn-loop": "cloudflare; trace=1"}))
    assert out.get_all("cdn-loop") == ["cloudflare; trace=1", f"edgeline; node={node_id()}"]
    # The node marks this process: a request that comes back here is recognised.
    assert loops_through_here(out) and not loops_through_here(request(CLIENT).headers)
    other = Headers([("cdn-loop", "edgeline; node=0123456789ab, other; node=" + node_id())])
    assert not loops_through_here(other)
    # Below the limit: edgeline in front of edgeline (tiers) passes on.
    twice = request([*CLIENT.items(), ("cdn-loop", "EdgeLine, other"), ("cdn-loop", "edgeline;x=1")])
    assert policy.upstream(twice).get_all("cdn-loop")[-1].startswith("edgeline;")
    looped = request([*CLIENT.items(), ("cdn-loop", "edgeline, edgeline ; a=b, edgeline")])
    with pytest.raises(OriginLoop) as caught:
        policy.upstream(looped)
    assert caught.value.status == 508 and caught.value.sent is False
    problem = problem_for(caught.value)
    assert problem.status == 508 and problem.headers["cache-control"] == "no-store"
    # A member that merely contains the id is someone else's.
    lookalike = request([*CLIENT.items(), ("cdn-loop", "edgeline-eu, xedgeline, edgeline-eu")])
    assert policy.upstream(lookalike).get_all("cdn-loop")[-1].startswith("edgeline;")
    assert "cdn-loop" not in HeaderPolicy(cdn_loop="").upstream(request(CLIENT))
    for bad in ({"cdn_loop": "two words"}, {"loop_limit": 0}):
        with pytest.raises(ValueError):
            HeaderPolicy(**bad)  # type: ignore[arg-type]


@given(st.lists(st.sampled_from(["edgeline", "EDGELINE;p=1", "cloudflare", "edgeline2", " edgeline "]),
                max_size=8))
def test_cdn_loop_count_matches_a_reference(members: list[str]) -> None:
    expected = sum(1 for m in members if m.split(";")[0].strip().lower() == "edgeline")
    headers = [*CLIENT.items(), ("cdn-loop", ",".join(members))] if members else list(CLIENT.items())
    policy = HeaderPolicy(loop_limit=4)
    if expected >= 4:
        with pytest.raises(OriginLoop):
            policy.upstream(request(headers))
    else:
        assert policy.upstream(request(headers)).get_all("cdn-loop")[-1].startswith("edgeline;")
