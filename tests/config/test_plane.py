"""ConfigPlane: load from a real (SQLite-backed) KV binding, refresh, keep the last good one."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeline import App, Context, Request, Response
from edgeline.config import STATE_KEY, CompiledConfig, ConfigPlane
from edgeline.emulator.kv import KVStorage
from edgeline.errors import ConfigError
from edgeline.testing import FunctionTransport, TestClient

from .helpers import dumps, sample

pytestmark = pytest.mark.anyio

SECRET = "s3cret-admin-token"
AUTH = {"authorization": f"Bearer {SECRET}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def storage(tmp_path):
    kv = KVStorage(tmp_path / "kv.sqlite3")
    yield kv
    kv.close()


@pytest.fixture
def namespace(storage):
    return storage.namespace("config-ns")


async def origin_handler(request: Request) -> Response:
    return Response.from_json({"origin_saw": request.url.path, "host": request.headers.get("host")})


def make(namespace, *, clock=None, secret: str | None = SECRET, **options):
    clock = clock or Clock()
    plane = ConfigPlane("EDGE_CONFIG", "edge-config", refresh_seconds=30, clock=clock, **options)
    app = App()

    @app.get("/app")
    async def app_route(request: Request, ctx: Context) -> Response:
        config = ctx.state.get(STATE_KEY)
        return Response.from_json({"app": True, "version": config and config.config.version})

    @app.get("/ping")
    async def shadowed(request: Request, ctx: Context) -> Response:
        return Response.from_text("app ping")

    @app.route("/api/{rest:path}", methods=["DELETE"])
    async def app_delete(request: Request, ctx: Context) -> Response:
        return Response.from_text("app delete")

    app.use(plane.middleware)
    env = {"EDGE_CONFIG": namespace}
    if secret is not None:
        env["EDGELINE_ADMIN_SECRET"] = secret
    transport = FunctionTransport(origin_handler)
    client = TestClient(app, env=env, origin=transport)
    return plane, client, clock, transport


def body(doc: dict) -> str:
    return dumps(doc).decode()


def with_ping(text: str) -> dict:
    doc = sample()
    doc["routes"][1]["action"]["body"] = text
    return doc


async def test_first_request_loads_and_kv_routes_come_first(namespace) -> None:
    await namespace.put("edge-config", body(sample()))
    plane, client, _, transport = make(namespace)
    assert plane.current is None
    response = await client.get("/ping")
    assert (response.status, response.body, response.headers["x-from"]) == (200, b"pong", "kv")
    assert isinstance(plane.current, CompiledConfig)
    assert json.loads((await client.get("/app")).body) == {"app": True, "version": 1}
    moved = await client.get("/old/7?x=1")
    assert (moved.status, moved.headers["location"]) == (308, "/new/7?x=1")
    forwarded = await client.get("/api/items/1?q=2")
    assert json.loads(forwarded.body)["origin_saw"] == "/items/1"
    assert str(transport.requests[0].url) == "http://origin.test/items/1?q=2"


async def test_method_not_matching_a_kv_route_falls_through_to_the_app(namespace) -> None:
    await namespace.put("edge-config", body(sample()))
    _, client, _, _ = make(namespace)
    assert (await client.delete("/api/x")).body == b"app delete"
    assert (await client.get("/nowhere")).status == 404


async def test_refresh_runs_in_wait_until_and_swaps_atomically(namespace) -> None:
    await namespace.put("edge-config", body(with_ping("one")))
    plane, client, clock, _ = make(namespace)
    assert (await client.get("/ping")).body == b"one"
    await namespace.put("edge-config", body(with_ping("two")))
    clock.now += 29
    assert (await client.get("/ping")).body == b"one"
    assert client.pending == []  # not due yet: nothing scheduled
    clock.now += 2
    # The request that triggers the refresh does not wait for it.
    assert (await client.get("/ping")).body == b"one"
    assert len(client.pending) == 1
    await client.settle()
    assert (await client.get("/ping")).body == b"two"
    assert plane.loads == 2


async def test_bad_values_keep_the_last_good_configuration(namespace, caplog) -> None:
    await namespace.put("edge-config", body(with_ping("good")))
    plane, client, clock, _ = make(namespace)
    assert (await client.get("/ping")).body == b"good"
    good = plane.current
    bad_doc = with_ping("bad")
    bad_doc["routes"][1]["action"]["status"] = "200"
    newer = with_ping("newer")
    newer["version"] = 99
    unknown = with_ping("unknown")
    unknown["routes"][0]["action"]["strip_prefx"] = "/api"
    cases = [
        (body(bad_doc), "$.routes[1].action.status", "Expected `int`, got `str`"),
        (body(sample())[:100], "$", "truncated"),
        (body(newer), "$.version", "newer than this code"),
        (body(unknown), "$.routes[0].action", "unknown field `strip_prefx`"),
        ("{}", "$", "missing required field `version`"),
    ]
    for value, path, text in cases:
        await namespace.put("edge-config", value)
        clock.now += 31
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="edgeline.config"):
            await client.get("/ping")
            await client.settle()
        assert plane.current is good
        assert (await client.get("/ping")).body == b"good"
        problem = plane.error.problems[0]
        assert (problem.path, text in problem.message) == (path, True), problem
        assert path in caplog.text and "keeping version 1" in caplog.text
    # The same bad bytes are reported once, not at every refresh.
    rejections = plane.rejections
    clock.now += 31
    await client.get("/ping")
    await client.settle()
    assert plane.rejections == rejections
    # A good value again is taken up.
    await namespace.put("edge-config", body(with_ping("fixed")))
    clock.now += 31
    await client.get("/ping")
    await client.settle()
    assert (await client.get("/ping")).body == b"fixed"
    assert plane.error is None


async def test_no_configuration_yet_serves_the_app_then_loads(namespace) -> None:
    plane, client, clock, _ = make(namespace)
    assert (await client.get("/ping")).body == b"app ping"
    assert "no value under key" in plane.error.problems[0].message
    await namespace.put("edge-config", body(sample()))
    clock.now += 31
    await client.get("/app")
    await client.settle()
    assert (await client.get("/ping")).body == b"pong"


async def test_a_failing_binding_never_reaches_the_client(namespace) -> None:
    await namespace.put("edge-config", body(sample()))

    class Flaky:
        fail = False

        async def get(self, key: str):
            if self.fail:
                raise RuntimeError("KV GET failed: 503")
            return await namespace.get(key)

    flaky = Flaky()
    plane, client, clock, _ = make(flaky)
    assert (await client.get("/ping")).body == b"pong"
    flaky.fail = True
    clock.now += 31
    assert (await client.get("/ping")).status == 200
    await client.settle()
    assert (await client.get("/ping")).body == b"pong"
    assert "KV GET failed: 503" in plane.error.problems[0].message


async def test_missing_binding_is_reported(namespace) -> None:
    plane = ConfigPlane("NOT_BOUND")
    app = App()
    app.use(plane.middleware)
    client = TestClient(app, env={})
    assert (await client.get("/x")).status == 404
    assert "no KV binding named 'NOT_BOUND'" in plane.error.problems[0].message


async def test_concurrent_first_requests_share_one_load(namespace) -> None:
    await namespace.put("edge-config", body(sample()))
    reads = []

    class Slow:
        async def get(self, key: str):
            reads.append(key)
            await asyncio.sleep(0.01)
            return await namespace.get(key)

    _, client, _, _ = make(Slow())
    responses = await asyncio.gather(*(client.get("/ping") for _ in range(10)))
    assert {r.body for r in responses} == {b"pong"}
    assert reads == ["edge-config"]


async def test_admin_route(namespace) -> None:
    await namespace.put("edge-config", body(sample()))
    plane, client, clock, _ = make(namespace)
    assert (await client.get("/_edgeline/config")).status == 401
    wrong = await client.get("/_edgeline/config", headers={"authorization": "Bearer nope"})
    assert wrong.status == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    basic = await client.get("/_edgeline/config", headers={"authorization": f"Basic {SECRET}"})
    assert basic.status == 401
    status = await client.get("/_edgeline/config", headers=AUTH)
    assert status.status == 200 and status.headers["cache-control"] == "no-store"
    state = json.loads(status.body)
    assert state["serving"] is None  # the admin route does not trigger a load
    assert (await client.get("/ping")).status == 200
    state = json.loads((await client.get("/_edgeline/config", headers=AUTH)).body)
    assert state["serving"]["version"] == 1 and state["serving"]["routes"] == 3
    assert state["serving"]["parts"]["ip_lists"] == 1 and state["error"] is None
    # Breaker states by origin and URL, as the origin path keeps them in this isolate.
    from edgeline.origin import HEALTH

    breaker = HEALTH.breaker("admin-test-origin", "http://127.0.0.1:9/", failures=1)
    breaker.failure(probe=False)
    state = json.loads((await client.get("/_edgeline/config", headers=AUTH)).body)
    assert state["origins"]["admin-test-origin"]["http://127.0.0.1:9/"]["state"] == "open"
    HEALTH.forget("admin-test-origin")
    # A bad push shows up on the status route with path and line; POST refreshes now.
    bad = sample()
    bad["routes"][2]["action"]["status"] = 418
    await namespace.put("edge-config", body(bad))
    state = json.loads((await client.post("/_edgeline/config", headers=AUTH)).body)
    problem = state["error"]["problems"][0]
    assert problem["path"] == "$.routes[2].action.status"
    assert "Expected `int` matching one of" in problem["message"] or "418" in problem["message"]
    assert isinstance(problem["line"], int)
    assert state["serving"]["version"] == 1 and state["rejections"] == 1
    assert (await client.put("/_edgeline/config", headers=AUTH)).status == 405


async def test_admin_route_does_not_exist_without_a_secret(namespace) -> None:
    await namespace.put("edge-config", body(sample()))
    _, client, _, _ = make(namespace, secret=None)
    assert (await client.get("/_edgeline/config", headers=AUTH)).status == 404
    _, client, _, _ = make(namespace, secret="")
    assert (await client.get("/_edgeline/config", headers={"authorization": "Bearer "})).status == 404


def test_options_are_checked_when_built() -> None:
    for bad in ({"binding": "not a name"}, {"key": "k" * 513}, {"key": ""},
                {"refresh_seconds": 0}, {"admin_path": "status"}):
        with pytest.raises(ConfigError):
            ConfigPlane(**bad)


async def test_forward_through_a_real_origin_server(namespace, demo_origin) -> None:
    from edgeline.origin.httpx_transport import HttpxTransport

    doc = sample()
    doc["origins"][0]["urls"] = [demo_origin.url]
    doc["routes"][0]["action"]["strip_prefix"] = ""
    await namespace.put("edge-config", body(doc))
    plane = ConfigPlane("EDGE_CONFIG", "edge-config")
    app = App()
    app.use(plane.middleware)
    base = HttpxTransport()
    try:
        client = TestClient(app, env={"EDGE_CONFIG": namespace}, origin=base)
        response = await client.get("/api/items/1")
        assert response.status == 200
        assert json.loads(await response.read())["name"] == "espresso"
    finally:
        await base.aclose()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.text(max_size=200), st.integers(0, 400))
def test_random_values_never_break_a_serving_worker(storage, junk, cut) -> None:
    namespace = storage.namespace("fuzz")

    async def scenario() -> None:
        await namespace.put("edge-config", body(sample()))
        _, client, clock, _ = make(namespace)
        assert (await client.get("/ping")).body == b"pong"
        good = dumps(sample())
        value = good[:cut] + (junk.encode() if isinstance(junk, str) else junk) + good[cut + 3:]
        await namespace.put("edge-config", value)
        clock.now += 31
        await client.get("/ping")
        results = await client.settle()
        assert not any(isinstance(r, BaseException) for r in results)
        assert (await client.get("/ping")).status == 200

    asyncio.run(scenario())
