"""Headers: case-insensitive, multi-valued, order-preserving; checked against a list model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline import Headers

NAMES = st.sampled_from(["Accept", "accept", "X-Id", "x-id", "Set-Cookie", "Vary", "ETag"])
VALUES = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=8)


def test_lookup_ignores_case_and_joins_repeats() -> None:
    h = Headers([("Accept", "text/html"), ("X-Id", "1"), ("accept", "application/json")])
    assert h["ACCEPT"] == "text/html, application/json"
    assert h.get_all("accept") == ["text/html", "application/json"]
    assert list(h) == ["accept", "x-id"]
    assert len(h) == 2
    assert "x-ID" in h and "nope" not in h


def test_set_cookie_is_never_joined() -> None:
    h = Headers([("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2, c")])
    assert h.get_all("set-cookie") == ["a=1; Path=/", "b=2, c"]
    assert h["set-cookie"] == "a=1; Path=/"


def test_setitem_replaces_in_first_position() -> None:
    h = Headers([("a", "1"), ("b", "2"), ("a", "3")])
    h["A"] = "9"
    assert h.multi_items() == [("a", "9"), ("b", "2")]


@pytest.mark.parametrize(("name", "value"), [("Bad Name", "x"), ("", "x"), ("x", "a\r\nInjected: 1"),
                                              ("x", "nul\x00")])
def test_rejects_invalid_fields_naming_them(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="header"):
        Headers([(name, value)])


@pytest.mark.parametrize("name", [b"x-id", ["x-id"], None, 7])
def test_rejects_names_that_are_not_text(name: object) -> None:
    Headers([("x-id", "1")])  # a valid name seen first must not let others through
    with pytest.raises(ValueError, match="header name"):
        Headers([(name, "1")])  # type: ignore[list-item]


def test_delete_and_discard() -> None:
    h = Headers({"A": "1", "B": "2"})
    del h["a"]
    assert "a" not in h
    with pytest.raises(KeyError):
        del h["a"]
    h.discard("b", "c")
    assert len(h) == 0


# A simple reference: the list of (lower-name, value) pairs, operated on naively.
OPS = st.lists(st.tuples(st.sampled_from(["add", "set", "del"]), NAMES, VALUES), max_size=30)


@given(OPS)
def test_matches_list_reference(ops: list[tuple[str, str, str]]) -> None:
    h = Headers()
    ref: list[tuple[str, str]] = []
    for op, name, value in ops:
        key = name.lower()
        if op == "add":
            h.add(name, value)
            ref.append((key, value))
        elif op == "set":
            h[name] = value
            first = next((i for i, p in enumerate(ref) if p[0] == key), None)
            ref = [p for p in ref if p[0] != key]
            ref.insert(first if first is not None else len(ref), (key, value))
        elif key in h:
            del h[name]
            ref = [p for p in ref if p[0] != key]
    assert h.multi_items() == ref
    for key in {k for k, _ in ref}:
        assert h.get_all(key) == [v for k, v in ref if k == key]


@given(st.lists(st.tuples(NAMES, VALUES), max_size=6), st.lists(st.tuples(NAMES, VALUES), max_size=4),
       st.sampled_from(["append", "set", "delete", "discard", "raw"]))
def test_encoded_matches_a_fresh_encoding_after_any_change(
        first: list[tuple[str, str]], later: list[tuple[str, str]], change: str) -> None:
    h = Headers(first)
    wire = h.encoded()
    # A copy built on the cached encoding of the first fields, then changed.
    h2 = Headers.from_trusted(list(h.raw), wire)
    for name, value in later:
        if change == "append":
            h2.add(name, value)
        elif change == "set":
            h2[name] = value
        elif change == "delete" and name in h2:
            del h2[name]
        elif change == "discard":
            h2.discard(name)
        elif change == "raw":
            h2.raw[:] = [(name.lower(), value)]
    fresh = Headers.from_trusted(list(h2.raw))
    assert h2.encoded() == fresh.encoded()
    pairs, has_length = h2.encoded()
    assert pairs == [(k.encode("latin-1"), v.encode("latin-1")) for k, v in h2.raw]
    assert has_length == ("content-length" in h2)


RAW_OPS = st.lists(st.tuples(st.sampled_from(["raw-append", "raw-replace", "raw-pop", "raw-insert",
                                              "add", "set", "discard", "encode", "copy"]),
                             NAMES, VALUES, st.integers(0, 8)), max_size=12)


@given(st.lists(st.tuples(NAMES, VALUES), max_size=6), RAW_OPS)
def test_encoded_survives_changes_made_through_raw(
        first: list[tuple[str, str]], ops: list[tuple[str, str, str, int]]) -> None:
    h = Headers.from_trusted(Headers(first).multi_items(), Headers(first).encoded())
    held = h.raw  # a caller keeps the list and changes it in place later
    for op, name, value, at in ops:
        pair = (name.lower(), value)
        if op == "raw-append":
            h.raw.append(pair)
        elif op == "raw-replace" and held:
            held[at % len(held)] = pair
        elif op == "raw-pop" and held:
            held.pop(at % len(held))
        elif op == "raw-insert":
            held.insert(at, pair)
        elif op == "add":
            h.add(name, value)
        elif op == "set":
            h[name] = value
        elif op == "discard":
            h.discard(name)
        elif op == "encode":
            h.encoded()
        elif op == "copy":
            h = h.copy() if at % 2 else Headers(h)
        held = h.raw
        expected = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in h.multi_items()]
        assert h.encoded() == (expected, "content-length" in h)


def test_appending_through_raw_keeps_the_cached_encoding() -> None:
    # A stored response's fields go out encoded once; middleware appending
    # to ``raw`` must not make every response encode them again.
    marker = [(b"x-stored", b"encoded-once")]
    h = Headers.from_trusted([("x-stored", "encoded-once")], (marker, False))
    h.raw.append(("server-timing", "edge;dur=0.10"))
    assert h.encoded() == ([(b"x-stored", b"encoded-once"),
                            (b"server-timing", b"edge;dur=0.10")], False)
    assert h.encoded()[0][0] is marker[0]
    h.raw[0] = ("x-stored", "changed")
    assert h.encoded()[0][0] == (b"x-stored", b"changed")
