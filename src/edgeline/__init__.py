"""edgeline: a Python runtime for edge workers.

The runtime-neutral core: messages, the app, the per-request context.
Platform adapters live in ``edgeline.adapters``; the local emulator in
``edgeline.emulator``; the in-process test client in ``edgeline.testing``.
"""

from .app import App, RouteGroup
from .context import Bindings, Context, Timings
from .errors import BadRequest, BodyTooLarge, ConfigError, EdgelineError, HTTPError, OriginError
from .geo import GeoContext
from .headers import Headers
from .messages import Request, Response
from .url import URL, QueryParams

__all__ = [
    "App",
    "BadRequest",
    "Bindings",
    "BodyTooLarge",
    "ConfigError",
    "Context",
    "EdgelineError",
    "GeoContext",
    "HTTPError",
    "Headers",
    "OriginError",
    "QueryParams",
    "Request",
    "Response",
    "RouteGroup",
    "Timings",
    "URL",
]

__version__ = "0.1.0"
