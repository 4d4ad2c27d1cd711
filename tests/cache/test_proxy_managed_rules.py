"""`edgeline proxy --managed-rules`: attacks are refused before the cache and the origin."""

from __future__ import annotations

import argparse

import httpx
import pytest

from edgeline.demo import DemoOrigin
from edgeline.origin import AsgiTransport
from edgeline.proxy import build_app, register

pytestmark = pytest.mark.anyio

ATTACKS = [
    "/api/items?id=1%27%20OR%20%271%27=%271",
    "/api/../../etc/passwd",
    "/api/echo?q=%3Cscript%3Ealert(1)%3C/script%3E",
]


def client(paranoia: int | None) -> tuple[httpx.AsyncClient, DemoOrigin]:
    origin = DemoOrigin()
    app = build_app("http://origin.test", transport=AsgiTransport(origin), managed_rules=paranoia)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)),
                             base_url="http://edge.test")
    return http, origin


@pytest.mark.parametrize("path", ATTACKS)
async def test_attacks_are_blocked_with_managed_rules(path: str) -> None:
    http, _ = client(1)
    async with http:
        response = await http.get(path)
    assert response.status_code == 403


async def test_benign_traffic_passes_and_is_cached() -> None:
    http, _ = client(1)
    async with http:
        first = await http.get("/api/items/1")
        second = await http.get("/api/items/1")
        search = await http.get("/api/echo", params={"q": "O'Brien & sons"})
    assert first.status_code == 200 and second.status_code == 200
    assert "hit" in second.headers["cache-status"]
    assert search.status_code == 200


async def test_without_the_flag_nothing_is_filtered() -> None:
    http, _ = client(None)
    async with http:
        response = await http.get(ATTACKS[0])
    assert response.status_code == 200


def test_cli_flags() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["proxy", "--origin", "http://o.test", "--managed-rules", "--paranoia", "3"])
    assert args.managed_rules and args.paranoia == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["proxy", "--origin", "http://o.test", "--paranoia", "5"])
