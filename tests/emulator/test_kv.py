"""Tests for the emulated Workers KV (edgeline.emulator.kv) on real SQLite files."""

from __future__ import annotations

import array
import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeline.emulator.jsobject import JsDict
from edgeline.emulator.kv import (
    KVError,
    KVNamespace,
    KVStorage,
    KVTypeError,
    SyncKVNamespace,
)
from edgeline.emulator.standin.workers._web import JsBuffer, ReadableStream

T0 = 1_700_000_000.0


class Clock:
    """Hand-driven clock: tests move time instead of sleeping."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def storage(tmp_path: Path, clock: Clock) -> Iterator[KVStorage]:
    with KVStorage(tmp_path / "kv.sqlite3", clock=clock) as kv:
        yield kv


@pytest.fixture
def ns(storage: KVStorage) -> KVNamespace:
    return storage.namespace("CONFIG")


def error_of(excinfo: pytest.ExceptionInfo[KVError]) -> str:
    return excinfo.value.message


# -- get: call shapes and value types ------------------------------------------------


@pytest.mark.anyio
async def test_get_text_is_default(ns: KVNamespace) -> None:
    await ns.put("k", "héllo")
    assert await ns.get("k") == "héllo"
    assert await ns.get("k", "text") == "héllo"
    assert await ns.get("k", type="text") == "héllo"
    assert await ns.get("k", {"type": "text"}) == "héllo"
    assert await ns.get("k", None) == "héllo"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "call",
    [
        lambda ns: ns.get("k", "json"),
        lambda ns: ns.get("k", type="json"),
        lambda ns: ns.get("k", {"type": "json"}),
        lambda ns: ns.get("k", {"type": "json", "cacheTtl": 60}),
        lambda ns: ns.get("k", type="json", cacheTtl=3600),
    ],
    ids=["positional-str", "kwarg", "dict", "dict-cacheTtl", "kwarg-cacheTtl"],
)
async def test_get_json_call_shapes(ns: KVNamespace, call: Any) -> None:
    await ns.put("k", json.dumps({"a": {"b": [1, 2]}, "n": None}))
    value = await call(ns)
    assert value == {"a": {"b": [1, 2]}, "n": None}
    # Nested objects are JsDict, as python_from_rpc makes them.
    assert type(value) is JsDict
    assert type(value.a) is JsDict
    assert value.a.b == [1, 2]


@pytest.mark.anyio
async def test_get_json_follows_js_number_rules(ns: KVNamespace) -> None:
    await ns.put("k", '{"i": 1.0, "f": 2.5, "big": 9007199254740993, "safe": 9007199254740992}')
    value = await ns.get("k", "json")
    assert value == {"i": 1, "f": 2.5, "big": 9007199254740992.0, "safe": 9007199254740992}
    assert type(value["i"]) is int
    assert type(value["big"]) is float
    assert type(value["safe"]) is int


@pytest.mark.anyio
async def test_get_json_invalid_raises_syntax_error(ns: KVNamespace) -> None:
    await ns.put("k", "not json")
    with pytest.raises(KVError) as excinfo:
        await ns.get("k", "json")
    assert excinfo.value.name == "SyntaxError"
    await ns.put("nan", "NaN")
    with pytest.raises(KVError):
        await ns.get("nan", "json")


@pytest.mark.anyio
async def test_get_array_buffer_is_writable_memoryview(ns: KVNamespace) -> None:
    await ns.put("bin", b"\x00\xffabc")
    value = await ns.get("bin", "arrayBuffer")
    assert isinstance(value, memoryview)
    assert not value.readonly
    assert value.tobytes() == b"\x00\xffabc"
    assert (await ns.get("bin", {"type": "arrayBuffer"})).tobytes() == b"\x00\xffabc"


@pytest.mark.anyio
async def test_get_text_of_invalid_utf8_uses_replacement_char(ns: KVNamespace) -> None:
    await ns.put("bin", b"a\xffb")
    assert await ns.get("bin") == "a\ufffdb"


@pytest.mark.anyio
async def test_get_stream_reads_chunks(ns: KVNamespace) -> None:
    data = bytes(range(256)) * 1024  # 256 KiB: several chunks
    await ns.put("big", data)
    stream = await ns.get("big", type="stream")
    assert isinstance(stream, ReadableStream)
    reader = stream.getReader()
    assert stream.locked
    with pytest.raises(TypeError):
        stream.getReader()
    chunks = []
    while True:
        result = await reader.read()
        if result.done:
            assert result.value is None
            break
        assert isinstance(result.value, JsBuffer)
        chunks.append(result.value.to_bytes())
    assert len(chunks) > 1
    assert b"".join(chunks) == data
    # The real read result is a JsProxy: attribute access only.
    with pytest.raises(TypeError):
        result["done"]  # type: ignore[index]
    reader.releaseLock()
    assert not stream.locked
    with pytest.raises(TypeError):
        await reader.read()


@pytest.mark.anyio
async def test_get_stream_async_iteration_and_empty_value(ns: KVNamespace) -> None:
    await ns.put("k", "abc")
    stream = await ns.get("k", "stream")
    assert [chunk.to_bytes() async for chunk in stream] == [b"abc"]
    await ns.put("empty", "")
    reader = (await ns.get("empty", "stream")).getReader()
    assert (await reader.read()).done


@pytest.mark.anyio
@pytest.mark.parametrize("value_type", ["text", "json", "arrayBuffer", "stream"])
async def test_get_missing_is_none_for_every_type(ns: KVNamespace, value_type: str) -> None:
    assert await ns.get("missing", value_type) is None
    assert await ns.get("missing", type=value_type) is None


@pytest.mark.anyio
async def test_get_rejects_unknown_type(ns: KVNamespace) -> None:
    await ns.put("k", "v")
    message = (
        'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'
    )
    for call in (ns.get("k", "jsno"), ns.get("k", type=None), ns.getWithMetadata("k", "xml")):
        with pytest.raises(KVTypeError) as excinfo:
            await call
        assert error_of(excinfo) == message
        assert isinstance(excinfo.value, TypeError)
        assert str(excinfo.value) == f"TypeError: {message}"


@pytest.mark.anyio
async def test_get_rejects_bad_option_shapes(ns: KVNamespace) -> None:
    with pytest.raises(TypeError, match="cache_ttl"):
        await ns.get("k", cache_ttl=60)
    with pytest.raises(TypeError, match="one or the other"):
        await ns.get("k", {"type": "json"}, cacheTtl=60)
    with pytest.raises(TypeError, match="at most one"):
        await ns.get("k", "json", {"cacheTtl": 60})
    with pytest.raises(TypeError, match="must be a dict"):
        await ns.get("k", 42)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("cache_ttl", "shown"), [(29, "29"), (0, "0"), (None, "0"), (29.9, "29"), ("abc", "0")]
)
async def test_get_cache_ttl_minimum(ns: KVNamespace, cache_ttl: Any, shown: str) -> None:
    with pytest.raises(KVError) as excinfo:
        await ns.get("k", cacheTtl=cache_ttl)
    assert error_of(excinfo) == (
        f"KV GET failed: 400 Invalid cache_ttl of {shown}. Cache TTL must be at least 30."
    )
    assert excinfo.value.status == 400
    assert excinfo.value.name == "Error"


@pytest.mark.anyio
async def test_get_cache_ttl_accepted(ns: KVNamespace) -> None:
    await ns.put("k", "v")
    assert await ns.get("k", cacheTtl=30) == "v"
    assert (await ns.getWithMetadata("k", cacheTtl=86400)).value == "v"


# -- getWithMetadata -------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_with_metadata_round_trip(ns: KVNamespace) -> None:
    metadata = {"owner": "ops", "tags": ["a", "b"], "nested": {"n": 1}, "ok": True}
    await ns.put("k", '{"v": 1}', metadata=metadata)
    result = await ns.getWithMetadata("k")
    assert type(result) is JsDict
    assert result == {"value": '{"v": 1}', "metadata": metadata, "cacheStatus": None}
    assert result.value == result["value"] == '{"v": 1}'
    assert result.metadata.nested.n == 1
    assert result.cacheStatus is None
    as_json = await ns.getWithMetadata("k", "json")
    assert as_json.value == {"v": 1}
    assert (await ns.getWithMetadata("k", type="arrayBuffer")).value.tobytes() == b'{"v": 1}'
    stream_result = await ns.getWithMetadata("k", {"type": "stream"})
    assert [c.to_bytes() async for c in stream_result.value] == [b'{"v": 1}']
    assert stream_result.metadata == metadata


@pytest.mark.anyio
async def test_get_with_metadata_missing_and_without_metadata(ns: KVNamespace) -> None:
    assert await ns.getWithMetadata("missing") == {
        "value": None,
        "metadata": None,
        "cacheStatus": None,
    }
    await ns.put("plain", "v")
    assert (await ns.getWithMetadata("plain")).metadata is None
    await ns.put("none-meta", "v", metadata=None)
    assert (await ns.getWithMetadata("none-meta")).metadata is None


@pytest.mark.anyio
async def test_metadata_may_be_any_json_value(ns: KVNamespace) -> None:
    for metadata in ("text", 7, 2.5, False, [1, {"a": None}]):
        await ns.put("k", "v", metadata=metadata)
        assert (await ns.getWithMetadata("k")).metadata == metadata


@pytest.mark.anyio
async def test_put_overwrite_replaces_metadata_and_expiration(
    ns: KVNamespace, clock: Clock
) -> None:
    await ns.put("k", "v1", metadata={"a": 1}, expirationTtl=60)
    await ns.put("k", "v2")
    result = await ns.getWithMetadata("k")
    assert (result.value, result.metadata) == ("v2", None)
    clock.advance(120)
    assert await ns.get("k") == "v2"


# -- bulk get --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_bulk_get_text_and_json(ns: KVNamespace) -> None:
    await ns.put("a", '{"x": 1}')
    await ns.put("b", "[1, 2]")
    result = await ns.get(["b", "a", "missing"])
    assert result == {"b": "[1, 2]", "a": '{"x": 1}', "missing": None}
    assert list(result) == ["b", "a", "missing"]  # Map keeps request order
    assert await ns.get(["a", "b"], "json") == {"a": {"x": 1}, "b": [1, 2]}
    parsed = await ns.get(["a"], type="json")
    assert parsed["a"].x == 1
    assert await ns.get(["a", "a"], {"type": "text"}) == {"a": '{"x": 1}'}


@pytest.mark.anyio
async def test_bulk_get_with_metadata(ns: KVNamespace) -> None:
    await ns.put("a", "1", metadata={"m": "x"})
    await ns.put("b", "2")
    result = await ns.getWithMetadata(["a", "b", "c"], "json")
    assert result == {
        "a": {"value": 1, "metadata": {"m": "x"}},
        "b": {"value": 2, "metadata": None},
        "c": None,
    }
    assert result["a"].metadata.m == "x"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("keys", "options", "message"),
    [
        (
            ["a"],
            {"type": "arrayBuffer"},
            '400 "arrayBuffer" is not a valid type. Use "json" or "text"',
        ),
        (["a"], {"type": "stream"}, '400 "stream" is not a valid type. Use "json" or "text"'),
        ([f"k{i}" for i in range(101)], {}, "400 You can request a maximum of 100 keys"),
        ([], {}, "400 You must request a minimum of 1 key"),
        (["a", ""], {}, "400 Key names must not be empty"),
        (["."], {}, '400 Illegal key name ".". Please use a different name.'),
        (["x" * 513], {}, "414 UTF-8 encoded length of 513 exceeds key length limit of 512."),
        (["a"], {"cacheTtl": 10}, "400 Invalid cache_ttl of 10. Cache TTL must be at least 30."),
    ],
    ids=["arrayBuffer", "stream", "too-many", "none", "empty-key", "dot", "long", "cacheTtl"],
)
async def test_bulk_get_errors(
    ns: KVNamespace, keys: list[str], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(KVError) as excinfo:
        await ns.get(keys, **options)
    assert error_of(excinfo) == f"KV GET_BULK failed: {message}"


@pytest.mark.anyio
async def test_bulk_get_accepts_100_keys_and_rejects_non_json(ns: KVNamespace) -> None:
    keys = [f"k{i:03}" for i in range(100)]
    for key in keys[:3]:
        await ns.put(key, "1")
    result = await ns.get(keys, "json")
    assert len(result) == 100 and result["k000"] == 1 and result["k099"] is None
    await ns.put("bad", "{")
    with pytest.raises(KVError) as excinfo:
        await ns.get(["k000", "bad"], "json")
    assert error_of(excinfo) == (
        "KV GET_BULK failed: 400 At least one of the requested keys corresponds to a non-json value"
    )


@pytest.mark.anyio
async def test_bulk_get_rejects_tuple_like_the_sdk(ns: KVNamespace) -> None:
    with pytest.raises(TypeError, match=r"<class 'tuple'> cannot be sent over RPC\."):
        await ns.get(("a", "b"))


# -- put: values and options ------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("text", b"text"),
        (b"\x00\x01", b"\x00\x01"),
        (memoryview(b"view"), b"view"),
        (array.array("B", [1, 2, 3]), b"\x01\x02\x03"),
        (5, b"5"),
        (2.5, b"2.5"),
        (3.0, b"3"),
        (True, b"true"),
        (None, b"null"),
        ("", b""),
    ],
    ids=[
        "str",
        "bytes",
        "memoryview",
        "array",
        "int",
        "float",
        "integral-float",
        "bool",
        "None",
        "empty",
    ],
)
async def test_put_value_types(ns: KVNamespace, value: Any, stored: bytes) -> None:
    await ns.put("k", value)
    assert (await ns.get("k", "arrayBuffer")).tobytes() == stored


@pytest.mark.anyio
async def test_put_rejects_unsupported_values(ns: KVNamespace) -> None:
    for value in ({"a": 1}, [1, 2], object()):
        with pytest.raises(KVTypeError) as excinfo:
            await ns.put("k", value)
        assert error_of(excinfo) == (
            "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and "
            "ReadableStreams as values."
        )
    # The SDK's python_to_rpc refuses bytearray outright.
    with pytest.raises(TypeError, match=r"<class 'bytearray'> cannot be sent over RPC\."):
        await ns.put("k", bytearray(b"x"))
    assert await ns.get("k") is None


@pytest.mark.anyio
async def test_put_options_as_positional_dict(ns: KVNamespace, clock: Clock) -> None:
    await ns.put("k", "v", {"expirationTtl": 300, "metadata": {"a": 1}})
    page = await ns.list()
    assert page["keys"] == [{"name": "k", "expiration": int(T0) + 300, "metadata": {"a": 1}}]
    with pytest.raises(TypeError, match="expiration_ttl"):
        await ns.put("k", "v", expiration_ttl=300)


@pytest.mark.anyio
async def test_put_expiration_ttl_and_absolute(ns: KVNamespace, clock: Clock) -> None:
    clock.now = T0 + 0.75  # expirations count from whole seconds, as the service does
    await ns.put("ttl", "v", expirationTtl=60)
    await ns.put("abs", "v", expiration=int(T0) + 61)
    await ns.put("abs-float", "v", expiration=int(T0) + 100.9)
    # expirationTtl wins when both are given.
    await ns.put("both", "v", expiration=1, expirationTtl=90)
    keys = {k.name: k.expiration for k in (await ns.list())["keys"]}
    assert keys == {
        "abs": int(T0) + 61,
        "abs-float": int(T0) + 100,
        "both": int(T0) + 90,
        "ttl": int(T0) + 60,
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"expirationTtl": 59},
            "Invalid expiration_ttl of 59. Expiration TTL must be at least 60.",
        ),
        (
            {"expirationTtl": 59.9},
            "Invalid expiration_ttl of 59. Expiration TTL must be at least 60.",
        ),
        (
            {"expirationTtl": 0},
            "Invalid expiration_ttl of 0. Please specify integer greater than 0.",
        ),
        (
            {"expirationTtl": -5},
            "Invalid expiration_ttl of -5. Please specify integer greater than 0.",
        ),
        (
            {"expirationTtl": None},
            "Invalid expiration_ttl of 0. Please specify integer greater than 0.",
        ),
        (
            {"expiration": 1000},
            (
                "Invalid expiration of 1000. Please specify integer greater than the current "
                "number of seconds since the UNIX epoch."
            ),
        ),
        (
            {"expiration": int(T0)},
            (
                f"Invalid expiration of {int(T0)}. Please specify integer greater than the current "
                "number of seconds since the UNIX epoch."
            ),
        ),
        (
            {"expiration": int(T0) + 59},
            (
                f"Invalid expiration of {int(T0) + 59}. Expiration times must be at least 60 "
                "seconds in the future."
            ),
        ),
        (
            {"expiration": None},
            (
                "Invalid expiration of 0. Please specify integer greater than the current "
                "number of seconds since the UNIX epoch."
            ),
        ),
    ],
    ids=[
        "ttl-59",
        "ttl-float",
        "ttl-0",
        "ttl-negative",
        "ttl-None",
        "exp-past",
        "exp-now",
        "exp-59s",
        "exp-None",
    ],
)
async def test_put_expiration_errors(
    ns: KVNamespace, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(KVError) as excinfo:
        await ns.put("k", "v", **options)
    assert error_of(excinfo) == f"KV PUT failed: 400 {message}"
    assert excinfo.value.status == 400
    assert str(excinfo.value) == f"Error: KV PUT failed: 400 {message}"
    assert await ns.get("k") is None


@pytest.mark.anyio
async def test_put_metadata_size_limit(ns: KVNamespace) -> None:
    # '"' + 1022 chars + '"' is exactly 1024 bytes of JSON.
    await ns.put("ok", "v", metadata="x" * 1022)
    assert (await ns.getWithMetadata("ok")).metadata == "x" * 1022
    with pytest.raises(KVError) as excinfo:
        await ns.put("big", "v", metadata="x" * 1023)
    assert error_of(excinfo) == "KV PUT failed: 413 Metadata length of 1025 exceeds limit of 1024."
    assert excinfo.value.status == 413
    # Multi-byte characters count as their UTF-8 bytes, as JSON.stringify + UTF-8 does.
    with pytest.raises(KVError, match="Metadata length of 1026"):
        await ns.put("big", "v", metadata={"k": "é" * 509})
    assert await ns.get("big") is None


@pytest.mark.anyio
async def test_put_metadata_must_be_json(ns: KVNamespace) -> None:
    with pytest.raises(TypeError, match="JSON-serializable"):
        await ns.put("k", "v", metadata={"a": object()})
    with pytest.raises(TypeError, match="JSON-serializable"):
        await ns.put("k", "v", metadata=float("nan"))
    with pytest.raises(TypeError, match="cannot be sent over RPC"):
        await ns.put("k", "v", metadata={"a": (1, 2)})


@pytest.mark.anyio
async def test_put_value_size_limit(ns: KVNamespace) -> None:
    limit = 25 * 1024 * 1024
    with pytest.raises(KVError) as excinfo:
        await ns.put("k", b"\x00" * (limit + 1))
    assert error_of(excinfo) == (
        f"KV PUT failed: 413 Value length of {limit + 1} exceeds limit of {limit}."
    )
    assert excinfo.value.status == 413
    assert await ns.get("k") is None


@pytest.mark.anyio
async def test_put_value_at_size_limit_is_stored(ns: KVNamespace) -> None:
    value = b"\x07" * (25 * 1024 * 1024)
    await ns.put("k", value)
    assert (await ns.get("k", "arrayBuffer")).nbytes == len(value)


# -- keys ------------------------------------------------------------------------------


KEY_TYPE_ERRORS = [
    ("", "Key name cannot be empty."),
    (".", '"." is not allowed as a key name.'),
    ("..", '".." is not allowed as a key name.'),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("key", "message"), KEY_TYPE_ERRORS, ids=["empty", "dot", "dotdot"])
async def test_bad_key_names_are_type_errors(ns: KVNamespace, key: str, message: str) -> None:
    calls = [ns.get(key), ns.getWithMetadata(key), ns.put(key, "v"), ns.delete(key)]
    for call in calls:
        with pytest.raises(KVTypeError) as excinfo:
            await call
        assert error_of(excinfo) == message
        assert excinfo.value.status is None


@pytest.mark.anyio
async def test_key_length_limit_in_utf8_bytes(ns: KVNamespace) -> None:
    await ns.put("x" * 512, "v")
    assert await ns.get("x" * 512) == "v"
    long_key = "é" * 257  # 257 characters, 514 bytes
    for method, call in (
        ("GET", ns.get(long_key)),
        ("GET", ns.getWithMetadata(long_key)),
        ("PUT", ns.put(long_key, "v")),
        ("DELETE", ns.delete(long_key)),
    ):
        with pytest.raises(KVError) as excinfo:
            await call
        assert error_of(excinfo) == (
            f"KV {method} failed: 414 UTF-8 encoded length of 514 exceeds key length limit of 512."
        )
        assert excinfo.value.status == 414


@pytest.mark.anyio
async def test_non_str_keys_are_coerced_like_js(ns: KVNamespace) -> None:
    await ns.put(5, "five")
    assert await ns.get("5") == "five"
    with pytest.raises(TypeError):
        await ns.get(b"bytes")


@pytest.mark.anyio
async def test_delete(ns: KVNamespace) -> None:
    await ns.put("k", "v")
    await ns.delete("k")
    assert await ns.get("k") is None
    await ns.delete("k")  # deleting a missing key is fine
    await ns.delete("never-existed")


# -- list ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_shape_and_utf8_byte_order(ns: KVNamespace) -> None:
    # UTF-16 code-unit order would put the emoji (a surrogate pair) before U+FFFF;
    # KV orders by UTF-8 bytes, where it comes after.
    names = ["b", "a", "\U0001f600", "\uffff", "A", "ab", "a\x00"]
    for name in names:
        await ns.put(name, "v")
    await ns.put("meta", "v", metadata={"x": 1}, expirationTtl=600)
    page = await ns.list()
    assert type(page) is JsDict
    assert page.list_complete is True
    assert "cursor" not in page
    assert page.cacheStatus is None
    listed = [k.name for k in page["keys"]]
    assert listed == sorted(names + ["meta"], key=lambda s: s.encode("utf-8"))
    assert listed.index("\uffff") < listed.index("\U0001f600")
    entries = {k.name: k for k in page["keys"]}
    assert entries["meta"] == {"name": "meta", "expiration": int(T0) + 600, "metadata": {"x": 1}}
    assert entries["a"] == {"name": "a"}  # no expiration/metadata keys when unset


@pytest.mark.anyio
async def test_list_pagination_with_cursor(ns: KVNamespace) -> None:
    names = [f"key{i:02}" for i in range(25)]
    for name in names:
        await ns.put(name, "v")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await ns.list(limit=10, cursor=cursor)
        pages += 1
        seen += [k.name for k in page["keys"]]
        if page.list_complete:
            assert "cursor" not in page
            break
        cursor = page.cursor
        assert isinstance(cursor, str) and cursor
    assert pages == 3
    assert seen == names


@pytest.mark.anyio
async def test_list_exact_multiple_of_limit(ns: KVNamespace) -> None:
    for i in range(4):
        await ns.put(f"k{i}", "v")
    first = await ns.list(limit=2)
    assert not first.list_complete
    second = await ns.list(limit=2, cursor=first.cursor)
    assert [k.name for k in second["keys"]] == ["k2", "k3"]
    assert second.list_complete


@pytest.mark.anyio
async def test_list_prefix_and_option_shapes(ns: KVNamespace) -> None:
    for name in ["user:1:a", "user:1:b", "user:10:a", "user:2:a", "users", "\xffx", "\xff"]:
        await ns.put(name, "v")

    def names(page: JsDict) -> list[str]:
        return [k.name for k in page["keys"]]

    assert names(await ns.list(prefix="user:1:")) == ["user:1:a", "user:1:b"]
    # "0" (0x30) sorts before ":" (0x3a).
    assert names(await ns.list({"prefix": "user:1"})) == ["user:10:a", "user:1:a", "user:1:b"]
    assert names(await ns.list({"prefix": "user:1", "limit": 1})) == ["user:10:a"]
    assert names(await ns.list(prefix="\xff")) == ["\xff", "\xffx"]
    assert names(await ns.list(prefix="nope")) == []
    everything = names(await ns.list())
    assert names(await ns.list(prefix="")) == everything
    assert names(await ns.list(prefix=None, cursor=None, limit=None)) == everything
    assert names(await ns.list(None)) == everything
    # A prefix applies within each page of a paginated listing.
    first = await ns.list(prefix="user:", limit=2)
    rest = await ns.list(prefix="user:", cursor=first.cursor)
    assert names(first) + names(rest) == ["user:10:a", "user:1:a", "user:1:b", "user:2:a"]


@pytest.mark.anyio
async def test_list_limit_rules(ns: KVNamespace) -> None:
    for i in range(1005):
        ns.sync.put(f"k{i:04}", "v")
    default = await ns.list()
    assert len(default["keys"]) == 1000 and not default.list_complete
    # workerd drops non-positive limits, so the service default (1000) applies.
    assert len((await ns.list(limit=0))["keys"]) == 1000
    assert len((await ns.list(limit=-3))["keys"]) == 1000
    assert len((await ns.list(limit=1000))["keys"]) == 1000
    tail = await ns.list(cursor=default.cursor)
    assert [k.name for k in tail["keys"]] == [f"k{i:04}" for i in range(1000, 1005)]
    with pytest.raises(KVError) as excinfo:
        await ns.list(limit=1001)
    assert error_of(excinfo) == (
        "KV GET failed: 400 Invalid key_count_limit of 1001. Please specify an integer less "
        "than 1000."
    )


@pytest.mark.anyio
async def test_list_errors(ns: KVNamespace) -> None:
    with pytest.raises(KVError) as excinfo:
        await ns.list(prefix="p" * 513)
    assert error_of(excinfo) == (
        "KV GET failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512."
    )
    with pytest.raises(KVError, match="Invalid cursor"):
        await ns.list(cursor="!!not a cursor!!")
    with pytest.raises(TypeError, match="unknown option"):
        await ns.list(perfix="a")
    with pytest.raises(TypeError, match="one or the other"):
        await ns.list({"prefix": "a"}, limit=1)


@pytest.mark.anyio
async def test_list_cursor_is_stable_across_writes(ns: KVNamespace) -> None:
    for name in ["b", "d", "f", "h"]:
        await ns.put(name, "v")
    first = await ns.list(limit=2)
    assert [k.name for k in first["keys"]] == ["b", "d"]
    # Changes before the cursor do not shift the next page; changes after it show.
    await ns.put("a", "v")
    await ns.put("c", "v")
    await ns.delete("b")
    await ns.put("e", "v")
    await ns.delete("h")
    rest = await ns.list(cursor=first.cursor)
    assert [k.name for k in rest["keys"]] == ["e", "f"]
    assert rest.list_complete


# -- expiration --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_expired_keys_are_invisible(ns: KVNamespace, clock: Clock) -> None:
    await ns.put("short", "v", expirationTtl=60, metadata={"m": 1})
    await ns.put("long", "v", expirationTtl=3600)
    await ns.put("forever", "v")
    clock.advance(59.9)
    assert await ns.get("short") == "v"
    clock.advance(0.1)  # exactly at the expiration second: gone
    assert await ns.get("short") is None
    assert await ns.get("short", "stream") is None
    assert (await ns.getWithMetadata("short")).metadata is None
    assert await ns.get(["short", "long"]) == {"short": None, "long": "v"}
    assert [k.name for k in (await ns.list())["keys"]] == ["forever", "long"]
    clock.advance(3600)
    assert [k.name for k in (await ns.list())["keys"]] == ["forever"]


@pytest.mark.anyio
async def test_expired_rows_are_purged(
    storage: KVStorage, ns: KVNamespace, clock: Clock, tmp_path: Path
) -> None:
    await ns.put("old", "v", expirationTtl=60)
    await ns.put("keep", "v")
    clock.advance(61)
    await ns.list()
    with sqlite3.connect(tmp_path / "kv.sqlite3") as conn:
        rows = conn.execute("SELECT key FROM kv_entries").fetchall()
    conn.close()
    assert rows == [(b"keep",)]


@pytest.mark.anyio
async def test_expiration_page_never_ends_early(ns: KVNamespace, clock: Clock) -> None:
    # Expired keys between live ones must not make a page look complete.
    for i in range(6):
        await ns.put(f"k{i}", "v", expirationTtl=60 if i % 2 else 3600)
    clock.advance(120)
    first = await ns.list(limit=2)
    assert [k.name for k in first["keys"]] == ["k0", "k2"]
    assert not first.list_complete
    rest = await ns.list(limit=2, cursor=first.cursor)
    assert [k.name for k in rest["keys"]] == ["k4"]
    assert rest.list_complete


# -- storage -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_persists_across_reopen(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "nested" / "dir" / "kv.sqlite3"
    with KVStorage(path, clock=clock) as first:
        ns = first.namespace("CONFIG")
        await ns.put("text", "héllo", metadata={"v": 2}, expirationTtl=600)
        await ns.put("bin", b"\x00\xff")
        await first.namespace("OTHER").put("text", "other")
    assert first.closed
    with KVStorage(path, clock=clock) as second:
        ns = second.namespace("CONFIG")
        result = await ns.getWithMetadata("text")
        assert (result.value, result.metadata) == ("héllo", {"v": 2})
        assert (await ns.get("bin", "arrayBuffer")).tobytes() == b"\x00\xff"
        assert (await ns.list())["keys"][1]["expiration"] == int(T0) + 600
        assert await second.namespace("OTHER").get("text") == "other"
        assert second.namespace_ids() == ["CONFIG", "OTHER"]
        clock.advance(600)
        assert await ns.get("text") is None


def test_uses_wal_and_one_file_for_all_namespaces(tmp_path: Path) -> None:
    path = tmp_path / "kv.sqlite3"
    with KVStorage(path) as storage:
        storage.namespace("A").sync.put("k", "a")
        storage.namespace("B").sync.put("k", "b")
        assert storage.namespace("A").sync.get("k") == "a"
        assert storage.namespace("B").sync.get("k") == "b"
        assert [k.name for k in storage.namespace("C").sync.list()["keys"]] == []
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT count(*) FROM kv_entries").fetchone() == (2,)
    finally:
        conn.close()


def test_closed_storage_refuses_calls(tmp_path: Path) -> None:
    storage = KVStorage(tmp_path / "kv.sqlite3")
    ns = storage.namespace("A")
    storage.close()
    storage.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        ns.sync.get("k")
    with pytest.raises(RuntimeError, match="closed"):
        storage.namespace_ids()


def test_namespace_id_must_be_non_empty(storage: KVStorage) -> None:
    with pytest.raises(ValueError):
        storage.namespace("")


def test_sync_view_matches_async(ns: KVNamespace) -> None:
    sync = ns.sync
    assert isinstance(sync, SyncKVNamespace)
    assert sync.id == ns.id == "CONFIG"
    sync.put("k", '{"a": 1}', metadata={"m": True})
    assert sync.get("k", "json") == {"a": 1}
    assert sync.getWithMetadata("k").metadata == {"m": True}
    assert sync.get(["k"]) == {"k": '{"a": 1}'}
    assert [k.name for k in sync.list(prefix="k")["keys"]] == ["k"]
    sync.delete("k")
    assert sync.get("k") is None
    with pytest.raises(KVError, match="Expiration TTL must be at least 60"):
        sync.put("k", "v", expirationTtl=1)


def test_threads_share_one_storage(storage: KVStorage) -> None:
    ns = storage.namespace("T")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(50):
                ns.sync.put(f"w{worker}:{i:02}", str(i))
                assert ns.sync.get(f"w{worker}:{i:02}") == str(i)
        except (AssertionError, sqlite3.Error, RuntimeError) as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ns.sync.list()["keys"]) == 400


def test_two_storages_on_one_file(tmp_path: Path) -> None:
    # A CLI process and the dev server may open the same file at once.
    path = tmp_path / "kv.sqlite3"
    with KVStorage(path) as server, KVStorage(path) as cli:
        cli.namespace("CONFIG").sync.put("route", "v1")
        assert server.namespace("CONFIG").sync.get("route") == "v1"


# -- property test against a dict model ---------------------------------------------------

_names = st.text(alphabet="ab\xe9\U0001f600\x00", min_size=1, max_size=4)
_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            _names,
            st.one_of(st.none(), st.integers(0, 3)),  # metadata
            st.one_of(st.none(), st.integers(60, 300)),  # expirationTtl
        ),
        st.tuples(st.just("delete"), _names),
        st.tuples(st.just("advance"), st.integers(0, 200)),
        st.tuples(
            st.just("list"),
            st.one_of(st.none(), st.text(alphabet="ab\xe9", max_size=2)),
            st.integers(1, 4),
        ),
    ),
    max_size=30,
)
_namespace_ids = itertools.count()


@pytest.fixture(scope="module")
def shared_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KVStorage, Clock]]:
    clock = Clock()
    with KVStorage(tmp_path_factory.mktemp("kv") / "kv.sqlite3", clock=clock) as kv:
        yield kv, clock


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops)
def test_matches_dict_model(
    shared_storage: tuple[KVStorage, Clock], ops: list[tuple[Any, ...]]
) -> None:
    storage, clock = shared_storage
    ns = storage.namespace(f"prop-{next(_namespace_ids)}")
    model: dict[str, tuple[int | None, int | None]] = {}  # name -> (metadata, expiration)

    def live() -> dict[str, tuple[int | None, int | None]]:
        return {k: v for k, v in model.items() if v[1] is None or v[1] > clock.now}

    for op in ops:
        if op[0] == "put":
            _, name, metadata, ttl = op
            options: dict[str, Any] = {"metadata": metadata}
            if ttl is not None:
                options["expirationTtl"] = ttl
            ns.sync.put(name, name, **options)
            model[name] = (metadata, None if ttl is None else int(clock.now) + ttl)
        elif op[0] == "delete":
            ns.sync.delete(op[1])
            model.pop(op[1], None)
        elif op[0] == "advance":
            clock.advance(op[1])
        else:
            _, prefix, limit = op
            expected = sorted(
                (k for k in live() if prefix is None or k.startswith(prefix)),
                key=lambda s: s.encode("utf-8"),
            )
            got: list[JsDict] = []
            cursor = None
            while True:
                page = ns.sync.list(prefix=prefix, limit=limit, cursor=cursor)
                assert len(page["keys"]) <= limit
                got += page["keys"]
                if page.list_complete:
                    assert "cursor" not in page
                    break
                assert page["keys"], "an incomplete page without expired keys has keys"
                cursor = page.cursor
            assert [k.name for k in got] == expected
            for entry in got:
                metadata, expiration = live()[entry.name]
                assert entry.get("metadata") == metadata
                assert entry.get("expiration") == expiration
    final = live()
    for name in {op[1] for op in ops if op[0] in ("put", "delete")}:
        assert ns.sync.get(name) == (name if name in final else None)
