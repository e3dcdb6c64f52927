// Benchmark reference worker (bench/ only, NEVER DEPLOYED): the same R2 streaming and
// KV/D1 reads as the Python API worker, in plain JavaScript, so the benchmarks can
// compare the two on the same local stack and the same bindings.
//
//   PUT  /ref/files/<key>      body streamed into env.MEDIA.put (needs Content-Length)
//   GET  /ref/files/<key>      env.MEDIA.get(key).body streamed back
//   GET  /ref/media/<id>       KV media:<id>, on a miss D1 (media + renditions) then KV put
//   GET  /healthz              a small JSON status
//   POST /ref/kv-delete        JSON list of ids: delete their media:<id> KV entries (bench set-up)
//   GET  /ref/hls/<token>/<id>/<path>  the API's /hls/ route: the playback token checked (HMAC-SHA256
//                              with URL_SIGNING_SECRET over "hls-playback\n<id>\n<expires>", WebCrypto),
//                              then renditions/<id>/hls/<path> streamed with its type, cache and CORS headers
const CACHE_TTL_SECONDS = 3600;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === "/healthz") {
      return Response.json({ status: "ok", worker: "reference" });
    }
    if (path.startsWith("/ref/files/")) {
      const key = decodeURIComponent(path.slice("/ref/files/".length));
      if (request.method === "PUT") {
        const object = await env.MEDIA.put(key, request.body, {
          httpMetadata: { contentType: request.headers.get("content-type") ?? "application/octet-stream" },
        });
        return Response.json({ key, size: object.size, etag: object.etag }, { status: 201 });
      }
      const object = await env.MEDIA.get(key);
      if (object === null) return Response.json({ error: "not found" }, { status: 404 });
      return new Response(object.body, {
        headers: { "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
                   "content-length": String(object.size), etag: object.httpEtag },
      });
    }
    if (path.startsWith("/ref/media/")) {
      const id = path.slice("/ref/media/".length);
      const cacheKey = `media:${id}`;
      const cached = await env.METADATA.get(cacheKey);
      if (cached !== null) {
        return new Response(cached, { headers: { "content-type": "application/json", "x-cache": "hit" } });
      }
      const row = await env.DB.prepare("SELECT * FROM media WHERE id = ?").bind(id).first();
      if (row === null) return Response.json({ error: "not found" }, { status: 404 });
      const { results } = await env.DB.prepare("SELECT * FROM renditions WHERE media_id = ?").bind(id).all();
      const body = JSON.stringify({ ...row, renditions: results });
      await env.METADATA.put(cacheKey, body, { expirationTtl: CACHE_TTL_SECONDS });
      return new Response(body, { headers: { "content-type": "application/json", "x-cache": "miss" } });
    }
    if (path.startsWith("/ref/hls/")) {
      const [token, id, ...rest] = path.slice("/ref/hls/".length).split("/");
      const found = /^([0-9]{1,11})\.([A-Za-z0-9_-]{43})$/.exec(token ?? "");
      if (found === null) return Response.json({ error: "unauthorized" }, { status: 401 });
      const key = await crypto.subtle.importKey(
        "raw", new TextEncoder().encode(env.URL_SIGNING_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
      const signature = Uint8Array.from(atob(found[2].replace(/-/g, "+").replace(/_/g, "/") + "="), (c) => c.charCodeAt(0));
      const valid = await crypto.subtle.verify(
        "HMAC", key, signature, new TextEncoder().encode(`hls-playback\n${id}\n${found[1]}`));
      if (!valid || Number(found[1]) < Date.now() / 1000) return Response.json({ error: "forbidden" }, { status: 403 });
      const file = rest.join("/");
      const object = await env.MEDIA.get(`renditions/${id}/hls/${file}`);
      if (object === null) return Response.json({ error: "not found" }, { status: 404 });
      return new Response(object.body, {
        headers: { "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
                   "content-length": String(object.size), etag: object.httpEtag, "accept-ranges": "bytes",
                   "cache-control": file.endsWith(".m3u8") ? "public, max-age=30" : "public, max-age=31536000, immutable",
                   "access-control-allow-origin": "*" },
      });
    }
    if (path === "/ref/kv-delete" && request.method === "POST") {
      const ids = await request.json();
      await Promise.all(ids.map((id) => env.METADATA.delete(`media:${id}`)));
      return Response.json({ deleted: ids.length });
    }
    return Response.json({ error: "not found" }, { status: 404 });
  },
};
