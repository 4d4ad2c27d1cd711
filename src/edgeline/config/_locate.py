"""Find the line of a field path (``$.routes[3].action``) in JSON or TOML source text.

Only used on the error path: a configuration that failed to decode or
compile is scanned once more to tell the operator where the field is.
msgspec reports the path but not the position; the JSON scanner here follows
the path through the text exactly. TOML has no position-keeping parser in the
standard library, so its lines are found by matching table headers and
``key =`` lines in order: right for the shapes a configuration has (arrays of
tables, sub-tables, inline tables), best effort beyond them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

__all__ = ["line_of", "parse_path"]

Part = str | int

_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[\.\.\.\]")
# A JSON token: a string (possibly unterminated), a structural character, or a bare word.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def parse_path(path: str) -> list[Part]:
    """Split ``$.a[2].b`` into ``["a", 2, "b"]``; ``[...]`` (a dict key) ends the path."""
    parts: list[Part] = []
    for match in _PATH_PART.finditer(path, 1 if path.startswith("$") else 0):
        key, index = match.group(1), match.group(2)
        if key is not None:
            parts.append(key)
        elif index is not None:
            parts.append(int(index))
        else:
            break
    return parts


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _json_offset(text: str, parts: list[Part]) -> int:
    """Return the offset of the deepest part of ``parts`` found in the JSON ``text``."""
    tokens: Iterator[re.Match[str]] = _TOKEN.finditer(text)
    best = 0
    tok = next(tokens, None)
    if tok is not None:
        best = tok.start()

    def skip(tok: re.Match[str] | None) -> re.Match[str] | None:
        # Consume one value starting at ``tok``; return the token after it.
        depth = 0
        while tok is not None:
            t = tok.group()
            if t == "{" or t == "[":
                depth += 1
            elif t == "}" or t == "]":
                depth -= 1
            tok = next(tokens, None)
            if depth <= 0:
                return tok
        return None

    for part in parts:
        if tok is None:
            break
        found = False
        if isinstance(part, str):
            if tok.group() != "{":
                break
            tok = next(tokens, None)
            while tok is not None and tok.group() != "}":
                key_tok = tok
                try:
                    key = json.loads(key_tok.group())
                except ValueError:
                    key = None
                tok = next(tokens, None)  # ':'
                if tok is None or tok.group() != ":":
                    break
                tok = next(tokens, None)
                if key == part:
                    best, found = key_tok.start(), True
                    break
                tok = skip(tok)
                if tok is not None and tok.group() == ",":
                    tok = next(tokens, None)
        else:
            if tok.group() != "[":
                break
            tok = next(tokens, None)
            index = 0
            while tok is not None and tok.group() != "]":
                if index == part:
                    best, found = tok.start(), True
                    break
                tok = skip(tok)
                if tok is not None and tok.group() == ",":
                    tok = next(tokens, None)
                index += 1
        if not found:
            break
    return best


def _toml_offset(text: str, parts: list[Part]) -> int:
    """Return the offset of the deepest part of ``parts`` found in the TOML ``text``."""
    pos = 0
    best = 0
    header: re.Pattern[str] | None = None
    for part in parts:
        if isinstance(part, str):
            key = re.escape(part)
            pattern = re.compile(
                rf'^[ \t]*(?P<h>\[\[?[ \t]*(?:[\w."$-]+\.)?"?{key}"?[ \t]*\]\]?)'
                rf'|^[ \t]*"?{key}"?[ \t]*='
                rf'|[{{,][ \t]*"?{key}"?[ \t]*=',
                re.M,
            )
            match = pattern.search(text, pos)
            if match is None:
                break
            best = pos = match.start() if match.group("h") else match.start()
            header = None
            if match.group("h") and match.group("h").lstrip().startswith("[["):
                # The next index counts occurrences of this same [[array.of.tables]] header.
                header = re.compile(r"^[ \t]*" + re.escape(match.group("h").strip()) + r"[ \t]*$",
                                    re.M)
        else:
            if header is None:
                continue  # an inline array: the key's line is as close as we get
            match = None
            start = pos
            for _ in range(part + 1):
                match = header.search(text, start)
                if match is None:
                    break
                start = match.end()
            if match is None:
                break
            best = pos = match.start()
            header = None
    # Point at the first non-blank character of the found line.
    return best + (len(text[best:]) - len(text[best:].lstrip(" \t,{")))


def line_of(text: str, path: str, *, toml: bool = False) -> int:
    """Return the 1-based line of the field at ``path`` (or of its deepest found parent)."""
    parts = parse_path(path)
    offset = _toml_offset(text, parts) if toml else _json_offset(text, parts)
    return _line(text, offset)
