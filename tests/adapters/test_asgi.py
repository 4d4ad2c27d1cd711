"""The ASGI adapter: the Request it builds from a scope, and a real uvicorn server in front of it."""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeline import App, Context, Request, Response
from edgeline.adapters.asgi import AsgiAdapter
from tests.conftest import ServerThread

# Characters urlsplit treats specially (delimiters, the tab, CR and LF it
# deletes, brackets, controls) mixed with ordinary ones.
TRICKY = "aZ09.-:/?#[]@%! \t\r\n\x00\x7f\x85\xa0é~"
HOSTS = st.one_of(st.sampled_from(["127.0.0.1:8080", "example.com", "EXAMPLE.com:", "a-b.c:1",
                                   "[::1]:80", "[::1", "x@y", "h/p", "h?q", "h#f", ""]),
                  st.text(alphabet=TRICKY, max_size=12))
PATHS = st.one_of(st.sampled_from(["/", "/obj", "//evil.com/x", "/a%2Fb", "/caf\xe9", "*"]),
                  st.text(alphabet=TRICKY, max_size=16).map(lambda p: "/" + p),
                  st.text(alphabet=TRICKY, max_size=8))
QUERIES = st.one_of(st.just(""), st.text(alphabet=TRICKY, max_size=12))


def scope(host: str, path: str, query: str, scheme: str = "http") -> dict[str, Any]:
    return {"type": "http", "method": "GET", "scheme": scheme, "path": path,
            "raw_path": path.encode("latin-1"), "query_string": query.encode("latin-1"),
            "headers": [(b"host", host.encode("latin-1"))], "server": ("127.0.0.1", 8080)}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


@settings(max_examples=600, deadline=None)
@given(HOSTS, PATHS, QUERIES, st.sampled_from(["http", "https", "HTTP", "ws"]))
def test_the_url_parts_are_what_urlsplit_finds(host: str, path: str, query: str,
                                               scheme: str) -> None:
    # The adapter hands plain URLs their parts instead of parsing them again:
    # every part must be the one urlsplit finds in the same string.
    request = AsgiAdapter(App()).build_request(scope(host, path, query, scheme), _receive)
    raw = str(request.url)
    assert raw == f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
    try:
        expected = urlsplit(raw)
    except ValueError:  # e.g. an unclosed IPv6 bracket: never given parts
        assert request.url._given is None
        return
    url = request.url
    # path and query first: read from the given parts, before any split is made.
    assert (url.path, url.query) == (expected.path or "/", expected.query)
    assert (url.scheme, url.netloc, url.fragment) == (
        expected.scheme, expected.netloc, expected.fragment)
    assert url._parts == expected


def test_plain_urls_are_not_parsed_again() -> None:
    request = AsgiAdapter(App()).build_request(scope("example.com:8080", "/a/b", "x=1&y=?"),
                                               _receive)
    assert request.url._given is not None  # given, not parsed
    assert (request.path, request.query, request.host) == ("/a/b", "x=1&y=?", "example.com")
    odd = AsgiAdapter(App()).build_request(scope("[::1]:8080", "/a", ""), _receive)
    assert odd.url._given is None and odd.url.host == "::1"


def test_a_real_server_in_front_of_the_adapter() -> None:
    app = App()

    @app.get("/echo/{rest:path}")
    async def echo(request: Request, ctx: Context) -> Response:
        return Response.from_json({"path": request.path, "query": request.query,
                                   "host": request.host, "url": str(request.url)})

    with ServerThread(AsgiAdapter(app)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", "/echo/a%2Fb?q=1%202", headers={"Host": "Example.com:81"})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
    assert response.status == 200
    assert response.getheader("content-length") == str(len(body))
    import json

    assert json.loads(body) == {"path": "/echo/a%2Fb", "query": "q=1%202", "host": "example.com",
                                "url": "http://Example.com:81/echo/a%2Fb?q=1%202"}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_head_gets_the_length_but_no_body(method: str) -> None:
    app = App()

    @app.get("/")
    async def index(request: Request, ctx: Context) -> Response:
        return Response.from_text("hello")

    with ServerThread(AsgiAdapter(app)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request(method, "/")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
    assert response.getheader("content-length") == "5"
    assert body == (b"hello" if method == "GET" else b"")


async def _run_lifespan(app: Any) -> list[str]:
    """Drive ``app`` through startup and shutdown; return what it sent."""
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    return sent


@pytest.mark.anyio
async def test_lifespan_is_answered_and_shutdown_waits_for_background_work() -> None:
    from edgeline.demo import DemoOrigin

    done: list[str] = []
    adapter = AsgiAdapter(App())

    async def background() -> None:
        done.append("background")

    adapter.wait_until(background())
    assert await _run_lifespan(adapter) == ["lifespan.startup.complete",
                                            "lifespan.shutdown.complete"]
    assert done == ["background"]
    assert await _run_lifespan(DemoOrigin()) == ["lifespan.startup.complete",
                                                 "lifespan.shutdown.complete"]
    with pytest.raises(RuntimeError, match="HTTP only"):
        await adapter({"type": "websocket"}, None, None)  # type: ignore[arg-type]
