"""Rate limits and authenticators from KV: decoding, cross-checks at field paths, and serving."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from edgeline import App, Context, Request, Response
from edgeline.config import ConfigInvalid, decode_config, load_config
from edgeline.emulator.kv import KVStorage
from edgeline.filtering import Ruleset, firewall, hash_api_key
from edgeline.filtering._auth import b64url_encode
from edgeline.testing import TestClient

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0


def doc(**parts: Any) -> dict[str, Any]:
    """Return a version-2 configuration with ``parts``."""
    return {"version": 2, **parts}


def problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigInvalid) as info:
        load_config(json.dumps(document, indent=2))
    return [(p.path, p.message) for p in info.value.problems]


def ruleset_of(document: dict[str, Any]) -> Ruleset:
    ruleset = load_config(json.dumps(document))["rules"]
    assert isinstance(ruleset, Ruleset)
    return ruleset


LIMIT = {"name": "api", "limit": 3, "period": 60, "algorithm": "fixed"}


# -- decoding: the schema's own checks, at exact paths -----------------------------------


@pytest.mark.parametrize(("document", "path", "expected"), [
    (doc(rate_limits=[{**LIMIT, "algorithm": "leaky"}]), "$.rate_limits[0].algorithm",
     "Invalid enum value 'leaky'"),
    (doc(rate_limits=[LIMIT, {**LIMIT, "name": "b", "store": "redis"}]),
     "$.rate_limits[1].store", "Expected `str` matching"),
    (doc(rate_limits=[{**LIMIT, "limit": 0}]), "$.rate_limits[0].limit", ">= 1"),
    (doc(rate_limits=[{**LIMIT, "penalty": {"after": 0}}]), "$.rate_limits[0].penalty.after",
     ">= 1"),
    (doc(rate_limits=[{**LIMIT, "burst": 5}]), "$.rate_limits[0]", "unknown field `burst`"),
    (doc(authenticators=[{"type": "api_key", "name": "k"}, {"type": "saml", "name": "s"}]),
     "$.authenticators[1].type", "Invalid value 'saml'"),
    (doc(authenticators=[{"type": "jwt", "name": "j", "algorithms": ["RS256", "none"]}]),
     "$.authenticators[0].algorithms[1]", "Invalid enum value 'none'"),
    (doc(authenticators=[{"type": "jwt", "name": "j", "leeway": 3600}]),
     "$.authenticators[0].leeway", "<= 300"),
    (doc(authenticators=[{"type": "api_key", "name": "k", "kv": "api-keys"}]),
     "$.authenticators[0].kv", "Expected `str` matching"),
    (doc(authenticators=[{"type": "api_key", "name": "k", "forward": {"name": "bad header"}}]),
     "$.authenticators[0].forward[...]", "Expected `str` matching"),
    (doc(rules=[{"id": "r", "action": {"type": "rate_limit"}}]), "$.rules[0].action",
     "missing required field `limiter`"),
    (doc(rules=[{"id": "r", "action": {"type": "require_auth", "authenticator": "no spaces"}}]),
     "$.rules[0].action.authenticator", "Expected `str` matching"),
])
def test_decoding_errors_name_the_field(document: dict[str, Any], path: str,
                                        expected: str) -> None:
    [(where, message)] = problems(document)
    assert where == path and expected in message, (where, message)


def test_api_key_records_decode_as_their_own_kind() -> None:
    record = decode_config(b'{"name": "ci", "claims": {"plan": "gold"}}', kind="api-key")
    assert (record.name, record.claims, record.disabled, record.expires_at) == (
        "ci", {"plan": "gold"}, False, None)
    with pytest.raises(ConfigInvalid) as info:
        decode_config(b'{"name": "ci", "claims": ["plan"]}', kind="api-key")
    assert info.value.problems[0].path == "$.claims"
    with pytest.raises(ConfigInvalid) as info:
        decode_config(b'{"name": "ci", "version": 9}', kind="api-key")
    assert "newer than this code" in info.value.problems[0].message


# -- compiling: references and cross-field checks, at exact paths ------------------------


def test_rules_naming_unknown_limits_or_authenticators_are_rejected_at_their_path() -> None:
    found = problems(doc(
        rate_limits=[LIMIT],
        authenticators=[{"type": "api_key", "name": "partners"}],
        rules=[
            {"id": "ok", "action": {"type": "rate_limit", "limiter": "api"}},
            {"id": "typo", "action": {"type": "rate_limit", "limiter": "apj"}},
            {"id": "who", "phase": "auth", "expression": 'http.path starts_with "/p/"',
             "action": {"type": "require_auth", "authenticator": "partner"}},
        ]))
    assert found == [
        ("$.rules[1].action.limiter",
         "no rate limit named 'apj' in $.rate_limits (known: api)"),
        ("$.rules[2].action.authenticator",
         "no authenticator named 'partner' in $.authenticators (known: partners)"),
    ]


def test_limit_problems_are_reported_at_their_fields() -> None:
    found = dict(problems(doc(rate_limits=[
        {**LIMIT, "key": "ip.src +"},
        {**LIMIT, "name": "bound", "store": "binding:LIMITER", "period": 30},
        {**LIMIT, "name": "bucket", "store": "binding:LIMITER", "algorithm": "token_bucket"},
        {**LIMIT, "name": "listed", "key": "ip.src in $nowhere"},
        {**LIMIT},
    ])))
    assert set(found) == {"$.rate_limits[0].key", "$.rate_limits[1].period",
                          "$.rate_limits[2].algorithm", "$.rate_limits[3].key",
                          "$.rate_limits[4].name"}
    assert found["$.rate_limits[0].key"].startswith("line 1, column ")
    assert "10 or 60 seconds, not 30" in found["$.rate_limits[1].period"]
    assert "token_bucket" in found["$.rate_limits[2].algorithm"]
    assert "nowhere" in found["$.rate_limits[3].key"]
    assert "defined twice (first at $.rate_limits[0])" in found["$.rate_limits[4].name"]


def test_authenticator_problems_are_reported_at_their_fields() -> None:
    found = dict(problems(doc(authenticators=[
        {"type": "jwt", "name": "a", "keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "d": "y"}]},
        {"type": "jwt", "name": "b", "algorithms": ["HS256"]},
        {"type": "jwt", "name": "c"},
        {"type": "jwt", "name": "d", "jwks_url": "http://idp.example/jwks"},
        {"type": "jwt", "name": "e", "keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
        {"type": "jwt", "name": "f", "secret_env": "JWT_SECRET"},
        {"type": "api_key", "name": "a"},
    ])))
    assert set(found) == {
        "$.authenticators[0].keys[0]", "$.authenticators[1].secret_env", "$.authenticators[2]",
        "$.authenticators[3].jwks_url", "$.authenticators[4].keys[0]",
        "$.authenticators[5].algorithms", "$.authenticators[6].name"}
    assert "must not be kept in the configuration" in found["$.authenticators[0].keys[0]"]
    assert "(k)" in found["$.authenticators[4].keys[0]"]
    assert "https" in found["$.authenticators[3].jwks_url"]


# -- serving: limits and authenticators from a configuration, through an app -------------


def echo_app(ruleset: Ruleset) -> App:
    app = App()
    app.use(firewall(ruleset, clock=lambda: NOW))

    @app.any("/{rest:path}")
    async def echo(request: Request, ctx: Context) -> Response:
        return Response.from_json({k: v for k, v in request.headers.items()
                                   if k.startswith("x-auth-")})

    return app


async def test_a_configured_limit_answers_429_with_retry_after() -> None:
    ruleset = ruleset_of(doc(
        rate_limits=[{**LIMIT, "name": "served", "key": 'http.header["x-client"]',
                      "penalty": {"after": 2, "within": 60, "ban": 900}}],
        rules=[{"id": "limit-api", "phase": "ratelimit", "expression": 'http.path starts_with "/api/"',
                "action": {"type": "rate_limit", "limiter": "served"}}]))
    client = TestClient(echo_app(ruleset))
    assert (await client.get("/api/x", headers={"x-client": "z"})).status == 200
    for remaining in (2, 1, 0):
        ok = await client.get("/api/x", headers={"x-client": "a"})
        assert ok.status == 200 and ok.headers["ratelimit"] == f'"served";r={remaining};t=40'
    refused = await client.get("/api/x", headers={"x-client": "a"})
    assert refused.status == 429
    assert refused.headers["retry-after"] == "40"  # the fixed window ends at NOW + 40
    assert (await client.get("/api/x", headers={"x-client": "b"})).status == 200
    assert (await client.get("/other", headers={"x-client": "a"})).status == 200
    banned = await client.get("/api/x", headers={"x-client": "a"})  # the second refusal
    assert banned.status == 429 and banned.headers["retry-after"] == "900"


@pytest.fixture
def keys(tmp_path: Path) -> Any:
    storage = KVStorage(tmp_path / "kv.sqlite3")
    yield storage.namespace("api-keys")
    storage.close()


API_KEYS = doc(
    authenticators=[{"type": "api_key", "name": "partners", "kv": "API_KEYS",
                     "forward": {"name": "x-auth-key-name", "plan": "x-auth-plan"}}],
    rules=[{"id": "need-key", "phase": "auth", "expression": 'http.path starts_with "/p/"',
            "action": {"type": "require_auth", "authenticator": "partners"}}])


async def test_an_api_key_kept_hashed_in_kv_authenticates_and_forwards_claims(keys: Any) -> None:
    await keys.put("apikey:" + hash_api_key("k-live-123"),
                   json.dumps({"name": "acme", "claims": {"plan": "gold"}}))
    await keys.put("apikey:" + hash_api_key("k-off"), json.dumps({"name": "old", "disabled": True}))
    await keys.put("apikey:" + hash_api_key("k-bad"), json.dumps({"name": "x", "claims": [1]}))
    await keys.put("apikey:" + hash_api_key("k-expired"),
                   json.dumps({"name": "x", "expires_at": NOW - 1}))
    client = TestClient(echo_app(ruleset_of(API_KEYS)), env={"API_KEYS": keys})
    ok = await client.get("/p/x", headers={"x-api-key": "k-live-123",
                                           "x-auth-plan": "forged-by-the-client"})
    assert ok.status == 200
    assert await ok.json() == {"x-auth-key-name": "acme", "x-auth-plan": "gold"}
    for key, reason in (("k-live-124", "unknown API key"), ("k-off", "API key disabled"),
                        ("k-bad", "unknown API key"), ("k-expired", "API key expired")):
        refused = await client.get("/p/x", headers={"x-api-key": key})
        assert refused.status == 401, key
        assert reason in refused.headers["www-authenticate"]
    missing = await client.get("/p/x")
    assert missing.status == 401 and "error=" not in missing.headers["www-authenticate"]
    # Paths no rule names need no key, and never see a client's copy of a trusted header.
    assert await (await client.get("/open", headers={"x-auth-key-name": "root"})).json() == {}


async def test_a_missing_kv_binding_refuses_rather_than_serves() -> None:
    client = TestClient(echo_app(ruleset_of(API_KEYS)), env={})
    refused = await client.get("/p/x", headers={"x-api-key": "anything"})
    assert refused.status == 401  # fail closed, although the firewall fails open elsewhere


def hs256(claims: dict[str, Any], secret: bytes) -> str:
    head = b64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url_encode(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url_encode(signature)}"


async def test_a_jwt_secret_is_read_from_the_env_when_requests_arrive() -> None:
    secret = b"s" * 40
    ruleset = ruleset_of(doc(
        authenticators=[{"type": "jwt", "name": "users", "algorithms": ["HS256"],
                         "secret_env": "JWT_SECRET", "issuer": ["https://idp.test"],
                         "forward": {"sub": "x-auth-subject"}}],
        rules=[{"id": "need-jwt", "phase": "auth", "expression": "true",
                "action": {"type": "require_auth", "authenticator": "users"}}]))
    assert "JWT_SECRET" not in json.dumps(repr(ruleset))
    good = hs256({"sub": "ada", "iss": "https://idp.test", "exp": NOW + 60}, secret)
    client = TestClient(echo_app(ruleset), env={"JWT_SECRET": secret.decode()})
    ok = await client.get("/x", headers={"authorization": f"Bearer {good}"})
    assert ok.status == 200 and await ok.json() == {"x-auth-subject": "ada"}
    forged = hs256({"sub": "eve", "iss": "https://idp.test", "exp": NOW + 60}, b"e" * 40)
    assert (await client.get("/x", headers={"authorization": f"Bearer {forged}"})).status == 401
    rotated = TestClient(echo_app(ruleset), env={"JWT_SECRET": "r" * 40})
    assert (await rotated.get("/x", headers={"authorization": f"Bearer {good}"})).status == 401
    unset = TestClient(echo_app(ruleset), env={})
    assert (await unset.get("/x", headers={"authorization": f"Bearer {good}"})).status == 401
