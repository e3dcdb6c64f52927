// Opt-in counting of the platform operations a worker makes (var LOCAL_COUNTERS=1), so
// docs/scale.md can price one media item from what the code really does (bench/costs.py).
// Off, nothing here runs per event: host.mjs exports its handlers as they are. On, the
// handlers are wrapped once at boot and each event's `env` is a Proxy whose bindings
// count their calls before forwarding them to the real binding:
//   KV      get/getWithMetadata = read, put = write, delete = delete, list = list
//   D1      each statement run (prepare().bind().run/all/first/raw, batch, exec) and
//           D1's own meta.rows_read / meta.rows_written
//   R2      class A: put, list, createMultipartUpload, uploadPart, complete;
//           class B: get, head; free: delete, abort; bytes written (put and complete sizes)
//   Queues  messages sent (send = 1, sendBatch = its length), per binding
//   fetch   outbound fetch() calls (subrequests), per host
// plus invocations per kind, queue messages consumed, and per invocation the most binding
// calls one made and an upper bound of its fetches (fetches made while it ran, by any).
// Answered by the host at GET /__local/counters, zeroed by POST /__local/counters/reset.

const BINDING_TYPES = new Set(["KvNamespace", "D1Database", "R2Bucket", "WorkerQueue"]);

function fresh(workerName) {
  return {
    worker: workerName,
    since: new Date().toISOString(),
    invocations: { fetch: 0, queue: 0, scheduled: 0 },
    queue_messages_consumed: 0,
    kv: { reads: 0, writes: 0, deletes: 0, lists: 0, max_writes_per_key_per_second: 0, hottest_key: null },
    d1: { statements: 0, batches: 0, rows_read: 0, rows_written: 0, size_after: null },
    r2: { class_a: 0, class_b: 0, free: 0, bytes_written: 0, ops: {}, max_writes_per_key_per_second: 0, hottest_key: null },
    queues: { messages_sent: 0, send_calls: 0, by_binding: {} },
    subrequests: { fetch: 0, binding_calls: 0, fetch_by_host: {} },
    per_invocation: { max_binding_calls: 0, max_fetch_upper: 0 },
  };
}

export function createCounters(workerName) {
  let c = fresh(workerName);
  let recent = { kv: new Map(), r2: new Map() };
  const realFetch = globalThis.fetch;

  // KV allows one write a second to a key, R2 one concurrent write a second to a key: keep, per
  // store, the most writes any one key took within a second (workerd's clock moves with I/O,
  // and every write is I/O). Keys are shown with their last path part replaced by "*".
  function keyWrite(store, key) {
    const now = Date.now();
    const times = (recent[store].get(key) ?? []).filter((t) => now - t < 1000);
    times.push(now);
    recent[store].set(key, times);
    if (times.length > c[store].max_writes_per_key_per_second) {
      c[store].max_writes_per_key_per_second = times.length;
      c[store].hottest_key = String(key).replace(/[^/:]+$/, "*");
    }
  }

  function countFetch(input) {
    c.subrequests.fetch += 1;
    let host = "?";
    try {
      host = new URL(typeof input === "string" || input instanceof URL ? input : input.url).host;
    } catch {
      // A relative or odd URL: counted under "?".
    }
    c.subrequests.fetch_by_host[host] = (c.subrequests.fetch_by_host[host] ?? 0) + 1;
  }

  function install() {
    globalThis.fetch = function countedFetch(input, init) {
      countFetch(input);
      return realFetch(input, init);
    };
  }

  // One invocation's tally: binding calls it made (exact, through its own env).
  function tally() {
    return { calls: 0, fetchAtStart: c.subrequests.fetch };
  }

  function call(t) {
    t.calls += 1;
    c.subrequests.binding_calls += 1;
  }

  function r2op(name, klass) {
    c.r2[klass] += 1;
    c.r2.ops[name] = (c.r2.ops[name] ?? 0) + 1;
  }

  function recordMeta(meta) {
    if (!meta) return;
    c.d1.rows_read += Number(meta.rows_read ?? 0);
    c.d1.rows_written += Number(meta.rows_written ?? 0);
    if (meta.size_after != null) c.d1.size_after = Number(meta.size_after);
  }

  // A Proxy keeps the binding's constructor name (the SDK's _EnvWrapper wraps bindings by
  // it) and forwards everything not listed; methods are called on the real object.
  function wrap(target, methods) {
    return new Proxy(target, {
      get(obj, prop) {
        const value = obj[prop];
        if (typeof value !== "function" || prop === "constructor") return value;
        if (Object.hasOwn(methods, prop)) return (...args) => methods[prop](obj, ...args);
        return value.bind(obj);
      },
    });
  }

  const realStatements = new WeakMap();

  function statement(real, t) {
    // run() and all(): one statement each, with D1's own meta.
    const counted = (method) => async (s) => {
      call(t);
      c.d1.statements += 1;
      const result = await s[method]();
      recordMeta(result?.meta);
      return result;
    };
    const wrapped = wrap(real, {
      bind: (s, ...args) => statement(s.bind(...args), t),
      run: counted("run"),
      all: counted("all"),
      // D1's first() drops the meta, so run all() and take the first row as first() would.
      first: async (s, column) => {
        call(t);
        c.d1.statements += 1;
        const result = await s.all();
        recordMeta(result?.meta);
        const row = result?.results?.[0];
        if (row === undefined) return null;
        if (column === undefined) return row;
        if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
        return row[column];
      },
      raw: async (s, options) => {
        call(t);
        c.d1.statements += 1;
        return s.raw(options);
      },
    });
    realStatements.set(wrapped, real);
    return wrapped;
  }

  function multipart(real, t) {
    return wrap(real, {
      uploadPart: async (m, ...args) => {
        call(t);
        r2op("uploadPart", "class_a");
        return m.uploadPart(...args);
      },
      complete: async (m, ...args) => {
        call(t);
        r2op("completeMultipartUpload", "class_a");
        keyWrite("r2", m.key);
        const object = await m.complete(...args);
        c.r2.bytes_written += Number(object?.size ?? 0);
        return object;
      },
      abort: async (m, ...args) => {
        call(t);
        r2op("abortMultipartUpload", "free");
        return m.abort(...args);
      },
    });
  }

  function binding(real, t) {
    switch (real.constructor?.name) {
      case "KvNamespace": {
        const kv = (field, method) => async (b, ...args) => {
          call(t);
          c.kv[field] += 1;
          return b[method](...args);
        };
        return wrap(real, {
          get: kv("reads", "get"),
          getWithMetadata: kv("reads", "getWithMetadata"),
          put: async (b, key, ...args) => {
            call(t);
            c.kv.writes += 1;
            keyWrite("kv", key);
            return b.put(key, ...args);
          },
          delete: kv("deletes", "delete"),
          list: kv("lists", "list"),
        });
      }
      case "D1Database":
        return wrap(real, {
          prepare: (db, sql) => statement(db.prepare(sql), t),
          batch: async (db, statements) => {
            call(t);
            c.d1.batches += 1;
            c.d1.statements += statements.length;
            const results = await db.batch(statements.map((s) => realStatements.get(s) ?? s));
            for (const result of results ?? []) recordMeta(result?.meta);
            return results;
          },
          exec: async (db, sql) => {
            call(t);
            c.d1.statements += 1;
            return db.exec(sql);
          },
        });
      case "R2Bucket": {
        const r2 = (name, klass) => async (b, ...args) => {
          call(t);
          r2op(name, klass);
          return b[name](...args);
        };
        return wrap(real, {
          put: async (b, key, ...args) => {
            call(t);
            r2op("put", "class_a");
            keyWrite("r2", key);
            const object = await b.put(key, ...args);
            c.r2.bytes_written += Number(object?.size ?? 0);
            return object;
          },
          get: r2("get", "class_b"),
          head: r2("head", "class_b"),
          list: r2("list", "class_a"),
          delete: r2("delete", "free"),
          createMultipartUpload: async (b, ...args) => {
            call(t);
            r2op("createMultipartUpload", "class_a");
            return multipart(await b.createMultipartUpload(...args), t);
          },
          // No operation of its own: it only names an upload that exists.
          resumeMultipartUpload: (b, ...args) => multipart(b.resumeMultipartUpload(...args), t),
        });
      }
      case "WorkerQueue": {
        const sent = (name, count) => {
          c.queues.messages_sent += count;
          c.queues.send_calls += 1;
          c.queues.by_binding[name] = (c.queues.by_binding[name] ?? 0) + count;
        };
        return (name) =>
          wrap(real, {
            send: async (q, ...args) => {
              call(t);
              sent(name, 1);
              return q.send(...args);
            },
            sendBatch: async (q, messages, ...rest) => {
              call(t);
              sent(name, messages?.length ?? 0);
              return q.sendBatch(messages, ...rest);
            },
          });
      }
      default:
        return real;
    }
  }

  function countedEnv(env, t) {
    const cache = new Map();
    return new Proxy(env, {
      get(obj, prop) {
        const value = obj[prop];
        if (value === null || typeof value !== "object" || !BINDING_TYPES.has(value.constructor?.name)) return value;
        if (!cache.has(prop)) {
          const made = binding(value, t);
          cache.set(prop, typeof made === "function" ? made(String(prop)) : made);
        }
        return cache.get(prop);
      },
    });
  }

  function finish(t) {
    const p = c.per_invocation;
    p.max_binding_calls = Math.max(p.max_binding_calls, t.calls);
    p.max_fetch_upper = Math.max(p.max_fetch_upper, c.subrequests.fetch - t.fetchAtStart);
  }

  // The host's handlers, each event counted and given the counting env.
  function wrapHandlers(handlers) {
    install();
    return {
      async fetch(request, env, ctx) {
        const local = new URL(request.url).pathname.startsWith("/__local/");
        const t = tally();
        if (!local) c.invocations.fetch += 1;
        try {
          return await handlers.fetch(request, countedEnv(env, t), ctx);
        } finally {
          if (!local) finish(t);
        }
      },
      async queue(batch, env, ctx) {
        const t = tally();
        c.invocations.queue += 1;
        c.queue_messages_consumed += batch.messages.length;
        try {
          return await handlers.queue(batch, countedEnv(env, t), ctx);
        } finally {
          finish(t);
        }
      },
      async scheduled(controller, env, ctx) {
        const t = tally();
        c.invocations.scheduled += 1;
        try {
          return await handlers.scheduled(controller, countedEnv(env, t), ctx);
        } finally {
          finish(t);
        }
      },
    };
  }

  function route(request) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__local/counters" && request.method === "GET") return Response.json(c);
    if (pathname === "/__local/counters/reset" && request.method === "POST") {
      c = fresh(workerName);
      recent = { kv: new Map(), r2: new Map() };
      return Response.json(c);
    }
    return null;
  }

  return { wrapHandlers, route, snapshot: () => c };
}

// What /__local/counters answers when the worker was started without LOCAL_COUNTERS=1.
export function countingOff(request) {
  const { pathname } = new URL(request.url);
  if (pathname !== "/__local/counters" && !pathname.startsWith("/__local/counters/")) return null;
  return Response.json(
    { error: "operation counting is off: start the worker with the var LOCAL_COUNTERS=1" },
    { status: 409 },
  );
}
