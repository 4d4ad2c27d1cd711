"""The example edge app: answered at the edge, personalized by geo, or sent to the origin.

Edit this file while `edgeline dev` runs; the worker reloads on save.
"""

from edgeline import App, Context, Request, Response
from edgeline.config import STATE_KEY, ConfigPlane
from edgeline.filtering import firewall
from edgeline.origin import forward
from edgeline.personalize import nearest_origin, personalize

app = App()

GREETINGS = {"DE": "Hallo", "FR": "Bonjour", "ES": "Hola", "IT": "Ciao", "JP": "こんにちは",
             "BR": "Olá", "NL": "Hallo", "SE": "Hej"}


async def server_timing(request: Request, ctx: Context, call_next) -> Response:
    """Report where the time went, and which edge location answered."""
    response = await call_next(request, ctx)
    ctx.timings.record("edge", ctx.timings.elapsed_ms())
    response.headers["server-timing"] = ctx.timings.header()
    if ctx.geo.colo:
        response.headers["x-edge-colo"] = ctx.geo.colo
    return response


app.use(server_timing)

# Routes, origins, rules and policies from KV (config/edge.toml, pushed with
# `edgeline config push config/edge.toml`; `edgeline dev --demo` pushes it for you),
# re-read every 30 s in the background. Its routes are matched before the ones below.
plane = ConfigPlane("EDGE_CONFIG", "edge-config", refresh_seconds=30)
app.use(
    plane.loader,       # the configuration for this request (and the admin route)
    # Rules and managed rules from the configuration: every request, before routing.
    firewall(lambda ctx: (config := ctx.state.get(STATE_KEY)) and config.get("rules")),
    personalize(plane),  # geo policies, redirects, 451, locale, experiments
    plane.routes,       # the configuration's routes, before the ones below
)


@app.get("/")
async def index(request: Request, ctx: Context) -> Response:
    ctx.wait_until(count_visit(ctx))
    return Response.from_json({
        "service": "edgeline example worker",
        "you_are_in": ctx.geo.country,
        "try": ["/hello/ada", "/geo", "/api/items", "/api/items/1"],
    })


@app.get("/hello/{name}")
async def hello(request: Request, ctx: Context) -> Response:
    greeting = GREETINGS.get(ctx.geo.country or "", "Hello")
    return Response.from_text(f"{greeting}, {request.params['name']}! (from the edge)\n")


@app.get("/geo")
async def geo(request: Request, ctx: Context) -> Response:
    return Response.from_json(ctx.geo.as_dict())


@app.get("/visits")
async def visits(request: Request, ctx: Context) -> Response:
    count = await ctx.env.EDGE_STATE.get("visits")
    return Response.from_json({"visits": int(count or 0)})


async def count_visit(ctx: Context) -> None:
    """Count visits after the response has gone out (waitUntil)."""
    kv = ctx.env.EDGE_STATE
    count = int(await kv.get("visits") or 0)
    await kv.put("visits", str(count + 1))


app.any("/api/{rest:path}")(forward(lambda ctx: ctx.env.ORIGIN_URL, strip_prefix=""))

# The nearest healthy origin of the "demo-nearest" group (config/edge.toml, geo.nearest).
app.any("/near/{rest:path}")(forward(nearest_origin("demo-nearest", plane), strip_prefix="/near"))

# Generate the route matcher now rather than on the first request: with a dedicated
# memory snapshot (docs/deploy.md) this top level runs once, at upload, and every
# isolate starts with the matcher ready. Without one it costs the same either way.
app.router.compile()
