// Run Python workers inside real Pyodide under Node, driven by JSON lines.
//
// One request per line on stdin, one reply per line on stdout:
//   {"id": 1, "op": "boot", ...}  ->  {"id": 1, "ok": true, "result": {...}}
// Python's own output goes to stderr so that stdout carries only replies.
//
// Pyodide stands in for workerd's Python runtime: the real `workers` SDK is
// installed with micropip from local wheels, and the two modules that only
// workerd provides (`_pyodide_entrypoint_helper`, `_cloudflare_compat_flags`)
// are small JavaScript stand-ins registered with `registerJsModule`. Requests,
// responses, headers, streams and `fetch` are Node's own web-standard ones.
//
// Operations:
//   boot   {micropip, wheels, python_modules, compat_flags}  a fresh interpreter
//   load   {worker, main, vars, kv}                          import a worker
//   snapshot {site, python_modules, worker, main, vars, kv, compat_flags}
//          import a worker in a fresh interpreter, take a memory snapshot of
//          it, and go on in an interpreter restored from that snapshot
//   fetch  {method, url, headers, body, cf, chunk_size}      serve one request
//   drain  {}                                                settle waitUntil work
//   run    {code}                                            run a Python snippet
//   exit   {}

import { createInterface } from "node:readline";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

let pyodide = null;
let glue = null;
let worker = null; // {module, env}
let loads = 0;
const pending = []; // waitUntil promises of the current worker

const log = (text) => process.stderr.write(text.endsWith("\n") ? text : text + "\n");

// -- workerd stand-ins ----------------------------------------------------------

// workerd hands Python a native ExecutionContext; its tag is what the SDK's
// patchWaitUntil checks before patching.
class ExecutionContext {
  constructor() {
    this.props = {};
  }
  waitUntil(promise) {
    pending.push(Promise.resolve(promise));
  }
  passThroughOnException() {}
  get [Symbol.toStringTag]() {
    return "ExecutionContext";
  }
}

// A Python awaitable passed to a JS function is a borrowed proxy: Pyodide
// destroys it when the call returns. workerd's patched waitUntil therefore
// takes its own reference synchronously and releases it once settled; this
// does the same, so that code which works here works there.
function keepAwaitable(value) {
  const owned = value && typeof value.copy === "function" ? value.copy() : value;
  return (async () => {
    try {
      return await owned;
    } finally {
      if (owned && typeof owned.destroy === "function") owned.destroy();
    }
  })();
}

const patched = new WeakSet();
function patchWaitUntil(ctx) {
  if (Object.prototype.toString.call(ctx) !== "[object ExecutionContext]") return;
  if (patched.has(ctx)) return;
  const original = ctx.waitUntil.bind(ctx);
  ctx.waitUntil = (value) => original(keepAwaitable(value));
  patched.add(ctx);
}

const cloudflareWorkersModule = {
  get env() {
    return worker ? worker.env : {};
  },
  waitUntil(value) {
    pending.push(keepAwaitable(value));
  },
};

const entrypointHelper = {
  cloudflareWorkersModule,
  cloudflareSocketsModule: {},
  patchWaitUntil,
  doAnImport(name) {
    return Promise.reject(new Error(`the Pyodide harness cannot import JS module ${name}`));
  },
  *patch_env_helper() {
    throw new Error("patch_env is not available in the Pyodide harness");
  },
};

// Workers KV, in memory: the subset of the binding's API a worker calls.
// The class name matters: the SDK wraps env entries whose constructor is
// named KvNamespace.
class KvNamespace {
  constructor() {
    this.store = new Map();
  }
  async get(key, options) {
    const type = typeof options === "string" ? options : options?.type ?? "text";
    if (!this.store.has(key)) return null;
    const value = this.store.get(key);
    if (type === "json") return JSON.parse(new TextDecoder().decode(value));
    if (type === "arrayBuffer") return value.slice().buffer;
    return new TextDecoder().decode(value);
  }
  async put(key, value) {
    let bytes;
    if (typeof value === "string") bytes = new TextEncoder().encode(value);
    else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value.slice(0));
    else if (ArrayBuffer.isView(value)) bytes = new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
    else throw new TypeError("KV put() accepts a string, ArrayBuffer or ArrayBufferView");
    this.store.set(key, bytes);
  }
  async delete(key) {
    this.store.delete(key);
  }
  async list(options = {}) {
    const prefix = options.prefix ?? "";
    const keys = [...this.store.keys()].filter((k) => k.startsWith(prefix)).sort();
    return { keys: keys.map((name) => ({ name })), list_complete: true, cacheStatus: null };
  }
}

// -- operations -----------------------------------------------------------------

function copyTree(hostDir, target) {
  pyodide.FS.mkdirTree(target);
  for (const name of readdirSync(hostDir)) {
    if (name === "__pycache__" || name.startsWith(".")) continue;
    const source = join(hostDir, name);
    if (statSync(source).isDirectory()) copyTree(source, `${target}/${name}`);
    else if (name.endsWith(".py")) pyodide.FS.writeFile(`${target}/${name}`, readFileSync(source));
  }
}

async function boot({ micropip, wheels = [], python_modules = null, compat_flags = {} }) {
  const { loadPyodide } = await import(require.resolve("pyodide/pyodide.mjs"));
  const started = performance.now();
  worker = null;
  pending.length = 0;
  pyodide = await loadPyodide({
    stdout: (line) => log(`[python] ${line}`),
    stderr: (line) => log(`[python] ${line}`),
  });
  const booted = performance.now();
  pyodide.registerJsModule("_pyodide_entrypoint_helper", entrypointHelper);
  pyodide.registerJsModule("_cloudflare_compat_flags", compat_flags);
  await pyodide.loadPackage(micropip, { messageCallback: () => {} });
  pyodide.FS.mkdirTree("/wheels");
  for (const wheel of wheels) pyodide.FS.writeFile(`/wheels/${basename(wheel)}`, readFileSync(wheel));
  const micropipModule = pyodide.pyimport("micropip");
  // NOTE: deps=False: every wheel is given explicitly, and nothing may be
  // fetched from the network.
  for (const wheel of wheels) {
    await micropipModule.install.callKwargs(`emfs:/wheels/${basename(wheel)}`, { deps: false });
  }
  micropipModule.destroy();
  if (python_modules) {
    // Python Workers put the vendored python_modules/ directory on sys.path.
    copyTree(python_modules, "/session/python_modules");
    pyodide.runPython("import sys; sys.path.insert(0, '/session/python_modules')");
  }
  pyodide.FS.writeFile("/session/_edgeline_harness.py", readFileSync(join(here, "glue.py")));
  pyodide.runPython("import sys; sys.path.insert(0, '/session')");
  if (glue) glue.destroy();
  glue = pyodide.pyimport("_edgeline_harness");
  const ready = performance.now();
  return {
    boot_ms: booted - started,
    install_ms: ready - booted,
    pyodide: pyodide.version,
    python: pyodide.runPython("import sys; sys.version.split()[0]"),
  };
}

async function load({ worker: hostDir, main = "entry.py", vars = {}, kv = [] }) {
  if (!pyodide) throw new Error("boot first");
  loads += 1;
  const target = `/session/workers/${loads}`;
  copyTree(hostDir, target);
  const env = { ...vars };
  for (const name of kv) env[name] = new KvNamespace();
  pending.length = 0;
  if (worker) worker.module.destroy();
  worker = null;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const module = await glue.load_worker(target, main.replace(/\.py$/, ""));
  const importMs = performance.now() - started;
  worker = { module, env };
  return { import_ms: importMs, import_cpu_ms: cpuMs(cpu) };
}

// A memory snapshot the way Python Workers take a dedicated one: the worker's
// top level runs once in an interpreter started with `_makeSnapshot`, its
// linear memory is saved, and requests are served by an interpreter restored
// from it. Only memory is restored: the files (the wheels' contents, the
// vendored python_modules/, the worker's folder) are mounted again from the
// host, as the runtime mounts the bundle, before the first request.
async function snapshotOp({ site, python_modules = null, worker: hostDir, main = "entry.py",
                            vars = {}, kv = [], compat_flags = {} }) {
  const { loadPyodide } = await import(require.resolve("pyodide/pyodide.mjs"));
  const flags = { ...compat_flags };
  // The JS objects Python holds across the snapshot (the two stand-in modules)
  // are written as tags and given back on restore, as workerd does for its
  // entrypoint helper; anything else is an error.
  const serializer = (obj) => {
    if (obj === entrypointHelper) return { harness: "entrypoint_helper" };
    if (obj === flags) return { harness: "compat_flags" };
    throw new Error(`cannot snapshot a reference to the JS value ${String(obj).slice(0, 200)}`);
  };
  const deserializer = (obj) => {
    if (obj?.harness === "entrypoint_helper") return entrypointHelper;
    if (obj?.harness === "compat_flags") return flags;
    throw new Error(`unknown snapshot tag ${JSON.stringify(obj)}`);
  };
  const folders = [[site, "/session/site"], [hostDir, "/session/worker"]];
  if (python_modules) folders.push([python_modules, "/session/python_modules"]);
  const mountAll = (py) => {
    for (const [host, at] of folders) {
      py.FS.mkdirTree(at);
      py.FS.mount(py.FS.filesystems.NODEFS, { root: resolve(host) }, at);
    }
  };
  const output = { stdout: (line) => log(`[python] ${line}`), stderr: (line) => log(`[python] ${line}`) };
  const name = main.replace(/\.py$/, "");

  const started = performance.now();
  const maker = await loadPyodide({ ...output, _makeSnapshot: true });
  maker.registerJsModule("_pyodide_entrypoint_helper", entrypointHelper);
  maker.registerJsModule("_cloudflare_compat_flags", flags);
  mountAll(maker);
  const path = ["/session/site", ...(python_modules ? ["/session/python_modules"] : [])];
  maker.runPython(`import sys; sys.path[:0] = ${JSON.stringify(path)}`);
  maker.FS.writeFile("/session/_edgeline_harness.py", readFileSync(join(here, "glue.py")));
  maker.runPython("import sys; sys.path.insert(0, '/session')");
  const makerGlue = maker.pyimport("_edgeline_harness");
  const importStarted = performance.now();
  (await makerGlue.load_worker("/session/worker", name)).destroy();
  const importMs = performance.now() - importStarted;
  makerGlue.destroy();
  const snapshot = maker.makeMemorySnapshot({ serializer });
  const made = performance.now();

  worker = null;
  pending.length = 0;
  if (glue) glue.destroy();
  glue = null;
  const restoreStarted = performance.now();
  const restoreCpu = process.cpuUsage();
  pyodide = await loadPyodide({ ...output, _loadSnapshot: snapshot, _snapshotDeserializer: deserializer });
  const restored = performance.now();
  const restoreCpuMs = cpuMs(restoreCpu);
  mountAll(pyodide);
  pyodide.runPython("from importlib import invalidate_caches as f; f(); del f");
  glue = pyodide.pyimport("_edgeline_harness");
  const env = { ...vars };
  for (const binding of kv) env[binding] = new KvNamespace();
  worker = { module: pyodide.pyimport(name), env };
  return {
    make_ms: made - started,
    import_ms: importMs,
    restore_ms: restored - restoreStarted,
    restore_cpu_ms: restoreCpuMs,
    snapshot_bytes: snapshot.length,
  };
}

// CPU time of this process since `start` (a process.cpuUsage() value), in ms:
// less disturbed than wall time when other processes compete for the cores.
function cpuMs(start) {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
}

function chunked(bytes, size) {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

async function fetchOp({ method = "GET", url, headers = [], body = null, cf = null, chunk_size = 16384 }) {
  if (!worker) throw new Error("load a worker first");
  const init = { method, headers };
  if (body !== null) {
    // A plain Uint8Array, as workerd streams it (not a Node Buffer).
    init.body = chunked(new Uint8Array(Buffer.from(body, "base64")), chunk_size);
    init.duplex = "half"; // Node requires it for a stream body
  }
  const request = new Request(url, init);
  if (cf !== null) Object.defineProperty(request, "cf", { value: cf, enumerable: true });
  const ctx = new ExecutionContext();
  const started = performance.now();
  const cpu = process.cpuUsage();
  let response;
  try {
    response = await glue.dispatch(worker.module, request, worker.env, ctx);
  } catch (error) {
    // workerd answers an exception in the handler with a 500.
    return { status: 500, headers: [], body: "", chunks: [], error: String(error.message ?? error) };
  }
  const handled = performance.now();
  if (!(response instanceof Response)) {
    return { status: 500, headers: [], body: "", chunks: [], error: `fetch returned ${response}` };
  }
  const chunks = [];
  const parts = [];
  if (response.body) {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value.byteLength);
      parts.push(Buffer.from(value));
    }
  }
  return {
    status: response.status,
    headers: [...response.headers],
    body: Buffer.concat(parts).toString("base64"),
    chunks,
    handler_ms: handled - started,
    total_ms: performance.now() - started,
    total_cpu_ms: cpuMs(cpu),
  };
}

async function drain() {
  const settled = await Promise.allSettled(pending.splice(0));
  return {
    settled: settled.length,
    errors: settled.filter((s) => s.status === "rejected").map((s) => String(s.reason?.message ?? s.reason)),
  };
}

async function run({ code }) {
  if (!glue) throw new Error("boot first");
  return JSON.parse(await glue.run_snippet(code));
}

const operations = { boot, load, snapshot: snapshotOp, fetch: fetchOp, drain, run };

// -- the line protocol --------------------------------------------------------

const reply = (message) => process.stdout.write(JSON.stringify(message) + "\n");

// A stray rejection or exception (say, a stream error nobody awaited) is
// reported, not fatal: the harness keeps serving, as an isolate would.
process.on("unhandledRejection", (reason) => log(`[harness] unhandled rejection: ${String(reason?.stack ?? reason).slice(0, 2000)}`));
process.on("uncaughtException", (error) => log(`[harness] uncaught exception: ${String(error?.stack ?? error).slice(0, 2000)}`));

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
let queue = Promise.resolve();
lines.on("line", (line) => {
  if (!line.trim()) return;
  // Requests are served one at a time, in order.
  queue = queue.then(async () => {
    let message;
    try {
      message = JSON.parse(line);
    } catch (error) {
      reply({ id: null, ok: false, error: `bad JSON: ${error.message}` });
      return;
    }
    const { id, op, ...params } = message;
    if (op === "exit") {
      reply({ id, ok: true, result: null });
      process.exit(0);
    }
    const handler = operations[op];
    if (!handler) {
      reply({ id, ok: false, error: `unknown op ${op}` });
      return;
    }
    try {
      reply({ id, ok: true, result: await handler(params) });
    } catch (error) {
      reply({ id, ok: false, error: String(error?.message ?? error) });
    }
  });
});
lines.on("close", () => queue.then(() => process.exit(0)));
