// The benchmark worker's edge logic written for Hono on workerd: the JavaScript peer.
//
// Same routes and behaviour as bench/_e2e_worker.py: a Server-Timing header,
// a signature filter (403), a geo redirect of "/" (302, country from
// request.cf, which workerd fills from the cf-blob header), edge answers,
// and a caching proxy to the origin in isolate memory honouring max-age,
// no-store and private. Bundled with esbuild by bench/e2e.py; see
// bench/hono/config.capnp for how workerd serves it.
import { Hono } from "hono";

const GREETINGS = { DE: "Hallo", FR: "Bonjour", ES: "Hola", IT: "Ciao", JP: "Konnichiwa",
                    BR: "Ola", NL: "Hallo", SE: "Hej" };
const HOMES = { DE: "/de/", FR: "/fr/", JP: "/ja/", BR: "/pt-br/" };
const SIGNATURES =
  /(union\s+(all\s+)?select|<\s*script|'\s*or\s*'?\d|\.\.\/|\/etc\/passwd|sleep\s*\()/i;
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer",
                            "transfer-encoding", "upgrade", "host", "content-length"]);
const MAX_ENTRIES = 16384;
const cache = new Map();

const app = new Hono();

app.use(async (c, next) => {
  const started = performance.now();
  await next();
  c.res.headers.set("server-timing", `edge;dur=${(performance.now() - started).toFixed(2)}`);
});

app.use(async (c, next) => {
  const url = new URL(c.req.url);
  let target = url.pathname + url.search;
  try {
    target = decodeURIComponent(target.replaceAll("+", " "));
  } catch {
    // a malformed escape: inspect the raw form
  }
  if (SIGNATURES.test(target)) {
    return c.text("Forbidden\n", 403, { "cache-control": "no-store" });
  }
  if (url.pathname === "/" && (c.req.method === "GET" || c.req.method === "HEAD")) {
    const home = HOMES[c.req.raw.cf?.country ?? ""];
    if (home !== undefined) {
      c.header("cache-control", "private");
      return c.redirect(home, 302);
    }
  }
  await next();
});

app.get("/", (c) => c.json({ service: "hono bench worker", country: c.req.raw.cf?.country ?? null }));

app.get("/hello/:name", (c) => {
  const greeting = GREETINGS[c.req.raw.cf?.country ?? ""] ?? "Hello";
  return c.text(`${greeting}, ${c.req.param("name")}! (from the edge)\n`);
});

app.all("*", async (c) => {
  const url = new URL(c.req.url);
  const key = url.pathname + url.search;
  const entry = cache.get(key);
  if (entry !== undefined && entry.expires > Date.now()) {
    return new Response(entry.body, { status: entry.status, headers: entry.headers });
  }
  const headers = new Headers();
  for (const [k, v] of c.req.raw.headers) if (!HOP_BY_HOP.has(k)) headers.set(k, v);
  const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
  const upstream = await fetch(c.env.ORIGIN_URL + key, {
    method: c.req.method, headers, body: hasBody ? c.req.raw.body : undefined,
  });
  const out = [];
  for (const [k, v] of upstream.headers) if (!HOP_BY_HOP.has(k)) out.push([k, v]);
  const control = upstream.headers.get("cache-control") ?? "";
  const maxAge = /max-age=(\d+)/.exec(control);
  if (c.req.method === "GET" && upstream.status === 200 && maxAge
      && !control.includes("no-store") && !control.includes("private")) {
    const body = await upstream.arrayBuffer();
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value);
    cache.set(key, { expires: Date.now() + Number(maxAge[1]) * 1000, status: 200,
                     headers: out, body });
    return new Response(body, { status: 200, headers: out });
  }
  return new Response(upstream.body, { status: upstream.status, headers: out });
});

export default app;
