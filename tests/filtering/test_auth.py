"""Zero-trust auth: JWT (RS256, ES256, EdDSA, HS256) with JWKS, algorithm rules, API keys in KV."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from edgeline.app import App
from edgeline.context import Context
from edgeline.emulator.kv import KVStorage
from edgeline.filtering import (
    APIKeyAuthenticator,
    CryptographyVerifier,
    FilterConfigError,
    JWTAuthenticator,
    Rule,
    compile_ruleset,
    firewall,
    hash_api_key,
)
from edgeline.filtering._auth import default_verifier
from edgeline.messages import Request, Response
from edgeline.testing import FunctionTransport, TestClient

from ..conftest import ServerThread

pytestmark = pytest.mark.anyio
NOW = 1_700_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def number(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Keys:
    """One key per algorithm, with its public JWK and a signer."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.secret = b"k" * 32
        rn = self.rsa.public_key().public_numbers()
        en = self.ec.public_key().public_numbers()
        ed_raw = self.ed.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
        self.jwks = {"keys": [
            {"kty": "RSA", "kid": "r1", "n": number(rn.n), "e": number(rn.e), "alg": "RS256"},
            {"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64(en.x.to_bytes(32, "big")),
             "y": b64(en.y.to_bytes(32, "big"))},
            {"kty": "OKP", "kid": "d1", "crv": "Ed25519", "x": b64(ed_raw)},
        ]}

    def sign(self, alg: str, claims: dict[str, Any], kid: str | None = None,
             header: dict[str, Any] | None = None, key: bytes | None = None) -> str:
        head = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {}), **(header or {})}
        signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}".encode()
        if alg == "RS256":
            signature = self.rsa.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "ES256":
            r, s = decode_dss_signature(self.ec.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        elif alg == "EdDSA":
            signature = self.ed.sign(signing_input)
        elif alg == "HS256":
            signature = hmac.new(key or self.secret, signing_input, hashlib.sha256).digest()
        else:
            signature = b""
        return signing_input.decode() + "." + b64(signature)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


CLAIMS = {"sub": "user-1", "iss": "https://id.example", "aud": "edge", "exp": NOW + 300,
          "roles": ["a", "b"]}


def jwks_transport(keys: Keys, counter: list[int]) -> FunctionTransport:
    async def serve(request: Request) -> Response:
        counter.append(1)
        return Response.from_json(keys.jwks, headers={"cache-control": "max-age=600"})
    return FunctionTransport(serve)


def authenticator(**options: Any) -> JWTAuthenticator:
    return JWTAuthenticator("jwt", jwks_url="https://id.example/jwks.json",
                            issuer="https://id.example", audience="edge",
                            forward={"sub": "x-user", "roles": "x-roles"}, **options)


class Ctx:
    """A minimal context: fetch through a transport, env bindings."""

    def __init__(self, transport: Any = None, env: Any = None) -> None:
        self.origin = transport
        self.env = env

    async def fetch(self, request: Request) -> Response:
        return await self.origin.handle(request)


@pytest.mark.parametrize(("alg", "kid"), [("RS256", "r1"), ("ES256", "e1"), ("EdDSA", "d1")])
async def test_asymmetric_algorithms_verify_through_jwks(keys: Keys, alg: str, kid: str) -> None:
    counter: list[int] = []
    auth = authenticator()
    ctx = Ctx(jwks_transport(keys, counter))
    result = await auth.verify(keys.sign(alg, CLAIMS, kid), ctx, NOW)
    assert result.ok, result.description
    assert result.headers == {"x-user": "user-1", "x-roles": "a,b"}
    tampered = keys.sign(alg, {**CLAIMS, "sub": "admin"}, kid).rsplit(".", 1)[0] + "." + \
        keys.sign(alg, CLAIMS, kid).rsplit(".", 1)[1]
    assert not (await auth.verify(tampered, ctx, NOW)).ok
    assert len(counter) == 1  # cached


async def test_hs256_with_a_secret(keys: Keys) -> None:
    auth = JWTAuthenticator("h", secret=keys.secret, algorithms=["HS256"])
    assert (await auth.verify(keys.sign("HS256", CLAIMS), None, NOW)).ok
    assert not (await auth.verify(keys.sign("HS256", CLAIMS, key=b"x" * 32), None, NOW)).ok


@pytest.mark.parametrize(("claims", "reason"), [
    ({**CLAIMS, "exp": NOW - 31}, "token expired"),
    ({**CLAIMS, "nbf": NOW + 31}, "not yet valid"),
    ({**CLAIMS, "iss": "https://evil.example"}, "issuer"),
    ({**CLAIMS, "aud": ["other"]}, "audience"),
    ({k: v for k, v in CLAIMS.items() if k != "exp"}, "missing required claim 'exp'"),
])
async def test_registered_claims_are_checked(keys: Keys, claims: dict[str, Any], reason: str) -> None:
    ctx = Ctx(jwks_transport(keys, []))
    result = await authenticator().verify(keys.sign("RS256", claims, "r1"), ctx, NOW)
    assert not result.ok and reason in result.description


async def test_leeway_accepts_small_clock_skew(keys: Keys) -> None:
    ctx = Ctx(jwks_transport(keys, []))
    token = keys.sign("RS256", {**CLAIMS, "exp": NOW - 20, "nbf": NOW + 20}, "r1")
    assert (await authenticator(leeway=30).verify(token, ctx, NOW)).ok


async def test_none_and_key_confusion_are_refused(keys: Keys) -> None:
    with pytest.raises(FilterConfigError, match="'none' is not allowed"):
        JWTAuthenticator(secret=keys.secret, algorithms=["none"])
    ctx = Ctx(jwks_transport(keys, []))
    auth = authenticator()
    unsigned = keys.sign("none", CLAIMS).rsplit(".", 1)[0] + "."
    assert "not allowed" in (await auth.verify(unsigned, ctx, NOW)).description
    # Key confusion: HMAC "signed" with the RSA public key's bytes, sent as HS256.
    public_pem = keys.rsa.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = keys.sign("HS256", CLAIMS, "r1", key=public_pem)
    assert not (await auth.verify(forged, ctx, NOW)).ok
    both = JWTAuthenticator(jwks_url="https://id.example/jwks.json", secret=b"s" * 32,
                            algorithms=["RS256", "HS256"])
    # Even with HS256 allowed, an RSA key is never used as an HMAC secret.
    assert not (await both.verify(forged, ctx, NOW)).ok
    # An ES256 token cannot be checked with the RSA key of the same kid.
    assert not (await auth.verify(keys.sign("ES256", CLAIMS, "r1"), ctx, NOW)).ok
    assert not (await auth.verify(keys.sign("RS256", CLAIMS, "r1", header={"crit": ["x"]}),
                                  ctx, NOW)).ok


async def test_unknown_kid_refetch_is_rate_limited(keys: Keys) -> None:
    counter: list[int] = []
    ctx = Ctx(jwks_transport(keys, counter))
    auth = authenticator(jwks_min_refresh=30)
    for i in range(5):
        await auth.verify(keys.sign("RS256", CLAIMS, f"unknown-{i}"), ctx, NOW + i)
    assert len(counter) == 1
    await auth.verify(keys.sign("RS256", CLAIMS, "unknown-x"), ctx, NOW + 31)
    assert len(counter) == 2


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "!!!.e30.", "e30.e30.e30", "x" * 9000])
async def test_malformed_tokens_fail_cleanly(keys: Keys, token: str) -> None:
    result = await authenticator().verify(token, Ctx(jwks_transport(keys, [])), NOW)
    assert not result.ok


def test_options_are_validated() -> None:
    with pytest.raises(FilterConfigError, match="at least 32 bytes"):
        JWTAuthenticator(secret="short", algorithms=["HS256"])
    with pytest.raises(FilterConfigError, match="no secret"):
        JWTAuthenticator(jwks_url="https://x/jwks", algorithms=["HS256"])
    with pytest.raises(FilterConfigError, match="https"):
        JWTAuthenticator(jwks_url="http://id.example/jwks")


async def test_firewall_requires_auth_and_forwards_only_verified_claims(keys: Keys) -> None:
    app = App()

    @app.get("/{rest:path}")
    async def echo(request: Request, ctx: Context) -> Response:
        return Response.from_json(dict(request.headers.items()))

    clock = lambda: float(NOW)  # noqa: E731
    ruleset = compile_ruleset(
        [Rule("api-auth", 'http.path starts_with "/api/"', {"type": "require_auth",
                                                          "authenticator": "jwt"}, phase="auth")],
        authenticators={"jwt": authenticator()})
    app.use(firewall(ruleset, clock=clock))
    client = TestClient(app, origin=jwks_transport(keys, []))
    missing = await client.get("/api/x", headers={"x-user": "spoofed"})
    assert missing.status == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    bad = await client.get("/api/x", headers={"authorization": "Bearer " + keys.sign(
        "RS256", {**CLAIMS, "exp": NOW - 100}, "r1")})
    assert bad.status == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    good = await client.get("/api/x", headers={"authorization": "Bearer " + keys.sign(
        "RS256", CLAIMS, "r1"), "x-user": "spoofed", "x-roles": "admin"})
    assert good.status == 200 and (await good.json())["x-user"] == "user-1"
    public = await client.get("/public", headers={"x-user": "spoofed"})
    assert "x-user" not in await public.json()


async def test_jwks_from_a_real_server(keys: Keys) -> None:
    from edgeline.origin.httpx_transport import HttpxTransport

    async def jwks_app(scope: dict, receive: Any, send: Any) -> None:
        body = json.dumps(keys.jwks).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    with ServerThread(jwks_app) as server:
        transport = HttpxTransport()
        try:
            auth = JWTAuthenticator(jwks_url=server.url + "/jwks.json", audience="edge")
            result = await auth.verify(keys.sign("EdDSA", CLAIMS, "d1"), Ctx(transport), NOW)
            assert result.ok and result.claims["sub"] == "user-1"
        finally:
            await transport.aclose()


@pytest.fixture
async def api_keys(tmp_path: Path) -> AsyncIterator[Any]:
    storage = KVStorage(tmp_path / "kv.sqlite3")
    namespace = storage.namespace("keys")
    await namespace.put("apikey:" + hash_api_key("good-key"),
                        json.dumps({"name": "ci", "claims": {"team": "infra"}}))
    await namespace.put("apikey:" + hash_api_key("old-key"),
                        json.dumps({"name": "old", "expires_at": NOW - 1}))
    await namespace.put("apikey:" + hash_api_key("off-key"), json.dumps({"name": "x", "disabled": True}))
    yield namespace
    storage.close()


async def test_api_keys_are_looked_up_by_hash_in_kv(api_keys: Any) -> None:
    from edgeline.context import Bindings
    auth = APIKeyAuthenticator(kv="API_KEYS", forward={"name": "x-key-name", "team": "x-team"})
    ctx = Ctx(env=Bindings({"API_KEYS": api_keys}))

    def request(key: str | None) -> Request:
        return Request("GET", "https://e.test/", {"x-api-key": key} if key else {})

    good = await auth.authenticate(request("good-key"), ctx, NOW)
    assert good.ok and good.headers == {"x-key-name": "ci", "x-team": "infra"}
    for key, reason in (("old-key", "expired"), ("off-key", "disabled"), ("nope", "unknown"),
                        (None, "required")):
        result = await auth.authenticate(request(key), ctx, NOW)
        assert not result.ok and reason in result.description
    # Nothing in KV holds the key itself.
    listed = await api_keys.list()
    assert all("good-key" not in k["name"] for k in listed["keys"])


class _AsyncVerifier:
    """A verifier that answers through an awaitable, as the Web Crypto one does."""

    def __init__(self) -> None:
        self.inner = CryptographyVerifier()
        self.calls = 0

    def supports(self, alg: str) -> bool:
        return self.inner.supports(alg)

    async def verify(self, alg: str, jwk: Any, signing_input: bytes, signature: bytes) -> bool:
        self.calls += 1
        return self.inner.verify(alg, jwk, signing_input, signature)


@pytest.mark.parametrize(("alg", "kid"), [("RS256", "r1"), ("ES256", "e1"), ("EdDSA", "d1")])
async def test_an_async_verifier_is_awaited(keys: Keys, alg: str, kid: str) -> None:
    verifier = _AsyncVerifier()
    auth = authenticator(verifier=verifier)
    ctx = Ctx(jwks_transport(keys, []))
    assert (await auth.verify(keys.sign(alg, CLAIMS, kid), ctx, NOW)).ok
    forged = keys.sign(alg, {**CLAIMS, "sub": "admin"}, kid).rsplit(".", 1)[0] + "." + \
        keys.sign(alg, CLAIMS, kid).rsplit(".", 1)[1]
    result = await auth.verify(forged, ctx, NOW)
    assert not result.ok and result.description == "signature does not verify"
    assert verifier.calls == 2


def test_the_default_verifier_off_pyodide_uses_cryptography() -> None:
    assert type(default_verifier()) is CryptographyVerifier
    assert type(JWTAuthenticator(secret=b"s" * 32, algorithms=["HS256"]).verifier) is \
        CryptographyVerifier
