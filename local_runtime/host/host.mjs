// The local runtime's host worker: boots Pyodide 0.28.2 at module top level inside
// workerd and hands every event to the Python worker's `Default` entrypoint, the way
// Cloudflare's Python runtime does. Generated next to: host-config.json (derived from
// the worker's wrangler config), Pyodide's assets, sdk.zip (the `workers` SDK) and
// app.zip (the worker's Python sources). Nothing here is deployed.
import { entropy } from "./shim.mjs";
import "./pyodide.asm.js";
import { loadPyodide } from "./pyodide.mjs";
import pyodideWasm from "./pyodide.asm.wasm";
import stdlibZip from "./python_stdlib.zip";
import lockFileText from "./pyodide-lock.json";
import sdkZip from "./sdk.zip";
import appZip from "./app.zip";
import hostConfigText from "./host-config.json";
import bootstrapSource from "./bootstrap.py";
import * as cloudflareWorkers from "cloudflare:workers";
import { createCounters, countingOff } from "./counters.mjs";

const config = JSON.parse(hostConfigText);
// Operation counting (counters.mjs) when the worker's var LOCAL_COUNTERS is "1": decided
// once at boot, so without it the handlers below are exported untouched.
const counters = cloudflareWorkers.env?.LOCAL_COUNTERS === "1" ? createCounters(config.workerName) : null;
const patchedContexts = new WeakSet();
const PRODUCTION_MEMORY_LIMIT = 128 * 1024 * 1024;
// wrangler dev answers the client from a proxy worker in a second workerd, which streams
// the request body on to this one. When a handler answers before reading the whole body
// (a 413 or 415 refusing an upload), this workerd closes the connection with body bytes
// still arriving, the proxy's fetch fails ("Network connection lost") and the client gets
// a 500 or a reset instead of the answer. So the host reads and discards what is left of
// the body before handing the answer over: up to DRAIN_MAX_BYTES, and only while bytes
// keep coming (a client that declared a body but waits before sending it is answered
// after DRAIN_IDLE_MS). Production has no such proxy; workerd discards the rest itself.
const DRAIN_MAX_BYTES = 1024 * 1024 * 1024;
const DRAIN_IDLE_MS = 2000;
const IDLE = Symbol("idle");

// Pyodide fetches its wasm and stdlib by URL; answer from the imported modules (no I/O)
// and instantiate the module workerd already compiled (code generation is refused later).
async function bootPyodide() {
  const realFetch = globalThis.fetch;
  const realInstantiateStreaming = WebAssembly.instantiateStreaming;
  // Plain objects: workerd refuses to construct a Response with a body at top level.
  const assets = { "python_stdlib.zip": stdlibZip, "pyodide.asm.wasm": new ArrayBuffer(0) };
  globalThis.fetch = async (url) => {
    const name = String(url).split("/").pop();
    if (!(name in assets)) throw new TypeError(`local runtime: unexpected fetch during boot: ${url}`);
    return { ok: true, status: 200, arrayBuffer: async () => assets[name] };
  };
  WebAssembly.instantiateStreaming = async (_response, imports) => ({
    instance: await WebAssembly.instantiate(pyodideWasm, imports),
    module: pyodideWasm,
  });
  try {
    return await loadPyodide({
      indexURL: globalThis.location.href,
      lockFileContents: JSON.parse(lockFileText),
      env: { HOME: "/session", ...config.pythonEnv },
      stdout: (line) => console.log(line),
      stderr: (line) => console.error(line),
    });
  } finally {
    globalThis.fetch = realFetch;
    WebAssembly.instantiateStreaming = realInstantiateStreaming;
  }
}

const pyodide = await bootPyodide();

// The modules the `workers` SDK imports from the runtime itself.
pyodide.registerJsModule("_cloudflare_compat_flags", config.compatFlags);
pyodide.registerJsModule("_pyodide_entrypoint_helper", {
  cloudflareWorkersModule: cloudflareWorkers,
  cloudflareSocketsModule: {},
  doAnImport: (name) => import(name),
  // As workerd's helper: a Python awaitable handed to waitUntil is a borrowed proxy,
  // destroyed when the call returns, so keep a copy until it settles.
  patchWaitUntil(ctx) {
    if (Object.prototype.toString.call(ctx) !== "[object ExecutionContext]") return;
    if (patchedContexts.has(ctx)) return;
    patchedContexts.add(ctx);
    const original = ctx.waitUntil.bind(ctx);
    ctx.waitUntil = (value) => {
      const owned = typeof value?.copy === "function" ? value.copy() : value;
      original(
        (async () => {
          try {
            return await owned;
          } finally {
            owned?.destroy?.();
          }
        })(),
      );
    };
  },
});

pyodide.unpackArchive(sdkZip, "zip", { extractDir: config.sitePackages });
pyodide.unpackArchive(appZip, "zip", { extractDir: config.appDir });
pyodide.runPython(bootstrapSource, { filename: "<local-runtime-bootstrap>" });
const bootstrap = pyodide.globals.get("local_runtime_bootstrap");
const entrypoint = bootstrap.load(config.appDir, config.mainModule, config.entrypoint);
entropy.booting = false;

const heapBytes = () => pyodide._module.HEAP8.length;
let warnedHeap = false;
function checkHeap() {
  const bytes = heapBytes();
  if (!warnedHeap && bytes > PRODUCTION_MEMORY_LIMIT) {
    warnedHeap = true;
    console.warn(
      `local runtime: ${config.workerName}'s Wasm heap is ${(bytes / 1048576).toFixed(1)} MiB, ` +
        "past the 128 MiB production limit",
    );
  }
}

let reseeded = false;
function reseedOnce() {
  // Events may use crypto.getRandomValues: replace the weak boot-time seed.
  if (reseeded) return;
  reseeded = true;
  bootstrap.reseed();
}

// Read what the handler left of the request body (see DRAIN_MAX_BYTES); a body that
// was read to its end, cancelled or is still locked is left alone. Returns the bytes read.
async function drainUnreadBody(request) {
  const body = request.body;
  if (body === null || body.locked) return 0;
  const reader = body.getReader();
  let drained = 0;
  let timer;
  try {
    while (drained < DRAIN_MAX_BYTES) {
      const idle = new Promise((resolve) => {
        timer = setTimeout(resolve, DRAIN_IDLE_MS, IDLE);
      });
      const result = await Promise.race([reader.read(), idle]);
      clearTimeout(timer);
      if (result === IDLE || result.done) break;
      drained += result.value.byteLength;
    }
  } catch {
    // Cancelled or broken: there is nothing more to read.
  } finally {
    clearTimeout(timer);
    try {
      reader.releaseLock();
    } catch {
      // A read still pending after the idle wait: the lock goes with the request.
    }
  }
  return drained;
}

// Bench-only per-event marks (bench/request_path.py), on when the worker's var
// LOCAL_PROFILE is "1", decided at the first event: how long the host takes before and
// after the Python call, and how long that call takes as JS sees it (the crossing into
// Python and back included); bootstrap.py sums the Python side. Off: one check per event.
let marks;
function startMarks(env) {
  marks = env.LOCAL_PROFILE === "1" ? { events: 0, beforeMs: 0, callMs: 0, afterMs: 0 } : null;
  if (marks) entrypoint.start_marks();
}
function marksAnswer(url) {
  if (!marks) return Response.json({ error: "LOCAL_PROFILE is not 1" }, { status: 404 });
  const read = entrypoint.read_marks();
  const [pythonEvents, pythonMs] = read.toJs();
  read.destroy();
  const answer = { ...marks, pythonEvents, pythonMs };
  if (url.searchParams.has("reset")) startMarks({ LOCAL_PROFILE: "1" });
  return Response.json(answer);
}

function localRoute(request, env) {
  if (!request.url.includes("/__local/")) return null;
  const url = new URL(request.url);
  if (!url.pathname.startsWith("/__local/")) return null;
  if (url.pathname === "/__local/heap") {
    return Response.json({
      worker: config.workerName,
      heap_bytes: heapBytes(),
      production_limit_bytes: PRODUCTION_MEMORY_LIMIT,
      weak_entropy_calls: entropy.weakCalls,
      reseeded,
    });
  }
  if (url.pathname === "/__local/profile") return marksAnswer(url);
  if (url.pathname.startsWith("/__local/counters")) {
    const answer = counters ? counters.route(request) : countingOff(request);
    if (answer) return answer;
  }
  const notify = url.pathname.match(/^\/__local\/r2\/([^/]+)\/(.+)$/);
  if (notify && request.method === "PUT") return putWithNotification(request, env, notify[1], notify[2], url);
  const d1 = url.pathname.match(/^\/__local\/d1\/([A-Za-z_][A-Za-z0-9_]*)$/);
  if (d1 && request.method === "POST") return d1Statement(request, d1[1]);
  const kv = url.pathname.match(/^\/__local\/kv\/([A-Za-z_][A-Za-z0-9_]*)$/);
  if (kv) return kvRequest(request, kv[1], url);
  return Response.json({ error: "unknown local runtime route" }, { status: 404 });
}

// State for tests and scripts on this machine, through the worker's own bindings: wrangler's
// `d1 execute --local` and `kv key ... --local` start a Node process each, about 2 s a call
// (local_runtime/stack.py uses these routes while the worker runs). The raw bindings, so
// operation counting (counters.mjs) never sees them. Each needs a header a web page cannot
// send to another origin without a CORS preflight, which these routes never grant.
const STATE_HEADER = "x-local-runtime";

function rawBinding(request, name, method) {
  if (request.headers.get(STATE_HEADER) !== "1") {
    return [null, Response.json({ error: `send the header ${STATE_HEADER}: 1` }, { status: 403 })];
  }
  const binding = cloudflareWorkers.env?.[name];
  if (!binding || typeof binding[method] !== "function") {
    return [null, Response.json({ error: `no such binding: ${name}` }, { status: 404 })];
  }
  return [binding, null];
}

// POST {"sql": "..."}: one statement; its rows.
async function d1Statement(request, name) {
  const [db, refused] = rawBinding(request, name, "prepare");
  if (refused) return refused;
  let sql;
  try {
    ({ sql } = await request.json());
  } catch {
    sql = undefined;
  }
  if (typeof sql !== "string" || !sql.trim()) {
    return Response.json({ error: 'the body must be JSON {"sql": "..."}' }, { status: 400 });
  }
  try {
    const { results } = await db.prepare(sql).all();
    return Response.json({ results });
  } catch (error) {
    return Response.json({ error: String(error?.message ?? error) }, { status: 400 });
  }
}

// GET ?prefix= lists every key under it; GET ?key= reads one value (404 when absent);
// PUT ?key= writes the body; DELETE ?key= deletes.
async function kvRequest(request, name, url) {
  const [kv, refused] = rawBinding(request, name, "list");
  if (refused) return refused;
  const key = url.searchParams.get("key");
  if (request.method === "GET" && key === null) {
    const names = [];
    let cursor;
    do {
      const page = await kv.list({ prefix: url.searchParams.get("prefix") ?? "", cursor });
      names.push(...page.keys.map((entry) => entry.name));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return Response.json({ keys: names });
  }
  if (!key) return Response.json({ error: "name the key: ?key=" }, { status: 400 });
  if (request.method === "GET") {
    const value = await kv.get(key);
    return value === null ? Response.json({ error: "no such key" }, { status: 404 }) : new Response(value);
  }
  if (request.method === "PUT") {
    await kv.put(key, await request.text());
    return new Response(null, { status: 204 });
  }
  if (request.method === "DELETE") {
    await kv.delete(key);
    return new Response(null, { status: 204 });
  }
  return Response.json({ error: "GET, PUT or DELETE" }, { status: 405 });
}

// R2 event notifications do not exist in the local bucket: this route puts an object
// the way a client of the S3 API would, then sends the notification R2 would send.
async function putWithNotification(request, env, bucketName, encodedKey, url) {
  const key = decodeURIComponent(encodedKey);
  const bucket = config.buckets[bucketName];
  if (!bucket) return Response.json({ error: `no bucket ${bucketName} bound` }, { status: 404 });
  const object = await env[bucket.binding].put(key, request.body, { httpMetadata: request.headers });
  const action = url.searchParams.get("action") ?? "PutObject";
  const sent = [];
  for (const rule of config.notifications) {
    if (rule.bucket !== bucketName) continue;
    if (!key.startsWith(rule.prefix ?? "") || !key.endsWith(rule.suffix ?? "")) continue;
    await env[rule.producerBinding].send({
      account: "local",
      action,
      bucket: bucketName,
      object: { key, size: object.size, eTag: object.etag },
      eventTime: new Date().toISOString(),
    });
    sent.push(rule.queue);
  }
  return Response.json({ key, size: object.size, etag: object.etag, notified: sent }, { status: 201 });
}

const handlers = {
  async fetch(request, env, ctx) {
    if (marks === undefined) startMarks(env);
    const started = marks ? performance.now() : 0;
    const local = localRoute(request, env);
    if (local) return local;
    reseedOnce();
    let called = 0;
    let returned = 0;
    try {
      if (marks) called = performance.now();
      const response = await entrypoint.fetch(request, env, ctx);
      if (marks) returned = performance.now();
      return response;
    } catch (error) {
      // What workerd does with an exception a handler did not catch: the traceback goes
      // to the log (`wrangler tail` in production), the client gets a bare 500.
      console.error(`Uncaught exception in ${config.workerName}'s fetch handler:\n${error?.stack ?? error}`);
      return new Response(null, { status: 500 });
    } finally {
      await drainUnreadBody(request);
      checkHeap();
      if (marks && returned) {
        marks.events += 1;
        marks.beforeMs += called - started;
        marks.callMs += returned - called;
        marks.afterMs += performance.now() - returned;
      }
    }
  },
  async queue(batch, env, ctx) {
    reseedOnce();
    try {
      await entrypoint.queue(batch, env, ctx);
    } finally {
      checkHeap();
    }
  },
  async scheduled(controller, env, ctx) {
    reseedOnce();
    try {
      await entrypoint.scheduled(controller, env, ctx);
    } finally {
      checkHeap();
    }
  },
};

export default counters ? counters.wrapHandlers(handlers) : handlers;
