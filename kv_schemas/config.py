"""``EdgeConfig``: the one document that configures an edge worker, kept under one KV key.

One document, one key: a Workers KV write is atomic per key only, and KV is
eventually consistent (60 s or more between locations), so routes and the
origins, lists and policies they name must travel together or a location
could see a route to an origin it does not know yet.

Named things (origins, IP lists, geo policies) are lists of Structs with a
``name`` field rather than objects keyed by name: msgspec reports a bad value
inside a dict as ``$.ip_lists[...]``, without the key, while a list gives the
exact path (``$.ip_lists[2].entries[41]``). Names are checked for uniqueness
when the configuration compiles.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from ._base import Schema
from .access import AuthenticatorSpec, RateLimitSpec
from .experiments import Experiment
from .geo import GeoPolicy, GeoSettings
from .lists import IPList
from .origins import Origin
from .routes import Route
from .rules import Rule

__all__ = ["SCHEMA_VERSION", "EdgeConfig"]

# The newest EdgeConfig version this code reads. History:
#   1: origins, routes, rules, ip_lists, geo_policies.
#   2: geo (GeoSettings), experiments; GeoPolicy gains regions, languages, units,
#      variant, values, redirect, block; managed_paranoia; rate_limits, authenticators;
#      Rule gains expression, phase and the actions redirect, set_header, remove_header,
#      rate_limit, require_auth.
SCHEMA_VERSION: Final = 2


class EdgeConfig(Schema, frozen=True):
    """Everything operators change without a redeploy (see :mod:`kv_schemas`)."""

    version: Annotated[int, msgspec.Meta(ge=1)]
    # Lets editors find the JSON Schema (`edgeline schema`); ignored otherwise.
    schema_uri: str | None = msgspec.field(default=None, name="$schema")
    description: str = ""
    origins: list[Origin] = []
    routes: list[Route] = []
    rules: list[Rule] = []
    ip_lists: list[IPList] = []
    geo_policies: list[GeoPolicy] = []
    # -- version 2 --
    geo: GeoSettings = msgspec.field(default_factory=GeoSettings)
    experiments: list[Experiment] = []
    # edgeline's managed rules (docs/rules.md) at this paranoia level; None: off.
    managed_paranoia: Annotated[int, msgspec.Meta(ge=1, le=4)] | None = None
    # Limits and authenticators that rules name (rate_limit and require_auth actions).
    rate_limits: list[RateLimitSpec] = []
    authenticators: list[AuthenticatorSpec] = []
