"""Derive a cheap screening regex from a set of signatures: a necessary condition for any match.

Most inspected values are benign and match no signature, yet checking one
value against every signature of its class costs dozens of regex searches.
A *screen* is one regex per class whose search is necessary for any of the
class's signatures to match: when the screen finds nothing, none of them can,
and the individual signatures are skipped.

The screen is derived from the signatures' own parse trees (``re._parser``),
not written by hand, so it cannot drift from them. For each node the
analysis computes one of:

``Exact(S)``  every string the node matches is matched by one of the simple
              patterns in ``S`` (literal text and whitespace runs), e.g.
              ``union\\s*select``;
``Need(C)``   a list of clauses; every string the node matches contains, for
              each clause, a substring matched by one of its simple patterns.

``\\b``, ``^`` and lookaheads of exact text are kept as they are (the screen
is searched in the same text, so they hold for it wherever they held for
the signature); other assertions are dropped; unbounded or broad parts
(``.*``, ``[^>]*``, ``\\w+``) break a run of exact text into separate
clauses, and each signature keeps its most selective clause (the one that
fires on the fewest of :data:`BENIGN_SAMPLE`); the screen is the alternation
of those clauses. Dropping or widening parts only ever makes the screen
match more, never less. ``tests/filtering/test_managed_screen.py`` checks
this on the attack corpus and on generated strings.

PERF (startup): deriving the screens of a rule set costs about as much as
compiling them (tens of milliseconds under CPython, several times that
under Pyodide). The screens of the built-in rule sets (paranoia 1 to 4, no
exclusions) are derived ahead of time into :mod:`._screens_data`, keyed by a
digest of the patterns they screen; ``screen_for`` takes them from there
and derives only what the table lacks (a rule set with exclusions, say).
``python -m edgeline.filtering._prefilter`` rewrites the table;
``tests/filtering/test_managed_screen.py`` checks that it equals derivation.

Character classes are read over ASCII (``\\d`` as ``[0-9]``): the screen is
only valid for ASCII text, and callers must not skip signatures for any
other value. Whitespace becomes ``\\s+`` / ``\\s*``, so the screen keeps its
meaning on text whose whitespace was rewritten.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

# The regex parser of CPython 3.11+ (also Pyodide's): parse trees are untyped tuples.
_sre_parse: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

__all__ = ["BENIGN_SAMPLE", "Screen", "Unscreenable", "best_clause", "clauses_of", "literal_alternation",
           "screen_for"]

WS0: Final = 0  # \s* (any whitespace run, possibly empty)
WS1: Final = 1  # \s+ (at least one whitespace character)



class Raw(str):
    """A zero-width regex snippet kept verbatim in a simple pattern (``^``, a lookahead)."""

    __slots__ = ()


Token = str | int
Seq = tuple[Token, ...]
Clause = frozenset[Seq]

MAX_EXACT: Final = 256
"""Most alternatives an exact set may hold before it is cut into clauses."""
MAX_CLASS: Final = 16
"""Most non-space characters a class may hold and still count as exact."""

_ASCII: Final = [chr(i) for i in range(128)]
_SPACE_RE: Final = re.compile(r"\s")
# The ASCII characters of each category escape (PERF: read once, not per class).
_CATEGORY_CHARS: Final = {
    category: frozenset(ch for ch in _ASCII if re.match(escape, ch))
    for category, escape in ((_c.CATEGORY_DIGIT, r"\d"), (_c.CATEGORY_NOT_DIGIT, r"\D"),
                             (_c.CATEGORY_SPACE, r"\s"), (_c.CATEGORY_NOT_SPACE, r"\S"),
                             (_c.CATEGORY_WORD, r"\w"), (_c.CATEGORY_NOT_WORD, r"\W"))
}

# Lower-cased, decoded values that real traffic sends all the time: user agents,
# referers, cookie and query values, JSON-ish headers. Used only to choose which of a
# signature's necessary clauses screens best; correctness never depends on it.
BENIGN_SAMPLE: Final = (
    "mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36 (khtml, like gecko) "
    "chrome/124.0.0.0 safari/537.36",
    "mozilla/5.0 (macintosh; intel mac os x 10_15_7) applewebkit/605.1.15 (khtml, like gecko) "
    "version/17.4 safari/605.1.15",
    "mozilla/5.0 (linux; android 14; pixel 8) applewebkit/537.36 (khtml, like gecko) "
    "chrome/124.0.0.0 mobile safari/537.36",
    "mozilla/5.0 (iphone; cpu iphone os 17_4 like mac os x) applewebkit/605.1.15 "
    "(khtml, like gecko) version/17.4 mobile/15e148 safari/604.1",
    "mozilla/5.0 (x11; ubuntu; linux x86_64; rv:125.0) gecko/20100101 firefox/125.0",
    "mozilla/5.0 (compatible; googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0", "wrk", "okhttp/4.12.0", "python-requests/2.31.0",
    "https://shop.example.com/category/shoes?page=1&sort=price_asc",
    "https://www.google.com/", "https://example.org/search?q=running+shoes&lang=en-us",
    "https://app.example.com/orders/2024/11/details#summary",
    '{"country":"us","colo":"iad"}', '{"id":42,"name":"ada","tags":["a","b"]}',
    "ga1.2.1234567890.1700000000", "s%3a8f3a9c2e71b04d55.aq8k", "eyjhbgcioijiuzi1nij9.eyjzdwiioiixmjm0in0.sig",
    "en-us,en;q=0.9,de;q=0.8", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "/products/running-shoes", "/api/v1/users/9/orders", "/static/app.3f2a.js",
    "ada@example.com", "2024-11-21t06:14:52z", "red, blue & green", "o'brien", "men's shoes",
    "rock & roll", "new york, ny", "100% cotton", "c++ tutorial", "why is my code slow?",
    "select a color", "order by price", "id", "session=abc; theme=dark",
    "bytes=0-1023", "max-age=0", "no-cache", "1.2.3.4, 10.0.0.1", "xmlhttprequest",
)


class Unscreenable(ValueError):
    """A pattern uses a construct the analysis does not model (the screen is then skipped)."""


class _Exact:
    # ``seqs`` must already be normalized (see ``_normalize``): every producer below builds
    # them from normalized parts with ``_join``. PERF: renormalizing here was most of the
    # derivation's cost.
    __slots__ = ("seqs",)

    def __init__(self, seqs: Iterable[Seq]) -> None:
        self.seqs = frozenset(seqs)


class _Need:
    # ``prefix``: when known, every matched string starts with text one of these
    # simple patterns matches in full (lets ";\s*" stay in front of "drop\s+table").
    __slots__ = ("clauses", "prefix")

    def __init__(self, clauses: Iterable[Clause], prefix: Iterable[Seq] | None = None) -> None:
        self.clauses = [c for c in clauses if c]
        self.prefix = None if prefix is None else frozenset(prefix)


_Info = _Exact | _Need


def _normalize(seq: Seq) -> Seq:
    """Merge adjacent literal text and adjacent whitespace runs."""
    out: list[Token] = []
    for token in seq:
        if isinstance(token, Raw):
            pass
        elif isinstance(token, str):
            if not token:
                continue
            if out and _is_text(out[-1]):
                out[-1] = out[-1] + token  # type: ignore[operator]
                continue
        elif out and isinstance(out[-1], int):
            # \s*\s+ and \s+\s+ both widen to \s+ (a superset); \s*\s* is \s*.
            out[-1] = max(out[-1], token)
            continue
        out.append(token)
    return tuple(out)


_EMPTY: Final = _Exact([()])


def _as_clause(seqs: Iterable[Seq]) -> Clause:
    """Turn full-match patterns into a substring clause; empty if it says nothing."""
    out: set[Seq] = set()
    for seq in seqs:
        while seq and seq[0] == WS0:
            seq = seq[1:]
        while seq and seq[-1] == WS0:
            seq = seq[:-1]
        if not any(_is_text(t) for t in seq):
            return frozenset()  # one alternative needs no text at all: no constraint
        out.add(seq)
    # A pure literal that contains another pure literal adds nothing to the clause.
    literals = [s[0] for s in out if len(s) == 1 and isinstance(s[0], str) and _is_text(s[0])]
    drop = {(a,) for a in literals for b in literals if a != b and b in a}
    return frozenset(out - drop)


def _is_text(token: Token) -> bool:
    return isinstance(token, str) and not isinstance(token, Raw)


def _class_chars(items: Any) -> set[str]:
    negate = False
    chars: set[str] = set()
    for op, arg in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            chars.add(chr(arg))
        elif op is _c.RANGE:
            lo, hi = arg
            chars.update(ch for ch in _ASCII if lo <= ord(ch) <= hi)
        elif op is _c.CATEGORY:
            chars |= _CATEGORY_CHARS[arg]
        else:
            raise Unscreenable(f"character class item {op}")
    chars = {ch for ch in chars if ch.isascii()}
    return set(_ASCII) - chars if negate else chars


def _chars_info(chars: set[str]) -> _Info:
    spaces = {ch for ch in chars if _SPACE_RE.match(ch)}
    others = chars - spaces
    if len(others) > MAX_CLASS:
        return _Need([])
    seqs: list[Seq] = [(ch,) for ch in others]
    if spaces:
        seqs.append((WS1,))
    return _Exact(seqs)


def _join(a: Seq, b: Seq) -> Seq:
    """Return ``_normalize(a + b)`` for two normalized sequences (only the seam can merge).

    PERF: the derivation crosses sets of up to MAX_EXACT sequences; renormalizing
    whole sequences there was most of its cost.
    """
    if not a:
        return b
    if not b:
        return a
    last, first = a[-1], b[0]
    if isinstance(last, int) and isinstance(first, int):
        return a[:-1] + (max(last, first),) + b[1:]
    if _is_text(last) and _is_text(first):
        return a[:-1] + (last + first,) + b[1:]  # type: ignore[operator]
    return a + b


def _cross(left: Iterable[Seq], right: Iterable[Seq]) -> set[Seq]:
    right = tuple(right)
    return {_join(a, b) for a in left for b in right}


def _concat(infos: Iterable[_Info]) -> _Info:
    clauses: list[Clause] = []
    current: set[Seq] = {()}
    exact = True
    prefix: set[Seq] | None = None  # of the whole sequence, once the exact run ends
    for info in infos:
        if isinstance(info, _Exact):
            if len(current) * max(len(info.seqs), 1) <= MAX_EXACT:
                current = _cross(current, info.seqs)
                continue
            if exact:
                prefix = set(current)
            clauses.append(_as_clause(current))
            current = set(info.seqs)
            exact = False
            continue
        # The exact text so far is followed at once by the start of this part.
        head = current
        if info.prefix is not None and len(current) * len(info.prefix) <= MAX_EXACT:
            head = _cross(current, info.prefix)
        if exact:
            prefix = set(head)
        exact = False
        clauses.append(_as_clause(head))
        clauses.extend(info.clauses)
        current = {()}
    if exact:
        return _Exact(current)
    clauses.append(_as_clause(current))
    return _Need(clauses, prefix)


def _info(node: Any) -> _Info:
    """Return what a parsed (sub)pattern guarantees about every string it matches."""
    if isinstance(node, (list, _sre_parse.SubPattern)):
        return _concat(_info(item) for item in node)
    op: Any
    arg: Any
    op, arg = node
    if op is _c.LITERAL:
        ch = chr(arg)
        if not ch.isascii():
            return _Need([])
        return _Exact([(WS1,)]) if _SPACE_RE.match(ch) else _Exact([(ch,)])
    if op is _c.IN:
        return _chars_info(_class_chars(arg))
    if op in (_c.NOT_LITERAL, _c.ANY):
        return _Need([])
    if op is _c.AT and arg is _c.AT_BEGINNING:
        return _Exact([(Raw("^"),)])
    if op is _c.AT and arg is _c.AT_BOUNDARY:
        # Kept: the screen is searched in the same text, so a boundary the signature needs is
        # there for the screen too, and a leading one lets the search skip mid-word positions.
        return _Exact([(Raw(r"\b"),)])
    if op is _c.ASSERT and arg[0] == 1:
        # A lookahead whose text is exact stays (as a lookahead); else it is dropped.
        inner = _info(arg[1])
        if isinstance(inner, _Exact) and inner.seqs and len(inner.seqs) <= MAX_CLASS:
            return _Exact([(Raw("(?=" + _trie_regex(inner.seqs, prune=False) + ")"),)])
        return _EMPTY
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return _EMPTY  # zero-width: dropping it widens the screen
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, sub = arg
        if add_flags or del_flags:
            raise Unscreenable("inline flags")
        return _info(sub)
    if op is getattr(_c, "ATOMIC_GROUP", object()):
        return _info(arg)
    if op is _c.BRANCH:
        alternatives = [_info(alt) for alt in arg[1]]
        if all(isinstance(a, _Exact) for a in alternatives):
            seqs = set().union(*(a.seqs for a in alternatives))  # type: ignore[union-attr]
            if len(seqs) <= MAX_EXACT:
                return _Exact(seqs)
        starts: set[Seq] | None = set()
        for alternative in alternatives:
            start = alternative.seqs if isinstance(alternative, _Exact) else alternative.prefix
            if start is None or starts is None:
                starts = None
            else:
                starts |= start
        if starts is not None and len(starts) > MAX_EXACT:
            starts = None
        merged: set[Seq] = set()
        for alternative in alternatives:
            clause = _best(_clauses(alternative))
            if not clause:
                return _Need([], starts)
            merged |= clause
        return _Need([frozenset(merged)], starts)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        low, high, sub = arg
        inner = _info(sub)
        if isinstance(inner, _Exact) and inner.seqs and all(
                s and all(isinstance(t, int) for t in s) for s in inner.seqs):
            return _Exact([(WS0,) if low == 0 else (WS1,)])
        if low == 0:
            if high == 1 and isinstance(inner, _Exact):
                return _Exact(set(inner.seqs) | {()})
            return _Need([])
        if low == 1 and high == 1:
            return inner
        # At least one repetition: the text starts with one.
        start = inner.seqs if isinstance(inner, _Exact) else inner.prefix
        return _Need(_clauses(inner), start)
    raise Unscreenable(f"regex construct {op}")


def _clauses(info: _Info) -> list[Clause]:
    if isinstance(info, _Exact):
        clause = _as_clause(info.seqs)
        return [clause] if clause else []
    return info.clauses


def _atom(token: Token, single_spaces: bool = False) -> str:
    if isinstance(token, Raw):
        return str(token)
    if isinstance(token, str):
        return re.escape(token)
    if single_spaces:
        return " " if token == WS1 else " ?"
    return r"\s+" if token == WS1 else r"\s*"


def _trie_regex(seqs: Iterable[Seq], *, prune: bool = True, single_spaces: bool = False) -> str:
    """Return an alternation of ``seqs`` factored on common prefixes.

    PERF: the regex engine tries the alternatives of a group one after the
    other at every position; factored, only those sharing the text read so far
    are tried. ``prune``: a pattern that extends another adds nothing to a search.
    ``single_spaces``: the text searched has no whitespace but single spaces, so a
    whitespace run is written `` `` (PERF: a plain character, see ``render``).
    """
    root: dict[Any, Any] = {}
    end = object()
    for seq in seqs:
        node = root
        for token in seq:
            parts: list[Token] = list(token) if isinstance(token, str) and _is_text(token) else [token]
            for part in parts:
                node = node.setdefault(part, {})
                if prune and end in node:
                    break
            else:
                continue
            break
        else:
            if prune:
                node.clear()
            node[end] = {}

    def render(node: dict[Any, Any], top: bool = False) -> str:
        # PERF: every alternative starts with a plain character where possible; the regex
        # engine then skips, without trying any, positions no alternative can start at,
        # and tries alternatives by their first character. (A character class in front,
        # even a shared one like [0-9], turns both of those off.)
        branches: list[str] = []
        chars: list[str] = []
        for key in sorted((k for k in node if k is not end), key=repr):
            child = node[key]
            if _is_text(key) and list(child) == [end] and not top:
                chars.append(key)  # one character, then done: goes into a class
            else:
                branches.append(_atom(key, single_spaces) + render(child))
        if len(chars) == 1:
            branches.append(_atom(chars[0], single_spaces))
        elif chars:
            branches.append("[" + "".join("\\" + c if c in "]\\^-[" else c for c in chars) + "]")
        if end in node:
            branches.append("")
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return render(root, True)


def literal_alternation(literals: Iterable[str]) -> str:
    """Return a regex that finds any of ``literals`` (factored on common prefixes)."""
    return _trie_regex((literal,) for literal in literals if literal)


def _texts(seq: Seq) -> list[str]:
    return [t for t in seq if isinstance(t, str) and not isinstance(t, Raw)]


def _clause_regex(clause: Clause) -> str:
    return _trie_regex(clause)


def _score(clause: Clause) -> tuple[int, int, int, str]:
    # An estimate (each pattern by its longest run of text, no regex compiled): the
    # choice only affects speed, never what the screen lets through.
    keys = {max(_texts(s), key=len, default="") for s in clause}
    hits = len(frozenset().union(*map(_samples_with, keys)))
    shortest = min(sum(len(t) for t in _texts(s)) for s in clause)
    return (hits, -shortest, len(clause), min(map(repr, clause)))


@functools.lru_cache(maxsize=4096)
def _samples_with(text: str) -> frozenset[int]:
    """Return the indexes of the BENIGN_SAMPLE values containing ``text``."""
    return frozenset(i for i, sample in enumerate(BENIGN_SAMPLE) if text in sample)


def _best(clauses: list[Clause]) -> Clause:
    if not clauses:
        return frozenset()
    return min(clauses, key=_score)


def clauses_of(pattern: str) -> list[Clause]:
    """Return the necessary clauses of ``pattern`` over ASCII text (empty: none known)."""
    return _clauses(_info(_sre_parse.parse(pattern)))


@functools.lru_cache(maxsize=1024)
def best_clause(pattern: str) -> Clause:
    """Return the clause of ``pattern`` a screen uses (empty: the pattern cannot be screened)."""
    try:
        return _best(clauses_of(pattern))
    except Unscreenable:
        return frozenset()


class Screen:
    """A few regexes; ``search(text)`` is true when any of them finds something."""

    __slots__ = ("regexes",)

    def __init__(self, regexes: Iterable[re.Pattern[str]]) -> None:
        self.regexes = tuple(regexes)

    def search(self, text: str) -> bool:
        for regex in self.regexes:
            if regex.search(text):
                return True
        return False

    @property
    def pattern(self) -> str:
        return "|".join(r.pattern for r in self.regexes)


def _lead(seq: Seq, single_spaces: bool) -> str:
    first = seq[0]
    if isinstance(first, Raw):
        return str(first)
    if isinstance(first, int):
        return "symbol" if single_spaces else "space"
    return "word" if first[0].isalnum() else "symbol"


def screen_for(patterns: Iterable[str], *, single_spaces: bool = False) -> Screen | None:
    """Return a screen whose search is necessary for any of ``patterns`` to match.

    Valid for ASCII text only; with ``single_spaces``, only for text whose only
    whitespace is single spaces. None when some pattern gives no usable clause
    (the caller must then always run the full signatures).
    """
    return _screen_for(tuple(sorted(set(patterns))), single_spaces)


@functools.lru_cache(maxsize=128)
def _screen_for(patterns: tuple[str, ...], single_spaces: bool) -> Screen | None:
    table = _table()
    key = screen_key(patterns, single_spaces)
    sources = table[key] if key in table else derive_screen(patterns, single_spaces)
    return None if sources is None else Screen(re.compile(source) for source in sources)


def screen_key(patterns: tuple[str, ...], single_spaces: bool) -> str:
    """Return the key of a screen in the precomputed table: a digest of what it screens."""
    text = "\x00".join(patterns) + ("\x01s" if single_spaces else "\x01")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


_TABLE: dict[str, tuple[str, ...] | None] | None = None


def _table() -> dict[str, tuple[str, ...] | None]:
    global _TABLE
    if _TABLE is None:
        try:
            from . import _screens_data
        except ImportError:  # NOTE: a table being rewritten; derive everything
            _TABLE = {}
        else:
            _TABLE = _screens_data.SCREENS
    return _TABLE


def derive_screen(patterns: tuple[str, ...], single_spaces: bool) -> tuple[str, ...] | None:
    """Return the regex sources of the screen of ``patterns``, derived from their parse trees."""
    parts: set[Seq] = set()
    for pattern in patterns:
        clause = best_clause(pattern)
        if not clause:
            return None
        parts |= clause
    if not parts:
        return None
    # PERF: one regex per kind of first token. The engine tries every alternative of a
    # group at every position; a regex whose alternatives all start with a symbol skips
    # ordinary letters outright, and one starting with \b skips the middle of words.
    kinds: dict[str, list[Seq]] = {}
    for seq in parts:
        kinds.setdefault(_lead(seq, single_spaces), []).append(seq)
    return tuple(_trie_regex(kinds[k], single_spaces=single_spaces) for k in sorted(kinds))


def builtin_screens() -> dict[str, tuple[str, ...] | None]:
    """Derive the screens of the built-in rule sets (paranoia 1-4, no exclusions), by key."""
    from ._managed import ManagedRules

    requests: set[tuple[tuple[str, ...], bool]] = set()
    for paranoia in (1, 2, 3, 4):
        requests.update(ManagedRules(paranoia).screen_requests())
    return {screen_key(patterns, single): derive_screen(patterns, single)
            for patterns, single in sorted(requests)}


def write_table(path: Path) -> int:
    """Write the precomputed screen table module to ``path``; return its entry count."""
    table = builtin_screens()
    lines = ['"""Precomputed screens of the built-in managed rule sets (generated; do not edit).',
             "",
             "Rewrite with ``python -m edgeline.filtering._prefilter``; keys are",
             ":func:`._prefilter.screen_key` digests, values the regex sources",
             ":func:`._prefilter.derive_screen` returns.",
             '"""',
             "",
             "SCREENS: dict[str, tuple[str, ...] | None] = {"]
    for key, sources in table.items():
        if sources is None:
            lines.append(f"    {key!r}: None,")
            continue
        lines.append(f"    {key!r}: (")
        lines.extend(f"        {source!r}," for source in sources)
        lines.append("    ),")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(table)


if __name__ == "__main__":
    written = write_table(Path(__file__).with_name("_screens_data.py"))
    sys.stdout.write(f"{written} screens written\n")
