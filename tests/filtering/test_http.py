"""CORS and security headers middleware."""

from __future__ import annotations

import pytest

from edgeline.app import App
from edgeline.context import Context
from edgeline.filtering import FilterConfigError, cors, security_headers
from edgeline.messages import Request, Response
from edgeline.testing import TestClient

pytestmark = pytest.mark.anyio


def app_with(*middleware) -> App:  # type: ignore[no-untyped-def]
    app = App()

    @app.route("/x", methods=("GET", "OPTIONS"))
    async def x(request: Request, ctx: Context) -> Response:
        return Response.from_text("ok", headers={"x-frame-options": "SAMEORIGIN"})

    app.use(*middleware)
    return app


async def test_cors_preflight_and_simple_requests() -> None:
    client = TestClient(app_with(cors(allow_origins=["https://app.example"],
                                      allow_headers=["content-type", "authorization"],
                                      expose_headers=["x-request-id"], allow_credentials=True)))
    preflight = await client.request("OPTIONS", "/x", headers={
        "origin": "https://app.example", "access-control-request-method": "PUT",
        "access-control-request-headers": "Content-Type"})
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    denied = await client.request("OPTIONS", "/x", headers={
        "origin": "https://evil.example", "access-control-request-method": "PUT"})
    assert "access-control-allow-origin" not in denied.headers
    simple = await client.get("/x", headers={"origin": "https://app.example"})
    assert simple.headers["access-control-expose-headers"] == "x-request-id"
    assert simple.headers["vary"] == "Origin"
    other = await client.get("/x", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_options_are_checked() -> None:
    with pytest.raises(FilterConfigError, match="credentials"):
        cors(allow_origins=["*"], allow_credentials=True)
    with pytest.raises(FilterConfigError, match="not an origin"):
        cors(allow_origins=["app.example"])


async def test_security_headers_keep_the_origins_own() -> None:
    client = TestClient(app_with(security_headers({"permissions-policy": None})))
    response = await client.get("/x")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "permissions-policy" not in response.headers
    with pytest.raises(ValueError):
        security_headers({"x-bad": "a\r\nb"})
