"""The emulator runs the example worker, unmodified, as workerd would.

In-process through httpx's ASGI transport; the origin is the demo API on a
real loopback server.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from edgeline.emulator.config import load_wrangler
from edgeline.emulator.server import Emulator
from tests.conftest import ROOT, ServerThread

pytestmark = pytest.mark.anyio


def make_project(tmp_path: Path, origin_url: str) -> Path:
    shutil.copytree(ROOT / "worker", tmp_path / "worker",
                    ignore=shutil.ignore_patterns("__pycache__"))
    text = (ROOT / "wrangler.toml").read_text().replace("http://127.0.0.1:8788", origin_url)
    (tmp_path / "wrangler.toml").write_text(text)
    return tmp_path / "wrangler.toml"


@pytest.fixture
async def emulator(tmp_path: Path, demo_origin: ServerThread) -> AsyncIterator[Emulator]:
    config = load_wrangler(make_project(tmp_path, demo_origin.url))
    emu = Emulator(config, state_dir=tmp_path / "state", location="US")
    try:
        yield emu
    finally:
        await emu.aclose()


def client(emu: Emulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emu), base_url="http://127.0.0.1:8787")


async def test_edge_answered_route_and_geo_override(emulator: Emulator) -> None:
    async with client(emulator) as http:
        plain = await http.get("/hello/ada")
        assert plain.status_code == 200 and plain.text.startswith("Hello, ada!")
        assert plain.headers["x-edge-colo"] == "SFO"
        assert "edge;dur=" in plain.headers["server-timing"]
        german = await http.get("/hello/ada", headers={"X-Edgeline-Geo": "DE"})
        assert german.text.startswith("Hallo, ada!") and german.headers["x-edge-colo"] == "FRA"
        geo = (await http.get("/geo", headers={"X-Edgeline-Geo": "JP, city=Osaka"})).json()
        assert geo["country"] == "JP" and geo["city"] == "Osaka" and geo["timezone"] == "Asia/Tokyo"


async def test_bad_geo_override_is_a_400_naming_the_header(emulator: Emulator) -> None:
    async with client(emulator) as http:
        response = await http.get("/geo", headers={"X-Edgeline-Geo": "country=Germany"})
    assert response.status_code == 400 and "x-edgeline-geo" in response.text


async def test_proxied_route_reaches_the_origin_with_cloudflare_headers(emulator: Emulator) -> None:
    async with client(emulator) as http:
        items = await http.get("/api/items")
        assert items.status_code == 200 and items.headers["x-served-by"] == "demo-origin"
        assert items.json()[0]["name"] == "espresso"
        echo = (await http.post("/api/echo?q=1", content=b"x" * 100_000,
                                headers={"X-Edgeline-Geo": "BR"})).json()
    seen = dict(echo["headers"])
    assert echo["body_bytes"] == 100_000 and echo["query"] == "q=1"
    assert seen["cf-ipcountry"] == "BR" and "cf-connecting-ip" in seen and "cf-ray" in seen
    assert "x-edgeline-geo" not in seen  # the override never leaves the emulator


async def test_wait_until_and_kv_persist_across_restarts(emulator: Emulator, tmp_path: Path) -> None:
    async with client(emulator) as http:
        for _ in range(3):
            await http.get("/")
            await emulator.drain()
        assert (await http.get("/visits")).json() == {"visits": 3}
    await emulator.aclose()
    again = Emulator(emulator.config, state_dir=tmp_path / "state")
    try:
        async with client(again) as http:
            assert (await http.get("/visits")).json() == {"visits": 3}
    finally:
        await again.aclose()


async def test_wait_until_errors_are_logged_not_sent(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    app_py = emulator.loader.root / "app.py"
    app_py.write_text(app_py.read_text() + '''

@app.get("/later")
async def later(request, ctx):
    async def fail():
        raise RuntimeError("background failure")
    ctx.wait_until(fail())
    return Response.from_text("sent")
''')
    assert emulator.loader.changed() and emulator.loader.load()
    async with client(emulator) as http:
        response = await http.get("/later")
        await emulator.drain()
    assert response.text == "sent"
    assert "waitUntil task failed" in caplog.text and "background failure" in caplog.text


async def test_import_error_shows_traceback_then_recovers_on_save(emulator: Emulator) -> None:
    app_py = emulator.loader.root / "app.py"
    good = app_py.read_text()
    app_py.write_text(good + "\ndef broken(:\n")
    assert emulator.loader.changed()
    assert not emulator.loader.load()
    async with client(emulator) as http:
        broken = await http.get("/hello/ada")
        assert broken.status_code == 500
        assert "SyntaxError" in broken.text and "app.py" in broken.text
        app_py.write_text(good.replace("(from the edge)", "(fixed)"))
        assert emulator.loader.load()
        fixed = await http.get("/hello/ada")
    assert fixed.status_code == 200 and "(fixed)" in fixed.text


async def test_handler_exception_is_a_500_page_and_serving_goes_on(emulator: Emulator) -> None:
    entry = emulator.loader.root / "entry.py"
    entry.write_text(entry.read_text().replace(
        "return await serve(", "if request.url.endswith('/crash'):\n            raise KeyError('crash')\n"
        "        return await serve("))
    assert emulator.loader.load()
    async with client(emulator) as http:
        crash = await http.get("/crash")
        assert crash.status_code == 500 and "KeyError" in crash.text
        assert (await http.get("/hello/x")).status_code == 200


async def test_missing_entrypoint_is_reported(emulator: Emulator) -> None:
    (emulator.loader.root / "entry.py").write_text("X = 1\n")
    assert emulator.loader.load()
    async with client(emulator) as http:
        response = await http.get("/")
    assert response.status_code == 500 and "neither" in response.text


async def test_rate_limiting_binding_is_in_env(tmp_path: Path, demo_origin: ServerThread) -> None:
    path = make_project(tmp_path, demo_origin.url)
    path.write_text(path.read_text().replace(
        "[dev]", '[[ratelimits]]\nname = "LIMITER"\nnamespace_id = "1"\nsimple = { limit = 2, period = 10 }\n[dev]'))
    emu = Emulator(load_wrangler(path), state_dir=tmp_path / "state2")
    try:
        outcomes = [(await emu.env.LIMITER.limit(key="client-a")).success for _ in range(3)]
        assert outcomes == [True, True, False]
        assert (await emu.env.LIMITER.limit(key="client-b")).success
    finally:
        await emu.aclose()
