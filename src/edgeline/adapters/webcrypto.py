"""JWS signature checks with the platform's Web Crypto (``crypto.subtle``), for Workers.

On Workers (Pyodide) the ``cryptography`` package is not available, and the
platform's own implementation is faster anyway: each JWK is imported once
with ``crypto.subtle.importKey("jwk", ...)`` and kept, and a signature costs
one ``crypto.subtle.verify``. :func:`edgeline.filtering.JWTAuthenticator`
uses :class:`WebCryptoVerifier` by default when it runs on Pyodide.

Algorithms (RFC 7518 §3, RFC 8037 §3.1) and their Web Crypto names:

=======  ===========================================  ===============================
JWS      importKey algorithm                           verify algorithm
=======  ===========================================  ===============================
RS256    RSASSA-PKCS1-v1_5, hash SHA-256               RSASSA-PKCS1-v1_5
ES256    ECDSA, namedCurve P-256                       ECDSA, hash SHA-256
EdDSA    Ed25519                                       Ed25519
HS256    HMAC, hash SHA-256                            HMAC
=======  ===========================================  ===============================

NOTE: a JWS ES256 signature is R || S, 32 bytes each (RFC 7518 §3.4), which
is the form Web Crypto's ECDSA verify takes; no DER conversion is needed.
The authenticator has already checked that the key's type matches the
token's algorithm; the key is imported with only the members its type
defines, so a JWK's own ``alg``, ``use`` or ``key_ops`` cannot make the
import disagree with that choice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from js import Object, crypto
from pyodide.ffi import to_js

from ..filtering._auth import ALGORITHMS, b64url_decode

__all__ = ["WebCryptoVerifier"]

_IMPORT: Final[dict[str, dict[str, str]]] = {
    "RS256": {"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"},
    "ES256": {"name": "ECDSA", "namedCurve": "P-256"},
    "EdDSA": {"name": "Ed25519"},
    "HS256": {"name": "HMAC", "hash": "SHA-256"},
}
_VERIFY: Final[dict[str, dict[str, str]]] = {
    "RS256": {"name": "RSASSA-PKCS1-v1_5"},
    "ES256": {"name": "ECDSA", "hash": "SHA-256"},
    "EdDSA": {"name": "Ed25519"},
    "HS256": {"name": "HMAC"},
}
# The JWK members each key type is defined by (RFC 7518 §6, RFC 8037 §2).
_MEMBERS: Final[dict[str, tuple[str, ...]]] = {
    "RSA": ("kty", "n", "e"),
    "EC": ("kty", "crv", "x", "y"),
    "OKP": ("kty", "crv", "x"),
    "oct": ("kty", "k"),
}
# workerd's name for Ed25519 before it took the standard one (Secure Curves): tried when
# the runtime refuses "Ed25519".
_EDDSA_LEGACY: Final = {"name": "NODE-ED25519", "namedCurve": "NODE-ED25519"}
_MAX_KEYS: Final = 256


def _js_object(value: Mapping[str, Any]) -> Any:
    return to_js(dict(value), dict_converter=Object.fromEntries)


class WebCryptoVerifier:
    """RS256, ES256, EdDSA and HS256 through ``crypto.subtle``; imported keys are kept."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[str, tuple[Any, Any]] = {}

    def supports(self, alg: str) -> bool:
        return alg in ALGORITHMS

    async def _key(self, alg: str, jwk: Mapping[str, Any]) -> tuple[Any, Any]:
        """Return the imported CryptoKey and the algorithm object ``verify`` takes for it."""
        kty, crv = ALGORITHMS[alg]
        if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
            raise ValueError(f"a {jwk.get('kty')!r} key cannot verify {alg}")
        members = {name: jwk[name] for name in _MEMBERS[kty] if name in jwk}
        if not all(isinstance(v, str) for v in members.values()):
            raise ValueError("JWK members must be strings")
        cache_key = alg + json.dumps(members, sort_keys=True)
        cached = self._keys.get(cache_key)
        if cached is not None:
            return cached
        if kty == "RSA":
            # APPSEC: as CryptographyVerifier, refuse RSA moduli under 2048 bits.
            if int.from_bytes(b64url_decode(members.get("n", "")), "big").bit_length() < 2048:
                raise ValueError("RSA keys under 2048 bits are refused")
        verify_with = _VERIFY[alg]
        try:
            key = await crypto.subtle.importKey(
                "jwk", _js_object(members), _js_object(_IMPORT[alg]), False, to_js(["verify"]))
        except Exception:
            if alg != "EdDSA":
                raise
            key = await crypto.subtle.importKey(
                "jwk", _js_object(members), _js_object(_EDDSA_LEGACY), False, to_js(["verify"]))
            verify_with = _EDDSA_LEGACY
        found = (key, _js_object(verify_with))
        if len(self._keys) >= _MAX_KEYS:
            self._keys.clear()
        self._keys[cache_key] = found
        return found

    async def verify(self, alg: str, jwk: Mapping[str, Any], signing_input: bytes,
                     signature: bytes) -> bool:
        """Return whether ``signature`` over ``signing_input`` verifies with ``jwk``."""
        if alg not in _VERIFY:
            return False
        if alg == "ES256" and len(signature) != 64:
            return False  # RFC 7518 §3.4: exactly R || S; a DER signature is not a JWS one
        key, algorithm = await self._key(alg, jwk)
        ok = await crypto.subtle.verify(algorithm, key, to_js(signature), to_js(signing_input))
        return ok is True
