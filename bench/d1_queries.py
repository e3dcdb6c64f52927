"""D1 queries per request for each API route, counted by src/common/d1.py (QUERY_COUNT)
and reported by the API worker's X-D1-Queries header, which only a var
D1_QUERY_HEADER="true" turns on (this script sets it; it is off by default). Requests are
sent one at a time, so the count of each is exact.

    .venv/bin/python -m bench.d1_queries
"""

from __future__ import annotations

import httpx

from bench.common import API_KEY, api_stack, load_average, print_machine, save_json, table, temporary_dir

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00" + b"\x00" * 64


def main() -> None:
    info = print_machine("d1 queries per request")
    rows: list[list] = []
    with temporary_dir("bench-d1-") as tmp:
        stack = api_stack(tmp, {"D1_QUERY_HEADER": "true"})
        try:
            stack.start()
            api = stack.url("api")
            with httpx.Client(base_url=api, timeout=60, headers={"x-api-key": API_KEY}) as client:

                def note(label: str, response: httpx.Response) -> httpx.Response:
                    count = response.headers.get("x-d1-queries", "(no header)")
                    rows.append([label, response.status_code, count, response.headers.get("x-cache", "")])
                    print(f"{label}: {response.status_code}, D1 queries {count}")
                    return response

                png = {"content-type": "image/png", "x-file-name": "a.png"}
                note("GET /healthz", client.get("/healthz"))
                ids = [note("POST /api/media (upload, 202)", client.post("/api/media", content=PNG, headers=png)).json()["id"]]
                ids += [client.post("/api/media", content=PNG, headers=png).json()["id"] for _ in range(2)]
                media_id = ids[0]
                note("POST /api/media (415, not media)", client.post("/api/media", content=b"hello world" * 10))
                note("POST /api/media (400, empty)", client.post("/api/media", content=b"", headers=png))
                note("GET /api/media/{id} (KV hit)", client.get(f"/api/media/{media_id}"))
                stack.kv_delete("METADATA", f"media:{media_id}")
                note("GET /api/media/{id} (KV miss)", client.get(f"/api/media/{media_id}"))
                note("GET /api/media/{id} (unknown id, 404)", client.get("/api/media/" + "0" * 26))
                first = note("GET /api/media?limit=2", client.get("/api/media", params={"limit": 2})).json()
                note("GET /api/media?limit=2&cursor=…", client.get("/api/media", params={"limit": 2, "cursor": first["next_cursor"]}))
                note("GET /api/media?status=pending", client.get("/api/media", params={"status": "pending"}))
                note("GET /api/stats", client.get("/api/stats"))
                note("GET /files/originals/{id}", client.get(f"/files/originals/{media_id}"))
                note("GET /files/originals/{id} (Range)", client.get(f"/files/originals/{media_id}", headers={"range": "bytes=0-9"}))
                note("HEAD /files/originals/{id}", client.head(f"/files/originals/{media_id}"))
                note("DELETE /api/media/{id}", client.delete(f"/api/media/{media_id}"))
                note("DELETE /api/media/{id} (again, 404)", client.delete(f"/api/media/{media_id}"))
                image = note("POST /api/images (seed path)", client.post("/api/images", content=PNG, headers=png)).json()["id"]
                note("GET /api/images/{id}", client.get(f"/api/images/{image}"))
                note("GET /images/originals/{id}", client.get(f"/images/originals/{image}"))
                note("DELETE /api/images/{id}", client.delete(f"/api/images/{image}"))
                note("GET /api/stats without a key (401)", httpx.get(f"{api}/api/stats"))
        finally:
            stack.stop()
    print()
    print(table(["request", "status", "D1 queries", "X-Cache"], rows))
    print(f"load average at end: {load_average()}")
    save_json("d1_queries", {"machine": info, "rows": rows})


if __name__ == "__main__":
    main()
