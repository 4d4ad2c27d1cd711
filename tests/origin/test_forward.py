"""forward() over compiled origins: auth, Host, failures as problems, the on_error hook."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from edgeline import App, Context, Request, Response
from edgeline.errors import ConfigError, OriginError
from edgeline.origin import (
    AsgiTransport,
    HealthRegistry,
    build_origin_transport,
    forward,
    sign_origin_request,
    verify_origin_signature,
)
from edgeline.testing import FunctionTransport, TestClient
from kv_schemas.origins import Origin, OriginAuth

pytestmark = pytest.mark.anyio

SECRET = "s3cret-value"


def guarded_origin(scheme: str) -> Any:
    """An ASGI origin that refuses requests without the edge's credential."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        target = scope["raw_path"].decode() + ("?" + scope["query_string"].decode()
                                                if scope["query_string"] else "")
        given = headers.get("x-edge-auth")
        ok = (given == SECRET if scheme == "static"
              else verify_origin_signature(given, SECRET, scope["method"], target))
        body = json.dumps({"headers": headers, "target": target}).encode()
        await send({"type": "http.response.start", "status": 200 if ok else 403,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


def edge(origin: Origin, base: Any, **env: str) -> TestClient:
    app = App()
    transport = build_origin_transport(origin, base, env=env, health=HealthRegistry())
    app.any("/api/{rest:path}")(forward(transport, strip_prefix="/api"))
    return TestClient(app)


@pytest.mark.parametrize("scheme", ["static", "hmac"])
async def test_the_origin_can_refuse_traffic_that_skipped_the_edge(scheme: str) -> None:
    base = AsgiTransport(guarded_origin(scheme))
    origin = Origin(name="api", urls=["https://api.internal/v2"],
                    auth=OriginAuth(secret="ORIGIN_SECRET", scheme=scheme))
    client = edge(origin, base, ORIGIN_SECRET=SECRET)
    response = await client.get("/api/items?x=1", headers={"x-edge-auth": "forged"})
    assert response.status == 200
    doc = await response.json()
    assert doc["target"] == "/v2/items?x=1"
    assert doc["headers"]["host"] == "api.internal"
    direct = await base.handle(Request("GET", "https://api.internal/v2/items"))
    assert direct.status == 403


def test_hmac_credentials_expire_and_bind_the_target() -> None:
    value = sign_origin_request(SECRET, "GET", "/a", now=1000)
    assert verify_origin_signature(value, SECRET, "GET", "/a", now=1100)
    assert not verify_origin_signature(value, SECRET, "GET", "/a", now=2000)
    assert not verify_origin_signature(value, SECRET, "GET", "/b", now=1100)
    assert not verify_origin_signature(value, "other", "GET", "/a", now=1100)
    assert not verify_origin_signature("t=x,sig=y", SECRET, "GET", "/a")


def test_a_missing_secret_is_a_config_error_naming_the_origin() -> None:
    origin = Origin(name="api", urls=["https://a"], auth=OriginAuth(secret="NOPE"))
    with pytest.raises(ConfigError, match="origins.api.auth.secret.*NOPE"):
        build_origin_transport(origin, FunctionTransport(lambda r: None), env={})  # type: ignore[arg-type,return-value]


async def test_host_preserve_and_literal() -> None:
    seen: list[str] = []

    async def record(request: Request) -> Response:
        seen.append(request.headers["host"])
        return Response(b"")

    base = FunctionTransport(record)
    await edge(Origin(name="a", urls=["http://o:81"], host="preserve"), base).get("/api/x")
    await edge(Origin(name="b", urls=["http://o:81"], host="public.example"), base).get("/api/x")
    await edge(Origin(name="c", urls=["http://o:81"]), base).get("/api/x")
    assert seen == ["edge.test", "public.example", "o:81"]


async def test_on_error_can_answer_instead_for_stale_if_error() -> None:
    async def down(request: Request) -> Response:
        raise OriginError("unreachable")

    caught: list[OriginError] = []

    async def stale(request: Request, ctx: Context, exc: OriginError) -> Response | None:
        caught.append(exc)
        return Response.from_text("stale copy", headers={"warning": '110 - "stale"'})

    app = App()
    transport = build_origin_transport(Origin(name="a", urls=["http://o"]),
                                       FunctionTransport(down), health=HealthRegistry())
    app.get("/hooked")(forward(transport, on_error=stale))
    app.get("/plain")(forward(transport))
    client = TestClient(app)
    assert await (await client.get("/hooked")).text() == "stale copy"
    assert caught[0].origin == "a"  # type: ignore[attr-defined]
    plain = await client.get("/plain")
    assert plain.status == 502 and "unreachable" not in await plain.text()


async def test_a_url_origin_gets_hygiene_and_clean_failures_too() -> None:
    async def origin(request: Request) -> Response:
        if request.url.path == "/down":
            raise OriginError("connection refused")
        return Response.from_json(dict(request.headers.raw), headers={"connection": "close"})

    app = App()
    app.any("/{rest:path}")(forward(lambda ctx: "http://o:9"))
    client = TestClient(app, origin=FunctionTransport(origin))
    response = await client.get("/x", headers={"cf-connecting-ip": "192.0.2.1"})
    doc = await response.json()
    assert doc["host"] == "o:9" and doc["x-forwarded-for"] == "192.0.2.1" and "via" in doc
    assert "connection" not in response.headers
    assert (await client.get("/down")).status == 502


def test_origin_values_decode_strictly_with_paths_in_errors() -> None:
    decode = msgspec.json.Decoder(Origin).decode
    origin = decode(b'{"name":"api","urls":["https://a.example/base"]}')
    assert origin.retry.attempts == 2 and origin.breaker.failures == 5
    for bad, where in [(b'{"name":"api","urls":[]}', "$.urls"),
                       (b'{"name":"api","urls":["ftp://x"]}', "$.urls[0]"),
                       (b'{"name":"api","urls":["https://a"],"retries":3}', "retries"),
                       (b'{"name":"api","urls":["https://a"],"retry":{"attempts":0}}',
                        "$.retry.attempts"),
                       (b'{"name":"a b","urls":["https://a"]}', "$.name")]:
        with pytest.raises(msgspec.ValidationError, match=bad and where.replace("$", r"\$")
                           .replace("[", r"\[").replace("]", r"\]")):
            decode(bad)
