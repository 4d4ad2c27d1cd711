"""The compiled router on tables large enough to take every code-generation path.

The contract suite's generated tables are small, so its matchers are mostly
chains of ``==`` tests. These tables are sized past the generator's limits
(its cost model, ``MAX_LENGTH_CHAIN``, ``MAX_DECISION_DEPTH``) so that wide
levels become dict lookups (data tables, or a dict to an int and a binary
tree), and every answer is held against the reference router.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeline.routing import Converter, MethodNotAllowed, ReferenceRouter, RouteError, Router
from edgeline.routing._codegen import MAX_DECISION_DEPTH, MAX_LENGTH_CHAIN, generate
from edgeline.routing._compiled import _leaf_methods
from edgeline.routing._converters import converter_table
from edgeline.routing._pattern import ANY_HOST, parse_route
from edgeline.routing._table import Table

Route = tuple[str, str]


def _pair(routes: Iterable[Route], **options: Any) -> tuple[Router, ReferenceRouter]:
    compiled, reference = Router(**options), ReferenceRouter(**options)
    for method, path in routes:
        compiled.add(method, path, f"{method} {path}")
        reference.add(method, path, f"{method} {path}")
    compiled.compile()
    return compiled, reference


def _agree(
    compiled: Router, reference: ReferenceRouter, paths: Iterable[str], methods: Iterable[str]
) -> int:
    """Assert both routers answer alike; return how many answers were hits."""
    hits = 0
    for path in paths:
        for method in methods:
            found = compiled.match(method, path)
            assert found == reference.match(method, path), (method, path)
            if found is not None and not isinstance(found[0], MethodNotAllowed):
                hits += 1
    return hits


METHODS = ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")

# Wide enough that the generator's cost model finds these levels with a dict.
WIDE = 24
VARIETY = 6  # distinct texts per position in the generated tables


def test_a_wide_level_with_differing_parameter_names() -> None:
    # /r/{owner}/cK/{nameK}: one rank vector, K static texts, K parameter names.
    routes: list[Route] = []
    for k in range(WIDE):
        routes.append(("GET", f"/r/{{owner}}/c{k}/{{name{k}}}"))
        if k % 3 == 0:
            routes.append(("PUT", f"/r/{{owner}}/c{k}/{{name{k}}}"))
        if k % 5 == 0:
            routes.append(("DELETE", f"/r/{{owner}}/c{k}/{{name{k}}}"))
    compiled, reference = _pair(routes)
    for k in range(WIDE):
        found = compiled.match("GET", f"/r/octo/c{k}/x{k}")
        assert found == (
            f"GET /r/{{owner}}/c{k}/{{name{k}}}",
            {"owner": "octo", f"name{k}": f"x{k}"},
        )
        assert list(found[1]) == ["owner", f"name{k}"]  # in path order
    paths = [f"/r/o/c{k}/v" for k in range(WIDE)] + ["/r/o/c999/v", "/r//c1/v", "/r/o/c1/"]
    paths += [f"/r/o/c{k}/%76%2F" for k in range(0, WIDE, 7)]  # decoded on the slow path
    assert _agree(compiled, reference, paths, METHODS) > 2 * WIDE


def test_a_wide_level_with_more_static_segments_below_it() -> None:
    # The wide level is followed by a second static position, so the data
    # table nests dicts, and some leaves take a typed parameter.
    routes: list[Route] = []
    for k in range(WIDE):
        routes.append(("GET", f"/t/{{id:int}}/k{k}/{{v}}/end{k % 3}"))
        routes.append(("POST", f"/t/{{id:int}}/k{k}/{{v}}/end{k % 3}"))
    compiled, reference = _pair(routes)
    found = compiled.match("POST", "/t/42/k4/w/end1")
    assert found == ("POST /t/{id:int}/k4/{v}/end1", {"id": 42, "v": "w"})
    paths = [
        f"/t/{i}/k{k}/w/end{e}" for i in ("7", "x", "007") for k in range(WIDE) for e in range(3)
    ]
    assert _agree(compiled, reference, paths, ("GET", "HEAD", "POST", "PUT")) > WIDE


def test_many_first_segments_go_through_a_dict_and_a_tree() -> None:
    # Each first segment holds code (several shapes), so the switch on it is
    # a dict to an int and a binary tree, not a data table.
    routes: list[Route] = []
    for k in range(WIDE):
        routes += [("GET", f"/b{k}/{{x}}"), ("GET", f"/b{k}/{{x}}/s"), ("GET", f"/b{k}/s/{{y}}")]
        if k % 2:
            routes.append(("DELETE", f"/b{k}/{{x}}"))
    routes.append(("GET", "/{any}/{x}"))  # a parameter first: tried after every bucket
    compiled, reference = _pair(routes)
    paths = [f"/b{k}/v" for k in range(WIDE)] + [f"/b{k}/s/w" for k in range(WIDE)]
    paths += [f"/b{k}/s/s" for k in range(WIDE)] + ["/zz/v", "/b1/v/s", "/b1/v/t"]
    assert _agree(compiled, reference, paths, ("GET", "DELETE", "PUT")) > 3 * WIDE


def _source(routes: Iterable[Route]) -> str:
    """Return the finder source generated for ``routes`` (none of them fully static)."""
    table = Table(ANY_HOST)
    for method, path in routes:
        table.insert(parse_route(method, path, path, None, converter_table(), "strict"))
    return generate(list(table.leaves.values()), _leaf_methods).source


# One route per first segment, of a few shapes: the wide level's parts differ
# only in constants within a shape, and some parts hold several routes.
SHARED_SHAPES = (
    "/u{k}/{{x}}",
    "/u{k}/{{n:int}}/s{k}",
    "/u{k}/s{k}/{{x}}/{{y}}",
    "/u{k}/{{rest:path}}",
)


def _one_route_parts() -> list[Route]:
    routes: list[Route] = []
    for k in range(4 * WIDE):
        shape = SHARED_SHAPES[k % len(SHARED_SHAPES)]
        routes.append(("GET", shape.format(k=k)))
        if k % 3 == 0:
            # A second method for the same target kind: a dict, not a set.
            routes.append(("PUT", shape.format(k=k)))
        if k % 7 == 0:
            # A part holding two routes has code of its own.
            routes.append(("GET", f"/u{k}/own/{{z}}"))
    return routes


def test_one_route_parts_of_a_wide_level_share_their_code() -> None:
    routes = _one_route_parts()
    source = _source(routes)
    # Shared: far fewer returns than routes, and constants read from a row.
    assert source.count("return ") < len(routes) // 4
    assert "[1] and" in source
    compiled, reference = _pair(routes)
    paths = []
    for k in range(4 * WIDE):
        paths += [f"/u{k}/v", f"/u{k}/7/s{k}", f"/u{k}/x/s{k}", f"/u{k}/s{k}/a/b", f"/u{k}/a/b"]
        paths += [f"/u{k}/7/s{k + 1}", f"/u{k}/s{k + 1}/a/b", f"/u{k}/own/z", f"/u{k}/a//b"]
    paths += ["/u9999/v", "/v1/v", "/u1/", "/u3/"]
    assert _agree(compiled, reference, paths, ("GET", "HEAD", "PUT", "DELETE")) > 8 * WIDE


def test_a_wildcard_route_joins_only_the_length_branches_it_competes_in() -> None:
    routes = [
        ("GET", "/w/{rest:path}"),
        ("GET", "/w/a/{x}"),  # competes at 3 segments: a static "w" first, like the wildcard
        ("GET", "/o/{x}/{y}/{z}"),  # another first segment: no competition at 4 segments
        ("GET", "/q/{rest:path}"),
        ("GET", "/{p}/q/{x}/{y}/{z}"),  # a parameter first competes with every wildcard
    ]
    source = _source(routes)
    # /w/ at 4 segments (beside /w/a/{x}), both at 6 (beside /{p}/q/...), both at the
    # end; the 5-segment branch falls through to the end for them.
    assert source.count("REST(segs, 2)") == 5
    compiled, reference = _pair(routes)
    paths = [
        "/w/a/b",
        "/w/b",
        "/w/",
        "/w/a/b/c",
        "/w/a/b/c/d",
        "/o/a/b/c",
        "/q/a/b/c",
        "/q/q/a/b/c",
        "/w/q/a/b/c",
        "/x/q/a/b/c",
        "/w//a",
        "/q/a//b",
        "/o/a/b",
        "/o/a/b/c/d",
    ]
    assert _agree(compiled, reference, paths, ("GET", "PUT")) > 10


def test_a_wildcard_route_outranking_one_in_a_branch_joins_it_too() -> None:
    routes = [
        ("GET", "/g/{b}/c"),  # only /{lead}/... competes with it at 4 segments
        ("GET", "/{lead}/{rest:path}"),
        ("GET", "/f0/{a}/{rest:path}"),  # outranks /{lead}/... on /f0/...
    ]
    compiled, reference = _pair(routes)
    assert compiled.match("GET", "/f0/w/w") == ("GET /f0/{a}/{rest:path}", {"a": "w", "rest": "w"})
    paths = ["/f0/w/w", "/g/b/c", "/g/b/d", "/f0/w", "/f0/w/w/w", "/h/b/c", "/f0/b/c", "/g/f0/c"]
    assert _agree(compiled, reference, paths, ("GET", "PUT")) > 6


def test_more_lengths_than_the_length_chain_takes() -> None:
    depth = MAX_LENGTH_CHAIN + 8
    routes = [("GET", "/a" + "".join(f"/{{p{i}}}" for i in range(k))) for k in range(depth)]
    routes.append(("GET", "/f/{rest:path}"))
    compiled, reference = _pair(routes)
    paths = ["/a" + "/x" * k for k in range(depth + 2)] + [
        "/f" + "/y" * k for k in range(depth + 2)
    ]
    assert _agree(compiled, reference, paths, ("GET", "POST")) >= 2 * depth


def test_a_group_too_deep_for_a_decision_tree_is_a_table() -> None:
    # A comb: route k differs from the all-"a" route only at static position
    # k, so a decision tree would nest one branch per position.
    width = MAX_DECISION_DEPTH // 2 + 5
    base = ["a"] * width
    routes = [("GET", "/p/{x}/" + "/".join(base))]
    for k in range(width):
        texts = base.copy()
        texts[k] = "b"
        routes.append(("GET", "/p/{x}/" + "/".join(texts)))
        routes.append(("PUT", "/p/{x}/" + "/".join(texts)))
    compiled, reference = _pair(routes)
    paths = [path.replace("{x}", "v") for _, path in routes]
    paths += ["/p/v/" + "/".join(["b"] * width), "/p//" + "/".join(base)]
    assert _agree(compiled, reference, paths, ("GET", "PUT", "HEAD")) > 2 * width


@pytest.mark.parametrize(
    "segment",
    ["0", "007", "42", "²", "١٢", "-1", "+1", " 1", "1_000", "9" * 639, "9" * 640, "9" * 700],
)
def test_the_generated_int_test_agrees_with_the_converter(segment: str) -> None:
    routes = [("GET", "/n/{n:int}"), ("GET", "/n/{s}")]
    compiled, reference = _pair(routes)
    found = compiled.match("GET", f"/n/{segment}")
    assert found == reference.match("GET", f"/n/{segment}")
    assert found is not None
    if segment.isascii() and segment.isdigit():
        assert found == ("GET /n/{n:int}", {"n": int(segment)})
    else:
        assert found == ("GET /n/{s}", {"s": segment})


def test_digits_past_the_interpreter_limit_do_not_match_the_int_route() -> None:
    limit = sys.get_int_max_str_digits()
    if limit == 0:
        pytest.skip("this interpreter converts ints of any length")
    compiled, reference = _pair([("GET", "/n/{n:int}"), ("GET", "/n/{s}")])
    segment = "9" * (limit + 1)
    assert compiled.match("GET", f"/n/{segment}") == ("GET /n/{s}", {"s": segment})
    assert compiled.match("GET", f"/n/{segment}") == reference.match("GET", f"/n/{segment}")


def test_methods_told_apart_by_sets_and_by_dicts() -> None:
    routes = [
        ("GET", "/m/{x}/one"),
        ("GET", "/m/{x}/two"),
        ("PUT", "/m/{x}/two"),
        ("GET", "/m/{x}/three"),
        ("PUT", "/m/{x}/three"),
        ("DELETE", "/m/{x}/three"),
        ("HEAD", "/m/{x}/head"),
        ("GET", "/m/{x}/head"),
        ("OPTIONS", "/m/{x}/opt"),
    ]
    compiled, reference = _pair(routes)
    paths = [f"/m/v/{leaf}" for leaf in ("one", "two", "three", "head", "opt", "none")]
    _agree(compiled, reference, paths, (*METHODS, "POST", "get"))
    assert compiled.match("HEAD", "/m/v/head") == ("HEAD /m/{x}/head", {"x": "v"})
    assert compiled.match("HEAD", "/m/v/two") == ("GET /m/{x}/two", {"x": "v"})
    assert compiled.match("POST", "/m/v/three") == (
        MethodNotAllowed(("DELETE", "GET", "HEAD", "PUT")),
        {"x": "v"},
    )


# --------------------------------------------------------------------------
# Generated large tables
# --------------------------------------------------------------------------

FIRST = st.sampled_from([f"f{k}" for k in range(VARIETY + 3)] + ["{lead}"])
SEGMENT = st.sampled_from(
    [f"w{k}" for k in range(2 * VARIETY)] + ["{a}", "{b}", "{c:int}", "{d:uuid}", ""]
)
REQUEST = st.sampled_from(
    [f"w{k}" for k in range(2 * VARIETY)]
    + [f"f{k}" for k in range(3)]
    + ["7", "x", "", "w1%2Fw2", "%77%31", "..", "12345678-1234-1234-1234-123456789abc"]
)


@st.composite
def _large_tables(draw: st.DrawFn) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    routes = []
    for _ in range(draw(st.integers(20, 80))):
        segments = [draw(FIRST), *draw(st.lists(SEGMENT, max_size=4))]
        # An empty segment is only allowed last (a trailing slash).
        segments = [s for s in segments[:-1] if s] + segments[-1:]
        if draw(st.integers(0, 5)) == 0:
            segments.append("{rest:path}")
        routes.append((draw(st.sampled_from(["GET", "PUT", "DELETE"])), "/" + "/".join(segments)))
    requests = []
    for _ in range(30):
        if draw(st.booleans()):
            pattern = draw(st.sampled_from(routes))[1]
            parts = [
                draw(REQUEST) if s.startswith("{") or draw(st.integers(0, 4)) == 0 else s
                for s in pattern[1:].split("/")
            ]
        else:
            parts = draw(st.lists(REQUEST, max_size=6))
        requests.append(
            (draw(st.sampled_from(["GET", "HEAD", "PUT", "POST"])), "/" + "/".join(parts))
        )
    return routes, requests


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=_large_tables())
def test_large_generated_tables_agree_with_the_reference(
    table: tuple[list[tuple[str, str]], list[tuple[str, str]]],
) -> None:
    routes, requests = table
    compiled, reference = Router(), ReferenceRouter()
    for i, (method, path) in enumerate(routes):
        outcomes = []
        for router in (compiled, reference):
            try:
                router.add(method, path, f"r{i}")
                outcomes.append("ok")
            except RouteError as error:
                outcomes.append(str(error))
        assert outcomes[0] == outcomes[1]
    for method, path in requests:
        assert compiled.match(method, path) == reference.match(method, path), (method, path)


# --------------------------------------------------------------------------
# Host tables compiled on first need; patterns parsed once per path
# --------------------------------------------------------------------------

HOST_ROUTES = [
    ("GET", "/a/{x}", None),
    ("GET", "/a/{x}", "api.example.com"),
    ("PUT", "/a/{x}", "api.example.com"),
    ("GET", "/b/{y}", "*.example.org"),
    ("GET", "/c", "*.example.org"),
]


def _host_router() -> Router:
    router = Router()
    for method, path, host in HOST_ROUTES:
        router.add(method, path, f"{method} {path} {host}", host=host)
    return router


def test_host_tables_are_generated_on_the_first_request_for_their_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from edgeline.routing import _compiled

    generated: list[int] = []
    real = _compiled.generate

    def counting(leaves: Any, *args: Any, **kwargs: Any) -> Any:
        generated.append(len(leaves))
        return real(leaves, *args, **kwargs)

    monkeypatch.setattr(_compiled, "generate", counting)
    router = _host_router()
    router.compile()
    assert len(generated) == 1  # only the routes for any host
    assert router.match("GET", "/a/1", "other.net") == ("GET /a/{x} None", {"x": "1"})
    assert len(generated) == 1
    assert router.match("PUT", "/a/1", "API.example.com:443") == (
        "PUT /a/{x} api.example.com",
        {"x": "1"},
    )
    assert len(generated) == 2
    assert router.match("GET", "/b/2", "x.example.org") == ("GET /b/{y} *.example.org", {"y": "2"})
    assert router.match("GET", "/c", "y.example.org") == ("GET /c *.example.org", {})
    assert len(generated) == 3
    # Other spellings of the same hosts, and the host cache overflowing,
    # reuse the tables already generated.
    for k in range(_compiled.HOST_CACHE_SIZE + 10):
        assert router.match("GET", "/b/2", f"h{k}.example.org") is not None
        assert router.match("DELETE", "/a/1", "api.example.com") == (
            MethodNotAllowed(("GET", "HEAD", "PUT")),
            {"x": "1"},
        )
    assert len(generated) == 3


def test_a_lazy_host_table_holds_the_routes_of_its_compile() -> None:
    router = _host_router()
    router.compile()
    before = router.match
    router.add("GET", "/d", "late", host="api.example.com")
    router.add("GET", "/d/{z}", "late too", host="api.example.com")
    router.add("DELETE", "/a/{x}", "late method", host="api.example.com")
    # The matcher compiled before the adds never sees the new routes, even
    # though its api.example.com table is generated only now.
    assert before("GET", "/d", "api.example.com") is None
    assert before("GET", "/d/1", "api.example.com") is None
    assert before("DELETE", "/a/1", "api.example.com") == (
        MethodNotAllowed(("GET", "HEAD", "PUT")),
        {"x": "1"},
    )
    assert router.match("GET", "/d", "api.example.com") == ("late", {})
    assert router.match("GET", "/d/1", "api.example.com") == ("late too", {"z": "1"})
    assert router.match("DELETE", "/a/1", "api.example.com") == ("late method", {"x": "1"})


def test_the_slow_path_static_table_is_built_on_first_use() -> None:
    router = Router()
    router.add("GET", "/é", "e-acute")
    router.add("GET", "/a%2Fb", "slash")
    router.add("GET", "/plain", "plain")
    router.compile()
    assert router.match("GET", "/plain") == ("plain", {})
    assert router.match("GET", "/%C3%A9") == ("e-acute", {})
    assert router.match("GET", "/a%2fb") == ("slash", {})
    assert router.match("POST", "/plain") == (MethodNotAllowed(("GET", "HEAD")), {})


def test_a_path_added_for_several_methods_is_checked_each_time() -> None:
    router = Router()
    router.add("GET", "/a/{x}", "get")
    # The path was parsed for GET already; the other arguments are still checked.
    with pytest.raises(RouteError, match=r"route G T /a/\{x\}: method"):
        router.add("G T", "/a/{x}", "bad")
    with pytest.raises(RouteError, match="host must be a string"):
        router.add("PUT", "/a/{x}", "bad", host=["api.example.com"])  # type: ignore[arg-type]
    with pytest.raises(RouteError, match="conflicts with GET"):
        router.add("GET", "/a/{x}", "again")
    with pytest.raises(RouteError, match="parameter names"):
        router.add("PUT", "/a/{y}", "renamed")
    router.add("PUT", "/a/{x}", "put")
    router.add("PUT", "/a/{x}", "put on host", host="api.example.com")

    class Text(str):
        pass

    router.add("DELETE", Text("/a/{x}"), "delete")
    assert router.match("PUT", "/a/1") == ("put", {"x": "1"})
    assert router.match("DELETE", "/a/1") == ("delete", {"x": "1"})
    assert router.match("PUT", "/a/1", "api.example.com") == ("put on host", {"x": "1"})
    assert router.match("POST", "/a/1") == (
        MethodNotAllowed(("DELETE", "GET", "HEAD", "PUT")),
        {"x": "1"},
    )


def test_a_host_and_a_method_checked_once_are_still_checked_in_other_forms() -> None:
    router = Router()
    router.add("GET", "/a", "a", host="API.Example.com.")
    router.add("GET", "/b/{x}", "b", host="API.Example.com.")  # the host parsed before
    router.add("GET", "/c/{x}", "c", host="api.example.com")
    with pytest.raises(RouteError, match="host must be a DNS name"):
        router.add("GET", "/d", "d", host="api.example.com:8080")
    with pytest.raises(RouteError, match="method must be an HTTP token"):
        router.add("GE T", "/e", "e")

    class Method(str):
        pass

    router.add(Method("PUT"), "/b/{x}", "put", host="api.example.com")
    assert router.match("GET", "/a", "api.example.com") == ("a", {})
    assert router.match("GET", "/b/1", "API.EXAMPLE.COM") == ("b", {"x": "1"})
    assert router.match("PUT", "/b/1", "api.example.com") == ("put", {"x": "1"})
    assert router.match("GET", "/c/1", "api.example.com.") == ("c", {"x": "1"})
    assert router.match("GET", "/b/1", "other.example.com") is None


def test_segments_parsed_for_one_route_are_checked_again_in_another() -> None:
    router = Router(converters=[Converter("even", _even_only, regex=r"[0-9]+")])
    router.add("GET", "/a/{x}/{n:int}/{e:even}", "a")
    router.add("GET", "/f/{rest:path}", "f")
    with pytest.raises(RouteError, match="parameter 'x' appears twice"):
        router.add("GET", "/b/{x}/{x}", "b")
    with pytest.raises(RouteError, match="'n' appears twice"):
        router.add("GET", "/b/{n:int}/c/{n:int}", "b")
    with pytest.raises(RouteError, match=r"\{rest:path\} must be the last segment"):
        router.add("GET", "/g/{rest:path}/x", "g")
    router.add("GET", "/c/{n:int}/{x}/{e:even}", "c")
    router.add("GET", "/h/{rest:path}", "h")
    assert router.match("GET", "/c/7/y/4") == ("c", {"n": 7, "x": "y", "e": 4})
    assert router.match("GET", "/c/7/y/3") is None
    assert router.match("GET", "/h/a/b") == ("h", {"rest": "a/b"})
    assert router.match("GET", "/a/v/1/2") == ("a", {"x": "v", "n": 1, "e": 2})


def _even_only(text: str) -> int:
    value = int(text)
    if value % 2:
        raise ValueError(text)
    return value
