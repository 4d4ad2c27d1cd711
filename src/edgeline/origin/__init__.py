"""The way to origin APIs: transports, and the handler that forwards a request."""

from ._forward import HOP_BY_HOP, forward, upstream_request

__all__ = ["HOP_BY_HOP", "forward", "upstream_request"]
