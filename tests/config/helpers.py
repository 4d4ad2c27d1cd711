"""Configurations the config tests share."""

from __future__ import annotations

import json
from typing import Any


def sample() -> dict[str, Any]:
    """Return a small valid configuration as plain data."""
    return {
        "version": 1,
        "origins": [{"name": "api", "urls": ["http://origin.test"]}],
        "routes": [
            {"path": "/api/{rest:path}", "methods": ["GET", "POST"],
             "action": {"type": "forward", "origin": "api", "strip_prefix": "/api"}},
            {"path": "/ping", "action": {"type": "respond", "body": "pong",
                                         "headers": {"x-from": "kv"}}},
            {"path": "/old/{id:int}",
             "action": {"type": "redirect", "location": "/new/{id}", "status": 308}},
        ],
        "ip_lists": [{"name": "blocked", "entries": ["192.0.2.0/24", "2001:db8::/32"]}],
        "rules": [{"id": "block", "action": {"type": "block"}, "match": {"ip_list": "blocked"}}],
        "geo_policies": [{"name": "eu", "continents": ["EU"], "currency": "EUR"}],
    }


def dumps(doc: dict[str, Any]) -> bytes:
    """Encode ``doc`` as indented JSON (one field a line, so lines are meaningful)."""
    return json.dumps(doc, indent=2).encode()
