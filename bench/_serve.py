"""Serve a benchmark app the way `edgeline dev` serves a worker: our socket, our uvicorn settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def serve_main(build: Callable[[str], Any], argv: list[str]) -> None:
    """Serve ``build(ORIGIN_URL)`` on 127.0.0.1:PORT (argv: prog PORT ORIGIN_URL) until terminated."""
    import asyncio

    from edgeline.cli import _bind, _server

    port, origin = int(argv[1]), argv[2]

    async def serve() -> None:
        server = _server(build(origin))
        await server.serve(sockets=[_bind("127.0.0.1", port)])

    asyncio.run(serve())
