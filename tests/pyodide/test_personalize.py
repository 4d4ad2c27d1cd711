"""The personalization stage in real Pyodide under Node, compared with CPython.

One scenario (redirects, locale negotiation, experiments with a cookie,
placeholders filled in a streamed HTML body, plus the parsers they rest on)
runs unchanged in both interpreters; the JSON of the results must be equal.
The plan is built in code: msgspec, which the KV loader needs, cannot be
installed in Pyodide offline, and the stage itself never imports it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.pyodide.runner import PyodideHarness, require_harness

# Runs in both interpreters; ``result`` is awaited last and compared as JSON.
SCENARIO = r'''
import json

from edgeline import Context, Request, Response
from edgeline.headers import Headers
from edgeline.personalize import (STATE_KEY, CompiledExperiment, GeoPlan, PolicyView, Redirect,
                                  parse_accept_language, personalize, safe_location)

germany = PolicyView("germany", locale="de-DE", languages=["de-DE", "de", "en"], currency="EUR",
                     units="metric", values={"greeting": "Hallo <Welt>"})
france = PolicyView("france", locale="fr", currency="EUR",
                    redirect=Redirect(path_prefix="/fr", paths=["/shop"]))
swiss = PolicyView("swiss", locale="de", redirect=Redirect(host="example.de", status=307))
europe = PolicyView("europe", locale="en-GB", currency="EUR")
plan = GeoPlan(
    [(germany, [], ["DE", "AT"], []), (france, [], ["FR"], []), (swiss, [], ["CH"], []),
     (europe, [], [], ["EU"])],
    default=PolicyView("-", locale="en", languages=["en", "en-GB", "de", "fr"]),
    redirect_hosts=["example.de"],
    experiments=[CompiledExperiment("hero", [("a", 1), ("b", 1)]),
                 CompiledExperiment("price", [("low", 1), ("high", 3)], traffic=0.5,
                                    countries=["DE"])],
)
events = []
stage = personalize(plan, on_exposure=events.append)
DE = {"country": "DE", "continent": "EU"}
FR = {"country": "FR", "continent": "EU"}
UID = "visitor-0000000001"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


async def serve(url, headers=(), cf=None, method="GET", chunks=None, uid=True):
    headers = list(headers)
    if uid:  # a returning client by default: a fresh id would draw random arms
        headers.append(("cookie", f"edgeline_uid={UID}"))
    request = Request(method, url, Headers(headers), cf=cf if cf is not None else {})
    ctx = Context(request)
    seen = {}

    async def handler(req, ctx):
        seen.update((k, v) for k, v in req.headers.raw if k.startswith("x-edgeline-"))
        if chunks is None:
            return Response(b"ok", 200, {"content-type": "text/plain"})

        async def body():
            for chunk in chunks:
                yield chunk.encode()

        return Response(body(), 200, {"content-type": "text/html; charset=utf-8"})

    logged = len(events)
    response = await stage(request, ctx, handler)
    body = response.body
    parts = [body.decode()] if isinstance(body, bytes) else [c.decode() async for c in body]
    decision = ctx.state.get(STATE_KEY)
    out = {"status": response.status, "headers": [list(p) for p in response.headers.raw],
           "origin": seen, "body": parts}
    if decision is not None:
        out["arms"] = dict(decision.arms)
        if decision.new_id:
            # A fresh id is random: keep its shape and that it decides the arms, then
            # hide it and the arms it drew (in this case's fields and exposure events).
            client_id = decision.client_id
            out["fresh_id"] = [len(client_id), all(
                decision.arms.get(e.name) in (None, e.assign(client_id))
                for e in plan.experiments)]
            out["events"] = events[logged:]
            del events[logged:]
            text = json.dumps(out).replace(client_id, "<id>")
            for name, arm in decision.arms.items():
                text = text.replace(f"{name}:{arm}", f"{name}:<arm>").replace(
                    f'"{name}": "{arm}"', f'"{name}": "<arm>"').replace(
                    f'"arm": "{arm}"', '"arm": "<arm>"')
            out = json.loads(text)
    return out


cases = {
    "redirect": await serve("https://edge.test/shop/shoes?size=42", cf=FR),
    "redirect_opted_out": await serve("https://edge.test/shop/shoes",
                                      [("cookie", "a=b; edgeline_geo_optout=1")], FR),
    "redirect_query_off": await serve("https://edge.test/shop/x?edge_geo=off", cf=FR),
    "redirect_query_on": await serve("https://edge.test/shop/x?a=1&edge_geo=on",
                                     [("cookie", "edgeline_geo_optout=1")], FR),
    "redirect_post": await serve("https://edge.test/shop/cart", cf=FR, method="POST"),
    "redirect_hostile": await serve("https://edge.test/shop//evil.com", cf=FR),
    "redirect_host": await serve("https://edge.test/x/y?z=1", cf={"country": "CH"}),
    "redirect_bot": await serve("https://edge.test/x", [("user-agent", BOT)],
                                {"country": "CH", "botManagement": {"verifiedBot": True}}),
    "locale": [await serve("https://edge.test/p", [("accept-language", value)], cf)
               for cf in (DE, {"country": "IT", "continent": "EU"}, {}, {"country": "ZZ"},
                          {"country": 49})
               for value in ("de-AT, de;q=0.9", "de-DE-1996", "!!garbage;;q==", "ja, zh;q=0.5",
                             "fr;q=0.5, en-GB", "*", "")],
    "forged": await serve("https://edge.test/p", [("x-edgeline-variant", "forged"),
                                                  ("X-Edgeline-Currency", "XXX")], DE),
    "returning": await serve("https://edge.test/p", cf=DE),
    "returning_again": await serve(
        "https://edge.test/p", [("cookie", "edgeline_exp=hero:" + plan.experiments[0].assign(UID))],
        FR),
    "new_visitor": await serve("http://edge.test/p", [("cookie", "edgeline_uid=bad")], FR,
                               uid=False),
    "placeholders": await serve(
        "https://edge.test/page", cf=DE,
        chunks=["<p><!--ed", "ge:greeting--> <!--edge:locale-->", "",
                " <!--edge:exp.hero--><!--edge:nope--><!--edge:", "currency--></p>"]),
    "events": events,
    "accept_language": [parse_accept_language(value) for value in (
        "en-US,en;q=0.9", "de;q=0.5, fr;q=1.0, *;q=0.1", "x;q=1.5, y;q=0, z;q=0.001",
        "a" * 9, ", ,en", "zh-Hant-x-wadegile;q=0.8")],
    "locations": [safe_location(target, {"example.de"}) for target in (
        "/ok", "//evil.com", "/\\evil.com", "/%2F%2Fevil.com", "https://example.de/x",
        "https://example.de@evil.com/", "https:evil.com", "javascript:alert(1)", "/a\r\nb")],
}
cases
'''


def _cpython() -> Any:
    namespace: dict[str, Any] = {"__name__": "__scenario__"}
    body = SCENARIO.rstrip().rsplit("\n", 1)[0]  # everything but the final expression
    code = "async def _scenario():\n" + "\n".join("    " + line for line in body.splitlines())
    exec(compile(code + "\n    return cases\n", "<scenario>", "exec"), namespace)
    return json.loads(json.dumps(asyncio.run(namespace["_scenario"]()), default=repr))


@pytest.fixture(scope="module")
def harness() -> PyodideHarness:
    return require_harness()


@pytest.fixture(scope="module")
def results(harness: PyodideHarness) -> tuple[Any, Any]:
    return harness.run(SCENARIO, timeout=60.0), _cpython()


@pytest.mark.parametrize("case", [
    "redirect", "redirect_opted_out", "redirect_query_off", "redirect_query_on", "redirect_post",
    "redirect_hostile", "redirect_host", "redirect_bot", "locale", "forged", "returning",
    "returning_again", "new_visitor", "placeholders", "events", "accept_language", "locations",
])
def test_pyodide_agrees_with_cpython(results: tuple[Any, Any], case: str) -> None:
    pyodide, cpython = results
    assert pyodide[case] == cpython[case]


def test_the_scenario_checks_what_it_claims(results: tuple[Any, Any]) -> None:
    """Pin a few answers, so that agreeing on a wrong result cannot pass."""
    cases, _ = results
    assert cases["redirect"]["status"] == 302
    assert ["location", "/fr/shop/shoes?size=42"] in cases["redirect"]["headers"]
    assert cases["redirect_opted_out"]["status"] == 200
    assert cases["redirect_query_off"]["status"] == 200
    assert any(v.startswith("edgeline_geo_optout=1;")
               for k, v in cases["redirect_query_off"]["headers"] if k == "set-cookie")
    assert ["location", "/fr/shop/x?a=1"] in cases["redirect_query_on"]["headers"]
    assert cases["redirect_host"]["status"] == 307 and cases["redirect_bot"]["status"] == 200
    hostile = cases["redirect_hostile"]
    assert hostile["status"] == 302
    assert dict(hostile["headers"])["location"] == "/fr/shop//evil.com"
    variants = ["|".join(dict(c["headers"])["x-edgeline-variant"].split("|")[:3])
                for c in cases["locale"][:7]]
    assert variants[:4] == ["germany|de|-", "germany|de-DE|-", "germany|de-DE|-", "germany|de-DE|-"]
    assert cases["forged"]["origin"]["x-edgeline-currency"] == "EUR"
    returning = cases["returning"]
    assert set(returning["arms"]) <= {"hero", "price"} and "hero" in returning["arms"]
    assert not any(k == "set-cookie" and v.startswith("edgeline_uid=")
                   for k, v in returning["headers"])
    new = cases["new_visitor"]
    assert new["fresh_id"] == [22, True] and new["arms"] == {"hero": "<arm>"}
    assert new["events"] == [{"experiment": "hero", "arm": "<arm>", "client_id": "<id>",
                              "variant": "france|fr|-|hero:<arm>", "country": "FR"}]
    assert any(v.startswith("edgeline_uid=<id>;") for k, v in new["headers"] if k == "set-cookie")
    filled = "".join(cases["placeholders"]["body"])
    arm = cases["placeholders"]["arms"]["hero"]
    assert filled == f"<p>Hallo &lt;Welt&gt; de-DE {arm}<!--edge:nope-->EUR</p>"
    assert len(cases["placeholders"]["body"]) > 1  # still streamed, not buffered
    assert cases["locations"] == ["/ok", None, None, None, "https://example.de/x", None, None,
                                  None, None]
    assert cases["events"][0]["experiment"] == "hero"
