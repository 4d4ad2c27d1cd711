"""The example worker with a ConfigPlane, run by the emulator, configured with `edgeline config push`.

The worker folder is copied and given the lines the README tells users to
add; the origin is the demo API on a real loopback server.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from edgeline.config.cli import main
from edgeline.emulator.config import load_wrangler
from edgeline.emulator.server import Emulator

from ..conftest import ROOT, ServerThread

pytestmark = pytest.mark.anyio

PLANE_LINES = '''
from edgeline.config import ConfigPlane

# Routes, origins, rules and policies from KV (config/edge.toml, pushed with
# `edgeline config push config/edge.toml`); re-read every 30 s in the background.
plane = ConfigPlane("EDGE_CONFIG", "edge-config", refresh_seconds=30)
app.use(plane.middleware)
'''

KV_CONFIG = '''
[[kv_namespaces]]
binding = "EDGE_CONFIG"
id = "edge-config-local"
'''


def make_project(tmp_path: Path, origin_url: str) -> Path:
    shutil.copytree(ROOT / "worker", tmp_path / "worker",
                    ignore=shutil.ignore_patterns("__pycache__"))
    app = tmp_path / "worker" / "app.py"
    app.write_text(app.read_text() + PLANE_LINES)
    wrangler = (ROOT / "wrangler.toml").read_text().replace("http://127.0.0.1:8788", origin_url)
    if "EDGE_CONFIG" not in wrangler:
        wrangler = wrangler.replace("[dev]", KV_CONFIG.lstrip() + "\n[dev]")
    (tmp_path / "wrangler.toml").write_text(wrangler)
    (tmp_path / ".dev.vars").write_text('EDGELINE_ADMIN_SECRET="local-admin"\n')
    edge = (ROOT / "config" / "edge.toml").read_text().replace("http://127.0.0.1:8788", origin_url)
    (tmp_path / "edge.toml").write_text(edge)
    return tmp_path


async def test_example_worker_serves_routes_from_kv(tmp_path: Path,
                                                    demo_origin: ServerThread) -> None:
    project = make_project(tmp_path, demo_origin.url)
    assert main(["config", "push", str(project / "edge.toml"),
                 "-c", str(project / "wrangler.toml")]) == 0
    emulator = Emulator(load_wrangler(project / "wrangler.toml"),
                        state_dir=project / ".edgeline" / "state")
    try:
        transport = httpx.ASGITransport(app=emulator)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as http:
            health = await http.get("/healthz")
            assert (health.status_code, health.text) == (200, "ok\n")
            assert "edge;dur=" in health.headers["server-timing"]  # outer middleware still runs
            items = await http.get("/v1/items/1")
            assert items.status_code == 200 and items.json()["name"] == "espresso"
            moved = await http.get("/hi/ada")
            assert (moved.status_code, moved.headers["location"]) == (308, "/hello/ada")
            assert (await http.get("/hello/ada")).text.startswith("Hello, ada!")
            denied = await http.get("/_edgeline/config")
            assert denied.status_code == 401
            status = (await http.get("/_edgeline/config",
                                     headers={"authorization": "Bearer local-admin"})).json()
            assert status["serving"]["routes"] == 6 and status["error"] is None
            # A bad value pushed behind the CLI's back: rejected, last good kept.
            assert main(["kv", "put", "edge-config", '{"version": 1, "routes": 7}',
                         "-c", str(project / "wrangler.toml")]) == 0
            refreshed = (await http.post("/_edgeline/config",
                                         headers={"authorization": "Bearer local-admin"})).json()
            assert refreshed["error"]["problems"][0]["path"] == "$.routes"
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await emulator.aclose()
