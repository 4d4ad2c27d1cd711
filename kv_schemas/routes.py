"""Routes: which requests the edge answers itself, and which go to which origin.

A ``Route`` matches ``methods`` on ``path`` (and ``host`` when given) with the
patterns of :mod:`edgeline.routing` (``/users/{id:int}``, ``/files/{rest:path}``)
and runs its ``action``, a tagged union on the ``type`` field:

``{"type": "forward", "origin": "api", "strip_prefix": "/api"}``
    Send the request on to the origin named ``origin`` (an entry of
    ``EdgeConfig.origins``), minus ``strip_prefix`` at the start of the path.
``{"type": "respond", "status": 200, "body": "ok", "headers": {...}}``
    Answer at the edge with a fixed response.
``{"type": "redirect", "location": "/new/{id}", "status": 308}``
    Redirect; ``{name}`` in ``location`` is replaced by that path parameter
    and the query string is kept unless ``keep_query`` is false.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from ._base import HostPattern, Method, Name, RoutePath, Schema, Status

__all__ = ["Action", "Forward", "Redirect", "Respond", "Route"]

HeaderName = Annotated[str, msgspec.Meta(pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$", max_length=64)]


class Forward(Schema, frozen=True, tag="forward", tag_field="type"):
    """Send the request to a named origin."""

    origin: Name
    strip_prefix: Annotated[str, msgspec.Meta(pattern=r"^(/.*)?$", max_length=2048)] = ""


class Respond(Schema, frozen=True, tag="respond", tag_field="type"):
    """Answer at the edge with a fixed status, body and headers."""

    status: Status = 200
    body: Annotated[str, msgspec.Meta(max_length=1024 * 1024)] = ""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[HeaderName, str] = {}


class Redirect(Schema, frozen=True, tag="redirect", tag_field="type"):
    """Redirect to ``location`` (RFC 9110 §15.4); ``{param}`` takes a path parameter."""

    location: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    # 308/307 keep the method and body (RFC 9110 §15.4.8-9); 301/302 may not.
    status: Literal[301, 302, 303, 307, 308] = 302
    keep_query: bool = True


Action = Forward | Respond | Redirect


class Route(Schema, frozen=True):
    """One route: methods, path pattern, optional host pattern, and what to do."""

    path: RoutePath
    action: Action
    methods: Annotated[tuple[Method, ...], msgspec.Meta(min_length=1)] = ("GET",)
    host: HostPattern | None = None
    # Shown in logs and the admin status; optional.
    name: Annotated[str, msgspec.Meta(max_length=128)] = ""
