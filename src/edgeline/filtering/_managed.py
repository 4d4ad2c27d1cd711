"""Managed rules: protocol checks, scanner agents, exploit probes and attack signatures.

::

    app.use(managed_rules(paranoia=2))                 # block at level 2
    app.use(managed_rules(paranoia=3, mode="log"))     # try a stricter level first

``paranoia`` (1-4) chooses how much is inspected and how strictly: level 1
is meant to block only what legitimate traffic practically never sends
(``UNION SELECT``, ``<script>``, ``../../etc/passwd``, ``${jndi:``, a
``sqlmap`` user agent, a missing Host); each level adds broader
signatures with more false positives (level 4 refuses any quote in a query
argument). Bodies (form, JSON, XML, text; the first ``max_body`` bytes) are
inspected with narrower signatures than arguments at the same level,
because code snippets, markdown and HTML fragments are legitimately posted.

Every value is normalized before matching (see :mod:`._signatures`), so
``%2527``, ``&#x3c;script``, ``UnIoN/**/SeLeCt`` and ``java\\tscript:``
do not slip through. The first signature that matches decides; its id
(``EL-SQLI-100``) is logged, put in ``ctx.state`` and, in dev mode, in the
``x-edgeline-rule`` response header. ``exclude`` turns off ids (or id
prefixes such as ``EL-PROBE-101`` for a WordPress origin).

PERF: most values are benign, so each value is first searched with a
*screen* (:mod:`._prefilter`), a regex derived from the signatures of every
target that must find something for any of them to match; only then are the
signatures run one by one. Verdicts of short values are remembered per rule
set (user agents, referers and cookies repeat), so are the verdicts of whole
requests without a body (see ``inspect``), and a query or Cookie header made
only of plain tokens is not split at all.
"""

from __future__ import annotations

import functools
import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any, Final

from ..messages import Response
from ._errors import FilterConfigError
from ._normalize import (
    BACKSLASH,
    BAD_PERCENT,
    BAD_UTF8,
    CONTROL,
    DOT_SEGMENT,
    DOUBLE_ENCODED,
    DOUBLE_SLASH,
    ENCODED_SLASH,
    NUL,
    OVERLONG,
    TRAVERSAL,
    decode_component,
    parse_query,
)
from ._prefilter import Screen, literal_alternation, screen_for
from ._signatures import PROBE_PATHS, SCANNER_AGENTS, SIGNATURES
from ._view import MAX_BODY

__all__ = ["Hit", "ManagedRules"]

MAX_VALUE: Final = 8192
MAX_VALUES: Final = 512
STANDARD_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BORING = re.compile(r"^[A-Za-z0-9_.\-]*$")
# See ``token_hint``: every match starts at a dot.
_HINT_DOT = re.compile(r"\.(?:(?<=[=&;\s]\.)|(?<=web\.)config|(?<=wp-config\.)php|(?<=debug\.)log|"
                       r"(?<=laravel\.)log|(?<=database\.)y|(?<=secrets\.)y|"
                       r"(?:php|config|conf|ini|ya?ml|json|sql|xml|inc|aspx?|jsp)\.\w)")
_ESCAPED = re.compile(r"%[0-9a-fA-F]{2}|%u[0-9a-fA-F]{4}")
_U_ESCAPE = re.compile(r"%u([0-9a-fA-F]{4})")
_SPACES = re.compile(r"\s+")
_BLOCK_COMMENT = re.compile(r"/\*!?\d*|\*/")
_LINE_COMMENT = re.compile(r"(?:--|#)[^\n]*\n")
_TAB_NL = re.compile(r"[\t\n\r]")
# Whatever makes the SQL or XSS form of a value differ from the value itself: whitespace
# other than single spaces, and comment marks. Without it, one screen covers all three.
_RESHAPED = re.compile(r"[^\S ]|  |/\*|\*/|--|#")
MEMO_SIZE: Final = 4096
"""Most (target, value) verdicts remembered per rule set (then forgotten all at once)."""
MEMO_VALUE: Final = 1024
"""Longest value whose verdict is remembered."""
MEMO_REQUESTS: Final = 512
"""Most whole-request verdicts remembered per rule set (then forgotten all at once)."""
MEMO_REQUEST_BYTES: Final = 4096
"""Largest request (method, URL and header fields, in characters) whose verdict is remembered."""
_MISS: Final[Any] = object()
# A query whose names and values are all _BORING as they stand (nothing to decode, no
# control character): it raises no flag and no argument can match a signature.
_PLAIN_QUERY = re.compile(
    r"[A-Za-z0-9_.\-]*(?:=[A-Za-z0-9_.\-]*)?(?:&[A-Za-z0-9_.\-]*(?:=[A-Za-z0-9_.\-]*)?)*")
# A Cookie header in which every name and value is empty or _BORING once split as ``cookies``
# splits it (on ";", then at the first "=", then stripped): with no ``token_hint`` either, no
# cookie can match a signature.
_PLAIN_COOKIES = re.compile(
    r"(?:[ \t]*[A-Za-z0-9_.\-]*[ \t]*=[ \t]*[A-Za-z0-9_.\-]*[ \t]*(?:;|$))*")
# Header fields whose values have fixed, harmless grammars; not inspected by "x" signatures.
_SKIP_HEADERS: Final = frozenset({
    "accept", "accept-encoding", "accept-language", "accept-charset", "authorization",
    "cache-control", "connection", "content-length", "cookie", "host",
    "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range",
    "pragma", "priority", "range", "te", "upgrade-insecure-requests", "dnt", "etag",
    "cf-connecting-ip", "cf-ray", "cf-ipcountry", "cf-visitor", "x-forwarded-proto",
    "x-request-id", "traceparent", "tracestate", "origin", "sec-fetch-site", "sec-fetch-mode",
    "sec-fetch-dest", "sec-fetch-user", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "upgrade",
    "content-encoding", "transfer-encoding", "keep-alive", "x-real-ip", "x-forwarded-for",
    "forwarded", "via", "true-client-ip", "cdn-loop", "expect",
    # client hints: structured lists of quoted brands and versions
    "sec-ch-ua-full-version-list", "sec-ch-ua-full-version", "sec-ch-ua-arch", "sec-ch-ua-bitness",
    "sec-ch-ua-model", "sec-ch-ua-platform-version", "sec-ch-ua-wow64", "sec-ch-ua-form-factors",
    "sec-ch-prefers-color-scheme", "sec-ch-prefers-reduced-motion", "sec-ch-viewport-width",
    "sec-ch-dpr", "sec-ch-device-memory", "device-memory", "dpr", "viewport-width", "rtt",
    "downlink", "ect", "sec-gpc", "sec-purpose", "purpose",
})
# Of those, the ones set by the platform or the browser itself, or inspected elsewhere (the
# Cookie header, cookie by cookie): never inspected.
_NEVER_HEADERS: Final = frozenset(
    {"cookie", "accept-encoding", "connection", "content-length", "transfer-encoding",
     "content-encoding", "keep-alive", "te", "priority", "dnt", "upgrade-insecure-requests",
     "cf-connecting-ip", "cf-ray", "cf-ipcountry", "cf-visitor", "cdn-loop", "sec-fetch-site",
     "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user", "sec-websocket-key",
     "sec-websocket-version", "sec-websocket-extensions"} | {
        h for h in _SKIP_HEADERS if h.startswith("sec-ch-")})
# What makes one of the others worth inspecting after all: a lookup (${jndi:...}), a shell
# function definition (() { :; };) or an escape, as in attacks sprayed over every header
# (tested inline in ``inspect_uncached``).


class Hit:
    """A managed signature that matched: id, category, message and where."""

    __slots__ = ("id", "category", "message", "paranoia", "where")

    def __init__(self, id: str, category: str, message: str, paranoia: int, where: str) -> None:
        self.id = id
        self.category = category
        self.message = message
        self.paranoia = paranoia
        self.where = where

    def __repr__(self) -> str:
        return f"Hit({self.id!r}, {self.message!r}, where={self.where!r})"


# Slash look-alikes NFKC keeps, and the character an undecodable byte became: a space, as
# MySQL reads %a0 between keywords.
_SLASHES = str.maketrans({"\u2215": "/", "\u2044": "/", "\u29f8": "/", "\u2216": "\\",
                          "\u29f5": "\\", "\u29f9": "\\", "\ufffd": " "})


def _decode(value: str) -> str:
    """Decode percent escapes (and %uXXXX) until stable, at most 3 times; then entities."""
    for _ in range(3):
        if "%" not in value or not _ESCAPED.search(value):
            break
        if "%u" in value or "%U" in value:
            value = _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
        # Overlong UTF-8 (%c0%af for "/") decodes to the character it spells.
        value = decode_component(value)[0]
    if "&" in value:
        for _ in range(2):
            decoded = html.unescape(value)
            if decoded == value:
                break
            value = decoded
    if "\\u" in value or "\\x" in value:
        value = re.sub(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})",
                       lambda m: chr(int(m.group(1) or m.group(2), 16)), value)
    if not value.isascii():
        # Full-width and compatibility forms (＜script＞) fold to ASCII, and so do the
        # slash look-alikes NFKC keeps (..∕..∕etc∕passwd).
        value = unicodedata.normalize("NFKC", value).translate(_SLASHES)
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value.lower()


class _Screens:
    """Screens whose search is necessary for the signatures they were built from to match.

    ``None`` means "cannot screen": run the signatures. ``any`` covers all three
    forms and is used when they are the same text, with no whitespace but single
    spaces (see ``_RESHAPED``); the per-form screens, needed only for values with
    whitespace runs, tabs or comment marks, are built the first time one is seen.

    PERF (startup): nothing is derived or compiled until a value of the target is
    first screened, and one object serves every rule set with the same signatures
    for the target (``_screens``), so building a second ``ManagedRules`` or
    another level costs only what the first did not already derive.
    """

    __slots__ = ("_any", "_patterns", "_forms")

    def __init__(self, plain: tuple[str, ...], sql: tuple[str, ...], xss: tuple[str, ...]) -> None:
        self._patterns = (plain, sql, xss)
        self._forms: tuple[Screen | None, Screen | None, Screen | None] | None = None
        self._any: Screen | None = _MISS

    @property
    def any(self) -> Screen | None:
        """The screen of all three forms of single-spaced text (None: cannot screen)."""
        found = self._any
        if found is _MISS:
            plain, sql, xss = self._patterns
            found = self._any = screen_for(plain + sql + xss, single_spaces=True)
        return found

    def requests(self) -> list[tuple[tuple[str, ...], bool]]:
        """Return the (patterns, single_spaces) pairs ``screen_for`` is asked for."""
        plain, sql, xss = self._patterns
        out = [(tuple(sorted(set(plain + sql + xss))), True)]
        out += [(tuple(sorted(set(p))), False) for p in self._patterns if p]
        return out

    @property
    def forms(self) -> tuple[Screen | None, Screen | None, Screen | None]:
        """The screens of the plain, SQL and XSS forms (None where one cannot be built)."""
        forms = self._forms
        if forms is None:
            plain, sql, xss = (screen_for(p) if p else None for p in self._patterns)
            forms = self._forms = (plain, sql, xss)
        return forms


@functools.lru_cache(maxsize=64)
def _screens(plain: tuple[str, ...], sql: tuple[str, ...], xss: tuple[str, ...]) -> _Screens:
    """Return the (shared, lazily built) screens of one target's signature patterns."""
    return _Screens(plain, sql, xss)


class Signature:
    """A signature's regex, compiled the first time a value gets past the screens to it.

    PERF (startup): most signatures never run on benign traffic, and compiling
    them all costs tens of milliseconds under Pyodide.
    """

    __slots__ = ("pattern", "search")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        # PERF: once compiled, ``search`` is the compiled regex's own method (no Python
        # frame per call on the attack path).
        self.search: Callable[[str], re.Match[str] | None] = self._compile_and_search

    def _compile_and_search(self, text: str) -> re.Match[str] | None:
        regex = re.compile(self.pattern)
        self.search = regex.search
        return regex.search(text)


class _Compiled:
    __slots__ = ("plain", "sql", "xss", "probes", "agents", "screens", "probe_any", "agent_any",
                 "tautology")

    def __init__(self) -> None:
        # per target letter: list of (id, paranoia, regex, message, category)
        self.plain: dict[str, list[tuple[str, int, Signature, str, str]]] = {}
        self.sql: dict[str, list[tuple[str, int, Signature, str, str]]] = {}
        self.xss: dict[str, list[tuple[str, int, Signature, str, str]]] = {}
        self.probes: list[tuple[str, int, re.Pattern[str], str]] = []
        self.agents: list[tuple[str, int, re.Pattern[str]]] = []
        self.screens: dict[str, _Screens] = {}
        # A screen of the probe patterns (valid for ASCII paths; None: run them all).
        self.probe_any: Screen | None = None
        # All scanner agents in one alternation: it finds something exactly when one of
        # the per-level alternations would, so the usual miss costs one search.
        self.agent_any: re.Pattern[str] | None = None
        self.tautology = False


_CATEGORY = {"sqli": "sql", "xss": "xss", "other": "plain"}
_CATEGORY_NAMES = {"SQLI": "sql-injection", "XSS": "xss", "LFI": "path-traversal",
                   "RCE": "command-injection", "JAVA": "java-injection", "PHP": "php-injection",
                   "SSTI": "template-injection", "SSRF": "ssrf", "XXE": "xxe", "CRLF": "crlf",
                   "NOSQL": "nosql-injection", "PROBE": "exploit-probe", "SCAN": "scanner",
                   "PROTO": "protocol", "SSI": "server-side-include",
                   "LDAP": "ldap-injection", "RFI": "file-inclusion",
                   "NODE": "javascript-injection"}


def _category(rule_id: str) -> str:
    return _CATEGORY_NAMES.get(rule_id.split("-")[1], "other")


def _excluded(rule_id: str, exclude: frozenset[str]) -> bool:
    return any(rule_id == e or rule_id.startswith(e + "-") or
               (e.endswith("*") and rule_id.startswith(e[:-1])) for e in exclude)


class ManagedRules:
    """The managed rule set at one paranoia level; ``inspect(view)`` returns the first hit."""

    __slots__ = ("paranoia", "mode", "exclude", "inspect_body", "max_body", "status",
                 "_compiled", "max_header_bytes", "max_headers", "max_args", "_memo",
                 "_requests")

    def __init__(
        self, paranoia: int = 1, *, mode: str = "block", exclude: Iterable[str] = (),
        inspect_body: bool = True, max_body: int = MAX_BODY, status: int = 403,
        max_header_bytes: int = 8192, max_headers: int = 100, max_args: int = 255,
    ) -> None:
        if paranoia not in (1, 2, 3, 4):
            raise FilterConfigError(f"paranoia must be 1, 2, 3 or 4, not {paranoia!r}")
        if mode not in ("block", "log"):
            raise FilterConfigError(f"mode must be 'block' or 'log', not {mode!r}")
        if not 400 <= status <= 599:
            raise FilterConfigError(f"status must be 400-599, not {status}")
        self.paranoia = paranoia
        self.mode = mode
        self.exclude = frozenset(exclude)
        self.inspect_body = inspect_body
        self.max_body = max_body
        self.status = status
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_args = max_args
        self._compiled = self._compile()
        # (target, value) -> (id, category, message, level) or None. PERF: user agents,
        # referers and cookies repeat across requests; a verdict depends on nothing else.
        self._memo: dict[tuple[str, str], tuple[str, str, str, int] | None] = {}
        # request_key(view) -> the hit's fields or None; see ``inspect``.
        self._requests: dict[tuple[Any, ...], tuple[str, str, str, int, str] | None] = {}

    @property
    def inspects_body(self) -> bool:
        return self.inspect_body

    def _on(self, rule_id: str, level: int) -> bool:
        return level <= self.paranoia and not _excluded(rule_id, self.exclude)

    def _compile(self) -> _Compiled:
        out = _Compiled()
        for group, signatures in SIGNATURES.items():
            table = getattr(out, _CATEGORY[group])
            for rule_id, level, targets, pattern, message in signatures:
                if not self._on(rule_id, level):
                    continue
                regex = Signature(pattern)
                for target in targets:
                    table.setdefault(target, []).append(
                        (rule_id, level, regex, message, _category(rule_id)))
        for rule_id, level, pattern, message in PROBE_PATHS:
            if self._on(rule_id, level):
                out.probes.append((rule_id, level, re.compile(pattern), message))
        for level, agents in SCANNER_AGENTS.items():
            rule_id = f"EL-SCAN-{level}00"
            if self._on(rule_id, level):
                alternation = "|".join(re.escape(a) for a in sorted(agents, key=len, reverse=True))
                out.agents.append((rule_id, level, re.compile(alternation)))
        # PERF (startup): the probe screen is derived on the first path inspected.
        out.probe_any = _MISS if out.probes else None
        every_agent = [agent for level, names in SCANNER_AGENTS.items()
                       if self._on(f"EL-SCAN-{level}00", level) for agent in names]
        if every_agent:
            out.agent_any = re.compile(literal_alternation(every_agent))
        out.tautology = self._on("EL-SQLI-170", 1)
        # PERF (startup): one set of screens serves every target, built from the union of
        # their signatures. A screen only has to be necessary for its target's signatures,
        # and a wider one is: the targets share most clauses, so the union searches as fast
        # as one target's screen (measured on browser traffic) and compiles a quarter of
        # the regex source that six per-target screens do.
        plain = tuple(sorted({r.pattern for rules in out.plain.values() for _, _, r, _, _ in rules}))
        sql = tuple(sorted({r.pattern for rules in out.sql.values() for _, _, r, _, _ in rules}))
        if sql and out.tautology:
            sql += (_TAUTOLOGY.pattern,)
        xss = tuple(sorted({r.pattern for rules in out.xss.values() for _, _, r, _, _ in rules}))
        shared = _screens(plain, sql, xss)
        for target in set(out.plain) | set(out.sql) | set(out.xss):
            out.screens[target] = shared
        return out

    def prepare(self) -> ManagedRules:
        """Derive and compile every screen now, not on the first request; return self.

        PERF (startup): call it at a worker's top level. Workers snapshot the
        isolate after top-level code, and the screens are shared module-wide, so
        the rule sets compiled later from configuration reuse them.
        """
        compiled = self._compiled
        for screens in set(compiled.screens.values()):
            screens.any  # noqa: B018 - the property builds and keeps the screen
            screens.forms  # noqa: B018
        if compiled.probes and compiled.probe_any is _MISS:
            compiled.probe_any = screen_for([r.pattern for _, _, r, _ in compiled.probes])
        return self

    def screen_requests(self) -> set[tuple[tuple[str, ...], bool]]:
        """Return every (patterns, single_spaces) pair this rule set's screens are built from."""
        compiled = self._compiled
        out = {request for screens in set(compiled.screens.values()) for request in screens.requests()}
        if compiled.probes:
            out.add((tuple(sorted({r.pattern for _, _, r, _ in compiled.probes})), False))
        return out

    # -- inspection ---------------------------------------------------------------

    def inspect(self, view: Any) -> Hit | None:
        """Return the first signature that matches the request, or None.

        PERF: a request without a body to inspect is decided by its method, its
        URL and its header fields, in order, and by nothing else (``request_key``; tests/filtering/test_managed_memo.py traces
        every read to hold this to account). Clients repeat such requests
        exactly (assets, polling, health checks, benchmarks), so the verdicts of
        small ones are remembered whole and a repeat costs one key and one lookup.
        """
        if self.inspect_body and view.body_bytes:
            return self.inspect_uncached(view)
        request = view.request
        key = request_key(request)
        requests = self._requests
        found = requests.get(key, _MISS)
        if found is _MISS:
            # The header bytes, counted once for the protocol checks and the memo's bound.
            total = sum(map(len, chain.from_iterable(request.headers.raw)))
            hit = self.inspect_uncached(view, total)
            found = None if hit is None else (hit.id, hit.category, hit.message, hit.paranoia,
                                              hit.where)
            if total + len(key[0]) + len(key[1]) <= MEMO_REQUEST_BYTES:
                if len(requests) >= MEMO_REQUESTS:
                    requests.clear()
                requests[key] = found
            return hit
        if found is None:
            return None
        return Hit(*found)

    def inspect_uncached(self, view: Any, header_bytes: int | None = None) -> Hit | None:
        """Return the first signature that matches the request, without the request memo.

        ``header_bytes``: the summed length of the header names and values, when
        the caller has counted it already.
        """
        query = view.raw_query
        plain_query = not query or (_PLAIN_QUERY.fullmatch(query) is not None
                                    and not token_hint(query))
        hit = self._protocol(view, plain_query, header_bytes)
        if hit is not None:
            return hit
        compiled = self._compiled
        headers = view.headers
        if compiled.agent_any is not None:
            found = self._cached("U", headers.get("user-agent", ""), self._agent_verdict)
            if found is not None:
                return Hit(found[0], found[1], found[2], found[3], "header:user-agent")
        if compiled.probes:
            path = view.path.lower()
            probe_any = compiled.probe_any
            if probe_any is _MISS:
                probe_any = compiled.probe_any = screen_for(
                    [r.pattern for _, _, r, _ in compiled.probes])
            if probe_any is None or not path.isascii() or probe_any.search(path):
                for rule_id, level, regex, message in compiled.probes:
                    if regex.search(path):
                        return Hit(rule_id, "exploit-probe", message, level, "path")
        # Values in order: path, query arguments, cookies, User-Agent and Referer, other
        # headers, body; the first hit decides. PERF: a hit's "where" is only then built,
        # and a query or Cookie header whose values are all _BORING is not split at all.
        verdict = self._cached_verdict
        raw_path = view.raw_path
        if not _BORING.match(raw_path.replace("/", "")):
            found = verdict("p", raw_path)
            if found is None:
                for segment in raw_path.split("/"):
                    found = verdict("s", segment)
                    if found is not None:
                        break
            if found is not None:
                return Hit(found[0], found[1], found[2], found[3], "path")
        count = 0
        if not plain_query:
            for name, value in view.args_list:
                count += 1
                if count > MAX_VALUES:
                    break
                found = verdict("a", name) or verdict("a", value)
                if found is not None:
                    return Hit(found[0], found[1], found[2], found[3], "args:" + name[:40])
        cookie = headers.get("cookie")
        if cookie and (not _PLAIN_COOKIES.fullmatch(cookie) or token_hint(cookie)):
            for name, value in view.cookies.items():
                found = verdict("c", name) or verdict("c", value)
                if found is not None:
                    return Hit(found[0], found[1], found[2], found[3], "cookie:" + name[:40])
        for name in ("user-agent", "referer"):
            value = headers.get(name)
            if value:
                found = verdict("h", value)
                if found is None and name == "referer" and "?" in value:
                    found = self._cached("R", value, self._referer_verdict)
                if found is not None:
                    return Hit(found[0], found[1], found[2], found[3], "header:" + name)
        for name, value in headers.items():
            if (name not in _SKIP_HEADERS or (name not in _NEVER_HEADERS and (
                    "$" in value or "%" in value or "()" in value))) \
                    and name != "user-agent" and name != "referer":
                found = verdict("x", value)
                if found is not None:
                    return Hit(found[0], found[1], found[2], found[3], "header:" + name)
        if self.inspect_body and view.body_bytes:
            if query and not count:
                count = min(len(view.args_list), MAX_VALUES + 1)
            for target, where, value in self._body_values(view):
                count += 1
                if count > MAX_VALUES:
                    break
                # An upload's name is inspected even when plain ("shell.php").
                found = (verdict(target, value) if target != "f" else
                         self._cached(target, value, self._verdict))
                if found is not None:
                    return Hit(found[0], found[1], found[2], found[3], where)
        return None

    def _referer_verdict(self, _target: str, referer: str) -> tuple[str, str, str, int] | None:
        """Return the verdict of the query arguments of a Referer (a link followed to here)."""
        verdict = self._cached_verdict
        for name, value in referer_args(referer):
            found = verdict("a", name) or verdict("a", value)
            if found is not None:
                return found
        return None

    def _agent_verdict(self, _target: str, agent: str) -> tuple[str, str, str, int] | None:
        compiled = self._compiled
        agent = agent.lower()
        if compiled.agent_any is None or not compiled.agent_any.search(agent):
            return None
        for rule_id, level, regex in compiled.agents:
            found = regex.search(agent)
            if found:
                return (rule_id, "scanner", f"scanner user agent ({found.group()})", level)
        return None

    def _body_values(self, view: Any) -> Iterator[tuple[str, str, str]]:
        return body_values(view.body[: self.max_body], view.headers.get("content-type", ""))

    def _cached_verdict(self, target: str, value: str) -> tuple[str, str, str, int] | None:
        if not value or (_BORING.match(value) and not token_hint(value)):
            return None
        return self._cached(target, value, self._verdict)

    def _cached(self, target: str, value: str,
                verdict: Callable[[str, str], tuple[str, str, str, int] | None],
                ) -> tuple[str, str, str, int] | None:
        """Return ``verdict(target, value)``, remembered for short values."""
        memo = self._memo
        key = (target, value)
        found = memo.get(key, _MISS)
        if found is _MISS:
            found = verdict(target, value[:MAX_VALUE])
            if len(value) <= MEMO_VALUE:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                memo[key] = found
        return found

    def _verdict(self, target: str, value: str) -> tuple[str, str, str, int] | None:
        """Return (id, category, message, level) of the first signature matching ``value``."""
        compiled = self._compiled
        plain = _decode(value)
        screens = compiled.screens.get(target)
        if screens is not None and plain.isascii():
            # The screens are only valid for ASCII text (see ._prefilter).
            if screens.any is not None and not _RESHAPED.search(plain):
                if not screens.any.search(plain):
                    return None
            screen_plain, screen_sql, screen_xss = screens.forms
        else:
            screen_plain = screen_sql = screen_xss = None
        if screen_plain is None or screen_plain.search(plain):
            for rule_id, level, regex, message, category in compiled.plain.get(target, ()):
                if regex.search(plain):
                    return (rule_id, category, message, level)
        sql_rules = compiled.sql.get(target)
        if sql_rules:
            sql = sql_form(plain)
            if screen_sql is None or screen_sql.search(sql):
                for rule_id, level, regex, message, category in sql_rules:
                    if regex.search(sql):
                        return (rule_id, category, message, level)
                tautology = _tautology(sql)
                if tautology and compiled.tautology:
                    return ("EL-SQLI-170", "sql-injection", f"tautology ({tautology})", 1)
        xss_rules = compiled.xss.get(target)
        if xss_rules:
            variants = [_SPACES.sub(" ", plain)]
            if _TAB_NL.search(plain):
                variants.append(_TAB_NL.sub("", plain))
            for variant in variants:
                if screen_xss is not None and not screen_xss.search(variant):
                    continue
                for rule_id, level, regex, message, category in xss_rules:
                    if regex.search(variant):
                        return (rule_id, category, message, level)
        return None

    # -- protocol -----------------------------------------------------------------

    def _protocol(self, view: Any, plain_query: bool, total: int | None = None) -> Hit | None:
        request = view.request
        method = request.method
        p = self.paranoia
        hit = self._protocol_hit
        found: Hit | None = None
        if not _TOKEN.match(method) or method in ("TRACE", "TRACK", "DEBUG", "CONNECT"):
            found = hit("EL-PROTO-100", 1, f"method {method[:20]!r} not served", "method")
        elif method not in STANDARD_METHODS:
            found = hit("EL-PROTO-200", 2, f"non-standard method {method[:20]!r}", "method")
        if found:
            return found
        raw = request.headers.raw
        # PERF: sizes are summed once; names are only counted when one repeats (the
        # parsed ``view.headers`` is then shorter than the raw fields). The checks below
        # are made in their usual order.
        limit = self.max_header_bytes
        if total is None:
            total = sum(map(len, chain.from_iterable(raw)))
        headers = view.headers
        repeated = len(headers) != len(raw)
        names: Mapping[str, object] = headers  # only "in" is asked of it unless repeated
        counts: dict[str, int] = {}
        if repeated:
            for name, _ in raw:
                counts[name] = counts.get(name, 0) + 1
            names = counts
        # No single field can be over the limit when all of them together are not.
        oversized = [] if total <= limit else [n for n, v in raw if len(n) + len(v) > limit]
        hosts = counts.get("host", 0) if repeated else int("host" in headers)
        if not hosts:
            # RFC 9112 §3.2: a request without Host must be answered with 400.
            found = hit("EL-PROTO-101", 1, "missing Host header", "header:host")
        elif hosts > 1:
            found = hit("EL-PROTO-102", 1, "more than one Host header", "header:host")
        if found:
            return found
        lengths = ({v.strip() for k, v in raw if k == "content-length"}
                   if "content-length" in names else set())
        has_te = "transfer-encoding" in names
        if len(lengths) > 1 or (lengths and not all(v.isdigit() for v in lengths)):
            found = hit("EL-PROTO-103", 1, "conflicting or invalid Content-Length", "header:content-length")
        elif lengths and has_te:
            # RFC 9112 §6.3: both present is a smuggling attempt or an error.
            found = hit("EL-PROTO-104", 1, "both Content-Length and Transfer-Encoding", "headers")
        if found:
            return found
        for name in oversized:
            found = hit("EL-PROTO-105", 1, f"header {name[:40]!r} over {limit} bytes",
                        f"header:{name[:40]}")
            if found:
                return found
        if len(raw) > self.max_headers or total > 4 * self.max_header_bytes:
            found = hit("EL-PROTO-106", 1, "too many or too large headers", "headers")
        if found:
            return found
        if repeated:
            for name in ("authorization", "content-type", "user-agent", "referer", "origin"):
                if counts.get(name, 0) > 1:
                    found = hit("EL-PROTO-107", 1, f"duplicated {name} header", f"header:{name}")
                    if found:
                        return found
        flags = view.path_flags
        if flags & (NUL | CONTROL):
            found = hit("EL-PROTO-110", 1, "NUL or control character in the path", "path")
        elif flags & OVERLONG:
            found = hit("EL-PROTO-111", 1, "overlong UTF-8 in the path", "path")
        elif flags & TRAVERSAL or (flags & DOT_SEGMENT and _has_dotdot(view.raw_path)):
            found = hit("EL-LFI-110", 1, "'..' segment in the path", "path")
        elif flags & DOUBLE_ENCODED and re.search(r"%25(?:2e|2f|5c|00|25)", view.raw_path, re.I):
            found = hit("EL-PROTO-112", 1, "double-encoded dot, slash or NUL in the path", "path")
        if found:
            return found
        if p >= 2:
            if flags & (BAD_PERCENT | BAD_UTF8 | DOUBLE_ENCODED | ENCODED_SLASH | BACKSLASH):
                found = hit("EL-PROTO-201", 2, "invalid or evasive encoding in the path", "path")
            elif flags & DOT_SEGMENT:
                found = hit("EL-PROTO-202", 2, "dot segment in the path", "path")
            if found:
                return found
        query_flags = 0 if plain_query else view.query_flags
        if query_flags & (NUL | OVERLONG):
            found = hit("EL-PROTO-113", 1, "NUL or overlong UTF-8 in the query", "query")
        elif query_flags & (BAD_UTF8 | BAD_PERCENT):
            found = hit("EL-PROTO-203", 2, "invalid encoding in the query", "query")
        if found:
            return found
        if p >= 2:
            if "user-agent" not in names or not view.user_agent.strip():
                found = hit("EL-PROTO-204", 2, "missing User-Agent", "header:user-agent")
            elif len(view.args_list) > self.max_args:
                found = hit("EL-PROTO-205", 2, f"more than {self.max_args} query arguments", "query")
            elif "range" in names and view.headers.get("range", "").count(",") >= 5:
                found = hit("EL-PROTO-206", 2, "Range with many ranges", "header:range")
            if found:
                return found
        if p >= 3:
            if flags & DOUBLE_SLASH:
                found = hit("EL-PROTO-300", 3, "empty path segment", "path")
            elif "accept" not in names:
                found = hit("EL-PROTO-301", 3, "missing Accept", "header:accept")
            elif _host_is_ip(view.host):
                found = hit("EL-PROTO-302", 3, "Host is an IP address", "header:host")
            if found:
                return found
        return None

    def _protocol_hit(self, rule_id: str, level: int, message: str, where: str) -> Hit | None:
        if self._on(rule_id, level):
            return Hit(rule_id, "protocol", message, level, where)
        return None

    def response(self, hit: Hit) -> Response:
        """Return the response for a blocking hit (no details beyond the rule id)."""
        response = Response.problem(self.status, "Forbidden" if self.status == 403 else
                                    "Request refused", f"refused by managed rule {hit.id}",
                                    rule=hit.id)
        response.headers["cache-control"] = "no-store"
        return response

    def __repr__(self) -> str:
        return f"ManagedRules(paranoia={self.paranoia}, mode={self.mode!r})"


def sql_form(plain: str) -> str:
    """Return the text SQL signatures see: comments become spaces, runs of space one space."""
    sql = plain
    if "/*" in sql or "*/" in sql:
        sql = _BLOCK_COMMENT.sub(" ", sql.replace("*/", " */"))
        sql = re.sub(r"/\*.*?\*/", " ", sql)
    if "--" in sql or "#" in sql:
        sql = _LINE_COMMENT.sub(" ", sql)
    return _SPACES.sub(" ", sql)


def request_key(request: Any) -> tuple[Any, ...]:
    """Return every input of a body-less inspection: the method, the URL, the header fields.

    The URL as received determines the raw path, query and host that are read;
    the fields are the raw (name, value) pairs in order, so repeats, their
    order and the joined values all follow from them.
    """
    return (request.method, str(request.url), *request.headers.raw)


# A body sent without a Content-Type that reads as a form: name=value pairs joined by "&".
_FORM_SHAPE = re.compile(r"[^=&\r\n]+=[^&\r\n]*(?:&[^=&\r\n]+=[^&\r\n]*)*")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_PART_NAME = re.compile(r'\bname="([^"]*)"')
_FILENAME = re.compile(r'filename="([^"]*)"')
# Text between XML tags and quoted attribute values: the fields of an XML document.
_XML_FIELDS = re.compile(r">([^<]+)<|=\s*\"([^\"]*)\"|=\s*'([^']*)'")


def _field(value: str) -> str:
    """Return the target of a body field: ``b`` for a document, ``v`` for a value."""
    return "b" if len(value) > 2048 or value.count("\n") >= 2 else "v"


def body_values(text: str, content_type: str) -> Iterator[tuple[str, str, str]]:
    """Split a body into (target, where, value) for the signatures.

    A field (of a form, a multipart part that is not a file, a JSON string,
    the text and attributes of an XML document) and the name of a form field
    or part is matched as ``v``: with the level 1 signatures of query
    arguments and the body signatures. A field of more than two lines or
    over 2 KiB (prose, markdown, code) and what is posted whole (a file,
    text, XML as a document, JSON keys as ``"key":``, a body that does not
    parse) are matched as ``b``; uploaded file names as ``f``. A body without
    a Content-Type that has the shape of a form is read as one.
    """
    raw_type, content_type = content_type, content_type.lower()
    if "application/x-www-form-urlencoded" in content_type or (
            not content_type.strip() and _FORM_SHAPE.fullmatch(text)):
        pairs, _ = parse_query(text)
        for name, value in pairs:
            where = f"body:{name[:40]}"
            yield "v", where, name
            yield _field(value), where, value
        return
    if "json" in content_type:
        try:
            document = json.loads(text)
        except ValueError:
            yield "b", "body", text
            return
        yield from _json_values(document, "body", 0)
        return
    if "multipart/form-data" in content_type:
        match = _BOUNDARY.search(raw_type)  # a boundary is case-sensitive
        if match:
            for part in text.split("--" + match.group(1))[:64]:
                head, _, content = part.partition("\r\n\r\n")
                if content.endswith("\r\n"):
                    content = content[:-2]
                part_name = _PART_NAME.search(head)
                where = f"body:{part_name.group(1)[:40]}" if part_name else "body:part"
                if part_name:
                    yield "v", where, part_name.group(1)
                filename = _FILENAME.search(head)
                if filename:
                    yield "f", "body:filename", filename.group(1)
                    if content:
                        yield "b", where, content
                elif content:
                    yield _field(content), where, content
            return
    yield "b", "body", text
    if "xml" in content_type or text[:1] == "<":
        for match in _XML_FIELDS.finditer(text[:MAX_VALUE * 4]):
            value = match.group(1) or match.group(2) or match.group(3)
            if value and not value.isspace():
                yield _field(value), "body:xml", value


def referer_args(referer: str) -> list[tuple[str, str]]:
    """Return the first MAX_VALUES query arguments of a Referer URL."""
    query = referer.partition("?")[2].partition("#")[0]
    return parse_query(query)[0][:MAX_VALUES]


def token_hint(text: str) -> bool:
    """Return whether a _BORING token (or a plain query or Cookie header) needs inspecting.

    Below level 3, such a token matches a signature by naming a sensitive
    file (EL-LFI-104: ".env", "id_rsa", "config.php.bak"), holding a
    serialized Java object (EL-JAVA-103) or the metadata address
    (EL-SSRF-101), and this is necessary for each (tests/filtering/
    test_managed_screen.py checks it on generated tokens); or by naming, by
    itself, a Java class or a database's internal table
    ("java.lang.Runtime", "information_schema"), which is left uninspected:
    no attack by itself, and a word every query and Cookie header would be
    searched for. PERF: substring tests and one regex whose every match
    starts at a dot.
    """
    if "." in text or "_" in text or "-" in text:
        text = text.lower()
        return ("id_" in text or "server-" in text or "aced0005" in text or "ro0ab" in text
                or "169.254.169.254" in text or _HINT_DOT.search("&" + text) is not None)
    return "0" in text and ("aced0005" in text.lower() or "ro0ab" in text.lower())


def _has_dotdot(raw_path: str) -> bool:
    decoded = _decode(raw_path).replace("\\", "/")
    return "/../" in decoded + "/" or decoded.startswith("../")


def _host_is_ip(host: str) -> bool:
    return bool(re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\]", host))


def _json_values(node: Any, where: str, depth: int) -> Iterator[tuple[str, str, str]]:
    if depth > 32:
        return
    if isinstance(node, str):
        yield _field(node), where, node
    elif isinstance(node, dict):
        for key, value in list(node.items())[:MAX_VALUES]:
            yield "b", f"body:{str(key)[:40]}", f'"{key}":'
            yield "v", f"body:{str(key)[:40]}", str(key)
            yield from _json_values(value, f"body:{str(key)[:40]}", depth + 1)
    elif isinstance(node, list):
        for item in node[:MAX_VALUES]:
            yield from _json_values(item, where, depth + 1)


# A comparison that is always true, after OR/AND, in an injection context:
# ' or 1=1, " or "a"="a, 1 or 2>1, ') or ('x'='x, ' or true--, admin' or ''='
_TAUTOLOGY = re.compile(
    r"(?:(?P<ctx>['\")]|\d|^)\s*(?:or|and|xor)|(?:['\")]|^)\s*(?:\|\||&&))(?:\s+|(?=['\"(]))\s*\(*\s*"
    r"(?:(?P<l>'[^']{0,30}'|\"[^\"]{0,30}\"|0x[0-9a-f]{1,16}\b|-?\d{1,10}|[a-z_]\w{0,30})\s*"
    r"(?P<op>=|==|<=>|like|is\s+not|is|<>|!=|<=|>=|<|>)\s*(?P<r>'[^']{0,30}'|\"[^\"]{0,30}\"|0x[0-9a-f]{1,16}\b|-?\d{1,10}|"
    r"'[^']{0,30}$|\"[^\"]{0,30}$|[a-z_]\w{0,30}|null)|(?P<bare>true|false|not\s+false|-?\d{1,10})\s*(?P<end>--|#|;|\)|$|'|\"))")


def _tautology(sql: str) -> str | None:
    """Return the always-true (or always-false) comparison in ``sql``, if any."""
    if " or" not in sql and " and" not in sql and "||" not in sql and "&&" not in sql \
            and "'or" not in sql and '"or' not in sql and "'and" not in sql and ")or" not in sql:
        return None
    for match in _TAUTOLOGY.finditer(sql):
        bare = match.group("bare")
        if bare is not None:
            # "1 or 2" ending a value is prose ("1 or 2 bedrooms" cut short), not a probe.
            if bare[-1].isdigit() and (match.group("ctx") or "").isdigit() and not match.group("end"):
                continue
            return match.group().strip()
        left, op, right = match.group("l"), match.group("op"), match.group("r")
        if left is None or right is None:
            continue
        if op.startswith("is") and op != "is":
            # "1 is not null", "'a' is not null": a constant is never null.
            if right == "null" and (left[0] in "'\"" or left.lstrip("-").isdigit()):
                return match.group().strip()
            continue
        lq, rq = left.strip("'\""), right.strip("'\"")
        if right[0] in "'\"" and (len(right) == 1 or right[-1] != right[0]):
            # An unterminated right operand: the application's own closing quote ends it.
            rq = right[1:]
        quoted = left[0] in "'\"" or right[0] in "'\""
        # Unquoted identifiers compared with each other ("a or b = c") are ordinary prose.
        if not quoted and not (left.lstrip("-").isdigit() and right.lstrip("-").isdigit()):
            if left == right and op in ("=", "like", "is"):
                return match.group().strip()
            continue
        if op in ("=", "==", "<=>", "like", "is") and lq == rq:
            return match.group().strip()
        if op in ("<>", "!=") and lq != rq:
            return match.group().strip()
        if left[0] in "'\"" and right[0] in "'\"" and op in ("<", ">", "<=", ">="):
            # Two strings compared: as constant as two numbers ("' or 'a'<'b").
            if (op == "<" and lq < rq) or (op == ">" and lq > rq) or (op == "<=" and lq <= rq) or \
                    (op == ">=" and lq >= rq):
                return match.group().strip()
        if lq.lstrip("-").isdigit() and rq.lstrip("-").isdigit():
            a, b = int(lq), int(rq)
            if (op == "<" and a < b) or (op == ">" and a > b) or (op == "<=" and a <= b) or \
                    (op == ">=" and a >= b):
                return match.group().strip()
    return None
