"""Request and Response: bodies stream and are read once; lazy URL, query and cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from edgeline import BodyTooLarge, Request, Response
from edgeline.errors import BodyConsumed

pytestmark = pytest.mark.anyio


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_streamed_body_is_read_once_then_buffered() -> None:
    request = Request("POST", "https://x.test/a", body=chunks(b"ab", b"", b"cd"))
    assert request.is_streaming
    assert await request.read() == b"abcd"
    assert await request.read() == b"abcd"  # buffered by the first read
    assert not request.is_streaming


async def test_stream_twice_fails_clearly() -> None:
    response = Response(chunks(b"x"))
    assert [c async for c in response.stream()] == [b"x"]
    with pytest.raises(BodyConsumed):
        [c async for c in response.stream()]


async def test_read_limit_raises_413_error() -> None:
    request = Request("POST", "https://x.test/", body=chunks(b"a" * 10, b"b" * 10))
    with pytest.raises(BodyTooLarge) as info:
        await request.read(limit=15)
    assert info.value.status == 413


async def test_text_uses_charset_and_json_parses() -> None:
    response = Response("é".encode("latin-1"), headers={"content-type": "text/plain; charset=ISO-8859-1"})
    assert await response.text() == "é"
    assert await Response.from_json({"a": [1]}).json() == {"a": [1]}


def test_url_parts_query_and_host() -> None:
    request = Request("get", "https://Shop.Example.com:8443/p/a%20b?x=1&x=2&y=",
                      headers={"Host": "shop.example.com:8443"})
    assert request.method == "GET"
    assert request.path == "/p/a%20b"
    assert request.url.params.get_all("x") == ["1", "2"]
    assert request.url.params["y"] == ""
    assert request.host == "shop.example.com"
    assert request.url.port == 8443


def test_ipv6_host() -> None:
    request = Request("GET", "http://[::1]:8787/", headers={"host": "[::1]:8787"})
    assert request.host == "[::1]"


def test_cookies_parse_lazily_and_skip_malformed_pairs() -> None:
    request = Request("GET", "https://x.test/", headers=[("cookie", 'a=1; b="two"; bad\x7f=; c=3')])
    assert request.cookies == {"a": "1", "b": "two", "c": "3"}


def test_response_helpers() -> None:
    assert Response.redirect("/x", 308).headers["location"] == "/x"
    with pytest.raises(ValueError, match="redirect status"):
        Response.redirect("/x", 200)
    with pytest.raises(ValueError, match="three-digit"):
        Response(status=42)
    problem = Response.problem(429, "Too Many Requests", "slow down", retry_after=3)
    assert problem.headers["content-type"] == "application/problem+json"


def test_body_type_is_checked() -> None:
    with pytest.raises(TypeError, match="body must be"):
        Response(12)  # type: ignore[arg-type]
