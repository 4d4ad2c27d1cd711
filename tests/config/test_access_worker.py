"""The example worker under the emulator: config/edge.toml's rate limit and API-key authenticator.

The checked-in configuration is pushed as it is (only the origin's port
changes); the origin is the demo API on a real loopback server and the API
keys live hashed in emulated KV (SQLite).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from edgeline.config.cli import main
from edgeline.emulator.config import load_wrangler
from edgeline.emulator.server import Emulator
from edgeline.filtering import hash_api_key

from ..conftest import ROOT, ServerThread

pytestmark = pytest.mark.anyio

API_KEYS = '''
[[kv_namespaces]]
binding = "API_KEYS"
id = "api-keys-local"
'''


def make_project(tmp_path: Path, origin_url: str) -> Path:
    shutil.copytree(ROOT / "worker", tmp_path / "worker",
                    ignore=shutil.ignore_patterns("__pycache__"))
    wrangler = (ROOT / "wrangler.toml").read_text().replace("http://127.0.0.1:8788", origin_url)
    if '"API_KEYS"' not in wrangler:
        wrangler = wrangler.replace("[dev]", API_KEYS.lstrip() + "\n[dev]")
    (tmp_path / "wrangler.toml").write_text(wrangler)
    edge = (ROOT / "config" / "edge.toml").read_text().replace("http://127.0.0.1:8788", origin_url)
    (tmp_path / "edge.toml").write_text(edge)
    return tmp_path


async def test_example_limit_and_api_keys(tmp_path: Path, demo_origin: ServerThread) -> None:
    project = make_project(tmp_path, demo_origin.url)
    wrangler = str(project / "wrangler.toml")
    assert main(["config", "push", str(project / "edge.toml"), "-c", wrangler]) == 0
    record = json.dumps({"name": "acme", "claims": {"plan": "gold"}})
    assert main(["kv", "put", "-b", "API_KEYS", "apikey:" + hash_api_key("acme-key-1"), record,
                 "-c", wrangler]) == 0
    emulator = Emulator(load_wrangler(project / "wrangler.toml"),
                        state_dir=project / ".edgeline" / "state")
    try:
        transport = httpx.ASGITransport(app=emulator)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as http:
            # API keys: hashed in KV; claims reach the origin as headers, a client's copies never.
            echo = await http.get("/v1/partner/echo",
                                  headers={"x-api-key": "acme-key-1", "x-auth-plan": "platinum"})
            assert echo.status_code == 200
            seen = {k: v for k, v in echo.json()["headers"]}
            assert (seen["x-auth-key-name"], seen["x-auth-plan"]) == ("acme", "gold")
            wrong = await http.get("/v1/partner/echo", headers={"x-api-key": "acme-key-2"})
            assert wrong.status_code == 401
            assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
            assert (await http.get("/v1/partner/echo")).status_code == 401
            # The rate limit: 100 requests a minute per client on /v1/ (those above included).
            served = 3
            while True:
                response = await http.get("/v1/items/1")
                if response.status_code != 200:
                    break
                served += 1
                assert served <= 100
            assert served == 100
            assert response.status_code == 429
            assert 1 <= int(response.headers["retry-after"]) <= 60
            assert response.headers["ratelimit-policy"] == '"api-per-client";q=100;w=60'
            assert (await http.get("/healthz")).status_code == 200  # not under /v1/
            # The penalty: the fifth refusal within a minute bans the client for 10 minutes.
            for _ in range(4):
                response = await http.get("/v1/items/1")
            assert response.status_code == 429 and response.headers["retry-after"] == "600"
    finally:
        await emulator.aclose()
