"""Access control as data: rate limits, authenticators, and the API keys kept in KV.

``RateLimitSpec`` names a limit that rules apply with a ``rate_limit``
action: ``limit`` requests per ``period`` seconds per value of ``key`` (an
expression in the rules language, docs/rules.md: ``ip.src``,
``http.header["x-api-key"]``), counted by one of the algorithms ``fixed``,
``sliding`` or ``token_bucket`` in isolate memory (``store = "memory"``), or
by the Workers Rate Limiting binding ``env.NAME`` (``store = "binding:NAME"``;
periods of 10 or 60 s, as the platform allows). An optional ``penalty`` bans
a key for ``ban`` seconds once it has been refused ``after`` times within
``within`` seconds.

``AuthenticatorSpec`` is a tagged union on ``type``, applied by rules with a
``require_auth`` action:

``jwt``
    A bearer JWT (RFC 7519) verified against ``jwks_url``, a static public
    JWK set (``keys``) and/or an HS256 secret read at request time from the
    env binding named ``secret_env``; ``issuer``, ``audience``,
    ``algorithms`` (an allowlist; ``none`` is never accepted, RFC 8725 §3.1)
    and ``leeway``; ``forward`` maps claims to the request headers the
    origin receives.
``api_key``
    A key in ``header``, looked up by its SHA-256 under ``apikey:<hex>`` in
    the KV namespace bound as ``kv``; ``forward`` maps the key's claims to
    headers.

Secrets never live in this document: only the names of the env bindings
that hold them.

``APIKey`` is the value stored under ``apikey:<sha256 hex of the key>``: a
kind of its own (``api-key`` in :data:`kv_schemas.KINDS`), one key per KV
entry, so keys are issued and revoked one write each.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from ._base import Name, Schema

__all__ = [
    "APIKey",
    "APIKeyAuth",
    "AuthenticatorSpec",
    "JWTAuth",
    "Penalty",
    "RateLimitSpec",
]

# An env binding's name, as wrangler.toml spells them.
BindingName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
# RFC 9110 §5.1: a field name is a token.
FieldName = Annotated[str, msgspec.Meta(pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$", max_length=64)]
ClaimName = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Expression = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
# "memory", or "binding:NAME" for the Workers Rate Limiting binding env.NAME.
Store = Annotated[str, msgspec.Meta(pattern=r"^(memory|binding:[A-Za-z_][A-Za-z0-9_]*)$")]
Algorithm = Literal["RS256", "ES256", "EdDSA", "HS256"]


class Penalty(Schema, frozen=True):
    """Ban a key for ``ban`` seconds after ``after`` refusals within ``within`` seconds."""

    after: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 3
    ban: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 600.0
    within: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 60.0


class RateLimitSpec(Schema, frozen=True):
    """A named rate limit (see the module docstring)."""

    name: Name
    limit: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]
    period: Annotated[float, msgspec.Meta(gt=0, le=86400)]
    algorithm: Literal["fixed", "sliding", "token_bucket"] = "sliding"
    key: Expression = "ip.src"
    store: Store = "memory"
    penalty: Penalty | None = None
    description: str = ""


class JWTAuth(Schema, frozen=True, tag="jwt", tag_field="type"):
    """Require a bearer JWT (RFC 7519), checked as RFC 8725 advises."""

    name: Name
    jwks_url: Annotated[str, msgspec.Meta(pattern=r"^https?://", max_length=2048)] | None = None
    # Public keys, inline (RFC 7517 §4); private members are refused when compiled.
    keys: list[dict[str, Any]] = []
    # The env binding holding an HS256 secret (at least 32 bytes, RFC 7518 §3.2).
    secret_env: BindingName | None = None
    issuer: list[Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]] = []
    audience: list[Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]] = []
    algorithms: Annotated[list[Algorithm], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    leeway: Annotated[float, msgspec.Meta(ge=0, le=300)] = 30.0
    header: FieldName = "authorization"
    cookie: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None
    required_claims: list[ClaimName] = msgspec.field(default_factory=lambda: ["exp"])
    # claim -> the request header the origin receives it in.
    forward: dict[ClaimName, FieldName] = msgspec.field(
        default_factory=lambda: {"sub": "x-auth-subject"})
    description: str = ""


class APIKeyAuth(Schema, frozen=True, tag="api_key", tag_field="type"):
    """Require an API key, kept hashed in KV (see :class:`APIKey`)."""

    name: Name
    header: FieldName = "x-api-key"
    # The KV namespace binding holding "apikey:<sha256 hex>" -> APIKey.
    kv: BindingName = "API_KEYS"
    # Seconds a lookup (a miss included) is remembered in isolate memory.
    cache_ttl: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 60.0
    # claim ("name" or a key of APIKey.claims) -> the request header the origin receives it in.
    forward: dict[ClaimName, FieldName] = msgspec.field(
        default_factory=lambda: {"name": "x-auth-key-name"})
    description: str = ""


AuthenticatorSpec = JWTAuth | APIKeyAuth


class APIKey(Schema, frozen=True):
    """One API key's record, stored under ``apikey:<sha256 hex of the key>``."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    # Defaulted, unlike other kinds: a record is written by tools, one per key.
    version: Annotated[int, msgspec.Meta(ge=1)] = 1
    claims: dict[ClaimName, Any] = {}
    disabled: bool = False
    # Unix seconds after which the key is refused; None: never.
    expires_at: Annotated[float, msgspec.Meta(ge=0)] | None = None
    description: str = ""
