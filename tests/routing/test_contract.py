"""The router contract: every implementation of the seam passes this one suite.

Each test takes ``make``, a factory for the router under test, and runs once
per implementation. The hypothesis tests at the end hold the compiled router
against the reference one on generated route tables and request paths.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeline.routing import (
    Converter,
    MethodNotAllowed,
    Redirect,
    ReferenceRouter,
    RouteError,
    RouteGroup,
    Router,
    RouterProtocol,
    normalize_host,
    normalize_path,
)

Make = Callable[..., Any]

IMPLEMENTATIONS: list[type[Any]] = [Router, ReferenceRouter]


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda cls: cls.__name__)
def make(request: pytest.FixtureRequest) -> Make:
    """Return a factory building the router implementation under test."""
    cls = request.param

    def build(routes: list[tuple[str, str]] | None = None, **options: Any) -> Any:
        router = cls(**options)
        for method, path in routes or []:
            router.add(method, path, f"{method} {path}")
        return router

    return build


def target(method: str, path: str, **params: Any) -> tuple[str, dict[str, Any]]:
    """Return what ``match`` gives for a route added by ``make`` (target is its name)."""
    return f"{method} {path}", params


# --------------------------------------------------------------------------
# Static paths, parameters, converters, wildcard
# --------------------------------------------------------------------------


def test_implementations_satisfy_the_protocol(make: Make) -> None:
    router: RouterProtocol = make()
    assert router.match("GET", "/") is None


def test_static_routes(make: Make) -> None:
    router = make([("GET", "/"), ("GET", "/users"), ("GET", "/users/me")])
    assert router.match("GET", "/") == target("GET", "/")
    assert router.match("GET", "/users") == target("GET", "/users")
    assert router.match("GET", "/users/me") == target("GET", "/users/me")
    assert router.match("GET", "/user") is None
    assert router.match("GET", "/users/me/x") is None
    assert router.match("GET", "/USERS") is None  # paths are case-sensitive


def test_named_parameters(make: Make) -> None:
    router = make([("GET", "/repos/{owner}/{repo}"), ("GET", "/repos/{owner}/{repo}/issues/{n}")])
    assert router.match("GET", "/repos/me/edge") == target(
        "GET", "/repos/{owner}/{repo}", owner="me", repo="edge"
    )
    assert router.match("GET", "/repos/me/edge/issues/7") == target(
        "GET", "/repos/{owner}/{repo}/issues/{n}", owner="me", repo="edge", n="7"
    )
    assert router.match("GET", "/repos/me") is None
    assert router.match("GET", "/repos/me/") is None  # a parameter is never empty


def test_int_converter(make: Make) -> None:
    router = make([("GET", "/items/{id:int}")])
    assert router.match("GET", "/items/42") == target("GET", "/items/{id:int}", id=42)
    assert router.match("GET", "/items/007") == target("GET", "/items/{id:int}", id=7)
    for bad in ("-1", "4.2", "x", "١٢", "²", "%20", "1e3"):
        assert router.match("GET", f"/items/{bad}") is None, bad


def test_int_converter_refuses_huge_numbers_without_crashing(make: Make) -> None:
    router = make([("GET", "/items/{id:int}")])
    assert router.match("GET", "/items/" + "9" * 5000) is None


def test_uuid_converter(make: Make) -> None:
    router = make([("GET", "/items/{uid:uuid}")])
    value = "12345678-1234-5678-1234-567812345678"
    assert router.match("GET", f"/items/{value}") == target(
        "GET", "/items/{uid:uuid}", uid=uuid.UUID(value)
    )
    assert router.match("GET", f"/items/{value.upper()}") is not None
    for bad in (value.replace("-", ""), "{" + value + "}", "urn:uuid:" + value, "x"):
        assert router.match("GET", f"/items/{bad}") is None, bad


def test_custom_converters(make: Make) -> None:
    def hex_color(text: str) -> int:
        if len(text) != 6:
            raise ValueError(text)
        return int(text, 16)

    slug = Converter("slug", str.lower, regex=r"[a-z0-9-]+")
    color = Converter("color", hex_color)
    router = make(converters=[slug])
    router.add_converter(color)
    router.add("GET", "/posts/{s:slug}", "post")
    router.add("GET", "/colors/{c:color}", "color")
    assert router.match("GET", "/posts/hello-edge") == ("post", {"s": "hello-edge"})
    assert router.match("GET", "/posts/Hello") is None  # the regex must match first
    assert router.match("GET", "/colors/00ff00") == ("color", {"c": 0x00FF00})
    assert router.match("GET", "/colors/00ff0") is None
    assert router.match("GET", "/colors/zzzzzz") is None  # ValueError means no match


def test_converter_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="reserved"):
        Converter("path", str)
    with pytest.raises(ValueError, match="identifier"):
        Converter("no-dash", str)
    router = Router()
    with pytest.raises(ValueError, match="already registered"):
        router.add_converter(Converter("int", int))


def test_tail_wildcard(make: Make) -> None:
    router = make([("GET", "/files/{rest:path}")])
    route = "/files/{rest:path}"
    assert router.match("GET", "/files/a") == target("GET", route, rest="a")
    assert router.match("GET", "/files/a/b/c.txt") == target("GET", route, rest="a/b/c.txt")
    assert router.match("GET", "/files/a/") == target("GET", route, rest="a/")
    assert router.match("GET", "/files/") == target("GET", route, rest="")
    assert router.match("GET", "/files") is None
    # Segments are decoded, then joined: %2F turns into "/" in the value.
    assert router.match("GET", "/files/a%20b/c%2Fd") == target("GET", route, rest="a b/c/d")
    assert router.match("GET", "/files//a//b") == target("GET", route, rest="a/b")


def test_catch_all_at_the_root(make: Make) -> None:
    router = make([("GET", "/{rest:path}"), ("GET", "/health")])
    assert router.match("GET", "/health") == target("GET", "/health")
    assert router.match("GET", "/") == target("GET", "/{rest:path}", rest="")
    assert router.match("GET", "/a/b") == target("GET", "/{rest:path}", rest="a/b")


def test_params_dict_is_fresh_each_time(make: Make) -> None:
    router = make([("GET", "/u/{id}"), ("GET", "/s")])
    first = router.match("GET", "/u/1")
    first[1]["id"] = "changed"
    assert router.match("GET", "/u/1") == target("GET", "/u/{id}", id="1")
    router.match("GET", "/s")[1]["x"] = 1
    assert router.match("GET", "/s") == target("GET", "/s")


# --------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------


def test_method_dispatch_and_405(make: Make) -> None:
    router = make([("GET", "/users"), ("POST", "/users"), ("DELETE", "/users/{id}")])
    assert router.match("POST", "/users") == target("POST", "/users")
    assert router.match("PUT", "/users") == (MethodNotAllowed(("GET", "HEAD", "POST")), {})
    assert router.match("GET", "/users/7") == (MethodNotAllowed(("DELETE",)), {"id": "7"})
    assert router.match("PUT", "/nothing") is None


def test_head_is_served_by_get_unless_registered(make: Make) -> None:
    router = make([("GET", "/a"), ("GET", "/b"), ("HEAD", "/b"), ("GET", "/c/{x}")])
    assert router.match("HEAD", "/a") == target("GET", "/a")
    assert router.match("HEAD", "/b") == target("HEAD", "/b")
    assert router.match("HEAD", "/c/1") == target("GET", "/c/{x}", x="1")


def test_options_is_allowed_only_if_registered(make: Make) -> None:
    router = make([("GET", "/a"), ("GET", "/b"), ("OPTIONS", "/b")])
    assert router.match("OPTIONS", "/a") == (MethodNotAllowed(("GET", "HEAD")), {})
    assert router.match("PUT", "/b") == (MethodNotAllowed(("GET", "HEAD", "OPTIONS")), {})


def test_methods_are_case_sensitive(make: Make) -> None:
    # RFC 9110 §9.1: method names are case-sensitive.
    router = make([("GET", "/a")])
    assert router.match("get", "/a") == (MethodNotAllowed(("GET", "HEAD")), {})


def test_a_route_with_the_method_beats_a_better_route_without_it(make: Make) -> None:
    router = make([("POST", "/a/b"), ("GET", "/a/{x}")])
    assert router.match("GET", "/a/b") == target("GET", "/a/{x}", x="b")
    assert router.match("POST", "/a/b") == target("POST", "/a/b")
    # 405 lists every method of every matching route; params of the best one.
    assert router.match("PUT", "/a/b") == (MethodNotAllowed(("GET", "HEAD", "POST")), {})
    assert router.match("PUT", "/a/c") == (MethodNotAllowed(("GET", "HEAD")), {"x": "c"})


# --------------------------------------------------------------------------
# Priority
# --------------------------------------------------------------------------

PRIORITY_ROUTES = [
    ("GET", "/p/{rest:path}"),
    ("GET", "/p/{name}"),
    ("GET", "/p/{id:int}"),
    ("GET", "/p/{uid:uuid}"),
    ("GET", "/p/me"),
    ("GET", "/p/{name}/c"),
    ("GET", "/p/b/{x}"),
]


@pytest.mark.parametrize("order", [1, -1], ids=["as-listed", "reversed"])
def test_priority_static_then_typed_then_plain_then_wildcard(make: Make, order: int) -> None:
    router = make(PRIORITY_ROUTES[::order])
    some_uuid = "12345678-1234-5678-1234-567812345678"
    assert router.match("GET", "/p/me") == target("GET", "/p/me")
    assert router.match("GET", "/p/12") == target("GET", "/p/{id:int}", id=12)
    assert router.match("GET", f"/p/{some_uuid}") == target(
        "GET", "/p/{uid:uuid}", uid=uuid.UUID(some_uuid)
    )
    assert router.match("GET", "/p/bob") == target("GET", "/p/{name}", name="bob")
    assert router.match("GET", "/p/bob/x") == target("GET", "/p/{rest:path}", rest="bob/x")
    # Leftmost difference decides: static "b" beats {name} at the second segment.
    assert router.match("GET", "/p/b/c") == target("GET", "/p/b/{x}", x="c")
    assert router.match("GET", "/p/z/c") == target("GET", "/p/{name}/c", name="z")


def test_custom_converters_rank_in_registration_order(make: Make) -> None:
    router = make(converters=[Converter("even", lambda s: int(s) if int(s) % 2 == 0 else int(""))])
    router.add("GET", "/n/{v}", "plain")
    router.add("GET", "/n/{v:even}", "even")
    router.add("GET", "/n/{v:int}", "int")
    assert router.match("GET", "/n/4") == ("int", {"v": 4})  # int is registered before "even"
    assert router.match("GET", "/n/x") == ("plain", {"v": "x"})


def test_a_failed_typed_branch_falls_back_to_a_lower_priority_one(make: Make) -> None:
    router = make([("GET", "/v/{id:int}/x"), ("GET", "/v/{name}/y")])
    assert router.match("GET", "/v/1/y") == target("GET", "/v/{name}/y", name="1")
    assert router.match("GET", "/v/1/x") == target("GET", "/v/{id:int}/x", id=1)


# --------------------------------------------------------------------------
# Hosts
# --------------------------------------------------------------------------


def test_host_patterns(make: Make) -> None:
    router = make()
    router.add("GET", "/", "api", host="api.example.com")
    router.add("GET", "/", "sub", host="*.example.com")
    router.add("GET", "/", "deep", host="*.eu.example.com")
    router.add("GET", "/", "any")
    assert router.match("GET", "/", "api.example.com") == ("api", {})
    assert router.match("GET", "/", "API.Example.com.:8443") == ("api", {})
    assert router.match("GET", "/", "www.example.com") == ("sub", {})
    assert router.match("GET", "/", "a.b.example.com") == ("sub", {})
    assert router.match("GET", "/", "x.eu.example.com") == ("deep", {})  # longer suffix
    assert router.match("GET", "/", "example.com") == ("any", {})  # not the apex
    assert router.match("GET", "/", "badexample.com") == ("any", {})
    assert router.match("GET", "/", "") == ("any", {})
    assert router.match("GET", "/") == ("any", {})


def test_host_priority_comes_before_path_priority(make: Make) -> None:
    router = make()
    router.add("GET", "/{page}", "host-param", host="api.example.com")
    router.add("GET", "/docs", "any-static")
    router.add("POST", "/submit", "any-post")
    assert router.match("GET", "/docs", "api.example.com") == ("host-param", {"page": "docs"})
    assert router.match("GET", "/docs", "other.com") == ("any-static", {})
    # Falls through to host-less routes, and 405 gathers methods across hosts.
    assert router.match("POST", "/submit", "api.example.com") == ("any-post", {})
    assert router.match("PUT", "/submit", "api.example.com") == (
        MethodNotAllowed(("GET", "HEAD", "POST")),
        {"page": "submit"},
    )


def test_routes_only_for_a_host_do_not_match_other_hosts(make: Make) -> None:
    router = make()
    router.add("GET", "/a", "a", host="api.example.com")
    assert router.match("GET", "/a", "web.example.com") is None
    assert router.match("GET", "/a", "api.example.com:80") == ("a", {})


def test_normalize_host() -> None:
    assert normalize_host("API.Example.COM") == "api.example.com"
    assert normalize_host("example.com:8080") == "example.com"
    assert normalize_host("example.com.") == "example.com"
    assert normalize_host("[::1]:8080") == "[::1]"
    assert normalize_host("") == ""


# --------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------


def test_route_groups(make: Make) -> None:
    router = make()
    api = RouteGroup(router, "/api")
    v1 = api.group("/v1")
    v1.add("GET", "/users/{id}", "user")
    v1.add("GET", "/", "v1-root")
    admin = RouteGroup(router, "/admin", host="admin.example.com")
    admin.add("GET", "/stats", "stats")
    admin.group("/deep").add("GET", "/x", "deep-x")
    assert router.match("GET", "/api/v1/users/3") == ("user", {"id": "3"})
    assert router.match("GET", "/api/v1/") == ("v1-root", {})
    assert router.match("GET", "/admin/stats", "admin.example.com") == ("stats", {})
    assert router.match("GET", "/admin/stats", "example.com") is None
    assert router.match("GET", "/admin/deep/x", "admin.example.com") == ("deep-x", {})


@pytest.mark.parametrize("prefix", ["api", "/api/", "//api", "/a?b"])
def test_bad_group_prefixes(prefix: str) -> None:
    with pytest.raises(RouteError, match="prefix"):
        RouteGroup(Router(), prefix)


def test_group_errors_name_the_full_route(make: Make) -> None:
    group = RouteGroup(make(), "/api")
    with pytest.raises(RouteError, match=r"/api/\{x:nope\}"):
        group.add("GET", "/{x:nope}", "t")


# --------------------------------------------------------------------------
# Trailing slash policy
# --------------------------------------------------------------------------


def test_trailing_slash_strict_by_default(make: Make) -> None:
    router = make([("GET", "/a"), ("GET", "/b/"), ("GET", "/c/{x}")])
    assert router.match("GET", "/a") == target("GET", "/a")
    assert router.match("GET", "/a/") is None
    assert router.match("GET", "/b/") == target("GET", "/b/")
    assert router.match("GET", "/b") is None
    assert router.match("GET", "/c/1/") is None


def test_trailing_slash_ignore(make: Make) -> None:
    router = make(
        [("GET", "/a"), ("GET", "/b/"), ("GET", "/c/{x}"), ("GET", "/")], trailing_slash="ignore"
    )
    assert router.match("GET", "/a/") == target("GET", "/a")
    assert router.match("GET", "/b") == target("GET", "/b/")
    assert router.match("GET", "/c/1/") == target("GET", "/c/{x}", x="1")
    assert router.match("GET", "/") == target("GET", "/")
    with pytest.raises(RouteError, match="conflicts"):
        router.add("GET", "/a/", "again")


def test_trailing_slash_redirect(make: Make) -> None:
    router = make(
        [("GET", "/a"), ("GET", "/b/"), ("POST", "/c"), ("GET", "/d%20e")],
        trailing_slash="redirect",
    )
    assert router.match("GET", "/a") == target("GET", "/a")
    assert router.match("GET", "/a/") == (Redirect("/a"), {})
    assert router.match("HEAD", "/a/") == (Redirect("/a"), {})
    assert router.match("GET", "/b") == (Redirect("/b/"), {})
    assert router.match("GET", "//a/./") == (Redirect("/a"), {})  # normalized location
    assert router.match("GET", "/d%20e/") == (Redirect("/d%20e"), {})  # stays encoded
    # Only when the other form would really serve the request.
    assert router.match("GET", "/c/") is None
    assert router.match("GET", "/nothing/") is None


def test_trailing_slash_redirect_to_the_deepest_route(make: Make) -> None:
    # The request has one segment more than any route; only the redirect matches.
    router = make([("GET", "/a/b"), ("GET", "/c/{x}")], trailing_slash="redirect")
    assert router.match("GET", "/a/b/") == (Redirect("/a/b"), {})
    assert router.match("GET", "/c/1/") == (Redirect("/c/1"), {})
    assert router.match("GET", "/c/1//") == (Redirect("/c/1"), {})
    assert router.match("GET", "/a/b/c/") is None
    assert router.match("GET", "/a/b" + "/x" * 10_000) is None
    assert router.match("PUT", "/a/b/") is None


def test_trailing_slash_policy_is_checked() -> None:
    with pytest.raises(ValueError, match="trailing_slash"):
        Router(trailing_slash="sometimes")
    with pytest.raises(ValueError, match="trailing_slash"):
        ReferenceRouter(trailing_slash="sometimes")


# --------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/alice", "GET /users/{name}"),
        ("//users///alice", "GET /users/{name}"),
        ("/users/./alice", "GET /users/{name}"),
        ("/x/../users/alice", "GET /users/{name}"),
        ("/x/%2e%2E/users/alice", "GET /users/{name}"),
        ("/../../users/alice", "GET /users/{name}"),
        ("/users/%61lice", "GET /users/{name}"),
        ("/users/alice/.", "GET /users/{name}/"),
        ("/users/alice/x/..", "GET /users/{name}/"),
        ("/users/alice/", "GET /users/{name}/"),
        ("", "GET /"),
        ("/.", "GET /"),
        ("/..", "GET /"),
        ("users/alice", None),  # not an origin-form path (RFC 9112 §3.2.1)
        ("*", None),
    ],
)
def test_paths_are_normalized_before_matching(make: Make, path: str, expected: str | None) -> None:
    router = make([("GET", "/users/{name}"), ("GET", "/users/{name}/"), ("GET", "/")])
    found = router.match("GET", path)
    assert (found[0] if found else None) == expected


def test_parameters_are_percent_decoded_per_segment(make: Make) -> None:
    router = make([("GET", "/u/{name}"), ("GET", "/u/{a}/{b}")])
    # %2F never splits a segment: one parameter holding a slash.
    assert router.match("GET", "/u/a%2Fb") == target("GET", "/u/{name}", name="a/b")
    assert router.match("GET", "/u/caf%C3%A9") == target("GET", "/u/{name}", name="café")
    assert router.match("GET", "/u/café") == target("GET", "/u/{name}", name="café")
    assert router.match("GET", "/u/%ff") == target("GET", "/u/{name}", name="\ufffd")
    assert router.match("GET", "/u/%zz") == target("GET", "/u/{name}", name="%zz")
    assert router.match("GET", "/u/a%20b") == target("GET", "/u/{name}", name="a b")
    assert router.match("GET", "/u/a\\b") == target("GET", "/u/{name}", name="a\\b")
    assert router.match("GET", "/u/%2e%2e%2e") == target("GET", "/u/{name}", name="...")


def test_static_routes_match_encoded_and_literal_forms(make: Make) -> None:
    router = make([("GET", "/caf%C3%A9"), ("GET", "/a%2Fb"), ("GET", "/100%25")])
    assert router.match("GET", "/café") == target("GET", "/caf%C3%A9")
    assert router.match("GET", "/caf%c3%a9") == target("GET", "/caf%C3%A9")
    assert router.match("GET", "/a%2fb") == target("GET", "/a%2Fb")
    assert router.match("GET", "/a/b") is None  # %2F is not a separator
    assert router.match("GET", "/100%25") == target("GET", "/100%25")
    # A malformed escape is kept literally, so a bare "%" reads as "%25".
    assert router.match("GET", "/100%") == target("GET", "/100%25")


def test_normalize_path() -> None:
    assert normalize_path("/a//b/./c/../d/") == "/a/b/d/"
    assert normalize_path("/a/%2E/b/%2e%2E") == "/a/"
    assert normalize_path("/a%2Fb") == "/a%2Fb"  # stays encoded
    assert normalize_path("") == "/"
    assert normalize_path("a") is None
    assert normalize_path("//") == "/"
    assert normalize_path("///a//b//") == "/a/b/"
    assert normalize_path("/a" + "/" * 65536 + "b") == "/a/b"
    assert normalize_path("/a//%2e/b") == "/a/b"


# --------------------------------------------------------------------------
# Rejected routes
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "reason"),
    [
        ("GET", "users", "must start with '/'"),
        ("GET", "", "must start with '/'"),
        ("GET", "/a//b", "empty segment"),
        ("GET", "/a/./b", "dot segment"),
        ("GET", "/a/%2e%2e", "dot segment"),
        ("GET", "/file.{ext}", "whole segment"),
        ("GET", "/{a", "whole segment"),
        ("GET", "/{1a}", "whole segment"),
        ("GET", "/{a:nope}", "unknown converter"),
        ("GET", "/{a}/{a}", "appears twice"),
        ("GET", "/{rest:path}/x", "last segment"),
        ("GET", "/a?b=1", "'?'"),
        ("GET", "/a#frag", "'?' or '#'"),
        ("GET POST", "/a", "HTTP token"),
        ("", "/a", "HTTP token"),
        ("GET", "/" + "/".join(["a"] * 200), "segments"),
    ],
)
def test_malformed_routes_are_rejected(make: Make, method: str, path: str, reason: str) -> None:
    router = make()
    with pytest.raises(RouteError) as caught:
        router.add(method, path, "t")
    message = str(caught.value)
    assert reason in message
    assert path[:40] in message  # the error names the route


@pytest.mark.parametrize("host", ["*", "", "exa mple.com", "a.*.com", "example.com:80", "-a.com"])
def test_bad_hosts_are_rejected(make: Make, host: str) -> None:
    with pytest.raises(RouteError, match="host"):
        make().add("GET", "/", "t", host=host)


def test_conflicting_routes_are_rejected(make: Make) -> None:
    router = make([("GET", "/u/{id}"), ("POST", "/u/{id}")])
    with pytest.raises(RouteError, match=r"GET /u/\{uid\}: conflicts with GET /u/\{id\}"):
        router.add("GET", "/u/{uid}", "t")
    with pytest.raises(RouteError, match="parameter names"):
        router.add("DELETE", "/u/{uid}", "t")
    with pytest.raises(RouteError, match="target must not be None"):
        router.add("PUT", "/v", None)
    # Different hosts, converters or methods do not conflict.
    router.add("GET", "/u/{id}", "t", host="api.example.com")
    router.add("GET", "/u/{id:int}", "t")
    router.add("PUT", "/u/{id}", "t")


def test_a_rejected_route_leaves_the_router_unchanged(make: Make) -> None:
    router = make([("GET", "/a/{x}")])
    with pytest.raises(RouteError):
        router.add("GET", "/a/{y}", "other")
    with pytest.raises(RouteError):
        router.add("GET", "/b/{x:nope}", "other")
    assert router.match("GET", "/a/1") == target("GET", "/a/{x}", x="1")
    assert router.match("GET", "/b/1") is None


def test_routes_added_after_matching_are_seen(make: Make) -> None:
    router = make([("GET", "/a")])
    assert router.match("GET", "/b/1") is None
    router.add("GET", "/b/{x}", "b")
    assert router.match("GET", "/b/1") == ("b", {"x": "1"})


# --------------------------------------------------------------------------
# Hypothesis: compiled against reference, and robustness
# --------------------------------------------------------------------------

METHODS = ["GET", "HEAD", "POST", "DELETE", "OPTIONS"]
HOSTS = [None, "api.example.com", "*.example.com"]
UUID_TEXT = "12345678-1234-5678-1234-567812345678"
STATIC_TEXTS = ["a", "b", "é", "42", "a%2Fb", "x y"]
PATTERN_SEGMENTS = st.sampled_from(STATIC_TEXTS + ["{p}", "{q:int}", "{r:uuid}", "{s:even}", "{t}"])
REQUEST_SEGMENTS = st.sampled_from(
    [
        "a",
        "b",
        "c",
        "é",
        "%C3%A9",
        "42",
        "7",
        "0042",
        "-1",
        UUID_TEXT,
        "a%2Fb",
        "a%2fb",
        "x%20y",
        "x y",
        "",
        ".",
        "..",
        "%2e",
        "%2E%2e",
        "%zz",
        "%ff",
        "%61",
    ]
)
REQUEST_HOSTS = st.sampled_from(
    [
        "",
        "api.example.com",
        "API.EXAMPLE.COM:443",
        "x.example.com",
        "a.b.example.com",
        "example.com",
        "other.org",
    ]
)


def _even(text: str) -> int:
    value = int(text)
    if value % 2:
        raise ValueError(text)
    return value


def _converters() -> list[Converter]:
    return [Converter("even", _even, regex=r"[0-9]+")]


@st.composite
def route_patterns(draw: st.DrawFn) -> str:
    """Draw a route pattern (possibly a bad one: duplicate names are rejected)."""
    segments = draw(st.lists(PATTERN_SEGMENTS, min_size=0, max_size=4))
    if draw(st.booleans()) and draw(st.booleans()):
        segments.append("{rest:path}")
    elif draw(st.booleans()) and draw(st.booleans()):
        segments.append("")  # trailing slash
    return "/" + "/".join(segments)


def _fill(pattern: str, draw: st.DrawFn) -> str:
    """Draw a request path shaped like ``pattern``, so generated tables get hits."""
    out = []
    for segment in pattern[1:].split("/"):
        if segment.startswith("{"):
            if segment.endswith(":path}"):
                out.append("/".join(draw(st.lists(REQUEST_SEGMENTS, max_size=3))))
            else:
                out.append(draw(REQUEST_SEGMENTS))
        else:
            out.append(segment if draw(st.booleans()) else draw(REQUEST_SEGMENTS))
    return "/" + "/".join(out)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str, str]]]:
    """Draw a route table and requests aimed at it (and next to it)."""
    routes: list[tuple[str, str, str | None]] = draw(
        st.lists(
            st.tuples(st.sampled_from(METHODS), route_patterns(), st.sampled_from(HOSTS)),
            max_size=12,
        )
    )
    requests: list[tuple[str, str, str]] = []
    for _ in range(draw(st.integers(1, 12))):
        aimed: bool = draw(st.booleans())
        if routes and aimed:
            path = _fill(draw(st.sampled_from(routes))[1], draw)
        else:
            path = "/" + "/".join(draw(st.lists(REQUEST_SEGMENTS, max_size=4)))
        if draw(st.booleans()):
            path = path.replace("/", "//", 1)
        requests.append((draw(st.sampled_from(METHODS + ["PUT"])), path, draw(REQUEST_HOSTS)))
    return routes, requests


def _build(
    cls: type, routes: list[tuple[str, str, str | None]], mode: str
) -> tuple[Any, list[str]]:
    router = cls(converters=_converters(), trailing_slash=mode)
    outcomes = []
    for i, (method, path, host) in enumerate(routes):
        try:
            router.add(method, path, f"r{i}", host=host)
            outcomes.append("ok")
        except RouteError as error:
            outcomes.append(str(error).split(":")[0])  # which route was refused
    return router, outcomes


@pytest.mark.parametrize("mode", ["strict", "ignore", "redirect"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_compiled_router_agrees_with_reference(
    mode: str,
    scenario: tuple[list[tuple[str, str, str | None]], list[tuple[str, str, str]]],
) -> None:
    routes, requests = scenario
    compiled, compiled_outcomes = _build(Router, routes, mode)
    reference, reference_outcomes = _build(ReferenceRouter, routes, mode)
    assert compiled_outcomes == reference_outcomes
    for method, path, host in requests:
        assert compiled.match(method, path, host) == reference.match(method, path, host), (
            method,
            path,
            host,
        )


ROUTES_FOR_ROBUSTNESS = [
    ("GET", "/"),
    ("GET", "/a/{x}"),
    ("GET", "/a/{x:int}/b"),
    ("GET", "/u/{id:uuid}"),
    ("GET", "/f/{rest:path}"),
    ("GET", "/{p}/{q}/"),
    ("POST", "/a/b"),
]


def _robustness_pair() -> tuple[Any, Any]:
    pair = []
    for cls in IMPLEMENTATIONS:
        router = cls()
        for method, path in ROUTES_FOR_ROBUSTNESS:
            router.add(method, path, f"{method} {path}")
        pair.append(router)
    return pair[0], pair[1]


@settings(max_examples=300, deadline=None)
@given(
    path=st.one_of(
        st.text(),
        st.text(alphabet="/.%2eEfF0a", max_size=40),
        st.text().map(lambda s: "/" + s),
        st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=6), max_size=6).map(
            lambda parts: "/" + "/".join(parts)
        ),
    ),
    method=st.sampled_from(["GET", "POST", "get", "", "\x00"]),
    host=st.text(max_size=20),
)
def test_arbitrary_input_never_crashes_and_both_agree(path: str, method: str, host: str) -> None:
    compiled, reference = _robustness_pair()
    assert compiled.match(method, path, host) == reference.match(method, path, host)


@pytest.mark.parametrize(
    "path",
    [
        "/" + "a" * 65536,
        "/a/" * 21845,
        "/f/" + "x/" * 32767,
        "/" + "%2e%2e/" * 9362,
        "/" + "é" * 32768,
        "/" + "%zz" * 21845,
        "/" * 65536,
        "/a/" + "9" * 65536 + "/b",
    ],
    ids=lambda p: f"{len(p)}-chars",
)
def test_very_long_paths(path: str) -> None:
    compiled, reference = _robustness_pair()
    for method in ("GET", "PUT"):
        assert compiled.match(method, path) == reference.match(method, path)


def test_a_deep_route_with_many_typed_parameters_compiles() -> None:
    path = "/" + "/".join(f"{{p{i}:int}}" for i in range(120))
    for cls in IMPLEMENTATIONS:
        router = cls()
        router.add("GET", path, "deep")
        request = "/" + "/".join(str(i) for i in range(120))
        found = router.match("GET", request)
        assert found is not None and found[1]["p119"] == 119
