"""Request filtering inside real Pyodide: the rules engine, the managed rules, JWTs via Web Crypto.

Tokens are signed here, under CPython, with ``cryptography``; inside
Pyodide they are verified by ``edgeline.adapters.webcrypto`` through Node's
``crypto.subtle`` (the Web Crypto API Workers also provide), which the
authenticator must pick by itself. The managed rules and a compiled rule set
must decide the labelled corpus exactly as they do under CPython.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgeline.filtering import ManagedRules, Rule, compile_ruleset
from tests.filtering.corpus import attacks, benign
from tests.filtering.test_auth import CLAIMS, NOW, Keys
from tests.filtering.test_managed import view_of
from tests.pyodide.runner import PyodideHarness, require_harness


@pytest.fixture(scope="module")
def harness() -> PyodideHarness:
    return require_harness()


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def _run_json(harness: PyodideHarness, code: str, **data: Any) -> Any:
    """Run ``code`` in Pyodide with ``data`` bound as DATA (a dict); return its last expression."""
    prelude = f"import json\nDATA = json.loads({json.dumps(json.dumps(data))})\n"
    return harness.run(prelude + code, timeout=120)


_VERIFY = """
from edgeline.filtering import JWTAuthenticator
from edgeline.messages import Response

fetched = []

class Ctx:
    async def fetch(self, request):
        fetched.append(request.url.path)
        return Response.from_json(DATA["jwks"], headers={"cache-control": "max-age=600"})

auth = JWTAuthenticator("jwt", jwks_url="https://id.example/jwks.json", secret=DATA["secret"],
                        algorithms=["RS256", "ES256", "EdDSA", "HS256"],
                        issuer="https://id.example", audience="edge",
                        forward={"sub": "x-user", "roles": "x-roles"})
ctx = Ctx()
results = {}
for name, token in DATA["tokens"].items():
    result = await auth.verify(token, ctx, DATA["now"])
    results[name] = [result.ok, result.description, result.headers]
[type(auth.verifier).__module__ + "." + type(auth.verifier).__name__, results, len(fetched)]
"""


def _tokens(keys: Keys) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization

    tokens: dict[str, str] = {}
    for alg, kid in (("RS256", "r1"), ("ES256", "e1"), ("EdDSA", "d1"), ("HS256", None)):
        good = keys.sign(alg, CLAIMS, kid)
        tokens[f"{alg} valid"] = good
        # The payload changed after signing: the signature no longer covers it.
        forged = keys.sign(alg, {**CLAIMS, "sub": "admin"}, kid)
        tokens[f"{alg} tampered payload"] = forged.rsplit(".", 1)[0] + "." + good.rsplit(".", 1)[1]
        head, body, signature = good.split(".")
        flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
        tokens[f"{alg} tampered signature"] = f"{head}.{body}.{flipped}"
        tokens[f"{alg} expired"] = keys.sign(alg, {**CLAIMS, "exp": NOW - 100}, kid)
    # Algorithm confusion: the RSA public key's bytes as an HMAC secret, sent as HS256 with
    # the RSA key's kid; and an ES256 token naming the RSA key.
    pem = keys.rsa.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    tokens["HS256 signed with the RSA public key"] = keys.sign("HS256", CLAIMS, "r1", key=pem)
    tokens["ES256 naming the RSA key"] = keys.sign("ES256", CLAIMS, "r1")
    tokens["EdDSA naming the EC key"] = keys.sign("EdDSA", CLAIMS, "e1")
    tokens["none"] = keys.sign("none", CLAIMS).rsplit(".", 1)[0] + "."
    # A DER-encoded ECDSA signature (what X.509 uses) is not a JWS ES256 signature.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.filtering.test_auth import b64
    head, body, _ = keys.sign("ES256", CLAIMS, "e1").split(".")
    der = keys.ec.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    tokens["ES256 with a DER signature"] = f"{head}.{body}.{b64(der)}"
    return tokens


def test_jwts_verify_with_web_crypto_inside_pyodide(harness: PyodideHarness, keys: Keys) -> None:
    tokens = _tokens(keys)
    verifier, results, fetched = _run_json(
        harness, _VERIFY, jwks=keys.jwks, secret=keys.secret.decode(), tokens=tokens, now=NOW)
    assert verifier == "edgeline.adapters.webcrypto.WebCryptoVerifier"
    assert fetched == 1  # the JWKS was fetched through ctx.fetch once, then cached
    for alg in ("RS256", "ES256", "EdDSA", "HS256"):
        ok, description, headers = results[f"{alg} valid"]
        assert ok, (alg, description)
        assert headers == {"x-user": "user-1", "x-roles": "a,b"}
        for case in ("tampered payload", "tampered signature"):
            ok, description, _ = results[f"{alg} {case}"]
            assert not ok and description == "signature does not verify", (alg, case)
        ok, description, _ = results[f"{alg} expired"]
        assert not ok and description == "token expired"
    for case in ("HS256 signed with the RSA public key", "ES256 naming the RSA key",
                 "EdDSA naming the EC key", "ES256 with a DER signature"):
        ok, description, _ = results[case]
        assert not ok, case
        assert description in ("signature does not verify",
                               "no key matches the token's kid and algorithm"), case
    ok, description, _ = results["none"]
    assert not ok and "not allowed" in description


def test_web_crypto_refuses_mismatched_and_weak_keys(harness: PyodideHarness, keys: Keys) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.filtering.test_auth import number
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    numbers = weak.public_numbers()
    outcome = _run_json(harness, """
from edgeline.adapters.webcrypto import WebCryptoVerifier

verifier = WebCryptoVerifier()
signing_input = b"a.b"
out = []
for alg, jwk in (("RS256", DATA["weak"]), ("HS256", DATA["rsa"]), ("RS256", DATA["ec"])):
    try:
        out.append(await verifier.verify(alg, jwk, signing_input, b"x" * 256))
    except Exception as exc:
        out.append(str(exc)[:80])
out
""", weak={"kty": "RSA", "n": number(numbers.n), "e": number(numbers.e)},
        rsa=keys.jwks["keys"][0], ec=keys.jwks["keys"][1])
    assert outcome[0] == "RSA keys under 2048 bits are refused"
    assert outcome[1] == "a 'RSA' key cannot verify HS256"
    assert outcome[2] == "a 'EC' key cannot verify RS256"


_CORPUS = """
from edgeline.filtering import ManagedRules, RequestView, Rule, compile_ruleset
from edgeline.messages import Request

def view(entry):
    method, url, headers, body = entry
    body = body.encode("latin-1")
    return RequestView(Request(method, url, headers, body), None, now=0.0, body=body)

out = {}
for paranoia in (1, 2, 3):
    rules = ManagedRules(paranoia)
    seen = []
    for _ in range(2):  # the second round is answered from the memos
        for entry in DATA["entries"]:
            hit = rules.inspect(view(entry))
            seen.append(None if hit is None else [hit.id, hit.where, hit.message])
    out[str(paranoia)] = seen
ruleset = compile_ruleset([Rule(r["name"], r["expression"], {"type": "log"})
                           for r in DATA["rules"]])
evaluate = ruleset.phases[0].evaluate
out["rules"] = [evaluate(view(entry)) for entry in DATA["entries"]]
out
"""

RULES = [
    {"name": "admin", "expression": 'http.path starts_with "/admin"'},
    {"name": "post-json", "expression":
     'http.method == "POST" and http.header["content-type"] contains "json"'},
    {"name": "quote", "expression": 'http.query contains "\'"'},
    {"name": "ua", "expression": 'lower(http.user_agent) matches r"(?:curl|sqlmap)"'},
]


def test_filtering_decides_the_corpus_as_cpython_does(harness: PyodideHarness) -> None:
    corpus = attacks() + benign()
    entries: list[list[Any]] = []
    expected: dict[str, Any] = {}
    for entry in corpus:
        view = view_of(entry)
        request = view.request
        entries.append([request.method, str(request.url), request.headers.raw,
                        entry[4].decode("latin-1")])
    for paranoia in (1, 2, 3):
        rules = ManagedRules(paranoia)
        seen = []
        for _ in range(2):
            for entry in corpus:
                hit = rules.inspect(view_of(entry))
                seen.append(None if hit is None else [hit.id, hit.where, hit.message])
        expected[str(paranoia)] = seen
    ruleset = compile_ruleset([Rule(r["name"], r["expression"], {"type": "log"}) for r in RULES])
    expected["rules"] = [ruleset.phases[0].evaluate(view_of(entry)) for entry in corpus]
    got = _run_json(harness, _CORPUS, entries=entries, rules=RULES)
    assert got == expected
    assert sum(hit is not None for hit in got["1"]) > 150  # the attacks were seen as attacks
    assert any(got["rules"])


def test_builtin_screens_come_from_the_table_under_pyodide(harness: PyodideHarness) -> None:
    derived = harness.run("""
from edgeline.filtering import ManagedRules, _managed, _prefilter
_prefilter.best_clause.cache_clear()
_prefilter._screen_for.cache_clear()
_managed._screens.cache_clear()
for level in (1, 2, 3, 4):
    ManagedRules(level).prepare()
before = _prefilter.best_clause.cache_info().currsize
ManagedRules(1, exclude=["EL-XSS-101"]).prepare()  # not in the table: derived
[before, _prefilter.best_clause.cache_info().currsize > 0]
""")
    assert derived == [0, True]
