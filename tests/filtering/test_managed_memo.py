"""The whole-request memo of the managed rules can never change a verdict.

Two arguments, both checked here:

* what an inspection reads: every read of the request during
  ``inspect_uncached`` is traced, and a request without a body is only read
  through its method, its URL and its raw header fields, the three parts of
  ``request_key``; so two requests with equal keys get equal verdicts;
* what the memo answers: over generated sequences of requests that share or
  differ in one part, the memoized matcher returns, request by request, what
  a matcher without the memo returns.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeline.filtering import ManagedRules, RequestView
from edgeline.filtering._managed import MEMO_REQUEST_BYTES, MEMO_REQUESTS, request_key
from edgeline.messages import Request

from .corpus import attacks, benign
from .test_managed import view_of

KEY_PARTS = {"method", "url", "headers.raw"}


class _Traced:
    """A read-only stand-in that records which attributes of the wrapped object are read."""

    def __init__(self, inner: Any, name: str, seen: set[str]) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_seen", seen)

    def __getattr__(self, attribute: str) -> Any:
        seen: set[str] = object.__getattribute__(self, "_seen")
        name: str = object.__getattribute__(self, "_name")
        inner = object.__getattribute__(self, "_inner")
        value = getattr(inner, attribute)
        if name == "request" and attribute == "headers":
            return _Traced(value, "headers", seen)
        seen.add(attribute if name == "request" else name if name == "url"
                 else f"{name}.{attribute}")
        return value

    def __str__(self) -> str:
        object.__getattribute__(self, "_seen").add(object.__getattribute__(self, "_name"))
        return str(object.__getattribute__(self, "_inner"))


def _reads(rules: ManagedRules, request: Request) -> set[str]:
    seen: set[str] = set()
    traced: Any = _Traced(request, "request", seen)
    traced_url = _Traced(request.url, "url", seen)
    # The view reaches the URL through request.url: hand it the traced one.
    proxy: Any = type("TracedRequest", (), {
        "__getattr__": lambda self, a: traced_url if a == "url" else getattr(traced, a)})()
    rules.inspect_uncached(RequestView(proxy, None, now=0.0))
    return seen


def _request(entry: Any) -> Request:
    return view_of(entry).request


def test_a_bodyless_inspection_reads_only_the_key() -> None:
    entries = [e for e in attacks() + benign() if not e[4]]
    assert len(entries) > 200
    for paranoia in (1, 2, 3, 4):
        rules = ManagedRules(paranoia)
        touched: set[str] = set()
        for entry in entries:
            reads = _reads(rules, _request(entry))
            assert reads <= KEY_PARTS, (paranoia, entry[:3], reads - KEY_PARTS)
            touched |= reads
        assert touched == KEY_PARTS  # the tracing does see the reads


def test_the_tracing_notices_other_reads() -> None:
    # Had the inspection read anything else (geo, say), the trace would name it.
    seen: set[str] = set()
    traced: Any = _Traced(_request(benign()[0]), "request", seen)
    RequestView(traced, None).country  # noqa: B018
    RequestView(traced, None).cookies  # noqa: B018
    assert seen == {"cf", "headers.raw"}


def test_the_key_holds_every_part_that_differs() -> None:
    base = Request("GET", "https://a.example/p?q=1", [("host", "a.example"), ("x-a", "1")])
    others = [
        Request("POST", "https://a.example/p?q=1", [("host", "a.example"), ("x-a", "1")]),
        Request("GET", "https://a.example/p?q=2", [("host", "a.example"), ("x-a", "1")]),
        Request("GET", "https://b.example/p?q=1", [("host", "a.example"), ("x-a", "1")]),
        Request("GET", "https://a.example/p?q=1", [("x-a", "1"), ("host", "a.example")]),
        Request("GET", "https://a.example/p?q=1", [("host", "a.example"), ("x-a", "1"),
                                                   ("x-a", "1")]),
        Request("GET", "https://a.example/p?q=1", [("host", "a.example"), ("x-a", "2")]),
    ]
    keys = {request_key(r) for r in others}
    assert len(keys) == len(others) and request_key(base) not in keys


def test_repeats_are_answered_from_the_memo_and_large_requests_are_not_kept() -> None:
    rules = ManagedRules(1)
    small = Request("GET", "https://a.example/x?q=%27%20or%201%3D1--",
                    [("host", "a.example"), ("user-agent", "t")])
    first = rules.inspect(RequestView(small, None))
    again = rules.inspect(RequestView(small, None))
    assert first is not None and again is not None and again is not first
    assert (again.id, again.where, again.message) == (first.id, first.where, first.message)
    assert request_key(small) in rules._requests
    large = Request("GET", "https://a.example/x", [("host", "a.example"),
                                                   ("x-big", "a" * MEMO_REQUEST_BYTES)])
    assert rules.inspect(RequestView(large, None)) is None
    assert request_key(large) not in rules._requests
    for n in range(MEMO_REQUESTS + 10):
        rules.inspect(RequestView(Request("GET", f"https://a.example/{n}",
                                          [("host", "a.example")]), None))
    assert len(rules._requests) <= MEMO_REQUESTS


def test_a_body_is_inspected_every_time() -> None:
    rules = ManagedRules(1)
    headers = [("host", "a.example"), ("content-type", "application/x-www-form-urlencoded")]
    clean, dirty = b"name=ada", b"name=%27%20union%20select%201--"
    request = Request("POST", "https://a.example/f", headers)
    assert rules.inspect(RequestView(request, None, body=clean)) is None
    hit = rules.inspect(RequestView(request, None, body=dirty))
    assert hit is not None and hit.id.startswith("EL-SQLI")


_PARTS = st.sampled_from(["", "x", "' or 1=1--", "<script>", "../../etc/passwd", "${jndi:ldap://a}",
                          "sqlmap/1.7", "O'Brien", "a b", "%27", "() { :; }; id"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["GET", "POST", "TRACE", "PUT"]), _PARTS, _PARTS,
                          _PARTS, _PARTS, st.booleans()), min_size=1, max_size=12),
       st.sampled_from([1, 2, 3, 4]))
def test_memoized_verdicts_equal_fresh_ones(requests: list[tuple[str, str, str, str, str, bool]],
                                            paranoia: int) -> None:
    memoized = ManagedRules(paranoia)
    for method, path, arg, agent, cookie, host in requests * 2:
        headers = [("user-agent", agent.replace("\n", " ")), ("cookie", f"s={quote(cookie)}")]
        if host:
            headers.insert(0, ("host", "shop.example.com"))
        request = Request(method, f"https://shop.example.com/{quote(path)}?q={quote(arg)}",
                          headers)
        got = memoized.inspect(RequestView(request, None))
        want = ManagedRules(paranoia).inspect_uncached(RequestView(request, None))
        assert (got and (got.id, got.message, got.where, got.paranoia, got.category)) == (
            want and (want.id, want.message, want.where, want.paranoia, want.category))
