// Drives host/counters.mjs with stand-ins for workerd's bindings (named as workerd names them,
// since the wrapper and the SDK pick bindings by constructor name) and prints what it counted.
// Run by local_runtime/tests/test_counters.py with Node.
import { createCounters, countingOff } from "../../host/counters.mjs";

class KvNamespace {
  constructor() { this.data = new Map(); }
  async get(key) { return this.data.get(key) ?? null; }
  async getWithMetadata(key) { return { value: this.data.get(key) ?? null, metadata: null }; }
  async put(key, value) { this.data.set(key, value); }
  async delete(key) { this.data.delete(key); }
  async list() { return { keys: [...this.data.keys()].map((name) => ({ name })) }; }
}

class D1PreparedStatement {
  constructor(sql, params = []) { this.sql = sql; this.params = params; }
  bind(...params) { return new D1PreparedStatement(this.sql, params); }
  async all() { return { results: [{ n: 1 }, { n: 2 }], meta: { rows_read: 7, rows_written: 0, size_after: 4096 } }; }
  async run() { return { results: [], meta: { rows_read: 1, rows_written: 3, changes: 3, size_after: 8192 } }; }
  async first() { throw new Error("the counter must not call first(): it drops D1's meta"); }
  async raw() { return [[1], [2]]; }
}

class D1Database {
  prepare(sql) { return new D1PreparedStatement(sql); }
  async batch(statements) {
    for (const s of statements) if (!(s instanceof D1PreparedStatement)) throw new TypeError("not a real statement");
    return Promise.all(statements.map((s) => s.run()));
  }
  async exec() { return { count: 1 }; }
}

class R2MultipartUpload {
  constructor(key) { this.key = key; }
  async uploadPart(n) { return { partNumber: n, etag: `e${n}` }; }
  async complete() { return { key: this.key, size: 30 }; }
  async abort() {}
}

class R2Bucket {
  async put(key, value) { return { key, size: String(value).length }; }
  async get() { return null; }
  async head() { return null; }
  async list() { return { objects: [] }; }
  async delete() {}
  async createMultipartUpload(key) { return new R2MultipartUpload(key); }
  resumeMultipartUpload(key) { return new R2MultipartUpload(key); }
}

class WorkerQueue {
  async send() {}
  async sendBatch() {}
}

const calls = [];
globalThis.fetch = async (input) => { calls.push(String(input)); return new Response("ok"); };
const counters = createCounters("test-worker");

const seen = {};
const handlers = counters.wrapHandlers({
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    // As host.mjs answers /__local/ routes: the bucket put of /__local/r2/... uses the counted env.
    if (path.startsWith("/__local/")) {
      await env.BUCKET.put("uploads/direct.bin", "1234567");
      return new Response("local");
    }
    seen.kvName = env.KV.constructor.name;
    seen.dbName = env.DB.constructor.name;
    seen.plainVar = env.GREETING;
    await env.KV.put("media:1", "a");
    await env.KV.put("media:1", "b");
    await env.KV.get("media:1");
    await env.KV.getWithMetadata("media:1");
    await env.KV.delete("media:1");
    await env.KV.list();
    const stmt = env.DB.prepare("SELECT 1").bind(1);
    seen.first = await stmt.first();
    seen.firstColumn = await env.DB.prepare("SELECT n").first("n");
    await stmt.all();
    await env.DB.prepare("UPDATE t").bind(2).run();
    await env.DB.batch([env.DB.prepare("INSERT a").bind(1), env.DB.prepare("INSERT b").bind(2)]);
    await env.BUCKET.put("originals/x", "12345");
    await env.BUCKET.get("originals/x");
    await env.BUCKET.head("originals/x");
    await env.BUCKET.list();
    await env.BUCKET.delete("originals/x");
    const upload = await env.BUCKET.createMultipartUpload("originals/y");
    await upload.uploadPart(1);
    await upload.uploadPart(2);
    await env.BUCKET.resumeMultipartUpload("originals/y", "id").complete([]);
    await env.JOBS.send({ a: 1 });
    await env.JOBS.sendBatch([{ body: 1 }, { body: 2 }, { body: 3 }]);
    await fetch("https://api.example.test/jobs");
    await fetch(new Request("https://hooks.example.test/in"));
    return new Response(path);
  },
  async queue(batch, env) { await env.KV.get("k"); },
  async scheduled(controller, env) { await env.DB.prepare("SELECT 2").all(); },
});

const env = {
  GREETING: "hello",
  KV: new KvNamespace(),
  DB: new D1Database(),
  BUCKET: new R2Bucket(),
  JOBS: new WorkerQueue(),
};
await handlers.fetch(new Request("http://local.test/work"), env, {});
await handlers.fetch(new Request("http://local.test/__local/r2/bucket/uploads/direct.bin"), env, {});
await handlers.queue({ messages: [{}, {}, {}] }, env, {});
await handlers.scheduled({}, env, {});
const snapshot = await counters.route(new Request("http://local.test/__local/counters")).json();
const reset = await counters.route(new Request("http://local.test/__local/counters/reset", { method: "POST" })).json();
const off = countingOff(new Request("http://local.test/__local/counters"));
console.log(JSON.stringify({
  seen, snapshot, reset, offStatus: off.status, offOther: countingOff(new Request("http://x/__local/heap")),
  realFetchCalls: calls.length,
  unknownMethod: counters.route(new Request("http://local.test/__local/counters", { method: "DELETE" })),
}));
