"""The stand-in `workers` module behaves as the real SDK does, in the ways workers rely on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from http import HTTPMethod
from typing import Any

import pytest

from edgeline.emulator import install_workers_module
from tests.conftest import ServerThread

install_workers_module()

import workers  # noqa: E402
import workers._runtime as runtime  # noqa: E402
from workers._web import WebResponse  # noqa: E402

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fetch_clients() -> AsyncIterator[None]:
    """Close the pooled outbound clients inside the test's own event loop."""
    yield
    from workers.fetch import aclose_clients

    await aclose_clients()


async def test_response_bodies_and_types() -> None:
    assert await workers.Response("hé").text() == "hé"
    assert await workers.Response(b"\x00\x01").bytes() == b"\x00\x01"
    empty = workers.Response()
    assert empty.status == 200 and await empty.text() == ""
    for bad in (12, {"a": 1}, ["x"]):
        with pytest.raises(TypeError, match="Unsupported type in Response"):
            workers.Response(bad)  # type: ignore[arg-type]


async def test_json_static_and_instance_use() -> None:
    built = workers.Response.json({"a": [1, 2]})
    assert built.headers["content-type"] == "application/json"
    assert await built.json() == {"a": [1, 2]}
    custom = workers.Response.from_json([1], status=201, headers={"content-type": "application/x+json"})
    assert custom.status == 201 and custom.headers["content-type"] == "application/x+json"


def test_redirect_returns_a_platform_response() -> None:
    raw = workers.Response.redirect("https://example.com/", 301)
    assert isinstance(raw, WebResponse) and raw.headers.get("location") == "https://example.com/"
    assert workers.Response(raw).status == 301
    with pytest.raises(ValueError):
        workers.Response.redirect("/x", 200)


async def test_headers_are_an_http_message_with_repeats_kept() -> None:
    response = workers.Response("x", headers=[("Set-Cookie", "a=1"), ("set-cookie", "b=2"),
                                              ("X-Multi", "1"), ("x-multi", "2")])
    headers = response.headers
    assert headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert headers["x-multi"] == "1, 2"  # combined, as the Fetch standard's Headers does
    with pytest.raises(TypeError):
        workers.Response("x", headers="x: 1")  # type: ignore[arg-type]


async def test_request_body_is_single_use_and_clone_tees() -> None:
    request = workers.Request("https://x.test/p?q=1", method="POST", body="payload",
                              headers={"content-type": "text/plain"})
    assert request.method is HTTPMethod.POST
    copy = request.clone()
    assert await request.text() == "payload"
    with pytest.raises(OSError, match="Body already used"):
        await request.text()
    assert await copy.bytes() == b"payload"
    with pytest.raises(TypeError):
        workers.Request("https://x.test/", method="GET", body="no")


async def test_form_data_round_trip() -> None:
    form = workers.FormData({"name": "ada"})
    form.append("file", workers.Blob(["abc"], "text/plain"), "a.txt")
    response = workers.Response(form)
    assert response.headers["content-type"].startswith("multipart/form-data; boundary=")
    parsed = await response.form_data()
    assert parsed["name"] == "ada"
    assert parsed["file"].name == "a.txt" and await parsed["file"].text() == "abc"


async def test_module_env_wait_until_and_patch_env() -> None:
    class Env:
        GREETING = "hi"

    runtime.configure(Env(), {"python_request_headers_preserve_commas"})
    assert workers.env.GREETING == "hi"
    with workers.patch_env(GREETING="patched"):
        assert workers.env.GREETING == "patched"
    assert workers.env.GREETING == "hi"
    orphan = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="outside of a request"):
        workers.waitUntil(orphan)
    orphan.close()

    class Ctx:
        seen: list[Any] = []

        def waitUntil(self, awaitable: Any) -> None:
            self.seen.append(awaitable)

    ctx = Ctx()
    token = runtime.set_request_context(ctx)
    try:
        coro = asyncio.sleep(0)
        workers.waitUntil(coro)
        assert ctx.seen == [coro]
        await coro
    finally:
        runtime.reset_request_context(token)
        runtime.configure(None)
    with pytest.raises(ImportError, match="cloudflare:sockets"):
        workers.import_from_javascript("cloudflare:sockets")


async def test_fetch_streams_from_a_real_server(demo_origin: ServerThread, fetch_clients: None) -> None:
    response = await workers.fetch(f"{demo_origin.url}/api/stream?n=3")
    assert response.status == 200 and response.ok
    reader = response.body.getReader()
    chunks = []
    while not (result := await reader.read()).done:
        chunks.append(result.value.to_bytes())
    assert len(chunks) == 3 and chunks[0].startswith(b"id: 0")
    posted = await workers.fetch(f"{demo_origin.url}/api/items", method="POST",
                                 body='{"name": "tea"}', headers={"content-type": "application/json"})
    assert posted.status == 201 and (await posted.json())["name"] == "tea"
    missing = await workers.fetch(f"{demo_origin.url}/api/items/999")
    with pytest.raises(OSError, match="404 Client Error"):
        missing.raise_for_status()


async def test_fetch_to_a_closed_port_raises(fetch_clients: None) -> None:
    from tests.conftest import free_port

    with pytest.raises(OSError, match="failed"):
        await workers.fetch(f"http://127.0.0.1:{free_port()}/")
