"""Configurations and origins the geo tests share."""

from __future__ import annotations

import json
from typing import Any

from edgeline import Request, Response
from edgeline.config import load_config
from edgeline.testing import FunctionTransport


def config(**extra: Any) -> dict[str, Any]:
    """Return a configuration with a few geo policies, an experiment and settings."""
    doc: dict[str, Any] = {
        "version": 2,
        "origins": [{"name": "api", "urls": ["http://origin.test"]}],
        "geo": {
            "default_locale": "en",
            "languages": ["en", "en-GB", "de", "de-DE", "fr"],
            "redirect_hosts": ["example.de"],
        },
        "geo_policies": [
            {"name": "germany", "countries": ["DE", "AT"], "locale": "de-DE",
             "languages": ["de-DE", "de", "en"], "currency": "EUR", "units": "metric",
             "values": {"greeting": "Hallo <Welt>"}},
            {"name": "swiss-shop", "countries": ["CH"], "locale": "de",
             "redirect": {"host": "example.de", "status": 307}},
            {"name": "france", "countries": ["FR"], "locale": "fr", "currency": "EUR",
             "redirect": {"path_prefix": "/fr", "paths": ["/shop"]}},
            {"name": "europe", "continents": ["EU"], "locale": "en-GB", "currency": "EUR"},
            {"name": "california", "regions": ["US-CA"], "locale": "en", "currency": "USD",
             "units": "imperial", "variant": "west"},
            {"name": "embargo", "countries": ["KP", "IR"],
             "block": {"reason": "Export regulations", "blocked_by": "https://legal.example.com/",
                       "paths": ["/v1/"]}},
        ],
        "experiments": [
            {"name": "hero", "arms": [{"name": "a"}, {"name": "b"}], "paths": ["/exp"]},
        ],
    }
    doc.update(extra)
    return doc


def compiled(doc: dict[str, Any] | None = None, base: Any = None) -> Any:
    return load_config(json.dumps(doc if doc is not None else config()),
                       base=base or FunctionTransport(echo))


def plan(doc: dict[str, Any] | None = None) -> Any:
    return compiled(doc)["geo"]


async def echo(request: Request) -> Response:
    """An origin that reports the edgeline fields it received."""
    seen = {k: v for k, v in request.headers.raw if k.startswith("x-edgeline-")}
    return Response.from_json(seen)


class FixedPlane:
    """A stand-in for ConfigPlane with a fixed current configuration."""

    def __init__(self, current: Any) -> None:
        self.current = current
        self.refreshes = 0

    async def refresh(self, env: Any, base: Any = None) -> bool:
        self.refreshes += 1
        return True
