"""edgeline's exceptions; lower layers' errors are translated into these at the boundary.

::

    EdgelineError
    ├── HTTPError                 an error meant to become an HTTP response
    │   ├── BodyTooLarge          413: a body exceeded its configured limit
    │   ├── BadRequest            400: the request could not be understood
    │   └── OriginError           502: an origin could not be reached or answered badly
    ├── BodyConsumed              a streamed body was read twice
    └── ConfigError               a configuration file or value is invalid
        (raised with the file, the key or field path, and the line when known)
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "BodyConsumed",
    "BodyTooLarge",
    "ConfigError",
    "EdgelineError",
    "HTTPError",
    "OriginError",
]


class EdgelineError(Exception):
    """Base of every error edgeline raises on purpose."""


class HTTPError(EdgelineError):
    """An error that the app turns into a response with ``status``."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        if status is not None:
            self.status = status


class BadRequest(HTTPError):
    """The request could not be understood."""

    status = 400
    title = "Bad Request"


class BodyTooLarge(HTTPError):
    """A request or response body exceeded its configured limit."""

    status = 413
    title = "Content Too Large"


class OriginError(HTTPError):
    """An origin could not be reached, or its response could not be read."""

    status = 502
    title = "Bad Gateway"


class BodyConsumed(EdgelineError):
    """A streamed body was read a second time."""


class ConfigError(EdgelineError):
    """A configuration file or value is invalid.

    The message names the file, the key or field path and, when known, the line.
    """

    def __init__(
        self, message: str, *, file: str | None = None, key: str | None = None,
        line: int | None = None,
    ) -> None:
        where = ":".join(str(p) for p in (file, line) if p is not None)
        parts = [p for p in (where, f"[{key}]" if key else None, message) if p]
        super().__init__(" ".join(parts))
        self.file = file
        self.key = key
        self.line = line
        self.reason = message
