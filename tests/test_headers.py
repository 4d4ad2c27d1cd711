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
