"""Cache-Control directives: the RFC 9111 §5.2 list syntax and RFC 9213 targeted fields.

``parse_cache_control`` reads ``Cache-Control`` (and Pragma's one meaningful
value) the way RFC 9111 §5.2 and RFC 9110 §5.6 describe: a comma-separated
list of ``token [ "=" ( token / quoted-string ) ]`` whose names are
case-insensitive. ``parse_targeted`` reads a targeted field such as
``CDN-Cache-Control`` (RFC 9213 §2.1), which is a Structured Fields
Dictionary (RFC 8941 §3.2): a field that does not parse is ignored whole.

Both give a :class:`Directives`, whose typed readers apply the error rules:

- a directive that occurs more than once: the first occurrence is used
  (RFC 9111 §4.2.1 allows "the first occurrence" or "stale");
- a delta-seconds value that is not a non-negative integer: the response is
  treated as stale (RFC 9111 §4.2.1, "invalid values ... consider the
  response stale"), so ``max_age`` reads as 0;
- a delta-seconds value too large: 2147483648 (RFC 9111 §1.2.2).
"""

from __future__ import annotations

import re

__all__ = ["MAX_DELTA", "Directives", "parse_cache_control", "parse_field_names",
           "parse_surrogate_control", "parse_targeted"]

MAX_DELTA = 2147483648  # RFC 9111 §1.2.2: 2^31, "the greatest positive integer"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_DIGITS = re.compile(r"[0-9]+\Z")


def _split_list(value: str) -> list[str]:
    """Split an RFC 9110 §5.6.1 list on commas that are outside quoted strings."""
    if '"' not in value:
        return value.split(",")
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return items


def _unquote(value: str) -> str | None:
    """Return a quoted-string's content (RFC 9110 §5.6.4), or None if malformed."""
    if len(value) < 2 or value[-1] != '"':
        return None
    out: list[str] = []
    escaped = False
    for ch in value[1:-1]:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return None
        else:
            out.append(ch)
    return None if escaped else "".join(out)


class Directives:
    """Hold a parsed directive list: name (lower-case) -> value (None when bare).

    ``present`` is False for a field that was absent or ignored; readers then
    return their "absent" answers.
    """

    __slots__ = ("values", "present", "_delta_cache")

    def __init__(self, values: dict[str, str | None] | None = None, *, present: bool = True) -> None:
        self.values: dict[str, str | None] = values if values is not None else {}
        self.present = present
        self._delta_cache: dict[str, int | None] | None = None

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def delta(self, name: str) -> int | None:
        """Return ``name`` as delta-seconds; None if absent, 0 if invalid (stale)."""
        cache = self._delta_cache
        if cache is None:
            cache = self._delta_cache = {}
        elif name in cache:
            return cache[name]
        if name not in self.values:
            result = None
        else:
            raw = self.values[name]
            if raw is None or not _DIGITS.match(raw):
                result = 0
            else:
                result = min(int(raw), MAX_DELTA)
        cache[name] = result
        return result

    def field_names(self, name: str) -> frozenset[str] | None:
        """Return the field names a qualified ``no-cache``/``private`` lists (RFC 9111 §5.2.2.4).

        None when the directive is absent, an empty set when it is unqualified.
        """
        if name not in self.values:
            return None
        raw = self.values[name]
        return frozenset() if raw is None else parse_field_names(raw)

    # PERF: the common readers as properties, so call sites read like the RFC.
    @property
    def no_store(self) -> bool:
        return "no-store" in self.values

    @property
    def private(self) -> bool:
        return "private" in self.values

    @property
    def public(self) -> bool:
        return "public" in self.values

    @property
    def must_revalidate(self) -> bool:
        return "must-revalidate" in self.values

    @property
    def proxy_revalidate(self) -> bool:
        return "proxy-revalidate" in self.values

    @property
    def must_understand(self) -> bool:
        return "must-understand" in self.values

    def __repr__(self) -> str:
        return f"Directives({self.values!r})"


EMPTY = Directives(present=False)


def parse_field_names(raw: str) -> frozenset[str]:
    """Return the lower-cased field names of a comma-separated list (empty ones dropped)."""
    return frozenset(n.strip().lower() for n in raw.split(",") if n.strip())


def parse_cache_control(values: list[str]) -> Directives:
    """Parse every ``Cache-Control`` field line, in order, into :class:`Directives`.

    A member that is not ``token[=token|quoted-string]`` (e.g. ``max-age =1``,
    with a space before ``=``) is ignored; a later duplicate is ignored.
    """
    if not values:
        return EMPTY
    out: dict[str, str | None] = {}
    for line in values:
        for item in _split_list(line):
            item = item.strip(" \t")
            if not item:
                continue
            name, eq, value = item.partition("=")
            if not _TOKEN.match(name):
                continue
            name = name.lower()
            if name in out:
                continue  # RFC 9111 §4.2.1: the first occurrence wins
            if not eq:
                out[name] = None
            elif value.startswith('"'):
                unquoted = _unquote(value)
                # NOTE: a malformed quoted value keeps the directive but not
                # a usable value ("" reads as invalid delta-seconds: stale).
                out[name] = unquoted if unquoted is not None else ""
            else:
                out[name] = value if _TOKEN.match(value) else ""
    return Directives(out)


def parse_surrogate_control(values: list[str], target: str) -> Directives:
    """Parse ``Surrogate-Control`` (W3C Edge Architecture 1.0) for the device ``target``.

    The syntax is Cache-Control's, where a directive may end in
    ``;device-token`` to aim it at one surrogate: directives aimed at another
    device are dropped, untargeted ones apply to every surrogate. Like a
    targeted field (RFC 9213), a Surrogate-Control with any directive for
    this cache replaces Cache-Control and Expires for it.
    """
    kept: list[str] = []
    for line in values:
        for item in _split_list(line):
            directive, semi, device = item.partition(";")
            if semi and device.strip().lower() != target:
                continue
            kept.append(directive)
    parsed = parse_cache_control([",".join(kept)]) if kept else EMPTY
    return parsed if parsed.values else EMPTY


# -- RFC 8941 Structured Fields: just the Dictionary grammar ------------------------

_SF_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_SF_INT = re.compile(r"-?[0-9]{1,15}")
_SF_DEC = re.compile(r"-?[0-9]{1,12}\.[0-9]{1,3}")
_SF_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_SF_BYTES = re.compile(r":[A-Za-z0-9+/=]*:")


class _SFError(ValueError):
    pass


def _sf_bare(text: str, i: int) -> tuple[object, int]:
    """Parse one bare item at ``i``; return (value, next index). Raise _SFError."""
    if i >= len(text):
        raise _SFError("empty item")
    ch = text[i]
    if ch == '"':
        out: list[str] = []
        j = i + 1
        while j < len(text):
            c = text[j]
            if c == "\\":
                if j + 1 >= len(text) or text[j + 1] not in '"\\':
                    raise _SFError("bad escape")
                out.append(text[j + 1])
                j += 2
                continue
            if c == '"':
                return "".join(out), j + 1
            if not " " <= c <= "~":
                raise _SFError("bad string char")
            out.append(c)
            j += 1
        raise _SFError("unterminated string")
    if ch == "?":
        if text[i + 1:i + 2] in ("0", "1"):
            return text[i + 1] == "1", i + 2
        raise _SFError("bad boolean")
    if ch == ":":
        m = _SF_BYTES.match(text, i)
        if not m:
            raise _SFError("bad byte sequence")
        return m.group(), m.end()
    if ch == "-" or ch.isdigit():
        m = _SF_DEC.match(text, i)
        if m:
            return float(m.group()), m.end()
        m = _SF_INT.match(text, i)
        if not m or (m.end() < len(text) and text[m.end()].isdigit()):
            raise _SFError("bad number")
        return int(m.group()), m.end()
    m = _SF_TOKEN.match(text, i)
    if m:
        return _Token(m.group()), m.end()
    raise _SFError(f"unexpected {ch!r}")


class _Token(str):
    """An SF Token, kept apart from an SF String."""


def _sf_params(text: str, i: int) -> int:
    while i < len(text) and text[i] == ";":
        i += 1
        while i < len(text) and text[i] == " ":
            i += 1
        m = _SF_KEY.match(text, i)
        if not m:
            raise _SFError("bad parameter key")
        i = m.end()
        if i < len(text) and text[i] == "=":
            _, i = _sf_bare(text, i + 1)
    return i


def parse_sf_dictionary(text: str) -> dict[str, object]:
    """Parse an RFC 8941 §4.2.2 Dictionary; raise ValueError if it does not parse.

    Values are bare items (parameters are checked and dropped; an inner list
    reads as a tuple of its items).
    """
    out: dict[str, object] = {}
    i, n = 0, len(text)
    while i < n and text[i] == " ":
        i += 1
    if i >= n:
        return out
    while True:
        m = _SF_KEY.match(text, i)
        if not m:
            raise _SFError(f"bad key at {i}")
        key = m.group()
        i = m.end()
        value: object = True
        if i < n and text[i] == "=":
            i += 1
            if i < n and text[i] == "(":
                items: list[object] = []
                i += 1
                while True:
                    while i < n and text[i] == " ":
                        i += 1
                    if i < n and text[i] == ")":
                        i += 1
                        break
                    item, i = _sf_bare(text, i)
                    i = _sf_params(text, i)
                    items.append(item)
                    if i < n and text[i] not in " )":
                        raise _SFError("bad inner list")
                value = tuple(items)
            else:
                value, i = _sf_bare(text, i)
        i = _sf_params(text, i)
        out[key] = value  # RFC 8941 §4.2.2: a later duplicate key overwrites
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return out
        if text[i] != ",":
            raise _SFError(f"expected ',' at {i}")
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            raise _SFError("trailing comma")


# Directives whose value is delta-seconds: in a targeted field they must be SF Integers.
_DELTA_DIRECTIVES = frozenset({"max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"})


def parse_targeted(values: list[str]) -> Directives:
    """Parse a targeted cache-control field (RFC 9213 §2.1); absent or invalid → not present.

    RFC 9213 §2.1: a field that fails to parse as a Dictionary is ignored as
    if absent; so is one whose delta-seconds directive is not an Integer.
    """
    if not values:
        return EMPTY
    try:
        parsed = parse_sf_dictionary(", ".join(values))
    except ValueError:
        return EMPTY
    if not parsed:
        return EMPTY
    out: dict[str, str | None] = {}
    for key, value in parsed.items():
        if key in _DELTA_DIRECTIVES:
            if type(value) is not int or value < 0:
                return EMPTY
            out[key] = str(value)
        elif value is True:
            out[key] = None
        elif isinstance(value, str):
            out[key] = str(value)
        elif isinstance(value, tuple):
            out[key] = ", ".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return Directives(out)
