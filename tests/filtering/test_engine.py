"""The firewall middleware: phases, actions, dev header, last good ruleset, body inspection."""

from __future__ import annotations

import logging

import pytest

from edgeline.app import App
from edgeline.context import Context
from edgeline.filtering import (
    FilterConfigError,
    IPRangeSet,
    ManagedRules,
    RateLimiter,
    Rule,
    RulesetInvalid,
    compile_ruleset,
    firewall,
    managed_rules,
)
from edgeline.messages import Request, Response
from edgeline.testing import TestClient

pytestmark = pytest.mark.anyio


def make_app(*middleware) -> App:  # type: ignore[no-untyped-def]
    app = App()

    @app.route("/{rest:path}", methods=("GET", "POST", "DELETE"))
    async def echo(request: Request, ctx: Context) -> Response:
        body = await request.read()
        return Response.from_json({"path": request.path, "headers": dict(request.headers.items()),
                                   "body": body.decode(errors="replace")})

    app.use(*middleware)
    return app


RULES = [
    Rule("allow-office", "ip.src in $office", {"type": "allow"}, phase="access"),
    Rule("no-delete", 'http.method == "DELETE"', {"type": "block", "status": 405,
                                                  "body": "no deletes"}),
    Rule("old-docs", 'http.path starts_with "/docs/v1/"', {"type": "redirect",
         "location": "https://docs.example.com/", "status": 301}),
    Rule("tag", 'http.path starts_with "/api/"', {"type": "set_header", "name": "x-edge-tag",
                                                  "value": "api"}),
    Rule("strip", "true", {"type": "remove_header", "name": "x-internal"}),
    Rule("resp", "true", {"type": "set_header", "name": "x-frame-options", "value": "DENY",
                          "target": "response"}, phase="transform"),
    Rule("seen", 'http.user_agent contains "curl"', {"type": "log"}),
    Rule("limit", 'http.path == "/limited"', {"type": "rate_limit", "limiter": "tiny"},
         phase="ratelimit"),
]


def build(**options):  # type: ignore[no-untyped-def]
    return compile_ruleset(RULES, lists={"office": IPRangeSet(["203.0.113.0/24"])},
                           limiters={"tiny": RateLimiter("tiny", limit=2, period=60,
                                                         algorithm="fixed")}, **options)


async def test_actions_and_dev_header(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(make_app(firewall(build(), dev=True)))
    caplog.set_level(logging.INFO, "edgeline.filtering")
    blocked = await client.request("DELETE", "/x", headers={"user-agent": "curl/8"})
    assert blocked.status == 405 and blocked.body == b"no deletes"
    assert blocked.headers["x-edgeline-rule"] == "no-delete"  # it comes before "seen"
    assert "rule no-delete blocked DELETE /x" in caplog.text

    moved = await client.get("/docs/v1/intro")
    assert moved.status == 301 and moved.headers["location"] == "https://docs.example.com/"

    ok = await client.get("/api/items", headers={"x-internal": "1"})
    seen = (await ok.json())["headers"]
    assert seen["x-edge-tag"] == "api" and "x-internal" not in seen
    assert ok.headers["x-frame-options"] == "DENY"
    assert ok.headers["x-edgeline-rule"] == "tag, strip, resp"


async def test_allow_skips_every_later_rule() -> None:
    client = TestClient(make_app(firewall(build(), dev=True)))
    response = await client.request("DELETE", "/x", headers={"cf-connecting-ip": "203.0.113.7"})
    assert response.status == 200
    assert response.headers["x-edgeline-rule"] == "allow-office"


async def test_rate_limit_rule_answers_429_with_headers() -> None:
    client = TestClient(make_app(firewall(build())))
    headers = {"cf-connecting-ip": "198.51.100.1"}
    first = await client.get("/limited", headers=headers)
    assert first.status == 200 and first.headers["ratelimit-policy"] == '"tiny";q=2;w=60'
    assert first.headers["ratelimit"].startswith('"tiny";r=1;t=')
    await client.get("/limited", headers=headers)
    third = await client.get("/limited", headers=headers)
    assert third.status == 429 and int(third.headers["retry-after"]) >= 1
    other = await client.get("/limited", headers={"cf-connecting-ip": "198.51.100.2"})
    assert other.status == 200


async def test_not_dev_hides_rule_ids() -> None:
    client = TestClient(make_app(firewall(build())))
    response = await client.request("DELETE", "/x")
    assert response.status == 405 and "x-edgeline-rule" not in response.headers


def test_bad_rules_are_all_reported() -> None:
    with pytest.raises(RulesetInvalid) as info:
        compile_ruleset([
            {"id": "a", "expression": "http.path ==", "action": {"type": "block"}},
            {"id": "b", "expression": "true", "action": {"type": "rate_limit", "limiter": "x"}},
            {"id": "c", "expression": "true", "action": {"type": "explode"}},
            {"id": "a", "expression": "true", "action": {"type": "log"}},
        ])
    text = str(info.value)
    assert "rule 'a': line 1, column 13" in text and "no rate limiter named 'x'" in text
    assert "unknown action type 'explode'" in text and "used twice" in text
    assert len(info.value.errors) == 4


def test_action_options_are_checked() -> None:
    with pytest.raises(FilterConfigError, match="status must be 400-599"):
        Rule("x", "true", {"type": "block", "status": 200})
    with pytest.raises(FilterConfigError, match="unknown option"):
        Rule("x", "true", {"type": "log", "level": "loud"})
    with pytest.raises(FilterConfigError, match="phase must be"):
        Rule("x", "true", {"type": "log"}, phase="late")


async def test_provider_swaps_rulesets_and_keeps_last_good() -> None:
    current = {"ruleset": compile_ruleset([Rule("a", 'http.path == "/a"', {"type": "block"})])}

    def load(rules: list[dict]) -> None:  # what a config reload does
        try:
            current["ruleset"] = compile_ruleset(rules)
        except RulesetInvalid:
            pass  # the last good ruleset keeps serving

    client = TestClient(make_app(firewall(lambda ctx: current["ruleset"])))
    assert (await client.get("/a")).status == 403
    load([{"id": "b", "expression": 'http.path == "/b"', "action": {"type": "block"}}])
    assert (await client.get("/a")).status == 200 and (await client.get("/b")).status == 403
    load([{"id": "c", "expression": "http.path ==", "action": {"type": "block"}}])
    assert (await client.get("/b")).status == 403


async def test_body_rules_see_the_body_and_the_origin_still_gets_it() -> None:
    ruleset = compile_ruleset([Rule("b", 'http.body contains "forbidden"', {"type": "block"})])
    client = TestClient(make_app(firewall(ruleset)))
    assert (await client.post("/x", body=b"this is forbidden")).status == 403

    async def chunks():  # type: ignore[no-untyped-def]
        yield b"a" * 70_000
        yield b"tail"

    response = await client.post("/x", body=chunks())
    assert response.status == 200
    assert (await response.json())["body"] == "a" * 70_000 + "tail"


async def test_managed_rules_middleware_blocks_and_logs() -> None:
    client = TestClient(make_app(managed_rules(paranoia=1, dev=True)))
    attack = await client.get("/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--")
    assert attack.status == 403 and attack.headers["x-edgeline-rule"] == "EL-SQLI-100"
    assert (await attack.json())["rule"] == "EL-SQLI-100"
    assert (await client.get("/search?q=O%27Brien")).status == 200
    log_only = TestClient(make_app(managed_rules(paranoia=1, mode="log", dev=True)))
    passed = await log_only.get("/.env")
    assert passed.status == 200 and passed.headers["x-edgeline-rule"] == "EL-PROBE-100"
    excluded = TestClient(make_app(managed_rules(exclude=["EL-PROBE-101"])))
    assert (await excluded.get("/wp-login.php")).status == 200


async def test_trusted_headers_are_stripped_even_without_auth() -> None:
    from edgeline.filtering import JWTAuthenticator
    auth = JWTAuthenticator("jwt", secret="s" * 32, algorithms=["HS256"],
                            forward={"sub": "x-user"})
    ruleset = compile_ruleset([], authenticators={"jwt": auth})
    client = TestClient(make_app(firewall(ruleset)))
    response = await client.get("/x", headers={"x-user": "admin"})
    assert "x-user" not in (await response.json())["headers"]


def test_managed_options_are_checked() -> None:
    with pytest.raises(FilterConfigError, match="paranoia"):
        ManagedRules(5)
    with pytest.raises(FilterConfigError, match="mode"):
        ManagedRules(1, mode="panic")
