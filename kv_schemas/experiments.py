"""Experiments: deterministic, sticky A/B(/n) assignment at the edge.

An ``Experiment`` splits the clients it targets between its ``arms`` in
proportion to their ``weight``. Assignment hashes a stable client id (a
cookie the edge sets when missing) with the experiment's ``salt`` (its name
when empty), so a client keeps its arm for as long as the experiment's arms
and weights stay the same; changing ``salt`` reshuffles everyone.

``traffic`` is the fraction of targeted clients enrolled at all (the rest
see the default experience and are not logged). ``countries`` and
``continents`` target by location (empty: everywhere); ``paths`` by path
prefix (empty: every path). The arm a client is in travels to the origin
in a trusted header and is part of the cache variant, so each arm is cached
apart.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ._base import CountryCode, Name, Schema
from .geo import Continent, PathPrefix

__all__ = ["Arm", "Experiment"]


class Arm(Schema, frozen=True):
    """One experience of an experiment and its share of traffic."""

    name: Name
    weight: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 1


class Experiment(Schema, frozen=True):
    """A traffic split between arms, optionally targeted by location and path."""

    name: Name
    arms: Annotated[list[Arm], msgspec.Meta(min_length=1, max_length=16)]
    enabled: bool = True
    traffic: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0
    countries: tuple[CountryCode, ...] = ()
    continents: tuple[Continent, ...] = ()
    paths: tuple[PathPrefix, ...] = ()
    salt: Annotated[str, msgspec.Meta(max_length=64)] = ""
    description: str = ""
