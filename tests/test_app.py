"""The App through the in-process test client: routing, middleware, errors, waitUntil."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from edgeline import App, BadRequest, Context, Request, Response
from edgeline.origin import forward
from edgeline.testing import FunctionTransport, TestClient

pytestmark = pytest.mark.anyio


def make_app(**kwargs: object) -> App:
    app = App(**kwargs)  # type: ignore[arg-type]

    @app.get("/items/{id:int}")
    async def item(request: Request, ctx: Context) -> Response:
        return Response.from_json({"id": request.params["id"], "env": ctx.env.get("STAGE")})

    @app.route("/items", methods=["GET", "POST"])
    async def items(request: Request, ctx: Context) -> Response:
        if request.method == "POST":
            return Response.from_json(await request.json(), 201)
        return Response.from_text("list")

    @app.get("/geo")
    async def geo(request: Request, ctx: Context) -> Response:
        return Response.from_text(f"{ctx.geo.country}/{ctx.geo.city}/{ctx.geo.latitude}")

    @app.get("/boom")
    async def boom(request: Request, ctx: Context) -> Response:
        raise RuntimeError("secret internals")

    @app.get("/bad")
    async def bad(request: Request, ctx: Context) -> Response:
        raise BadRequest("missing ?q")

    return app


async def test_routes_params_and_env() -> None:
    client = TestClient(make_app(), env={"STAGE": "test"})
    response = await client.get("/items/42")
    assert response.status == 200
    assert await response.json() == {"id": 42, "env": "test"}
    created = await client.post("/items", body=b'{"name": "x"}')
    assert created.status == 201 and await created.json() == {"name": "x"}


async def test_not_found_and_method_not_allowed_with_allow() -> None:
    client = TestClient(make_app())
    assert (await client.get("/nope")).status == 404
    response = await client.delete("/items")
    assert response.status == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert response.headers["content-type"] == "application/problem+json"


async def test_head_is_served_by_get_without_body() -> None:
    client = TestClient(make_app())
    response = await client.head("/items")
    assert response.status == 200
    assert await response.read() == b""
    assert response.headers["content-length"] == "4"


async def test_errors_become_problem_responses_without_traceback(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(make_app())
    with caplog.at_level(logging.ERROR, logger="edgeline"):
        response = await client.get("/boom")
    assert response.status == 500
    body = await response.text()
    assert "secret internals" not in body and "Traceback" not in body
    assert "secret internals" in caplog.text  # but the operator sees it in the log
    bad = await client.get("/bad")
    assert bad.status == 400 and (await bad.json())["detail"] == "missing ?q"


async def test_debug_mode_shows_the_traceback() -> None:
    response = await TestClient(make_app(debug=True)).get("/boom")
    assert "secret internals" in (await response.json())["detail"]


async def test_geo_from_cf_per_request_and_default() -> None:
    client = TestClient(make_app(), cf={"country": "de", "city": "Berlin", "latitude": "52.5"})
    assert await (await client.get("/geo")).text() == "DE/Berlin/52.5"
    assert await (await client.get("/geo", cf={"country": "JP", "latitude": "x"})).text() == "JP/Berlin/None"


async def test_middleware_is_an_onion_in_registration_order() -> None:
    app = make_app()
    calls: list[str] = []

    def layer(name: str):  # type: ignore[no-untyped-def]
        async def middleware(request: Request, ctx: Context, call_next) -> Response:  # type: ignore[no-untyped-def]
            calls.append(f"{name}>")
            response = await call_next(request, ctx)
            calls.append(f"<{name}")
            response.headers.add("x-layers", name)
            return response
        return middleware

    app.use(layer("outer"), layer("inner"))
    response = await TestClient(app).get("/items")
    assert calls == ["outer>", "inner>", "<inner", "<outer"]
    assert response.headers.get_all("x-layers") == ["inner", "outer"]


async def test_middleware_can_answer_without_calling_next() -> None:
    app = make_app()

    async def deny(request: Request, ctx: Context, call_next) -> Response:  # type: ignore[no-untyped-def]
        return Response.from_text("denied", 403)

    app.use(deny)
    assert (await TestClient(app).get("/items/1")).status == 403


async def test_call_next_can_be_awaited_later_retried_and_fail_inside_the_middleware() -> None:
    # Each call of call_next is one fresh run of the rest of the chain, whose
    # errors (a missing route, a crashing handler) surface where it is awaited.
    import asyncio

    app = make_app()
    seen: list[str] = []

    async def twice(request: Request, ctx: Context, call_next) -> Response:  # type: ignore[no-untyped-def]
        pending = call_next(request, ctx)
        first = await asyncio.wait_for(pending, timeout=5)
        second = await call_next(request, ctx)
        seen.append(f"{first.status}/{second.status}")
        return second

    async def shield(request: Request, ctx: Context, call_next) -> Response:  # type: ignore[no-untyped-def]
        try:
            return await call_next(request, ctx)
        except RuntimeError as exc:
            seen.append(f"caught {exc}")
            return Response.from_text("shielded", 502)

    app.use(twice, shield)
    client = TestClient(app)
    assert (await client.get("/items/7")).status == 200
    assert (await client.get("/nope")).status == 404
    response = await client.get("/boom")
    assert (response.status, await response.text()) == (502, "shielded")
    assert seen == ["200/200", "404/404", "caught secret internals", "caught secret internals",
                    "502/502"]


async def test_wait_until_runs_and_errors_are_collected() -> None:
    app = App()
    done: list[str] = []

    async def later() -> None:
        done.append("later")

    async def fails() -> None:
        raise ValueError("background")

    @app.get("/")
    async def index(request: Request, ctx: Context) -> Response:
        ctx.wait_until(later())
        ctx.wait_until(fails())
        return Response.from_text("ok")

    client = TestClient(app)
    await client.get("/")
    results = await client.settle()
    assert done == ["later"]
    assert isinstance(results[1], ValueError)


async def test_groups_prefix_routes() -> None:
    app = App()
    api = app.group("/api")
    v1 = api.group("/v1")

    @v1.get("/ping")
    async def ping(request: Request, ctx: Context) -> Response:
        return Response.from_text("pong")

    assert await (await TestClient(app).get("/api/v1/ping")).text() == "pong"
    with pytest.raises(ValueError, match="prefix"):
        app.group("api/")


async def test_forward_streams_through_the_origin_transport() -> None:
    app = App()
    app.any("/api/{rest:path}")(forward("http://origin.internal:9000/base"))

    async def stream() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        yield b"data: 2\n\n"

    async def origin(request: Request) -> Response:
        assert request.headers["host"] == "origin.internal:9000"
        assert "connection" not in request.headers and "x-drop" not in request.headers
        assert await request.read() == b"payload"
        return Response(stream(), 200, {"content-type": "text/event-stream", "keep-alive": "5"})

    transport = FunctionTransport(origin)
    client = TestClient(app, origin=transport)
    response = await client.post("/api/events?x=1", body=b"payload",
                                 headers={"connection": "x-drop", "x-drop": "1"})
    assert str(transport.requests[0].url) == "http://origin.internal:9000/base/api/events?x=1"
    assert response.is_streaming  # nothing was buffered on the way
    assert [c async for c in response.stream()] == [b"data: 1\n\n", b"data: 2\n\n"]
    assert "keep-alive" not in response.headers


def test_forward_rejects_a_bad_origin_at_setup() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        forward("ftp://nope")


async def test_trailing_slash_redirect_policy_answers_308_keeping_the_query() -> None:
    from edgeline.routing import Router

    app = App(router=Router(trailing_slash="redirect"))

    @app.get("/docs/")
    async def docs(request: Request, ctx: Context) -> Response:
        return Response.from_text("docs")

    response = await TestClient(app).get("/docs?page=2")
    assert response.status == 308 and response.headers["location"] == "/docs/?page=2"
