"""The rules-language tokenizer as it was before it became one pattern: the test reference.

One regex per token kind, tried in turn, then the symbols one by one.
Strings are read by the shipped ``_string`` (unchanged); everything else is
this module's. Returns (kind, value, pos) triples, or the RuleError raised.
"""

from __future__ import annotations

import re

from edgeline.filtering._errors import RuleError
from edgeline.filtering._parse import _string

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,3})?(?![\w.:/])")
_IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*(?:/\d{1,3})?")
_INT = re.compile(r"-?\d+(?![\w.])")
_SPACE = re.compile(r"(?:\s+|#[^\n]*)+")
_SYMBOLS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]",
            "{", "}", ",", "$")


def tokens(source: str) -> list[tuple[str, object, int]]:
    """Return the tokens of ``source``; raise RuleError where the old tokenizer did."""
    out: list[tuple[str, object, int]] = []
    pos = 0
    end = len(source)
    while True:
        space = _SPACE.match(source, pos)
        if space:
            pos = space.end()
        if pos >= end:
            out.append(("end", "", pos))
            return out
        char = source[pos]
        if char == '"' or (char == "r" and source.startswith('r"', pos)):
            token, pos = _string(source, pos)
            out.append((token.kind, token.value, token.pos))
            continue
        match = _IPV6.match(source, pos)
        if match and match.group().count(":") >= 2:
            out.append(("net", match.group(), pos))
            pos = match.end()
            continue
        match = _IPV4.match(source, pos)
        if match:
            out.append(("net", match.group(), pos))
            pos = match.end()
            continue
        match = _INT.match(source, pos)
        if match:
            out.append(("int", int(match.group()), pos))
            pos = match.end()
            continue
        match = _NAME.match(source, pos)
        if match:
            out.append(("name", match.group(), pos))
            pos = match.end()
            continue
        for symbol in _SYMBOLS:
            if source.startswith(symbol, pos):
                out.append(("sym", symbol, pos))
                pos += len(symbol)
                break
        else:
            if char == "=":
                raise RuleError("'=' is not an operator (use '==')", source, pos)
            if char in "&|":
                raise RuleError(f"'{char}' is not an operator (use '{char * 2}')", source, pos)
            raise RuleError(f"unexpected character {char!r}", source, pos)
