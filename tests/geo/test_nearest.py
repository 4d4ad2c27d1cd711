"""Nearest origin: closest healthy origin by distance, failover, breakers shared with the origin path."""

from __future__ import annotations

import pytest

from edgeline import App, Request, Response
from edgeline.origin import HEALTH, OriginUnreachable, forward
from edgeline.personalize import NearestMember, NearestOrigin, nearest_origin
from edgeline.testing import FunctionTransport, TestClient

from .helpers import FixedPlane, compiled, config

pytestmark = pytest.mark.anyio

BERLIN = {"latitude": "52.52000", "longitude": "13.40500"}
TOKYO = {"latitude": "35.67620", "longitude": "139.65030"}
NEW_YORK = {"latitude": "40.71280", "longitude": "-74.00600"}


class Origins:
    """A base transport standing in for three regional origins; any of them can be down."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.calls: list[str] = []

    async def __call__(self, request: Request) -> Response:
        host = request.url.host
        self.calls.append(host)
        if host in self.down:
            raise OriginUnreachable("connection refused", url=str(request.url), sent=False)
        return Response(host.encode())


def doc(prefix: str) -> dict:
    names = [f"{prefix}-{r}" for r in ("us", "eu", "ap")]
    base = config()
    return config(
        origins=[{"name": n, "urls": [f"http://{n.split('-')[-1]}.test"],
                  "retry": {"attempts": 1}, "breaker": {"failures": 2, "open_for": 60}}
                 for n in names],
        geo={**base["geo"], "nearest": [{"name": f"{prefix}-api", "origins": [
            {"origin": names[0], "latitude": 39.0, "longitude": -77.5},
            {"origin": names[1], "latitude": 50.1, "longitude": 8.7},
            {"origin": names[2], "latitude": 1.35, "longitude": 103.8}]}]},
    )


@pytest.fixture
def setup(request):
    prefix = request.node.name.replace("_", "")[:20]
    origins = Origins()
    current = compiled(doc(prefix), base=FunctionTransport(origins))
    yield prefix, origins, current
    for region in ("us", "eu", "ap"):
        HEALTH.forget(f"{prefix}-{region}")


def app_for(plane, group: str) -> App:
    app = App()
    app.any("/{rest:path}")(forward(nearest_origin(group, plane)))
    return app


async def test_each_client_gets_the_nearest(setup) -> None:
    prefix, origins, current = setup
    client = TestClient(app_for(FixedPlane(current), f"{prefix}-api"))
    for cf, host in ((BERLIN, "eu.test"), (TOKYO, "ap.test"), (NEW_YORK, "us.test"),
                     ({}, "us.test")):  # no coordinates: the configured order
        response = await client.get("/x", cf=cf)
        assert await response.read() == host.encode()


async def test_failover_to_the_next_nearest_then_skip_while_open(setup) -> None:
    prefix, origins, current = setup
    client = TestClient(app_for(FixedPlane(current), f"{prefix}-api"))
    origins.down.add("eu.test")
    for _ in range(2):  # each fails over from eu to us (next nearest to Berlin) ...
        response = await client.get("/x", cf=BERLIN)
        assert await response.read() == b"us.test"
    assert origins.calls == ["eu.test", "us.test", "eu.test", "us.test"]
    # ... and opens eu's breaker, the one build_origin_transport registered in HEALTH.
    assert HEALTH.snapshot()[f"{prefix}-eu"]["http://eu.test"]["state"] == "open"
    origins.calls.clear()
    response = await client.get("/x", cf=BERLIN)
    assert await response.read() == b"us.test" and origins.calls == ["us.test"]


async def test_health_learned_on_the_origin_path_is_shared(setup) -> None:
    prefix, origins, current = setup
    origins.down.add("eu.test")
    direct = App()
    direct.any("/{rest:path}")(forward(current["origins"][f"{prefix}-eu"]))
    plain = TestClient(direct)
    for _ in range(2):
        assert (await plain.get("/x")).status == 502
    origins.calls.clear()
    client = TestClient(app_for(FixedPlane(current), f"{prefix}-api"))
    response = await client.get("/x", cf=BERLIN)
    assert await response.read() == b"us.test" and origins.calls == ["us.test"]


async def test_all_down_is_a_clean_problem(setup) -> None:
    prefix, origins, current = setup
    origins.down.update({"eu.test", "us.test", "ap.test"})
    client = TestClient(app_for(FixedPlane(current), f"{prefix}-api"))
    response = await client.get("/x", cf=BERLIN)
    assert response.status == 502 and response.headers["content-type"] == "application/problem+json"


async def test_unknown_group_is_a_503() -> None:
    client = TestClient(app_for(FixedPlane(compiled()), "nope"))
    assert (await client.get("/x")).status == 503


def test_static_members_and_order() -> None:
    async def never(request: Request) -> Response:
        raise AssertionError

    t = FunctionTransport(never)
    group = NearestOrigin("g", [NearestMember("a", 0, 0, t), NearestMember("b", 50, 8, t)])
    assert group.choose((48.8, 2.3)).name == "b" and group.choose(None).name == "a"
    with pytest.raises(ValueError):
        NearestMember("bad", 91, 0, t)
    with pytest.raises(ValueError):
        NearestOrigin("empty", [])
