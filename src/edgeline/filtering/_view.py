"""RequestView: the normalized request every rule and signature reads, parsed on first use.

Each field is computed once per request and cached in a slot; a rule set
that never reads cookies never parses them (STYLE rule 9). The client
address is ``ctx.state["client_ip"]`` when a trusted layer set it (the
local proxy sets it from the socket), else the ``cf-connecting-ip`` header,
which Cloudflare sets and overwrites on every request it forwards.

Geo fields are read from ``request.cf`` with :class:`edgeline.geo.GeoContext`'s
rules (country upper-cased, ASN an integer, ``isEUCountry == "1"``), straight
from the mapping: PERF, a rule set reads them on every request.
"""

from __future__ import annotations

import time
from struct import Struct
from typing import Any

from ..messages import Request
from ._engine import MAX_BODY
from ._lists import ip_key
from ._normalize import decode_component, normalize_host, normalize_path, parse_query

__all__ = ["MAX_BODY", "RequestView"]

_U32_BE: Any = Struct("!I").unpack
try:
    from socket import AF_INET as _AF_INET
    from socket import inet_pton as _inet_pton
except ImportError:  # NOTE: a runtime without _socket: ip_key does the parsing
    _inet_pton = None  # type: ignore[assignment]
    _AF_INET = 0  # type: ignore[assignment, misc]

_UNSET: Any = None
_NO_KEY: Any = object()  # ip_key may legitimately be None
# Host header -> normal form; cleared when it reaches _MAX_HOSTS (a flood of made-up hosts).
_HOSTS: dict[str, str] = {}
_MAX_HOSTS = 1024


def _cf_str(cf: Any, key: str) -> str:
    value = cf.get(key)
    return "" if value is None else str(value)


class RequestView:
    """Normalized, lazily parsed request fields for the rules engine.

    PERF: deliberately no ``__slots__``: cached fields default to a class
    attribute (``_UNSET``) until computed, so building a view is four
    assignments, and a miss is a dict lookup rather than an AttributeError
    (measured: slots with per-field initialisation, or try/except on unset
    slots, were both slower per request in bench/rules.py).
    """

    _ip: Any = None
    _ip_key: Any = _NO_KEY
    _path: Any = None
    _path_flags = 0
    _query: Any = None
    _args: Any = None
    _args_list: Any = None
    _query_flags = 0
    _headers: Any = None
    _host: Any = None
    _body: Any = None
    _tls_auth: Any = None
    _cookies: Any = None
    _country: Any = None
    _asn: Any = None

    def __init__(self, request: Request, ctx: Any = None, *, now: float | None = None,
                 body: bytes | None = None) -> None:
        self.request = request
        self.ctx = ctx
        self.now = time.time() if now is None else now
        self.body_bytes = body

    # -- client and geo ---------------------------------------------------------

    @property
    def ip(self) -> str:
        cached = self._ip
        if cached is not _UNSET:
            return cached
        ip = ""
        ctx = self.ctx
        if ctx is not None:
            ip = ctx.state.get("client_ip") or ""
        if not ip:
            ip = self.headers.get("cf-connecting-ip", "").strip()
        self._ip = ip
        return ip

    @property
    def ip_key(self) -> int | None:
        cached = self._ip_key
        if cached is not _NO_KEY:
            return cached
        ip = self._ip
        if ip is _UNSET:
            ip = self.ip
        if not ip:
            key = None
        else:
            try:  # PERF: an IPv4 address, inline (ip_key does the rest)
                key = _U32_BE(_inet_pton(_AF_INET, ip))[0]
            except (OSError, TypeError, ValueError):
                key = ip_key(ip)
        self._ip_key = key
        return key

    @property
    def country(self) -> str:
        cached = self._country
        if cached is not _UNSET:
            return cached
        value = self.request.cf.get("country")
        country = self._country = "" if value is None else str(value).upper()
        return country

    @property
    def continent(self) -> str:
        return _cf_str(self.request.cf, "continent")

    @property
    def asn(self) -> int:
        cached = self._asn
        if cached is not _UNSET:
            return cached
        try:
            asn = int(self.request.cf.get("asn") or 0)
        except (TypeError, ValueError):
            asn = 0
        self._asn = asn
        return asn

    @property
    def is_eu(self) -> bool:
        return str(self.request.cf.get("isEUCountry", "")) == "1"

    @property
    def region(self) -> str:
        return _cf_str(self.request.cf, "regionCode")

    @property
    def city(self) -> str:
        return _cf_str(self.request.cf, "city")

    @property
    def colo(self) -> str:
        return _cf_str(self.request.cf, "colo")

    # -- request line -----------------------------------------------------------

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def host(self) -> str:
        cached = self._host
        if cached is not _UNSET:
            return cached
        raw = self.headers.get("host")
        if not raw:
            raw = self.request.url.host
        # PERF: a site sees few distinct hosts; each is normalized once.
        host = _HOSTS.get(raw)
        if host is None:
            host = normalize_host(raw)
            if len(_HOSTS) >= _MAX_HOSTS:
                _HOSTS.clear()
            _HOSTS[raw] = host
        self._host = host
        return host

    @property
    def path(self) -> str:
        cached = self._path
        if cached is not _UNSET:
            return cached
        path, self._path_flags = normalize_path(self.request.url.path)
        self._path = path
        return path

    @property
    def path_flags(self) -> int:
        self.path  # noqa: B018 - computes the flags
        return self._path_flags

    @property
    def raw_path(self) -> str:
        return self.request.url.path

    @property
    def raw_query(self) -> str:
        return self.request.url.query

    @property
    def query(self) -> str:
        cached = self._query
        if cached is not _UNSET:
            return cached
        raw = self.request.url.query
        if "%" not in raw and "+" not in raw and "\x00" not in raw:
            query = raw  # PERF: nothing to decode or remove (decode_component's text)
        else:
            query = decode_component(raw, plus=True)[0]
        self._query = query
        return query

    @property
    def uri(self) -> str:
        query = self.query
        return self.path + "?" + query if query else self.path

    @property
    def args_list(self) -> list[tuple[str, str]]:
        """Every decoded (name, value) pair of the query, in order."""
        cached = self._args_list
        if cached is not _UNSET:
            return cached
        pairs, self._query_flags = parse_query(self.request.url.query)
        self._args_list = pairs
        return pairs

    @property
    def query_flags(self) -> int:
        self.args_list  # noqa: B018 - computes the flags
        return self._query_flags

    @property
    def args(self) -> dict[str, str]:
        """The first value of each query parameter, by decoded name."""
        cached = self._args
        if cached is not _UNSET:
            return cached
        args: dict[str, str] = {}
        for name, value in self.args_list:
            args.setdefault(name, value)
        self._args = args
        return args

    # -- headers ----------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        """Header values by lower-case name; repeated fields joined with ", "."""
        cached = self._headers
        if cached is not _UNSET:
            return cached
        raw = self.request.headers.raw
        headers: dict[str, str] = dict(raw)
        if len(headers) != len(raw):
            # A repeated field: join its values in order (RFC 9110 §5.3).
            headers = {}
            for name, value in raw:
                if name in headers:
                    headers[name] = headers[name] + ", " + value
                else:
                    headers[name] = value
        self._headers = headers
        return headers

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")

    @property
    def referer(self) -> str:
        return self.headers.get("referer", "")

    @property
    def cookie_header(self) -> str:
        return self.headers.get("cookie", "")

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies by name (RFC 6265 §5.4: ``name=value`` pairs split on ``;``; first wins)."""
        cached = self._cookies
        if cached is not _UNSET:
            return cached
        cookies: dict[str, str] = {}
        header = self.headers.get("cookie")
        if header:
            for part in header.split(";"):
                name, eq, value = part.partition("=")
                if eq:
                    name = name.strip()
                    if name and name not in cookies:
                        value = value.strip()
                        if value[:1] == '"' and len(value) >= 2 and value[-1] == '"':
                            value = value[1:-1]
                        cookies[name] = value
        self._cookies = cookies
        return cookies

    # -- TLS and protocol (request.cf) ------------------------------------------

    @property
    def http_version(self) -> str:
        return _cf_str(self.request.cf, "httpProtocol")

    @property
    def tls_version(self) -> str:
        return _cf_str(self.request.cf, "tlsVersion")

    @property
    def tls_cipher(self) -> str:
        return _cf_str(self.request.cf, "tlsCipher")

    @property
    def _client_auth(self) -> dict[str, Any]:
        cached = self._tls_auth
        if cached is not _UNSET:
            return cached
        raw = self.request.cf.get("tlsClientAuth")
        auth = self._tls_auth = raw if isinstance(raw, dict) else {}
        return auth

    @property
    def tls_client_cert_presented(self) -> bool:
        return str(self._client_auth.get("certPresented", "")) == "1"

    @property
    def tls_client_cert_verified(self) -> bool:
        return self._client_auth.get("certVerified") == "SUCCESS"

    # -- body -------------------------------------------------------------------

    @property
    def body(self) -> str:
        """The first MAX_BODY bytes of the body as text (empty unless the engine read it)."""
        cached = self._body
        if cached is not _UNSET:
            return cached
        raw = self.body_bytes or b""
        body = self._body = raw[:MAX_BODY].decode("utf-8", errors="replace")
        return body

    # -- time -------------------------------------------------------------------

    @property
    def time_now(self) -> int:
        return int(self.now)

    @property
    def time_hour(self) -> int:
        return int(self.now // 3600 % 24)

    @property
    def time_weekday(self) -> int:
        # 1970-01-01 was a Thursday (weekday 3, Monday = 0).
        return int((self.now // 86400 + 3) % 7)
