"""Screens never hide a match: the fast path of the managed rules decides exactly as before.

Three layers of checks: the clause analysis on small patterns; every
signature's screen against the corpus and generated strings (a screen that
says "clean" for a string the signature matches is a failure); and the whole
matcher against the frozen reference (``_reference_managed``) on the corpus
and on generated requests, hit for hit.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeline.filtering import ManagedRules, RequestView
from edgeline.filtering._managed import (
    _RESHAPED,
    _SPACES,
    _TAB_NL,
    _TAUTOLOGY,
    _decode,
    sql_form,
)
from edgeline.filtering._prefilter import WS0, WS1, best_clause, clauses_of, screen_for
from edgeline.filtering._signatures import PROBE_PATHS, SIGNATURES
from edgeline.messages import Request

from . import _reference_managed as reference
from .corpus import (
    FRESH_ATTACKS,
    LOCATED_ATTACKS,
    LOCATED_BENIGN,
    SECOND_HOLDOUT_ATTACKS,
    attacks,
    benign,
)
from .test_managed import view_of

ALL_PATTERNS = sorted({s[3] for group in SIGNATURES.values() for s in group}
                      | {p for _, _, p, _ in PROBE_PATHS} | {_TAUTOLOGY.pattern})


def _forms(value: str) -> list[str]:
    """Return the texts signatures see for ``value``: plain, SQL and XSS forms."""
    plain = _decode(value)
    return [plain, sql_form(plain), _SPACES.sub(" ", plain), _TAB_NL.sub("", plain)]


def _corpus_texts() -> list[str]:
    texts: set[str] = set()
    for _, _, target, headers, body in attacks() + benign():
        path, _, query = target.partition("?")
        values = [path, query, body.decode("utf-8", "replace"), *headers.values()]
        for piece in query.split("&"):
            values.extend(piece.partition("=")[::2])
        for value in values:
            texts.update(_forms(value))
            texts.add(value.lower())
    return sorted(t for t in texts if t.isascii())


CORPUS_TEXTS = _corpus_texts()
COMPILED = {p: re.compile(p) for p in ALL_PATTERNS}
# Pieces of real payloads and of the signatures' own literals, for generated strings.
FRAGMENTS = sorted({w for t in CORPUS_TEXTS for w in re.findall(r"[a-z_]+|[^a-z_\s]{1,3}", t)}
                   | {"union", "select", "sleep(", "<script", "javascript:", "../", "/etc/passwd",
                      "${jndi:", "{{7*7}}", "' or '1'='1", "; cat ", "$(id)", "() {", "/*!", "--",
                      "#", "\t", "\n", "  ", "%27", "%3c", "&#x3c;", "\\u003c", "169.254.169.254"})


def _screen_says_clean(pattern: str, text: str) -> bool:
    screen = screen_for([pattern])
    return screen is not None and text.isascii() and screen.search(text) is None


# -- the analysis on small patterns ---------------------------------------------------

@pytest.mark.parametrize(("pattern", "expected"), [
    (r"abc", {("abc",)}),
    (r"a(?:b|c)d", {("abd",), ("acd",)}),
    (r"\bunion\s+select\b", {(r"\b", "union", WS1, "select", r"\b")}),  # \b is kept
    (r"union\s*select", {("union", WS0, "select")}),
    (r"ab?c", {("ac",), ("abc",)}),
    (r"[xy]z", {("xz",), ("yz",)}),
])
def test_exact_patterns_give_one_clause(pattern: str, expected: set[tuple[object, ...]]) -> None:
    assert [set(c) for c in clauses_of(pattern)] == [expected]


def test_unbounded_parts_split_clauses() -> None:
    clauses = [set(c) for c in clauses_of(r"abc.*def")]
    assert clauses == [{("abc",)}, {("def",)}]
    assert clauses_of(r"a*") == []  # matches the empty string: no constraint
    assert clauses_of(r"[^x]+") == []
    # One alternative without a constraint makes the whole alternation unconstrained.
    assert clauses_of(r"abc|.+") == []


def test_unscreenable_patterns_disable_the_screen() -> None:
    assert screen_for([r"(a)\1"]) is None  # backreference: not modelled
    assert screen_for([r"abc", r".*"]) is None


# -- every signature's screen is a necessary condition ------------------------------------

def test_every_signature_has_a_screen() -> None:
    # Not required for correctness (an unscreenable class is simply always checked),
    # but a signature added without one would quietly make its class slow again.
    assert [p for p in ALL_PATTERNS if not best_clause(p)] == []


def test_screens_never_hide_a_corpus_match() -> None:
    checked = 0
    for pattern, regex in COMPILED.items():
        for text in CORPUS_TEXTS:
            if regex.search(text):
                checked += 1
                assert not _screen_says_clean(pattern, text), (pattern, text)
    assert checked > 300  # the corpus does exercise the signatures


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(alphabet=" \t'\"()<>;=/.-#*:0123456789ax",
                                                         max_size=4), max_size=12))
def test_screens_never_hide_a_generated_match(pieces: list[str]) -> None:
    text = "".join(pieces)
    for form in {text, *_forms(text)}:
        for pattern, regex in COMPILED.items():
            if regex.search(form):
                assert not _screen_says_clean(pattern, form), (pattern, form)


def test_combined_screens_cover_each_rule_set() -> None:
    for paranoia in (1, 2, 3, 4):
        compiled = ManagedRules(paranoia)._compiled
        for target, screens in compiled.screens.items():
            groups = (compiled.plain.get(target, []), compiled.sql.get(target, []),
                      compiled.xss.get(target, []))
            for screen, rules in zip(screens.forms, groups, strict=True):
                for text in CORPUS_TEXTS:
                    if any(r.search(text) for _, _, r, _, _ in rules):
                        assert screen is None or screen.search(text), (target, text)
                        if not _RESHAPED.search(text):  # the only texts "any" is used for
                            assert screens.any is None or screens.any.search(text), (target, text)


# -- the whole matcher decides as the reference does --------------------------------------

def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    return (a.id, a.message, a.where, a.paranoia, a.category) == (  # type: ignore[attr-defined]
        b.id, b.message, b.where, b.paranoia, b.category)  # type: ignore[attr-defined]


CONFIGS = [{"paranoia": p} for p in (1, 2, 3, 4)] + [
    {"paranoia": 1, "exclude": ["EL-SQLI-170", "EL-XSS-101"]},
    {"paranoia": 2, "exclude": ["EL-SQLI", "EL-PROBE-101"]},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: repr(c))
def test_same_hits_as_reference_on_the_corpus(config: dict[str, object]) -> None:
    fast, slow = ManagedRules(**config), reference.ManagedRules(**config)  # type: ignore[arg-type]
    for _ in range(2):  # the second round is answered from the memo
        for entry in attacks() + benign():
            got, want = fast.inspect(view_of(entry)), slow.inspect(view_of(entry))
            assert _same(got, want), (entry[:3], got, want)


_FAST = {p: ManagedRules(p) for p in (1, 2, 3)}
_SLOW = {p: reference.ManagedRules(p) for p in (1, 2, 3)}
_VALUE = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=8).map("".join)


def _field(value: str) -> str:
    return re.sub(r"[\r\n\x00]", " ", value)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=_VALUE, arg=_VALUE, cookie=_VALUE, agent=_VALUE, header=_VALUE, body=_VALUE,
       json_body=st.booleans(), repeat=st.booleans())
def test_same_hits_as_reference_on_generated_requests(path: str, arg: str, cookie: str, agent: str,
                                                      header: str, body: str,
                                                      json_body: bool, repeat: bool) -> None:
    target = "/" + quote(path, safe="/%") + "?q=" + quote(arg, safe="%") + "&n=" + quote(arg[:5])
    headers = [("host", "shop.example.com"), ("user-agent", _field(agent)),
               ("cookie", "s=" + quote(cookie, safe="%'\"") + "; t=" + _field(cookie)),
               ("x-note", _field(header)),
               ("content-type", "application/json" if json_body else "text/plain")]
    if repeat:  # a repeated field joins its values (and at level 1 may be refused)
        headers += [("x-note", _field(cookie)), ("user-agent", _field(header))]
    data = (json.dumps({"a": body}) if json_body else body).encode()
    request = Request("POST", "https://shop.example.com" + target, headers, data)
    for paranoia in (1, 2, 3):
        got = _FAST[paranoia].inspect(RequestView(request, None, body=data))
        want = _SLOW[paranoia].inspect(RequestView(request, None, body=data))
        assert _same(got, want), (paranoia, target, got, want)


_BODY_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=AbC9",
               "application/xml", "text/plain", "", "application/json"]


def _body(kind: str, name: str, value: str, filename: str) -> str:
    if kind.startswith("application/x-www"):
        return quote(name) + "=" + quote(value) + "&b=" + quote(value[:4])
    if kind.startswith("multipart"):
        return (f'--AbC9\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                f'--AbC9\r\nContent-Disposition: form-data; name="f"; filename="{filename}"\r\n'
                f"Content-Type: text/plain\r\n\r\n{value[::-1]}\r\n--AbC9--\r\n")
    if kind == "application/xml":
        return f'<r a="{value[:6]}"><{name or "n"}>{value}</{name or "n"}></r>'
    if kind == "application/json":
        return json.dumps({name: [value, {"k": value[:5]}]})
    return value


# Whole payloads as well as pieces: most of these requests should be refused by someone.
_PAYLOAD = st.sampled_from(sorted(set(LOCATED_ATTACKS + FRESH_ATTACKS + SECOND_HOLDOUT_ATTACKS
                                      + LOCATED_BENIGN))) | _VALUE
_FILENAME = st.sampled_from(["shell.php", "x.pHtml", "a.jpg", ".htaccess", "IMG 1.png"]) | _PAYLOAD


_PARTS = ("name", "value", "filename", "referer", "cookie", "skipped")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(_BODY_TYPES), focus=st.sampled_from((*_PARTS, "all")),
       payloads=st.tuples(_PAYLOAD, _PAYLOAD, _FILENAME, _PAYLOAD, _PAYLOAD, _PAYLOAD))
def test_same_hits_as_reference_on_generated_bodies_and_headers(
        kind: str, focus: str, payloads: tuple[str, ...]) -> None:
    # Body fields, multipart parts and upload names, XML fields, referer arguments, cookie
    # names and the headers inspected only when suspect. One part at a time carries a
    # payload (the others a plain word, so that an earlier hit does not hide a later one),
    # or all of them do.
    part = {p: v if focus in (p, "all") else "plain" for p, v in zip(_PARTS, payloads, strict=True)}
    data = _body(kind, part["name"], part["value"],
                 _field(part["filename"]).replace('"', "")).encode()
    headers = [("host", "shop.example.com"), ("user-agent", "Mozilla/5.0"),
               ("referer", "https://a.example/p?x=" + quote(part["referer"], safe="%'") + "&y"),
               ("cookie", quote(part["cookie"], safe="%$'") + "=1; s=2"),
               ("x-forwarded-for", _field(part["skipped"])), ("content-type", kind)]
    request = Request("POST", "https://shop.example.com/p", headers, data)
    for paranoia in (1, 2, 3):
        got = _FAST[paranoia].inspect(RequestView(request, None, body=data))
        want = _SLOW[paranoia].inspect(RequestView(request, None, body=data))
        assert _same(got, want), (paranoia, kind, got, want)


_TOKEN_PIECES = ["a", "Z", "0", "1", "_", "-", ".", ".env", ".git", "id_rsa", "server-status",
                 "web.config", "wp-config", ".php", ".bak", ".yml", "database", "debug.log",
                 "aced0005", "rO0AB", "169.254.169.254", "union", "select", "sleep", "etc",
                 "passwd", "0x7f000001", "2130706433", "127.0.0.1", "htaccess", "laravel.log",
                 "metadata.google.internal", "localhost", "dual", "etc.passwd", "wp-content"]
# Lone names of Java classes and database tables are left uninspected (see ``token_hint``).
_UNHINTED = re.compile(r"java|classloader|transformer|scriptengine|freemarker|_schema|xp_|"
                       r"mysql\.user|sqlite_master|pg_|utl_|dbms_|ctxsys|sysobjects|syscolumns")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_TOKEN_PIECES), min_size=1, max_size=5).map("".join))
def test_plain_tokens_without_a_hint_match_nothing_below_level_3(token: str) -> None:
    # The inspection skips a _BORING token unless ``token_hint``: that must lose nothing.
    from edgeline.filtering._managed import _BORING, token_hint

    if not _BORING.match(token) or token_hint(token) or _UNHINTED.search(token.lower()):
        return
    for compiled_level in (1, 2):
        rules = _FAST[compiled_level]
        for target in "abchpxvs":
            assert rules._verdict(target, token) is None, (compiled_level, target, token)


_COMPILED_LEVELS = [ManagedRules(p)._compiled for p in (1, 2, 3, 4)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(alphabet=" '\"()<>;=/.-:0123456789ax",
                                                         max_size=4), max_size=12))
def test_single_space_screens_never_hide_a_generated_match(pieces: list[str]) -> None:
    # The per-target "any" screen writes whitespace runs as one space: valid (and used)
    # only for text without tabs, newlines, double spaces or comment marks.
    text = "".join(pieces)
    if _RESHAPED.search(text) or not text.isascii():
        return
    for compiled in _COMPILED_LEVELS:
        for target, screens in compiled.screens.items():
            rules = [*compiled.plain.get(target, []), *compiled.sql.get(target, []),
                     *compiled.xss.get(target, [])]
            matched = any(r.search(text) for _, _, r, _, _ in rules) or (
                compiled.tautology and target in compiled.sql and _TAUTOLOGY.search(text))
            if matched:
                assert screens.any is not None and screens.any.search(text), (target, text)


def test_prepare_builds_every_screen_up_front_without_changing_verdicts() -> None:
    from edgeline.filtering._managed import _MISS

    prepared = ManagedRules(2).prepare()
    compiled = prepared._compiled
    assert all(s._any is not _MISS and s._forms is not None for s in compiled.screens.values())
    assert not compiled.probes or compiled.probe_any is not _MISS
    fresh = ManagedRules(2)
    for entry in attacks()[:60] + benign()[:60]:
        left, right = prepared.inspect(view_of(entry)), fresh.inspect(view_of(entry))
        assert (left and (left.id, left.where)) == (right and (right.id, right.where))


# -- the precomputed table ------------------------------------------------------------------

def test_the_precomputed_screens_equal_derivation() -> None:
    from edgeline.filtering import _screens_data
    from edgeline.filtering._prefilter import builtin_screens

    derived = builtin_screens()
    # On failure: the signatures changed; run `python -m edgeline.filtering._prefilter`.
    assert _screens_data.SCREENS == derived
    assert len(derived) >= 10 and sum(v is not None for v in derived.values()) >= 10


def test_the_table_serves_the_builtin_rule_sets_and_derivation_the_rest() -> None:
    from edgeline.filtering import _screens_data
    from edgeline.filtering._prefilter import screen_key

    for paranoia in (1, 2, 3, 4):
        for patterns, single in ManagedRules(paranoia).screen_requests():
            assert screen_key(patterns, single) in _screens_data.SCREENS
    excluded = ManagedRules(1, exclude=["EL-XSS-101"]).screen_requests()
    assert any(screen_key(p, s) not in _screens_data.SCREENS for p, s in excluded)


@pytest.mark.parametrize("value", [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "https://www.google.com/", "https://shop.example.com/category/shoes?page=2",
    "text/plain;charset=UTF-8", "XMLHttpRequest", "running shoes", "GA1.2.1234567.1700000000",
])
def test_the_level_1_screen_passes_everyday_values(value: str) -> None:
    # PERF: a screen that finds something in every user agent or referer sends each fresh one
    # through every signature (a one-letter command or a two-letter clause is enough).
    from edgeline.filtering._managed import _decode

    screens = ManagedRules(1).prepare()._compiled.screens["h"]
    assert screens.any is not None and not screens.any.search(_decode(value)), value
