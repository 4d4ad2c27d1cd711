"""Routes the conformance suite adds to the example app (worker/app.py, copied beside this).

Each route exercises one piece of the platform path: request bodies read
as streams, streamed responses, multi-valued headers, waitUntil work.
"""

import asyncio
import hashlib

from edgeline import Context, Request, Response
from edgeline.origin import forward

from app import app


@app.get("/conformance/stream")
async def stream(request: Request, ctx: Context) -> Response:
    """Answer with ``n`` chunks produced one at a time."""
    count = int(request.url.params.get("n", "3"))

    async def chunks():
        for index in range(count):
            await asyncio.sleep(0.01)
            yield f"chunk {index}\n".encode()

    return Response(chunks(), headers={"content-type": "text/plain"})


@app.route("/conformance/echo", methods=("POST", "PUT"))
async def echo(request: Request, ctx: Context) -> Response:
    """Describe the request body as the worker read it."""
    streamed = request.is_streaming
    body = await request.read()
    return Response.from_json({
        "method": request.method,
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "streamed": streamed,
        "content_type": request.headers.get("content-type"),
    })


@app.get("/conformance/request-body")
async def request_body(request: Request, ctx: Context) -> Response:
    """Read the body of a GET (there is none) without failing."""
    return Response.from_json({"body": (await request.read()).decode()})


@app.get("/conformance/headers")
async def headers(request: Request, ctx: Context) -> Response:
    """Echo request headers; answer with repeated and Set-Cookie fields."""
    response = Response.from_json({
        "x-multi": request.headers.get_all("x-multi"),
        "x-single": request.headers.get("x-single"),
        "cookies": request.cookies,
    })
    response.headers.add("set-cookie", "a=1; Path=/")
    response.headers.add("set-cookie", "b=2; Path=/; HttpOnly")
    response.headers.add("x-multi", "one")
    response.headers.add("x-multi", "two")
    return response


@app.get("/conformance/later")
async def later(request: Request, ctx: Context) -> Response:
    """Answer at once; write ``key`` to KV afterwards, in waitUntil."""
    key = request.url.params["key"]

    async def write() -> None:
        await asyncio.sleep(0.3)
        await ctx.env.EDGE_STATE.put(key, "written-later")

    ctx.wait_until(write())
    return Response.from_text("scheduled")


@app.get("/conformance/kv")
async def kv_read(request: Request, ctx: Context) -> Response:
    value = await ctx.env.EDGE_STATE.get(request.url.params["key"])
    return Response.from_json({"value": value})


@app.get("/conformance/empty")
async def empty(request: Request, ctx: Context) -> Response:
    return Response(b"", 204)


@app.get("/conformance/fail")
async def fail(request: Request, ctx: Context) -> Response:
    raise RuntimeError("deliberate failure")


# Port 1 on loopback: nothing listens there; the fetch fails to connect.
app.get("/conformance/unreachable")(forward("http://127.0.0.1:1"))
