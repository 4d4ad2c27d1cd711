"""Nearest origin: send each request to the closest healthy origin, failing over outward.

Origins that serve the same API from several places are tagged with where
they run (``GeoSettings.nearest`` in KV, or :class:`NearestMember` in code).
Per request, the members are ordered by great-circle distance from the
client's ``request.cf`` coordinates; members whose every circuit breaker is
open go to the back (they are tried last, where they fail fast), and the
request goes through a ``FailoverTransport`` over that order, so a failure
that leaves the request resendable moves on to the next nearest.

Health is shared with the origin path: the breakers are the very objects
``build_origin_transport`` registered in ``edgeline.origin.HEALTH`` for each
origin URL, so what one route learns about an origin, every route knows.
Without coordinates (previews, local tests without cf) the configured order
is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..geo import GeoContext, haversine_km
from ..messages import Request, Response
from ..origin import OriginUnavailable
from ..types import Transport

if TYPE_CHECKING:
    from ..origin import CircuitBreaker

__all__ = ["NearestMember", "NearestOrigin", "PlannedNearest"]


class NearestMember:
    """One origin of a nearest group: its transport, location and breakers."""

    __slots__ = ("name", "latitude", "longitude", "transport", "breakers")

    def __init__(self, name: str, latitude: float, longitude: float, transport: Transport,
                 breakers: Iterable[CircuitBreaker] = ()) -> None:
        if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
            raise ValueError(f"origin {name!r}: ({latitude}, {longitude}) is not a coordinate")
        self.name = name
        self.latitude = latitude
        self.longitude = longitude
        self.transport = transport
        self.breakers = tuple(breakers)

    def healthy(self) -> bool:
        """False only when every breaker of the origin is open and not yet due for a probe."""
        breakers = self.breakers
        if not breakers:
            return True
        for breaker in breakers:
            if breaker.state != "open" or breaker.retry_after() <= 0.0:
                return True
        return False

    def __repr__(self) -> str:
        return f"NearestMember({self.name!r}, {self.latitude}, {self.longitude})"


class NearestOrigin:
    """A transport over origin members that picks the nearest healthy one per request."""

    __slots__ = ("name", "members", "on_status", "_memo")

    MEMO_SIZE = 4096

    def __init__(self, name: str, members: Sequence[NearestMember], *,
                 on_status: Iterable[int] = (502, 503, 504)) -> None:
        if not members:
            raise ValueError(f"nearest group {name!r} has no members")
        self.name = name
        self.members = tuple(members)
        self.on_status = tuple(on_status)
        self._memo: dict[tuple[float, float], tuple[NearestMember, ...]] = {}

    def by_distance(self, coordinates: tuple[float, float] | None) -> tuple[NearestMember, ...]:
        """Return the members nearest first (configured order without coordinates)."""
        if coordinates is None:
            return self.members
        # PERF: clients of one city share coordinates; sort once per point.
        key = (round(coordinates[0], 2), round(coordinates[1], 2))
        found = self._memo.get(key)
        if found is None:
            lat, lon = coordinates
            found = tuple(sorted(self.members,
                                 key=lambda m: haversine_km(lat, lon, m.latitude, m.longitude)))
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return found

    def order(self, coordinates: tuple[float, float] | None) -> list[NearestMember]:
        """Return the members to try: healthy ones nearest first, then the others."""
        ranked = self.by_distance(coordinates)
        healthy = [m for m in ranked if m.healthy()]
        if len(healthy) == len(ranked):
            return healthy
        return healthy + [m for m in ranked if m not in healthy]

    def choose(self, coordinates: tuple[float, float] | None) -> NearestMember:
        """Return the member a request from ``coordinates`` goes to first."""
        return self.order(coordinates)[0]

    async def handle(self, request: Request) -> Response:
        ordered = self.order(GeoContext(request.cf).coordinates)
        if len(ordered) == 1:
            return await ordered[0].transport.handle(request)
        from ..origin import FailoverTransport

        failover = FailoverTransport([m.transport for m in ordered], on_status=self.on_status)
        return await failover.handle(request)

    def __repr__(self) -> str:
        return f"<NearestOrigin {self.name} {[m.name for m in self.members]}>"


class PlannedNearest:
    """The nearest group ``name`` of the configuration being served, looked up per request.

    For app code (``forward(nearest_origin("api", plane))``): a reload that
    changes the group takes effect on the next request.
    """

    __slots__ = ("group", "_source")

    def __init__(self, group: str, source: Any) -> None:
        self.group = group
        self._source = source

    async def handle(self, request: Request) -> Response:
        plan = self._source.plan()
        target = plan.nearest.get(self.group) if plan is not None else None
        if target is None:
            raise OriginUnavailable(f"no nearest-origin group {self.group!r} in the configuration",
                                    url="")
        return await target.handle(request)

