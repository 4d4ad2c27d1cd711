"""HTML placeholders are filled while streaming, whatever the chunk boundaries."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from edgeline.personalize import MARKER, SlotFiller, encode_values, fill_stream

VALUES = encode_values({"currency": "€", "city": "Zürich & <Co>", "a": "1", "a-": "2"})


def reference(doc: bytes) -> bytes:
    return MARKER.sub(lambda m: VALUES.get(m.group(1), m.group(0)), doc)


def streamed(doc: bytes, cuts: list[int]) -> bytes:
    filler = SlotFiller(VALUES)
    out = []
    last = 0
    for cut in sorted(set(c % (len(doc) + 1) for c in cuts)) + [len(doc)]:
        out.append(filler.feed(doc[last:cut]))
        last = cut
    out.append(filler.flush())
    return b"".join(out)


def test_fills_escaped_values() -> None:
    doc = b"<p>Price in <!--edge:currency--> near <!--edge:city-->.<!--edge:unknown--></p>"
    assert streamed(doc, []) == (b"<p>Price in \xe2\x82\xac near Z\xc3\xbcrich &amp; &lt;Co&gt;."
                                 b"<!--edge:unknown--></p>")


def test_a_marker_split_at_every_byte() -> None:
    doc = b"ab<!--edge:currency-->cd"
    for cut in range(len(doc) + 1):
        assert streamed(doc, [cut]) == b"ab\xe2\x82\xaccd"
    assert streamed(doc, list(range(len(doc)))) == b"ab\xe2\x82\xaccd"  # one byte a chunk


def test_non_markers_pass_untouched() -> None:
    for doc in [b"<!--edge:-->", b"<!--edge:has space-->", b"<!--edge:" + b"x" * 49 + b"-->",
                b"<!--edge:", b"<!--edg", b"<", b"<!--edge:a<!--edge:a-->", b"<!--edge:a--->"]:
        assert streamed(doc, [3, 7]) == reference(doc), doc


fragments = st.lists(st.sampled_from([
    b"<!--edge:currency-->", b"<!--edge:city-->", b"<!--edge:a-->", b"<!--edge:a--->",
    b"<!--edge:nope-->", b"<!--edge:", b"<!--", b"-->", b"<", b"<!", b"edge:", b"-", b">",
    b"text ", b"\xc3\xa9", b"<!--edge:bad name-->", b"x" * 40,
]), max_size=40).map(b"".join)


@given(fragments, st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_streaming_equals_the_whole_document_reference(doc, cuts) -> None:
    assert streamed(doc, cuts) == reference(doc)


def test_large_pages_stream_with_bounded_memory() -> None:
    chunk = b"<div>" + b"x" * 16_000 + b"<!--edge:curr"
    tail = b"ency--></div>"
    produced: list[int] = []
    pulled = 0

    async def source():
        nonlocal pulled
        for _ in range(400):  # ~6.4 MB
            pulled += 1
            yield chunk
            yield tail

    async def run() -> int:
        filler = SlotFiller(VALUES)
        total = 0
        async for out in fill_stream(source(), filler):
            # Output arrives while the source is still being read: nothing is buffered whole.
            produced.append(pulled)
            total += len(out)
            assert len(filler._carry) < 64
        return total

    total = asyncio.run(run())
    assert produced[0] == 1 and len(produced) >= 400
    assert total == 400 * (len(chunk) - len(b"<!--edge:curr") + len(tail) - len(b"ency-->") + 3)
