"""Normalize a request's path, query and host before any rule or signature sees them.

A rule written against the normal form cannot be bypassed by spelling the
same resource differently: ``/ADMIN`` stays distinct (paths are case
sensitive, RFC 3986 §6.2.2.1), but ``/a/./b``, ``/a//b``, ``/a\\b``,
``/%61dmin``, ``/admin%2f..%2fsecret`` and ``/%c0%ae%c0%ae/`` all reach the
rules as the path the origin would serve.

Steps, in order (each one sets a flag, for the protocol-anomaly rules):

1. percent-decoding, exactly once (RFC 3986 §2.1); a ``%`` not followed by
   two hex digits is kept as it is (``BAD_PERCENT``); a decoded ``%`` that
   starts another escape is ``DOUBLE_ENCODED`` (``%252e``);
2. UTF-8 decoding; overlong forms (``%c0%ae`` for ``.``, RFC 3629 §10) are
   decoded to the character they spell (``OVERLONG``) so they cannot hide a
   dot or a slash; other invalid bytes become U+FFFD (``BAD_UTF8``);
3. NUL and other C0 controls are removed (``NUL``, ``CONTROL``): a C
   origin would stop reading at the NUL;
4. ``\\`` is read as ``/`` (``BACKSLASH``), as IIS and many frameworks do;
5. runs of ``/`` become one (``DOUBLE_SLASH``);
6. dot segments are removed (RFC 3986 §5.2.4, ``DOT_SEGMENT``); one that
   would climb above the root is ``TRAVERSAL``.

An encoded slash (``%2f``) becomes a plain slash in step 1 (``ENCODED_SLASH``)
and so takes part in steps 5 and 6.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "BACKSLASH",
    "BAD_PERCENT",
    "BAD_UTF8",
    "CONTROL",
    "DOT_SEGMENT",
    "DOUBLE_ENCODED",
    "DOUBLE_SLASH",
    "ENCODED_SLASH",
    "FLAG_NAMES",
    "NUL",
    "OVERLONG",
    "TRAVERSAL",
    "decode_component",
    "normalize_host",
    "normalize_path",
    "parse_query",
]

ENCODED_SLASH: Final = 1
NUL: Final = 2
DOT_SEGMENT: Final = 4
DOUBLE_SLASH: Final = 8
BACKSLASH: Final = 16
OVERLONG: Final = 32
BAD_UTF8: Final = 64
BAD_PERCENT: Final = 128
DOUBLE_ENCODED: Final = 256
CONTROL: Final = 512
TRAVERSAL: Final = 1024

FLAG_NAMES: Final = {
    ENCODED_SLASH: "encoded_slash", NUL: "nul", DOT_SEGMENT: "dot_segment",
    DOUBLE_SLASH: "double_slash", BACKSLASH: "backslash", OVERLONG: "overlong_utf8",
    BAD_UTF8: "bad_utf8", BAD_PERCENT: "bad_percent", DOUBLE_ENCODED: "double_encoded",
    CONTROL: "control_char", TRAVERSAL: "traversal",
}

_HEX: Final = frozenset("0123456789abcdefABCDEF")
_DOUBLE = re.compile(r"%25[0-9A-Fa-f]{2}")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PATH_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
# Overlong UTF-8 (RFC 3629 §3 forbids them): C0/C1 lead bytes, E0 followed by 80-9F,
# F0 followed by 80-8F.
_OVERLONG = re.compile(
    rb"[\xc0\xc1][\x80-\xbf]|\xe0[\x80-\x9f][\x80-\xbf]|\xf0[\x80-\x8f][\x80-\xbf]{2}")


def _overlong_char(match: re.Match[bytes]) -> bytes:
    raw = match.group()
    if len(raw) == 2:
        code = ((raw[0] & 0x1F) << 6) | (raw[1] & 0x3F)
    elif len(raw) == 3:
        code = ((raw[0] & 0x0F) << 12) | ((raw[1] & 0x3F) << 6) | (raw[2] & 0x3F)
    else:
        code = (((raw[0] & 0x07) << 18) | ((raw[1] & 0x3F) << 12) | ((raw[2] & 0x3F) << 6)
                | (raw[3] & 0x3F))
    return chr(code).encode()


def decode_component(text: str, *, plus: bool = False) -> tuple[str, int]:
    """Percent-decode ``text`` once; return the text and the flags it raised.

    ``plus``: read ``+`` as a space (``application/x-www-form-urlencoded``).
    """
    flags = 0
    if plus and "+" in text:
        text = text.replace("+", " ")
    if "%" in text:
        if _DOUBLE.search(text):
            flags |= DOUBLE_ENCODED
        # A '%' not starting a valid escape is kept literally (browsers do the same).
        parts = text.split("%")
        for part in parts[1:]:
            if len(part) < 2 or part[0] not in _HEX or part[1] not in _HEX:
                flags |= BAD_PERCENT
                break
        data = _unquote_bytes(text)
        if b"/" in data and re.search(r"%2[fF]", text):
            flags |= ENCODED_SLASH
        if data.isascii():
            text = data.decode("ascii")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                fixed = _OVERLONG.sub(_overlong_char, data)
                if fixed != data:
                    flags |= OVERLONG
                try:
                    text = fixed.decode("utf-8")
                except UnicodeDecodeError:
                    flags |= BAD_UTF8
                    text = fixed.decode("utf-8", errors="replace")
    elif not text.isascii():
        # Raw non-ASCII in a URL: keep it; it is already text.
        pass
    if "\x00" in text:
        flags |= NUL
        text = text.replace("\x00", "")
    if _CONTROLS.search(text):
        flags |= CONTROL
    return text, flags


def _unquote_bytes(text: str) -> bytes:
    out = bytearray()
    parts = text.split("%")
    out += parts[0].encode("utf-8", errors="surrogatepass")
    for part in parts[1:]:
        if len(part) >= 2 and part[0] in _HEX and part[1] in _HEX:
            out.append(int(part[:2], 16))
            out += part[2:].encode("utf-8", errors="surrogatepass")
        else:
            out += b"%" + part.encode("utf-8", errors="surrogatepass")
    return bytes(out)


def _remove_dots(path: str) -> tuple[str, bool]:
    """RFC 3986 §5.2.4 over a path already split on '/'; True if it climbed above root."""
    output: list[str] = []
    above = False
    segments = path.split("/")
    last = len(segments) - 1
    for index, segment in enumerate(segments[1:], 1):
        if segment == ".":
            if index == last:
                output.append("")
            continue
        if segment == "..":
            if output:
                output.pop()
            else:
                above = True
            if index == last:
                output.append("")
            continue
        output.append(segment)
    return "/" + "/".join(output), above


def normalize_path(raw: str) -> tuple[str, int]:
    """Return the normal form of a request path and the flags it raised."""
    if not raw:
        return "/", 0
    # PERF: most paths need none of the steps.
    if ("%" not in raw and "\\" not in raw and "//" not in raw and "/." not in raw
            and raw[0] == "/" and raw.isascii() and raw.isprintable()):
        return raw, 0
    text, flags = decode_component(raw)
    if _PATH_CONTROLS.search(text):
        # A CR or LF in a path is an attempt at header injection (RFC 9112 §2.2).
        flags |= CONTROL
        text = _PATH_CONTROLS.sub("", text)
    if "\\" in text:
        flags |= BACKSLASH
        text = text.replace("\\", "/")
    if not text.startswith("/"):
        text = "/" + text
    if "//" in text:
        flags |= DOUBLE_SLASH
        text = re.sub(r"/{2,}", "/", text)
    if "/." in text:
        segments = text.split("/")
        if "." in segments or ".." in segments:
            flags |= DOT_SEGMENT
            text, above = _remove_dots(text)
            if above:
                flags |= TRAVERSAL
    return text, flags


def parse_query(query: str) -> tuple[list[tuple[str, str]], int]:
    """Split a query string into decoded (name, value) pairs; ``+`` is a space."""
    pairs: list[tuple[str, str]] = []
    flags = 0
    if not query:
        return pairs, 0
    if "%" not in query and query.isprintable():
        # PERF: no escape to decode and (printable) no NUL or control character to flag.
        plus = "+" in query
        for piece in query.split("&"):
            if piece:
                name, _, value = piece.partition("=")
                if plus:
                    name, value = name.replace("+", " "), value.replace("+", " ")
                pairs.append((name, value))
        return pairs, 0
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        name, name_flags = decode_component(name, plus=True)
        value, value_flags = decode_component(value, plus=True)
        flags |= name_flags | value_flags
        pairs.append((name, value))
    return pairs, flags


def normalize_host(host: str) -> str:
    """Lower-case a host, drop its port and a trailing dot (RFC 3986 §6.2.2.1)."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    host = host.partition(":")[0]
    return host[:-1] if host.endswith(".") else host
