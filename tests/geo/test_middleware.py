"""The personalization stage end to end through an App: headers, variants, 451, redirects, HTML."""

from __future__ import annotations

import logging

import pytest

from edgeline import App, Context, Request, Response
from edgeline.cache import CachingTransport, MemoryStore
from edgeline.origin import forward
from edgeline.personalize import STATE_KEY, cache_variant, personalize
from edgeline.testing import FunctionTransport, TestClient

from .helpers import FixedPlane, compiled, config, echo

pytestmark = pytest.mark.anyio

DE = {"country": "DE", "continent": "EU", "isEUCountry": "1"}


def make_app(source=None, origin=None, **options) -> App:
    app = App()
    app.use(personalize(source if source is not None else compiled()["geo"], **options))
    handler = forward(origin or FunctionTransport(echo))
    app.any("/{rest:path}")(handler)
    return app


async def test_trusted_fields_reach_the_origin_and_client_copies_do_not() -> None:
    client = TestClient(make_app(), cf=DE)
    response = await client.get("/page", headers={
        "x-edgeline-variant": "forged", "X-Edgeline-Currency": "XXX", "accept-language": "en"})
    seen = await response.json()
    assert seen["x-edgeline-variant"] == "germany|en|-"
    assert seen["x-edgeline-currency"] == "EUR" and seen["x-edgeline-units"] == "metric"
    assert seen["x-edgeline-region"] == "germany" and seen["x-edgeline-locale"] == "en"
    assert response.headers["content-language"] == "en"
    assert response.headers["x-edgeline-variant"] == "germany|en|-"
    assert client.last_context.state[STATE_KEY].currency == "EUR"


@pytest.mark.parametrize(("cf", "accept", "variant"), [
    ({}, None, "-|en|-"),                                                   # preview: no cf
    ({"country": "ZZ"}, None, "-|en|-"),                                    # unknown country
    ({"country": "Germany"}, None, "-|en|-"),                               # malformed country
    ({"country": "IT", "continent": "EU"}, None, "europe|en-GB|-"),         # continent
    ({"country": "US", "regionCode": "CA"}, "de", "california|de|west"),    # region wins
    ({"country": "US", "regionCode": "NY"}, "de;q=0.5, fr", "-|fr|-"),      # global languages
    (DE, "de-AT, de;q=0.9", "germany|de|-"),
    (DE, "de-DE-1996", "germany|de-DE|-"),
    (DE, "!!garbage;;q==", "germany|de-DE|-"),                              # malformed header
    (DE, "ja, zh;q=0.5", "germany|de-DE|-"),                                # nothing acceptable
])
async def test_policy_and_locale(cf, accept, variant) -> None:
    client = TestClient(make_app(), cf=cf)
    headers = {"accept-language": accept} if accept else {}
    response = await client.get("/p", headers=headers)
    assert response.status == 200
    assert response.headers["x-edgeline-variant"] == variant


async def test_origin_content_language_is_kept() -> None:
    async def origin(request: Request) -> Response:
        return Response(b"x", headers={"content-language": "de-CH"})

    response = await TestClient(make_app(origin=FunctionTransport(origin)), cf=DE).get("/")
    assert response.headers.get_all("content-language") == ["de-CH"]


async def test_legal_block_is_451_with_blocked_by() -> None:
    client = TestClient(make_app(), cf={"country": "KP"})
    response = await client.get("/v1/items")
    assert response.status == 451
    assert response.headers["link"] == '<https://legal.example.com/>; rel="blocked-by"'
    assert response.headers["cache-control"] == "private, no-store"
    body = await response.json()
    assert body["title"] == "Unavailable For Legal Reasons" and "Export" in body["detail"]
    assert (await client.get("/about")).status == 200  # outside the blocked paths


async def test_prefix_redirect_302_with_opt_out_and_methods() -> None:
    client = TestClient(make_app(), cf={"country": "FR", "continent": "EU"})
    response = await client.get("/shop/shoes?size=42")
    assert response.status == 302 and response.headers["location"] == "/fr/shop/shoes?size=42"
    assert response.headers["cache-control"] == "private, no-store"
    assert (await client.get("/fr/shop/shoes")).status == 200               # already there
    assert (await client.get("/blog")).status == 200                        # not a redirected path
    assert (await client.post("/shop/cart")).status == 200                  # GET/HEAD only
    opted = await client.get("/shop/x", headers={"cookie": "a=b; edgeline_geo_optout=1"})
    assert opted.status == 200
    hostile = await client.get("//evil.com/shop")
    assert hostile.status in (200, 302)
    if hostile.status == 302:
        assert hostile.headers["location"].startswith("/fr/")


async def test_host_redirect_307_and_verified_crawlers() -> None:
    client = TestClient(make_app(), cf={"country": "CH"})
    response = await client.get("/x/y?z=1")
    assert response.status == 307 and response.headers["location"] == "https://example.de/x/y?z=1"
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    verified = await client.get("/x", headers={"user-agent": bot},
                                cf={"country": "CH", "botManagement": {"verifiedBot": True}})
    assert verified.status == 200
    impostor = await client.get("/x", headers={"user-agent": bot},
                                cf={"country": "CH", "botManagement": {"verifiedBot": False}})
    assert impostor.status == 307


async def test_experiment_cookie_exposure_logged_once(caplog) -> None:
    events: list[dict] = []
    client = TestClient(make_app(on_exposure=events.append), cf=DE)
    first = await client.get("/exp/page")
    cookies = first.headers.get_all("set-cookie")
    assert len(cookies) == 2 and all("HttpOnly" in c and "Secure" in c for c in cookies)
    uid = next(c for c in cookies if c.startswith("edgeline_uid=")).split(";")[0]
    exp = next(c for c in cookies if c.startswith("edgeline_exp=")).split(";")[0]
    arm = events[0]["arm"]
    assert events == [{"experiment": "hero", "arm": arm, "client_id": uid.split("=")[1],
                       "variant": f"germany|de-DE|-|hero:{arm}", "country": "DE"}]
    seen = await first.json()
    assert seen["x-edgeline-experiments"] == f"hero:{arm}"
    # The same client again: same arm, no new cookie, no second exposure.
    for _ in range(3):
        again = await client.get("/exp/other", headers={"cookie": f"{uid}; {exp}"})
        assert again.headers["x-edgeline-variant"].endswith(f"hero:{arm}")
        assert again.headers.get_all("set-cookie") == []
    assert len(events) == 1
    # Outside the experiment's paths: no id needed, none set.
    assert (await client.get("/elsewhere")).headers.get_all("set-cookie") == []


async def test_default_exposure_log_and_bad_cookie_gets_a_new_id(caplog) -> None:
    client = TestClient(make_app(), cf=DE)
    with caplog.at_level(logging.INFO, logger="edgeline.experiments"):
        response = await client.get("/exp", headers={"cookie": "edgeline_uid=bad;"})
    assert any(c.startswith("edgeline_uid=") for c in response.headers.get_all("set-cookie"))
    assert [r.getMessage() for r in caplog.records] == [
        f"exposure hero={response.headers['x-edgeline-variant'].rsplit(':', 1)[1]}"]


async def test_placeholders_filled_in_streamed_html() -> None:
    async def origin(request: Request) -> Response:
        async def body():
            yield b"<p><!--edge:greet"
            yield b"ing-->, <!--edge:currency--> <!--edge:loc"
            yield b"ale--> <!--edge:city--> <!--edge:exp.hero--><!--edge:none--></p>"
        return Response(body(), headers={"content-type": "text/html; charset=utf-8",
                                         "etag": '"v1"', "content-length": "999"})

    client = TestClient(make_app(origin=FunctionTransport(origin)),
                        cf={**DE, "city": "Köln"})
    response = await client.get("/exp/page", headers={"accept-language": "de"})
    text = (await response.read()).decode()
    arm = response.headers["x-edgeline-variant"].rsplit(":", 1)[1]
    assert text == f"<p>Hallo &lt;Welt&gt;, EUR de Köln {arm}<!--edge:none--></p>"
    assert "content-length" not in response.headers and response.headers["etag"] == 'W/"v1"'


async def test_non_html_is_not_touched() -> None:
    async def origin(request: Request) -> Response:
        return Response(b"<!--edge:currency-->", headers={"content-type": "application/json"})

    response = await TestClient(make_app(origin=FunctionTransport(origin)), cf=DE).get("/")
    assert await response.read() == b"<!--edge:currency-->"


async def test_cache_keys_on_the_variant_not_on_raw_headers() -> None:
    calls: list[str] = []

    async def origin(request: Request) -> Response:
        calls.append(request.headers.get("x-edgeline-variant") or "")
        return Response(f"page for {calls[-1]}".encode(), headers={
            "cache-control": "public, max-age=60", "content-type": "text/plain"})

    cache = CachingTransport(FunctionTransport(origin), MemoryStore(1 << 20),
                             variant=cache_variant)
    client = TestClient(make_app(origin=cache))
    # Two German clients with different raw Accept-Language but one negotiated locale.
    a = await client.get("/home", cf=DE, headers={"accept-language": "de-DE,de;q=0.9"})
    b = await client.get("/home", cf=DE, headers={"accept-language": "de-de, en;q=0.1"})
    assert await a.read() == await b.read() == b"page for germany|de-DE|-"
    assert calls == ["germany|de-DE|-"]
    c = await client.get("/home", cf={"country": "IT", "continent": "EU"})
    assert await c.read() == b"page for europe|en-GB|-" and len(calls) == 2
    # A forged variant from the client does not select another entry.
    d = await client.get("/home", cf=DE, headers={"x-edgeline-variant": "europe|en-GB|-",
                                                  "accept-language": "de-DE"})
    assert await d.read() == b"page for germany|de-DE|-" and len(calls) == 2


async def test_plane_source_loads_on_the_first_request_and_passes_through_without_config() -> None:
    plane = FixedPlane(None)
    client = TestClient(make_app(plane), cf=DE)
    response = await client.get("/p", headers={"x-edgeline-variant": "forged"})
    assert plane.refreshes == 1
    assert await response.json() == {}  # stripped, nothing added: no configuration
    plane.current = compiled()
    response = await client.get("/p")
    assert response.headers["x-edgeline-variant"] == "germany|de-DE|-" and plane.refreshes == 1


async def test_experiment_targeted_by_country() -> None:
    doc = config(experiments=[{"name": "jp-only", "countries": ["JP"],
                               "arms": [{"name": "x"}]}])
    client = TestClient(make_app(compiled(doc)["geo"]))
    jp = await client.get("/", cf={"country": "JP"})
    de = await client.get("/", cf=DE)
    assert jp.headers["x-edgeline-variant"].endswith("|jp-only:x")
    assert "jp-only" not in de.headers["x-edgeline-variant"]


def test_personalize_refuses_a_bad_source() -> None:
    with pytest.raises(TypeError, match="GeoPlan or a ConfigPlane"):
        personalize({"geo": 1})


async def test_ctx_state_holds_the_decision() -> None:
    app = App()
    app.use(personalize(compiled()["geo"]))

    @app.get("/me")
    async def me(request: Request, ctx: Context) -> Response:
        d = ctx.state[STATE_KEY]
        return Response.from_json([d.region, d.locale, d.currency, d.units, d.content])

    response = await TestClient(app, cf={"country": "US", "regionCode": "CA"}).get("/me")
    assert await response.json() == ["california", "en", "USD", "imperial", "west"]


async def test_query_opt_out_sets_the_cookie_and_is_not_redirected() -> None:
    client = TestClient(make_app(), cf={"country": "FR", "continent": "EU"})
    response = await client.get("/shop/shoes?size=42&edge_geo=off")
    assert response.status == 200
    cookies = response.headers.get_all("set-cookie")
    assert len(cookies) == 1 and cookies[0].startswith("edgeline_geo_optout=1; Path=/;")
    assert "Max-Age=34560000" in cookies[0] and "HttpOnly" in cookies[0]
    # The cookie alone keeps the client where it is afterwards.
    assert (await client.get("/shop/x", headers={"cookie": "edgeline_geo_optout=1"})).status == 200
    # Any case of the value; not only on redirected paths (the policy redirects).
    assert (await client.get("/blog?EDGE_GEO=x&edge_geo=OFF")).headers.get_all("set-cookie")


async def test_query_opt_in_clears_the_cookie_and_redirects_without_the_parameter() -> None:
    client = TestClient(make_app(), cf={"country": "FR", "continent": "EU"})
    response = await client.get("/shop/x?a=1&edge_geo=on&b=2",
                                headers={"cookie": "edgeline_geo_optout=1"})
    assert response.status == 302 and response.headers["location"] == "/fr/shop/x?a=1&b=2"
    cleared = response.headers.get_all("set-cookie")
    assert len(cleared) == 1 and cleared[0].startswith("edgeline_geo_optout=; Path=/; Max-Age=0;")
    # Host redirects do not carry it either; the last on/off wins.
    swiss = TestClient(make_app(), cf={"country": "CH"})
    moved = await swiss.get("/x?edge_geo=off&edge_geo=on")
    assert moved.status == 307 and moved.headers["location"] == "https://example.de/x"


@pytest.mark.parametrize("query", ["edge_geo=", "edge_geo", "edge_geo=no", "edge_geo=off%00",
                                   "xedge_geo=off", "edge%5Fgeo=off", "edge_geo=%6Fff"])
async def test_malformed_opt_out_parameter_is_ignored(query) -> None:
    client = TestClient(make_app(), cf={"country": "FR", "continent": "EU"})
    response = await client.get(f"/shop/x?{query}")
    assert response.status == 302 and response.headers.get_all("set-cookie") == []
    assert response.headers["location"] == f"/fr/shop/x?{query}"


async def test_opt_out_parameter_is_ignored_where_nothing_redirects_and_when_disabled() -> None:
    germany = TestClient(make_app(), cf=DE)
    assert (await germany.get("/p?edge_geo=off")).headers.get_all("set-cookie") == []
    off = TestClient(make_app(compiled(config(geo={"redirect_hosts": ["example.de"],
                                                   "opt_out_param": None}))["geo"]),
                     cf={"country": "FR", "continent": "EU"})
    assert (await off.get("/shop/x?edge_geo=off")).status == 302
    renamed = TestClient(make_app(compiled(config(geo={"redirect_hosts": ["example.de"],
                                                       "opt_out_param": "stay"}))["geo"]),
                         cf={"country": "FR", "continent": "EU"})
    assert (await renamed.get("/shop/x?stay=off")).status == 200
    assert (await renamed.get("/shop/x?edge_geo=off")).status == 302


@pytest.mark.parametrize("personalize_first", [False, True])
async def test_a_failed_first_load_is_tried_once_whichever_stage_asks_first(
        personalize_first: bool) -> None:
    from edgeline.config import ConfigPlane

    plane = ConfigPlane("EDGE_CONFIG", "edge-config")
    refreshes = 0
    refresh = plane.refresh

    async def counted(env: object, base: object = None) -> bool:
        nonlocal refreshes
        refreshes += 1
        return await refresh(env, base)  # type: ignore[arg-type]

    plane.refresh = counted  # type: ignore[method-assign]
    app = App()
    stages = [plane.loader, personalize(plane)]
    app.use(*(reversed(stages) if personalize_first else stages))

    @app.get("/")
    async def index(request: Request, ctx: Context) -> Response:
        return Response.from_text("ok")

    client = TestClient(app, env={}, cf={"country": "FR"})  # no EDGE_CONFIG binding
    assert (await client.get("/")).status == 200
    assert refreshes == 1 and plane.current is None
    assert (await client.get("/")).status == 200
    assert refreshes == 1  # later requests wait for no load
