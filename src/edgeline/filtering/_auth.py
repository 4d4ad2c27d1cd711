"""Zero-trust authentication at the edge: JWTs (with JWKS) and API keys kept hashed in KV.

JWT checks (RFC 7519, RFC 7515, RFC 8725 "JWT Best Current Practices"):

* the algorithm must be in the authenticator's allowlist, chosen from
  RS256, ES256, EdDSA and HS256; ``none`` can never be allowed
  (RFC 8725 §3.1);
* the key's type must match the algorithm (RSA for RS256, EC P-256 for
  ES256, OKP Ed25519 for EdDSA, oct for HS256), and a key that names its
  own ``alg`` must name this one: an RSA public key can never be used as an
  HMAC secret (RFC 8725 §2.1, "key confusion");
* a header with ``crit`` is refused (RFC 7515 §4.1.11: no extension is understood);
* ``exp`` (required by default), ``nbf``, ``iss`` and ``aud`` are checked,
  with ``leeway`` seconds of clock skew (RFC 7519 §4.1.4, §4.1.5).

Signatures are checked by a :class:`Verifier`, whose ``verify`` returns a
bool or an awaitable of one. :class:`HMACVerifier` uses the standard
library and runs everywhere; :class:`CryptographyVerifier` imports the
``cryptography`` package on first use (so the core stays importable on
Pyodide without it); on Workers (Pyodide), where that package is not
available, ``edgeline.adapters.webcrypto.WebCryptoVerifier`` checks
signatures with the platform's ``crypto.subtle``. :func:`default_verifier`
picks the last one on Pyodide and the second elsewhere; ``verifier=``
overrides it.

JWKS documents are fetched through the request context's origin transport
(``ctx.fetch``) and cached for ``jwks_ttl`` seconds (or the response's
``max-age``); an unknown ``kid`` triggers a refetch at most every
``jwks_min_refresh`` seconds, so forged ``kid`` values cannot make the
edge hammer the identity provider.

Verified claims are forwarded to the origin as headers (``forward``);
copies of those headers sent by the client are always removed first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import json
import sys
import time
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any, Final, Protocol

from ..headers import Headers
from ..messages import Request, Response
from ._errors import FilterConfigError

__all__ = [
    "ALGORITHMS",
    "APIKeyAuthenticator",
    "AuthResult",
    "CryptographyVerifier",
    "HMACVerifier",
    "JWTAuthenticator",
    "Verifier",
    "b64url_decode",
    "b64url_encode",
    "default_verifier",
    "hash_api_key",
    "unauthorized",
]

# alg -> (kty, crv or None)
ALGORITHMS: Final[dict[str, tuple[str, str | None]]] = {
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "EdDSA": ("OKP", "Ed25519"),
    "HS256": ("oct", None),
}
MAX_TOKEN: Final = 8192


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url (RFC 7515 §2); raise ValueError on bad input."""
    if not isinstance(text, str) or any(c in text for c in "=+/ \n"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def b64url_encode(data: bytes) -> str:
    """Encode as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Verifier(Protocol):
    """Check a JWS signature with one JWK (synchronously, or as an awaitable)."""

    def supports(self, alg: str) -> bool: ...

    def verify(self, alg: str, jwk: Mapping[str, Any], signing_input: bytes,
               signature: bytes) -> bool | Awaitable[bool]: ...


def default_verifier() -> Verifier:
    """Return the verifier for this runtime: Web Crypto on Pyodide, ``cryptography`` elsewhere."""
    if sys.platform == "emscripten":
        # NOTE: imported here, not at the top: only the adapter may touch ``js``, and
        # only Pyodide has it.
        from ..adapters.webcrypto import WebCryptoVerifier

        return WebCryptoVerifier()
    return CryptographyVerifier()


class HMACVerifier:
    """HS256 with the standard library (runs on every runtime)."""

    __slots__ = ()

    def supports(self, alg: str) -> bool:
        return alg == "HS256"

    def verify(self, alg: str, jwk: Mapping[str, Any], signing_input: bytes,
               signature: bytes) -> bool:
        secret = b64url_decode(str(jwk.get("k", "")))
        expected = hmac.new(secret, signing_input, hashlib.sha256).digest()
        return hmac.compare_digest(expected, signature)


class CryptographyVerifier:
    """RS256, ES256 and EdDSA (and HS256) through the ``cryptography`` package, imported lazily."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[str, Any] = {}

    def supports(self, alg: str) -> bool:
        return alg in ALGORITHMS

    def _public_key(self, jwk: Mapping[str, Any]) -> Any:
        cache_key = json.dumps(dict(jwk), sort_keys=True)
        key = self._keys.get(cache_key)
        if key is not None:
            return key
        try:
            from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        except ImportError:
            raise FilterConfigError(
                "verifying RS256/ES256/EdDSA tokens needs the 'cryptography' package here "
                "(on Workers, edgeline.adapters.webcrypto.WebCryptoVerifier is used)") from None
        kty = jwk.get("kty")
        if kty == "RSA":
            n = int.from_bytes(b64url_decode(jwk["n"]), "big")
            e = int.from_bytes(b64url_decode(jwk["e"]), "big")
            key = rsa.RSAPublicNumbers(e, n).public_key()
            if key.key_size < 2048:
                raise ValueError("RSA keys under 2048 bits are refused")
        elif kty == "EC":
            x = int.from_bytes(b64url_decode(jwk["x"]), "big")
            y = int.from_bytes(b64url_decode(jwk["y"]), "big")
            key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        elif kty == "OKP":
            key = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        else:
            raise ValueError(f"unsupported key type {kty!r}")
        if len(self._keys) > 256:
            self._keys.clear()
        self._keys[cache_key] = key
        return key

    def verify(self, alg: str, jwk: Mapping[str, Any], signing_input: bytes,
               signature: bytes) -> bool:
        if alg == "HS256":
            return HMACVerifier().verify(alg, jwk, signing_input, signature)
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        key = self._public_key(jwk)
        try:
            if alg == "RS256":
                key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            elif alg == "ES256":
                # RFC 7518 §3.4: JWS carries R || S, 32 bytes each; cryptography wants DER.
                if len(signature) != 64:
                    return False
                der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                           int.from_bytes(signature[32:], "big"))
                key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
            elif alg == "EdDSA":
                key.verify(signature, signing_input)
            else:
                return False
        except InvalidSignature:
            return False
        return True


class AuthResult:
    """The outcome of authenticating one request."""

    __slots__ = ("ok", "claims", "error", "description", "headers")

    def __init__(self, ok: bool, claims: dict[str, Any] | None = None, *,
                 error: str = "invalid_token", description: str = "",
                 headers: dict[str, str] | None = None) -> None:
        self.ok = ok
        self.claims = claims or {}
        self.error = error
        self.description = description
        self.headers = headers or {}

    def __repr__(self) -> str:
        return f"AuthResult(ok={self.ok}, description={self.description!r})"


def _fail(description: str, error: str = "invalid_token") -> AuthResult:
    return AuthResult(False, error=error, description=description)


def unauthorized(result: AuthResult, scheme: str = "Bearer", realm: str = "edge") -> Response:
    """Return the 401 for a failed authentication (RFC 6750 §3, RFC 9110 §11.6.1)."""
    description = result.description.replace('"', "'")
    challenge = f'{scheme} realm="{realm}"'
    if result.error:
        challenge += f', error="{result.error}", error_description="{description}"'
    return Response.problem(401, "Unauthorized", result.description,
                            headers={"www-authenticate": challenge})


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    elif isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        text = ",".join(str(v) for v in value)
    else:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    # APPSEC: a claim must not be able to add header lines.
    return "".join(c for c in text if c >= " " and c != "\x7f")[:4096]


def _check_forward(forward: Mapping[str, str], who: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for claim, header in forward.items():
        try:
            Headers({header: ""})
        except ValueError as exc:
            raise FilterConfigError(f"{who}: forward header {header!r}: {exc}") from None
        out[str(claim)] = header.lower()
    return out


class JWTAuthenticator:
    """Verify a bearer JWT and forward chosen claims as trusted headers."""

    __slots__ = ("name", "jwks_url", "algorithms", "issuer", "audience", "leeway", "header",
                 "cookie", "forward", "required", "verifier", "jwks_ttl", "jwks_min_refresh",
                 "_static", "_jwks", "_jwks_expires", "_jwks_fetched")

    def __init__(
        self, name: str = "jwt", *, jwks_url: str | None = None,
        keys: Iterable[Mapping[str, Any]] = (), secret: bytes | str | None = None,
        algorithms: Iterable[str] = ("RS256", "ES256", "EdDSA"),
        issuer: str | Iterable[str] | None = None, audience: str | Iterable[str] | None = None,
        leeway: float = 30.0, header: str = "authorization", cookie: str | None = None,
        forward: Mapping[str, str] | None = None, required_claims: Iterable[str] = ("exp",),
        verifier: Verifier | None = None, jwks_ttl: float = 300.0,
        jwks_min_refresh: float = 30.0,
    ) -> None:
        who = f"JWT authenticator {name!r}"
        algs = tuple(algorithms)
        for alg in algs:
            if alg not in ALGORITHMS:
                # RFC 8725 §3.1: "none" is never acceptable; others are not implemented.
                raise FilterConfigError(f"{who}: algorithm {alg!r} is not allowed "
                                        f"(choose from {', '.join(ALGORITHMS)})")
        if not algs:
            raise FilterConfigError(f"{who}: the algorithm allowlist is empty")
        static = [dict(k) for k in keys]
        if secret is not None:
            raw = secret.encode() if isinstance(secret, str) else bytes(secret)
            if len(raw) < 32:
                # RFC 7518 §3.2: an HS256 key must be at least 256 bits.
                raise FilterConfigError(f"{who}: an HS256 secret must be at least 32 bytes")
            static.append({"kty": "oct", "k": b64url_encode(raw), "alg": "HS256"})
        if "HS256" in algs and not any(k.get("kty") == "oct" for k in static):
            raise FilterConfigError(f"{who}: HS256 is allowed but no secret is configured")
        if not static and not jwks_url:
            raise FilterConfigError(f"{who}: give jwks_url, keys or secret")
        if jwks_url is not None and not jwks_url.startswith("https://"):
            if not jwks_url.startswith("http://127.0.0.1") and not jwks_url.startswith("http://localhost"):
                raise FilterConfigError(f"{who}: jwks_url must be https")
        if leeway < 0 or leeway > 300:
            raise FilterConfigError(f"{who}: leeway must be between 0 and 300 seconds")
        self.name = name
        self.jwks_url = jwks_url
        self.algorithms = frozenset(algs)
        self.issuer = None if issuer is None else frozenset(
            [issuer] if isinstance(issuer, str) else issuer)
        self.audience = None if audience is None else frozenset(
            [audience] if isinstance(audience, str) else audience)
        self.leeway = leeway
        self.header = header.lower()
        self.cookie = cookie
        self.forward = _check_forward(forward or {"sub": "x-auth-subject"}, who)
        self.required = tuple(required_claims)
        self.verifier: Verifier = verifier or default_verifier()
        self.jwks_ttl = jwks_ttl
        self.jwks_min_refresh = jwks_min_refresh
        self._static = static
        self._jwks: list[dict[str, Any]] = []
        self._jwks_expires = 0.0
        self._jwks_fetched = -1e18

    @property
    def trusted_headers(self) -> frozenset[str]:
        return frozenset(self.forward.values())

    def token_of(self, request: Request) -> str | None:
        """Return the raw token from the Authorization header or the cookie."""
        value = request.headers.get(self.header)
        if value:
            scheme, _, token = value.strip().partition(" ")
            if self.header != "authorization":
                return value.strip()
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
        if self.cookie:
            return request.cookies.get(self.cookie) or None
        return None

    async def _fetch_jwks(self, ctx: Any, now: float) -> None:
        self._jwks_fetched = now
        try:
            response = await ctx.fetch(Request("GET", self.jwks_url or "",
                                               {"accept": "application/json"}))
            if response.status != 200:
                return
            document = json.loads(await response.read(1 << 20))
            keys = document.get("keys") if isinstance(document, dict) else None
            if not isinstance(keys, list):
                return
            self._jwks = [k for k in keys if isinstance(k, dict)]
            ttl = self.jwks_ttl
            for part in (response.headers.get("cache-control") or "").split(","):
                name, _, value = part.strip().partition("=")
                if name.lower() == "max-age" and value.isdigit():
                    ttl = min(max(float(value), 60.0), 86400.0)
            self._jwks_expires = now + ttl
        except Exception:  # NOTE: a bad JWKS fetch keeps the previous keys
            return

    async def _keys(self, ctx: Any, kid: str | None, now: float) -> list[dict[str, Any]]:
        if self.jwks_url:
            stale = now >= self._jwks_expires
            unknown = kid is not None and not any(k.get("kid") == kid for k in self._jwks)
            if (stale or unknown) and now - self._jwks_fetched >= (
                    0 if stale and not self._jwks else self.jwks_min_refresh):
                await self._fetch_jwks(ctx, now)
        return self._static + self._jwks

    async def verify(self, token: str, ctx: Any = None, now: float | None = None) -> AuthResult:
        """Verify ``token``; return its claims on success."""
        now = time.time() if now is None else now
        if len(token) > MAX_TOKEN:
            return _fail("token too large")
        parts = token.split(".")
        if len(parts) != 3:
            return _fail("malformed token")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            return _fail("malformed token")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return _fail("malformed token")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            return _fail(f"algorithm {str(alg)[:20]!r} is not allowed")
        if "crit" in header:
            return _fail("unsupported critical header parameters")
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) else None
        kty, crv = ALGORITHMS[alg]
        candidates = [
            k for k in await self._keys(ctx, kid, now)
            if k.get("kty") == kty and (crv is None or k.get("crv") == crv)
            and k.get("alg", alg) == alg and k.get("use", "sig") == "sig"
            and (kid is None or k.get("kid") in (kid, None))
        ]
        if not candidates:
            return _fail("no key matches the token's kid and algorithm")
        signing_input = (parts[0] + "." + parts[1]).encode("ascii")
        verified = False
        for jwk in candidates[:5]:
            try:
                outcome = self.verifier.verify(alg, jwk, signing_input, signature)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
                if outcome is True:
                    verified = True
                    break
            except FilterConfigError:
                raise
            except Exception:  # NOTE: a malformed key is a key that does not verify
                continue
        if not verified:
            return _fail("signature does not verify")
        return self.check_claims(claims, now)

    def check_claims(self, claims: dict[str, Any], now: float) -> AuthResult:
        """Check the registered claims (RFC 7519 §4.1) of a verified token."""
        for name in self.required:
            if name not in claims:
                return _fail(f"missing required claim {name!r}")
        leeway = self.leeway
        exp = claims.get("exp")
        if exp is not None:
            if not isinstance(exp, (int, float)) or isinstance(exp, bool):
                return _fail("exp is not a number")
            if now > exp + leeway:
                return _fail("token expired")
        nbf = claims.get("nbf")
        if nbf is not None:
            if not isinstance(nbf, (int, float)) or isinstance(nbf, bool):
                return _fail("nbf is not a number")
            if now + leeway < nbf:
                return _fail("token not yet valid")
        if self.issuer is not None and claims.get("iss") not in self.issuer:
            return _fail("issuer not accepted")
        if self.audience is not None:
            aud = claims.get("aud")
            auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if not any(isinstance(a, str) and a in self.audience for a in auds):
                return _fail("audience not accepted")
        headers = {header: _header_value(claims[claim])
                   for claim, header in self.forward.items() if claim in claims}
        return AuthResult(True, claims, headers=headers)

    async def authenticate(self, request: Request, ctx: Any = None,
                           now: float | None = None) -> AuthResult:
        """Find the request's token and verify it."""
        token = self.token_of(request)
        if token is None:
            return AuthResult(False, error="", description="a bearer token is required")
        return await self.verify(token, ctx, now)


def hash_api_key(key: str) -> str:
    """Return the hex SHA-256 of an API key, the form stored in KV.

    NOTE: API keys are long random strings, not passwords: a fast hash is
    enough to make a leaked KV dump useless, and a lookup costs one hash.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class APIKeyAuthenticator:
    """Check an API key against its hash kept in KV, under ``prefix + sha256(key)``.

    The KV value is JSON: ``{"name": "ci", "claims": {...}, "disabled": false,
    "expires_at": 1767225600}`` (only ``name`` is required). Lookups are
    cached in isolate memory for ``cache_ttl`` seconds, misses included.
    """

    __slots__ = ("name", "kv", "header", "prefix", "forward", "cache_ttl", "_cache")

    def __init__(self, name: str = "api_key", *, kv: str = "API_KEYS", header: str = "x-api-key",
                 prefix: str = "apikey:", forward: Mapping[str, str] | None = None,
                 cache_ttl: float = 60.0) -> None:
        self.name = name
        self.kv = kv
        self.header = header.lower()
        self.prefix = prefix
        self.forward = _check_forward(forward or {"name": "x-auth-key-name"},
                                      f"API key authenticator {name!r}")
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}

    @property
    def trusted_headers(self) -> frozenset[str]:
        return frozenset(self.forward.values())

    async def _record(self, ctx: Any, digest: str, now: float) -> dict[str, Any] | None:
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        namespace = ctx.env[self.kv] if ctx is not None else None
        raw = await namespace.get(self.prefix + digest) if namespace is not None else None
        record: dict[str, Any] | None = None
        if raw:
            try:
                parsed = json.loads(raw)
                record = parsed if isinstance(parsed, dict) else None
            except ValueError:
                record = None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self.cache_ttl, record)
        return record

    async def authenticate(self, request: Request, ctx: Any = None,
                           now: float | None = None) -> AuthResult:
        """Look the request's key up by its hash."""
        now = time.time() if now is None else now
        key = request.headers.get(self.header)
        if not key:
            return AuthResult(False, error="", description=f"an API key is required ({self.header})")
        if len(key) > 512:
            return _fail("API key too long")
        record = await self._record(ctx, hash_api_key(key.strip()), now)
        if record is None:
            return _fail("unknown API key")
        if record.get("disabled"):
            return _fail("API key disabled")
        expires = record.get("expires_at")
        if isinstance(expires, (int, float)) and now >= expires:
            return _fail("API key expired")
        claims = {"name": record.get("name", ""), **(record.get("claims") or {})}
        headers = {header: _header_value(claims[claim])
                   for claim, header in self.forward.items() if claim in claims}
        return AuthResult(True, claims, headers=headers)
