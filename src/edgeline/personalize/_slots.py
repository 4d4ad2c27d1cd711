"""Fill ``<!--edge:NAME-->`` placeholders in HTML as it streams through the edge.

Why placeholders: the origin renders one page per coarse variant (locale,
region bucket) and the cache stores it under that variant; the few values
finer than the bucket (a currency symbol, the client's city, an
experiment's arm) are left as HTML comments and filled at the edge on the
way out, after the cache. A page nobody fills still renders (comments are
invisible), so a miss in personalization never breaks a page.

The syntax is ``<!--edge:`` + a name of 1 to 48 of ``A-Z a-z 0-9 _ . -`` +
``-->``; the name ends at the first ``-->``. A marker whose name has no value
is left in place; anything that is not a marker passes through untouched.
Values are inserted HTML-escaped.

Streaming: :class:`SlotFiller` holds back at most the bytes of one
unfinished marker (under 64) between chunks, so a page of any size passes
with constant memory, and a marker split across chunk boundaries at any
byte is still found.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping

__all__ = ["MARKER", "SlotFiller", "encode_values", "fill_stream"]

_OPEN = b"<!--edge:"
_CLOSE = b"-->"
MAX_NAME = 48
_WINDOW = MAX_NAME + len(_CLOSE)
_NAME = re.compile(rb"^[A-Za-z0-9_.\-]{1,48}$")
# The reference form of a marker (what the streaming scanner must agree with).
MARKER = re.compile(rb"<!--edge:([A-Za-z0-9_.\-]{1,48}?)-->")


def encode_values(values: Mapping[str, str], charset: str = "utf-8") -> dict[bytes, bytes]:
    """Return ``{name: escaped value}`` as bytes in ``charset`` (unencodable → character references)."""
    out: dict[bytes, bytes] = {}
    for name, value in values.items():
        key = name.encode("ascii", "ignore")
        if _NAME.match(key):
            out[key] = html.escape(value, quote=True).encode(charset, "xmlcharrefreplace")
    return out


class SlotFiller:
    """Replace markers in a byte stream fed chunk by chunk; ``flush`` at the end."""

    __slots__ = ("_values", "_carry", "filled")

    def __init__(self, values: Mapping[bytes, bytes]) -> None:
        self._values = values
        self._carry = b""
        self.filled = 0

    def feed(self, chunk: bytes) -> bytes:
        """Return the output that is final after ``chunk``; keep a possible partial marker."""
        data = self._carry + chunk if self._carry else chunk
        self._carry = b""
        values = self._values
        out: list[bytes] = []
        pos = 0
        n = len(data)
        while True:
            start = data.find(_OPEN, pos)
            if start < 0:
                # Keep a tail that may be the beginning of "<!--edge:". Such a
                # tail starts with the only "<" of the opener: the last "<".
                keep = 0
                last = data.rfind(b"<", max(pos, n - len(_OPEN) + 1))
                if last >= 0 and _OPEN.startswith(data[last:]):
                    keep = n - last
                out.append(data[pos:n - keep])
                self._carry = data[n - keep:]
                break
            name_start = start + len(_OPEN)
            end = data.find(_CLOSE, name_start, name_start + _WINDOW)
            if end < 0:
                if n < name_start + _WINDOW:
                    out.append(data[pos:start])  # may still complete: hold it back
                    self._carry = data[start:]
                    break
                out.append(data[pos:name_start])  # too long to be a marker
                pos = name_start
                continue
            name = data[name_start:end]
            value = values.get(name)
            if value is None:
                if not _NAME.match(name):
                    out.append(data[pos:name_start])  # not a marker; rescan after the opener
                    pos = name_start
                    continue
                out.append(data[pos:end + 3])  # a marker without a value stays
            else:
                out.append(data[pos:start])
                out.append(value)
                self.filled += 1
            pos = end + 3
        return b"".join(out)

    def flush(self) -> bytes:
        """Return what is held back at the end of the stream (an unfinished marker, as is)."""
        carry, self._carry = self._carry, b""
        return carry


async def fill_stream(source: AsyncIterable[bytes], filler: SlotFiller) -> AsyncIterator[bytes]:
    """Yield ``source`` with its markers filled, chunk by chunk."""
    try:
        async for chunk in source:
            out = filler.feed(chunk)
            if out:
                yield out
        tail = filler.flush()
        if tail:
            yield tail
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
