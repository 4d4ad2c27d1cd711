"""Compile the filtering parts of a KV configuration into a Ruleset (the configuration-plane hook).

Register it with the configuration plane (which owns ``edgeline.config``)::

    from edgeline.config import compiler
    from edgeline.filtering.config import compile_rules_part  # imports msgspec lazily
    compiler("rules")(compile_rules_part)

It reads ``rules``, ``ip_lists``, ``rate_limits``, ``authenticators`` and
``managed_paranoia`` of a ``kv_schemas.EdgeConfig``. A rule is either a
structured ``match`` (methods, path prefix, hosts, countries, ASNs, IP list),
translated into an expression, or an ``expression`` in the rules language.
Every problem is reported at its field path (``$.rate_limits[0].key``,
``$.rules[3].action.limiter``), with line and column for expressions.

Rate limits become :class:`RateLimiter` objects, each with counters (and
a penalty box) of its own. NOTE: a new configuration starts new in-memory
counters. Pushes are rare next to a limit's period, so this grants a client
at most one extra allowance per push; sharing counters between compiles
would need a registry outliving them, which would also couple every app
(and every test) in one process that uses the same limit name.

Authenticators become :class:`JWTAuthenticator` or
:class:`APIKeyAuthenticator` objects, wrapped so that they fail *closed*:
APPSEC: the firewall serves a request unfiltered when evaluation itself
fails (``fail_open``), which is right for a rate limit but would let any
client past an authenticator whose KV read or key import broke, so an
error there is logged and answered with 401. Secrets are never in the
configuration: an HS256 secret is read from the env binding named
``secret_env`` when a request arrives, and API keys are looked up by their
SHA-256 in the KV namespace named ``kv``, each record decoded and checked
as a ``kv_schemas.APIKey``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from ..messages import Request
from ._ast import Binary, Field, ListRef, Literal, Logical, Node, SetLit
from ._auth import APIKeyAuthenticator, AuthResult, JWTAuthenticator
from ._errors import FilterConfigError, RuleError
from ._lists import IPRangeSet, ListError
from ._parse import MAX_SOURCE, _quote
from ._ratelimit import BINDING_PERIODS, PenaltyBox, RateLimiter
from ._ruleset import (
    Action,
    Allow,
    Block,
    Log,
    RateLimit,
    RequireAuth,
    Rule,
    Ruleset,
    RulesetInvalid,
    compile_ruleset,
)

__all__ = ["build_authenticators", "build_limiters", "compile_rules_part",
           "match_to_expression", "match_to_tree"]

log = logging.getLogger("edgeline.filtering")

# RFC 7517 §6.2.2, §6.3.2, §6.4.1: members only a private or symmetric key carries.
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_KEY_TYPES: Final = frozenset({"RSA", "EC", "OKP"})


def match_to_expression(match: Any) -> str:
    """Translate a structured ``kv_schemas.Match`` into an equivalent expression."""
    return match_to_tree(match)[0]


def _test(name: str, op: str, at: int) -> tuple[str, Field, int, int]:
    """Return ``name op `` written at offset ``at``: text, field node, operator and right offsets."""
    return f"{name} {op} ", Field(name, at), at + len(name) + 1, at + len(name) + len(op) + 2


def _strings(values: Any, at: int) -> tuple[str, SetLit]:
    """Return the text of a set of strings written at offset ``at``, and its node."""
    return _set(values, [_quote(value) for value in values], "str", at)


def _integers(values: Any, at: int) -> tuple[str, SetLit]:
    """Return the text of a set of integers written at offset ``at``, and its node."""
    return _set(values, [str(value) for value in values], "int", at)


def _set(values: Any, texts: list[str], kind: str, at: int) -> tuple[str, SetLit]:
    """Return ``{texts...}`` written at offset ``at`` and its node of ``kind`` literals."""
    items = []
    pos = at + 1
    for value, text in zip(values, texts, strict=True):
        items.append(Literal(value, kind, pos))
        pos += len(text) + 1
    return "{" + " ".join(texts) + "}", SetLit(tuple(items), at)


def _host(pattern: str, at: int) -> tuple[str, Binary]:
    host = pattern.lower()
    op, value = ("ends_with", host[1:]) if host.startswith("*.") else ("==", host)
    head, field, where, right = _test("http.host", op, at)
    return head + _quote(value), Binary(op, field, Literal(value, "str", right), where)


def match_to_tree(match: Any) -> tuple[str, Node]:
    """Return the expression of a structured ``kv_schemas.Match`` and its syntax tree.

    PERF: the tree is built directly, as :func:`parse` would build it from
    the text (positions included, worked out from the lengths of the pieces),
    so that structured rules, most of a configuration, skip the tokenizer and
    the parser when it loads.
    """
    texts: list[str] = []
    parts: list[Node] = []
    at = 0  # where the next part starts: after the parts so far, each followed by " and "
    if match.methods:
        head, field, where, right = _test("http.method", "in", at)
        text, values = _strings(match.methods, right)
        texts.append(head + text)
        parts.append(Binary("in", field, values, where))
        at = right + len(text) + 5
    if match.path_prefix is not None:
        head, field, where, right = _test("http.path", "starts_with", at)
        text = _quote(match.path_prefix)
        texts.append(head + text)
        parts.append(Binary("starts_with", field, Literal(match.path_prefix, "str", right),
                            where))
        at = right + len(text) + 5
    if match.hosts:
        if len(match.hosts) == 1:
            text, test = _host(match.hosts[0], at)
            texts.append(text)
            parts.append(test)
            at += len(text) + 5
        else:
            start = pos = at + 1
            alternatives: list[str] = []
            tests: list[Node] = []
            for pattern in match.hosts:
                text, test = _host(pattern, pos)
                alternatives.append(text)
                tests.append(test)
                pos += len(text) + 4  # " or "
            text = "(" + " or ".join(alternatives) + ")"
            texts.append(text)
            parts.append(Logical("or", tuple(tests), start))
            at += len(text) + 5
    if match.countries:
        head, field, where, right = _test("geo.country", "in", at)
        text, values = _strings(match.countries, right)
        texts.append(head + text)
        parts.append(Binary("in", field, values, where))
        at = right + len(text) + 5
    if match.asns:
        head, field, where, right = _test("geo.asn", "in", at)
        text, values = _integers(match.asns, right)
        texts.append(head + text)
        parts.append(Binary("in", field, values, where))
        at = right + len(text) + 5
    if match.ip_list is not None:
        head, field, where, right = _test("ip.src", "in", at)
        texts.append(f"{head}${match.ip_list}")
        parts.append(Binary("in", field, ListRef(match.ip_list, right), where))
    if not parts:
        return "true", Literal(True, "bool", 0)
    tree = parts[0] if len(parts) == 1 else Logical("and", tuple(parts), 0)
    return " and ".join(texts), tree


def _action(action: Any) -> Action | dict[str, Any]:
    """Return the action of a ``kv_schemas`` rule action (PERF: the common ones built as is)."""
    kind = type(action).__name__
    if kind == "Block":
        return Block(action.status, action.message)
    if kind == "Allow":
        return Allow()
    if kind == "Log":
        return Log()
    if kind == "RateLimit":
        return RateLimit(action.limiter)
    if kind == "RequireAuth":
        return RequireAuth(action.authenticator)
    # Others, and a variant added to the schema later: its fields are the action's options.
    import msgspec
    data = msgspec.to_builtins(action)
    return dict(data) if isinstance(data, dict) else {"type": kind.lower()}


def _binding(env: Any, name: str) -> Any:
    if env is None:
        return None
    try:
        return env[name]
    except (KeyError, TypeError, AttributeError):
        return getattr(env, name, None)


def _duplicates(items: Any, path: str, build: Any, what: str) -> set[int]:
    seen: dict[str, int] = {}
    twice: set[int] = set()
    for index, item in enumerate(items):
        first = seen.setdefault(item.name, index)
        if first != index:
            twice.add(index)
            build.problem(f"{path}[{index}].name",
                          f"{what} {item.name!r} is defined twice (first at {path}[{first}])")
    return twice


def _expression_problem(exc: RuleError) -> str:
    return f"line {exc.line}, column {exc.column}: {exc.message}"


# -- rate limits ------------------------------------------------------------------------


def build_limiters(config: Any, build: Any, lists: Mapping[str, Any] | None = None,
                   ) -> dict[str, RateLimiter]:
    """Build a RateLimiter per ``config.rate_limits`` entry; record problems on ``build``."""
    specs = list(getattr(config, "rate_limits", ()))
    twice = _duplicates(specs, "$.rate_limits", build, "rate limit")
    limiters: dict[str, RateLimiter] = {}
    for index, spec in enumerate(specs):
        if index in twice:
            continue
        path = f"$.rate_limits[{index}]"
        binding = spec.store[len("binding:"):] if spec.store.startswith("binding:") else None
        if binding is not None:
            # The Workers Rate Limiting binding counts per 10 or 60 s windows only.
            if spec.period not in BINDING_PERIODS:
                build.problem(f"{path}.period",
                              f"the Rate Limiting binding ({spec.store}) allows periods of 10 "
                              f"or 60 seconds, not {spec.period:g}")
                continue
            if spec.algorithm == "token_bucket":
                build.problem(f"{path}.algorithm",
                              f"the Rate Limiting binding ({spec.store}) counts requests per "
                              "period; token_bucket needs store = \"memory\"")
                continue
        penalty = None
        if spec.penalty is not None:
            p = spec.penalty
            penalty = PenaltyBox(violations=p.after, within=p.within, ban=p.ban)
        try:
            limiters[spec.name] = RateLimiter(
                spec.name, limit=spec.limit, period=spec.period, key=spec.key,
                algorithm=spec.algorithm, store=spec.store, penalty=penalty, lists=lists)
        except RuleError as exc:
            build.problem(f"{path}.key", _expression_problem(exc))
        except FilterConfigError as exc:
            build.problem(path, str(exc))
    return limiters


# -- authenticators ---------------------------------------------------------------------


def _unavailable(description: str) -> AuthResult:
    # An empty error: RFC 6750 §3.1 codes describe the token, and this is not its fault.
    return AuthResult(False, error="", description=description)


class _FailClosed:
    """Run an authenticator; any exception is logged and refuses the request (401)."""

    __slots__ = ("name", "inner")

    def __init__(self, name: str, inner: Any) -> None:
        self.name = name
        self.inner = inner

    @property
    def trusted_headers(self) -> frozenset[str]:
        return frozenset(self.inner.trusted_headers)

    async def authenticate(self, request: Request, ctx: Any = None,
                           now: float | None = None) -> AuthResult:
        """Authenticate with the wrapped authenticator, refusing on any failure of its own."""
        try:
            result: AuthResult = await self.inner.authenticate(request, ctx, now)
        except FilterConfigError as exc:  # a missing binding: no traceback needed
            log.error("authenticator %r: %s; refusing the request", self.name, exc)
            return _unavailable("authentication is unavailable")
        except Exception:
            log.exception("authenticator %r failed; refusing the request", self.name)
            return _unavailable("authentication is unavailable")
        return result

    def __repr__(self) -> str:
        return f"<authenticator {self.name!r} {type(self.inner).__name__}>"


class EnvSecretJWT:
    """A JWTAuthenticator whose HS256 secret is read from ``env[secret_env]`` per request.

    The secret is looked up when a request arrives (Workers secrets are env
    bindings, not configuration); the authenticator built for it is kept
    until the secret changes, so its JWKS cache survives between requests.
    """

    __slots__ = ("name", "secret_env", "options", "_secret", "_inner", "_forward")

    def __init__(self, name: str, secret_env: str, options: dict[str, Any]) -> None:
        self.name = name
        self.secret_env = secret_env
        self.options = options
        # Built once with a stand-in secret so every other option is checked now.
        probe = JWTAuthenticator(name, secret=b"\0" * 32, **options)
        self._forward = probe.trusted_headers
        self._secret: str | bytes | None = None
        self._inner: JWTAuthenticator | None = None

    @property
    def trusted_headers(self) -> frozenset[str]:
        return self._forward

    async def authenticate(self, request: Request, ctx: Any = None,
                           now: float | None = None) -> AuthResult:
        """Read the secret from the env, then verify the request's token with it."""
        secret = _binding(getattr(ctx, "env", None), self.secret_env)
        if not isinstance(secret, (str, bytes)) or not secret:
            log.error("authenticator %r: no secret in the env binding %r; refusing requests",
                      self.name, self.secret_env)
            return _unavailable("authentication is unavailable")
        if self._inner is None or secret != self._secret:
            try:
                self._inner = JWTAuthenticator(self.name, secret=secret, **self.options)
            except FilterConfigError as exc:
                self._inner = None
                log.error("authenticator %r: the secret in %r is unusable: %s", self.name,
                          self.secret_env, exc)
                return _unavailable("authentication is unavailable")
            self._secret = secret
        return await self._inner.authenticate(request, ctx, now)


class KVAPIKeyAuthenticator(APIKeyAuthenticator):
    """An APIKeyAuthenticator whose KV records are decoded and checked as ``kv_schemas.APIKey``.

    A record that does not decode refuses its key (and is logged); a KV
    read that fails refuses the request without being remembered.
    """

    __slots__ = ()

    async def _record(self, ctx: Any, digest: str, now: float) -> dict[str, Any] | None:
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        namespace = _binding(getattr(ctx, "env", None), self.kv)
        if namespace is None:
            raise FilterConfigError(f"API key authenticator {self.name!r}: no KV namespace "
                                    f"bound as {self.kv!r}")
        raw = await namespace.get(self.prefix + digest)
        record = None if raw is None else _decode_api_key(raw, self.prefix + digest)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self.cache_ttl, record)
        return record


def _decode_api_key(raw: Any, key: str) -> dict[str, Any] | None:
    import msgspec

    import kv_schemas

    try:
        value = kv_schemas.DECODERS["api-key"].decode(raw)
    except (msgspec.MsgspecError, UnicodeDecodeError, TypeError) as exc:
        log.error("KV value %s is not an API key record: %s", key[:16] + "...", exc)
        return None
    if value.version > kv_schemas.VERSIONS["api-key"]:
        log.error("KV value %s is an API key record of version %d, newer than this code reads",
                  key[:16] + "...", value.version)
        return None
    return {"name": value.name, "claims": dict(value.claims), "disabled": value.disabled,
            "expires_at": value.expires_at}


def _jwt(spec: Any, path: str, build: Any) -> Any:
    ok = True
    for position, jwk in enumerate(spec.keys):
        where = f"{path}.keys[{position}]"
        private = sorted(_PRIVATE_MEMBERS & set(jwk))
        if private:
            build.problem(where, f"a private or symmetric key ({', '.join(private)}) must not be "
                                 "kept in the configuration; give public keys here and an HS256 "
                                 "secret through secret_env")
            ok = False
        elif jwk.get("kty") not in _KEY_TYPES:
            build.problem(f"{where}.kty", f"key type {jwk.get('kty')!r} is not one of "
                                          f"{', '.join(sorted(_KEY_TYPES))}")
            ok = False
    hs256 = "HS256" in spec.algorithms
    if hs256 and spec.secret_env is None:
        build.problem(f"{path}.secret_env", "HS256 is in algorithms: name the env binding "
                                            "holding its secret")
        ok = False
    if spec.secret_env is not None and not hs256:
        build.problem(f"{path}.algorithms", "secret_env is set but HS256 is not allowed")
        ok = False
    if spec.jwks_url is None and not spec.keys and spec.secret_env is None and ok:
        build.problem(path, "give jwks_url, keys or secret_env: where the verifying keys are")
        ok = False
    if not ok:
        return None
    options: dict[str, Any] = {
        "jwks_url": spec.jwks_url, "keys": [dict(k) for k in spec.keys],
        "algorithms": tuple(spec.algorithms), "issuer": tuple(spec.issuer) or None,
        "audience": tuple(spec.audience) or None, "leeway": spec.leeway, "header": spec.header,
        "cookie": spec.cookie, "forward": dict(spec.forward),
        "required_claims": tuple(spec.required_claims),
    }
    try:
        if spec.secret_env is not None:
            return EnvSecretJWT(spec.name, spec.secret_env, options)
        return JWTAuthenticator(spec.name, **options)
    except FilterConfigError as exc:
        where = f"{path}.jwks_url" if "jwks_url" in str(exc) else path
        build.problem(where, str(exc))
        return None


def build_authenticators(config: Any, build: Any) -> dict[str, Any]:
    """Build an authenticator per ``config.authenticators`` entry; record problems on ``build``."""
    specs = list(getattr(config, "authenticators", ()))
    twice = _duplicates(specs, "$.authenticators", build, "authenticator")
    out: dict[str, Any] = {}
    for index, spec in enumerate(specs):
        if index in twice:
            continue
        path = f"$.authenticators[{index}]"
        kind = type(spec).__name__
        inner: Any
        if kind == "JWTAuth":
            inner = _jwt(spec, path, build)
        else:
            try:
                inner = KVAPIKeyAuthenticator(spec.name, kv=spec.kv, header=spec.header,
                                              forward=dict(spec.forward),
                                              cache_ttl=spec.cache_ttl)
            except FilterConfigError as exc:
                build.problem(f"{path}.forward", str(exc))
                inner = None
        if inner is not None:
            out[spec.name] = _FailClosed(spec.name, inner)
    return out


# -- the rules part -----------------------------------------------------------------------


def _references(item: Any, path: str, limiters: Mapping[str, Any],
                authenticators: Mapping[str, Any], config: Any, build: Any) -> bool:
    """Check the limit or authenticator a rule's action names; False if it is unknown."""
    action = item.action
    limiter = getattr(action, "limiter", None)
    if limiter is not None and limiter not in limiters:
        names = {s.name for s in getattr(config, "rate_limits", ())}
        if limiter not in names:  # a known but broken limit is reported at its own path
            build.problem(f"{path}.action.limiter",
                          f"no rate limit named {limiter!r} in $.rate_limits (known: "
                          f"{', '.join(sorted(names)) or 'none'})")
        return False
    authenticator = getattr(action, "authenticator", None)
    if authenticator is not None and authenticator not in authenticators:
        names = {s.name for s in getattr(config, "authenticators", ())}
        if authenticator not in names:
            build.problem(f"{path}.action.authenticator",
                          f"no authenticator named {authenticator!r} in $.authenticators "
                          f"(known: {', '.join(sorted(names)) or 'none'})")
        return False
    return True


def compile_rules_part(config: Any, build: Any) -> Ruleset:
    """Compile ``config.rules`` with its lists, limits and authenticators; record problems."""
    lists: dict[str, Any] = {}
    # PERF: the plane's "ip_lists" compiler has already built every list (the
    # same IPRangeSet); it is used as is.
    built = getattr(build, "parts", {}).get("ip_lists")
    for index, item in enumerate(getattr(config, "ip_lists", ())):
        if built is not None:
            ready = built.get(item.name)
            if isinstance(ready, IPRangeSet):
                lists[item.name] = ready
                continue
            if ready is None:
                continue  # the plane rejected it, and said where
        try:
            lists[item.name] = IPRangeSet(item.entries, name=item.name)
        except ListError as exc:
            build.problem(f"$.ip_lists[{index}].entries[{(exc.line or 1) - 1}]", exc.reason)
    limiters = build_limiters(config, build, lists)
    authenticators = build_authenticators(config, build)
    rules: list[Rule] = []
    paths: dict[str, int] = {}
    for index, item in enumerate(getattr(config, "rules", ())):
        action = item.action
        if ((getattr(action, "limiter", None) is not None
             or getattr(action, "authenticator", None) is not None)
                and not _references(item, f"$.rules[{index}]", limiters, authenticators, config,
                                    build)):
            continue
        expression = getattr(item, "expression", None)
        tree = None
        if not expression:
            expression, tree = match_to_tree(item.match)
            if len(expression) > MAX_SOURCE:
                tree = None  # parsing it says so
        try:
            rules.append(Rule(item.id, expression, _action(item.action),
                              phase=getattr(item, "phase", "custom"), description=item.description,
                              enabled=item.enabled, tree=tree))
            paths[item.id] = index
        except FilterConfigError as exc:
            build.problem(f"$.rules[{index}]", str(exc))
    paranoia = getattr(config, "managed_paranoia", None)
    managed = None
    if paranoia:
        # PERF: the managed rules and their screens load only when configured.
        from ._managed import ManagedRules

        managed = ManagedRules(paranoia)
    try:
        return compile_ruleset(rules, lists=lists, limiters=limiters,
                               authenticators=authenticators, managed=managed)
    except RulesetInvalid as invalid:
        for error in invalid.errors:
            if isinstance(error, RuleError) and error.rule in paths:
                where = f"$.rules[{paths[error.rule]}].expression"
                build.problem(where, _expression_problem(error))
            else:
                build.problem("$.rules", str(error))
        return compile_ruleset([], lists=lists)
