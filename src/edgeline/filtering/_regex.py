"""Compile the regexes of ``matches`` only when they cannot backtrack catastrophically.

Python's ``re`` backtracks, so a pattern like ``(a+)+$`` takes exponential
time on ``aaaa...!``. A stored rule runs on every request of every isolate,
so a pattern is refused at load, before it can run, when it has:

* a backreference (``\\1``, ``(?P=name)``, ``(?(1)...)``): no linear-time
  engine can run those;
* a quantifier over something that itself holds an unbounded quantifier
  (``(a+)+``, ``(?:x*y)*``): exponential;
* an unbounded quantifier over an alternation whose branches can begin with
  the same character (``(a|ab)*``, ``(\\w|-)+``): exponential; write a
  character class (``[\\w-]+``) instead;
* two unbounded quantifiers next to each other whose characters overlap
  (``\\d+\\d*``, ``.*\\s*``): polynomial;
* a counted repeat above 1000 (``a{1,100000}``);
* two unbounded quantifiers over overlapping characters with only
  characters both could match between them (``.*a.*b``): polynomial;
* more than 4 unbounded quantifiers in total.

A leading ``.*`` is dropped: ``matches`` searches anywhere, so it changes
nothing but the cost. Subjects are bounded: a regex sees at most
:data:`MAX_SUBJECT` characters (``pattern.search(text, 0, MAX_SUBJECT)``),
which caps the quadratic cost of the search restarting at every offset
(``\\d+x`` over a long run of digits: about 3 ms at 1024 characters, 50 ms
at 4096, measured in CPython 3.11). Match longer values with ``contains``,
``starts_with`` and ``ends_with``, which have no such limit.
"""

from __future__ import annotations

import re
from typing import Any, Final

try:
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # NOTE: Python < 3.11 spells them sre_*.
    import sre_constants as _c  # type: ignore[no-redef, unused-ignore]
    import sre_parse as _p  # type: ignore[no-redef, unused-ignore]

__all__ = ["MAX_SUBJECT", "RegexRejected", "compile_safe", "literal_prefix"]

MAX_SUBJECT: Final = 1024
_MAX_COUNT: Final = 1000
_MAX_UNBOUNDED: Final = 4
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT}
if hasattr(_c, "POSSESSIVE_REPEAT"):
    _REPEATS.add(_c.POSSESSIVE_REPEAT)
_ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}
_ALL: Final = "all"


class RegexRejected(ValueError):
    """A pattern is refused; ``offset`` is where in the pattern, when known."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


def _unbounded(maximum: int) -> bool:
    return maximum == _c.MAXREPEAT


def _first_chars(items: list[tuple[Any, Any]]) -> Any:
    """Return the set of characters a sequence can start with, or _ALL if broad."""
    for op, arg in items:
        if op in _ZERO_WIDTH:
            continue
        if op is _c.LITERAL:
            return {arg}
        if op is _c.SUBPATTERN:
            return _first_chars(list(arg[-1]))
        if op is _c.IN:
            chars: set[int] = set()
            for kind, value in arg:
                if kind is _c.LITERAL:
                    chars.add(value)
                elif kind is _c.RANGE and value[1] - value[0] < 256:
                    chars.update(range(value[0], value[1] + 1))
                else:
                    return _ALL
            return chars
        if op in _REPEATS:
            low, _high, item = arg
            first = _first_chars(list(item))
            if low == 0:
                return _ALL  # may be skipped: what follows can start as well
            return first
        return _ALL
    return set()


def _item_chars(item: list[tuple[Any, Any]]) -> Any:
    """Characters a repeated item can consume (approximate: a single op or _ALL)."""
    if len(item) == 1:
        return _first_chars(item)
    return _ALL


def _overlap(a: Any, b: Any) -> bool:
    if a is _ALL or b is _ALL:
        return True
    return bool(a & b)


class _Checker:
    __slots__ = ("unbounded",)

    def __init__(self) -> None:
        self.unbounded = 0

    def sequence(self, items: list[tuple[Any, Any]], inside_repeat: bool) -> bool:
        """Check a sequence; return True if it holds an unbounded quantifier."""
        has_unbounded = False
        previous: Any = None  # chars of the last unbounded repeat still "open"
        for op, arg in items:
            if op is _c.GROUPREF or op is _c.GROUPREF_EXISTS:
                raise RegexRejected("backreferences are not allowed (they cannot run in linear time)")
            if op in _REPEATS:
                low, high, item = arg
                item = list(item)
                if high != _c.MAXREPEAT and high > _MAX_COUNT:
                    raise RegexRejected(f"a counted repeat above {_MAX_COUNT} ({{{low},{high}}})")
                inner = self.sequence(item, inside_repeat or high > 1)
                if high > 1 and inner:
                    raise RegexRejected(
                        "nested quantifiers (a repeated group holding '+', '*' or '{n,}') can "
                        "backtrack exponentially")
                if _unbounded(high):
                    self.unbounded += 1
                    has_unbounded = True
                    for sub_op, sub_arg in item:
                        if sub_op is _c.SUBPATTERN:
                            sub_items = list(sub_arg[-1])
                            if any(o is _c.BRANCH for o, _ in sub_items):
                                self._check_branch(sub_items)
                        elif sub_op is _c.BRANCH:
                            self._check_branch([(sub_op, sub_arg)])
                    chars = _item_chars(item)
                    if previous is not None and _overlap(previous, chars):
                        raise RegexRejected(
                            "two unbounded quantifiers in a row match the same characters "
                            "(polynomial backtracking); merge them")
                    previous = chars
                elif low == 0:
                    continue  # optional: does not close the open repeat
                else:
                    previous = None
                continue
            if op in _ZERO_WIDTH:
                if op is not _c.AT:
                    if self.sequence(list(arg[1]), inside_repeat):
                        has_unbounded = True
                continue
            if op is _c.SUBPATTERN:
                if self.sequence(list(arg[-1]), inside_repeat):
                    has_unbounded = True
                previous = None
                continue
            if op is _c.BRANCH:
                for branch in arg[1]:
                    if self.sequence(list(branch), inside_repeat):
                        has_unbounded = True
                previous = None
                continue
            if hasattr(_c, "ATOMIC_GROUP") and op is _c.ATOMIC_GROUP:
                self.sequence(list(arg), inside_repeat)
                previous = None
                continue
            # A character the open repeat could also consume leaves it open:
            # ".*a.*b" backtracks like ".*.*b".
            if previous is not None and not _overlap(previous, _first_chars([(op, arg)])):
                previous = None
        return has_unbounded

    @staticmethod
    def _check_branch(items: list[tuple[Any, Any]]) -> None:
        for op, arg in items:
            if op is not _c.BRANCH:
                continue
            seen: set[int] = set()
            for branch in arg[1]:
                first = _first_chars(list(branch))
                if first is _ALL or (first & seen) or not first:
                    raise RegexRejected(
                        "a repeated alternation whose branches can start with the same "
                        "character backtracks exponentially; use a character class")
                seen |= first


def literal_prefix(pattern: re.Pattern[str]) -> str:
    """Return the literal text an anchored (``^...``) pattern must start with, or ""."""
    if pattern.flags & (re.IGNORECASE | re.MULTILINE | re.VERBOSE):
        return ""
    try:
        items = list(_p.parse(pattern.pattern, pattern.flags))
    except re.error:
        return ""
    if not items or items[0] != (_c.AT, _c.AT_BEGINNING):
        return ""
    prefix = []
    for op, arg in items[1:]:
        if op is not _c.LITERAL:
            break
        prefix.append(chr(arg))
    return "".join(prefix)


def compile_safe(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile ``pattern`` if it is safe to run on untrusted input; raise RegexRejected."""
    if len(pattern) > 1024:
        raise RegexRejected("pattern longer than 1024 characters", 1024)
    flags = re.IGNORECASE if ignore_case else 0
    try:
        parsed = _p.parse(pattern, flags)
    except re.error as exc:
        raise RegexRejected(f"invalid regex: {exc.msg}", exc.pos or 0) from None
    checker = _Checker()
    checker.sequence(list(parsed), False)
    if checker.unbounded > _MAX_UNBOUNDED:
        raise RegexRejected(f"more than {_MAX_UNBOUNDED} unbounded quantifiers")
    if pattern.startswith(".*"):
        # PERF: a leading ".*" only makes search() retry longer; the verdict is the same.
        stripped = pattern[3:] if pattern.startswith(".*?") else pattern[2:]
        if stripped and stripped[0] not in "*+?{":
            pattern = stripped
    return re.compile(pattern, flags)
