"""An in-memory media-pipeline API behind httpx.MockTransport, for the CLI's unit tests: media
records, events, webhooks, deliveries, tus uploads (POST/HEAD/PATCH) and /files/ with Range."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import re
from dataclasses import dataclass, field

import httpx

KEY = "test-key"
BASE = "http://api.test"


def media_record(media_id: str, name: str = "clip.mp4", kind: str = "video", status: str = "completed",
                 renditions: list | None = None, **extra) -> dict:
    record = {
        "id": media_id, "name": name, "kind": kind, "content_type": "video/mp4", "size": 1234, "status": status,
        "error": None, "source": "api", "original_key": f"originals/{media_id}",
        "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:05Z", "width": 1280, "height": 720,
        "orientation": "landscape", "duration": 4.0, "fps": 25.0, "codec": "h264", "metadata": {"project": "x"},
        "url": f"{BASE}/files/originals/{media_id}",
        "signed_url": f"{BASE}/files/originals/{media_id}?expires=9999999999&signature=sig",
        "renditions": renditions if renditions is not None else [
            {"name": "web", "kind": "video", "status": "completed", "job_id": "job_1", "content_type": "video/mp4",
             "width": 1280, "height": 720, "duration": 4.0, "size": 100, "error": None,
             "output_key": f"renditions/{media_id}/web.mp4", "url": f"{BASE}/files/renditions/{media_id}/web.mp4",
             "signed_url": f"{BASE}/files/renditions/{media_id}/web.mp4?expires=9999999999&signature=sig"},
        ],
    }
    record.update(extra)
    return record


@dataclass
class FakeApi:
    media: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)          # /files/ path -> bytes
    events: dict = field(default_factory=dict)         # media id -> [event]
    endpoints: dict = field(default_factory=dict)
    deliveries: dict = field(default_factory=dict)     # endpoint id -> [delivery]
    uploads: dict = field(default_factory=dict)        # upload id -> {length, data, metadata, media_id}
    requests: list = field(default_factory=list)
    fail_patch_after: int | None = None                # bytes: a PATCH past this drops the connection once
    status_sequence: dict = field(default_factory=dict)  # media id -> statuses GET returns in turn
    page_size: int = 2
    honours_expires_in: bool = True                    # False: an older API that ignores ?expires_in=

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @staticmethod
    def error(status: int, code: str, message: str) -> httpx.Response:
        return httpx.Response(status, json={"error": message, "code": code})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if not path.startswith("/api/uploads/") and request.headers.get("x-api-key") != KEY:
            return self.error(401, "unauthorized", "A valid API key is needed.")
        if path == "/api/stats":
            counts = {s: sum(1 for m in self.media.values() if m["status"] == s)
                      for s in ("pending", "processing", "completed", "failed")}
            return httpx.Response(200, json={"total": len(self.media), "processed": counts["completed"], **counts})
        if path == "/api/media" and method == "GET":
            items = sorted(self.media.values(), key=lambda m: m["id"], reverse=True)
            if status := request.url.params.get("status"):
                items = [m for m in items if m["status"] == status]
            start = int(request.url.params.get("cursor", "0"))
            limit = min(int(request.url.params.get("limit", "20")), self.page_size)
            page = items[start:start + limit]
            nxt = str(start + limit) if start + limit < len(items) else None
            return httpx.Response(200, json={"items": [{k: v for k, v in m.items() if k != "renditions"} for m in page],
                                             "next_cursor": nxt})
        if m := re.fullmatch(r"/api/media/(\w+)/events", path):
            if m[1] not in self.events:
                return self.error(404, "not_found", f"No media item {m[1]}.")
            items = self.events[m[1]]
            start = int(request.url.params.get("cursor", "0"))
            page = items[start:start + self.page_size]
            nxt = str(start + self.page_size) if start + self.page_size < len(items) else None
            return httpx.Response(200, json={"items": page, "next_cursor": nxt})
        if m := re.fullmatch(r"/api/media/(\w+)", path):
            record = self.media.get(m[1])
            if record is None:
                return self.error(404, "not_found", f"No media item {m[1]}.")
            if method == "DELETE":
                del self.media[m[1]]
                return httpx.Response(200, json={"deleted": m[1], "objects_deleted": 2})
            if self.status_sequence.get(m[1]):
                record["status"] = self.status_sequence[m[1]].pop(0)
            lifetime = request.url.params.get("expires_in")
            if lifetime and self.honours_expires_in:  # signed for that long, as the API does
                until = int(time.time()) + int(lifetime)
                record = json.loads(re.sub(r"expires=\d+", f"expires={until}", json.dumps(record)))
            return httpx.Response(200, json=record)
        if path == "/api/webhooks" and method == "POST":
            body = json.loads(request.content)
            if not body["url"].startswith("https://"):
                return self.error(400, "invalid_url", "The URL must be https.")
            endpoint = {"id": f"ep_{'a' * 22}{len(self.endpoints):02d}", "url": body["url"], "events": body["events"],
                        "description": body.get("description", ""), "enabled": True, "created_at": "t",
                        "updated_at": "t"}
            self.endpoints[endpoint["id"]] = endpoint
            return httpx.Response(201, json={**endpoint, "secret": "whsec_c2VjcmV0"})
        if path == "/api/webhooks":
            return httpx.Response(200, json={"items": list(self.endpoints.values())})
        if m := re.fullmatch(r"/api/webhooks/(\w+)/deliveries", path):
            items = self.deliveries.get(m[1], [])
            if status := request.url.params.get("status"):
                items = [d for d in items if d["status"] == status]
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if m := re.fullmatch(r"/api/webhooks/(\w+)/deliveries/(\w+)/replay", path):
            return httpx.Response(202, json={"replayed": m[2], "endpoint_id": m[1]})
        if m := re.fullmatch(r"/api/webhooks/(\w+)/replay", path):
            return httpx.Response(202, json={"replayed": 3, "since": json.loads(request.content)["since"]})
        if m := re.fullmatch(r"/api/webhooks/(\w+)", path):
            if m[1] not in self.endpoints:
                return self.error(404, "not_found", f"No webhook endpoint {m[1]}.")
            del self.endpoints[m[1]]
            return httpx.Response(200, json={"deleted": m[1]})
        if path == "/api/uploads" and method == "POST":
            return self.tus_create(request)
        if m := re.fullmatch(r"/api/uploads/(\w+)", path):
            return self.tus(request, m[1])
        if path.startswith("/files/"):
            return self.file(request, path)
        return self.error(404, "not_found", "No such route.")

    # -- tus ---------------------------------------------------------------------------------------------
    def tus_create(self, request: httpx.Request) -> httpx.Response:
        meta = {}
        for pair in request.headers.get("upload-metadata", "").split(","):
            if pair:
                k, _, v = pair.partition(" ")
                meta[k] = base64.b64decode(v).decode()
        if meta.get("filename", "").endswith(".txt"):
            return self.error(415, "unsupported_media_type", "Not an image, video or audio file.")
        upload_id = f"up{len(self.uploads):030d}"
        self.uploads[upload_id] = {"length": int(request.headers["upload-length"]), "data": bytearray(),
                                   "metadata": meta, "media_id": None}
        return httpx.Response(201, headers={"Location": f"/api/uploads/{upload_id}", "Tus-Resumable": "1.0.0"})

    def tus(self, request: httpx.Request, upload_id: str) -> httpx.Response:
        upload = self.uploads.get(upload_id)
        if upload is None:
            return httpx.Response(404)
        headers = {"Upload-Offset": str(len(upload["data"])), "Upload-Length": str(upload["length"]),
                   "Tus-Resumable": "1.0.0"}
        if upload["media_id"]:
            headers["Media-Id"] = upload["media_id"]
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        offset = int(request.headers["upload-offset"])
        if offset != len(upload["data"]):
            return httpx.Response(409, headers=headers, json={"error": "offset", "code": "offset_mismatch"})
        body = request.read()
        if self.fail_patch_after is not None and offset + len(body) > self.fail_patch_after:
            keep = self.fail_patch_after - offset
            upload["data"] += body[:max(keep, 0)]
            self.fail_patch_after = None
            raise httpx.ReadError("connection reset")
        upload["data"] += body
        headers["Upload-Offset"] = str(len(upload["data"]))
        if len(upload["data"]) == upload["length"]:
            media_id = "01" + hashlib.sha256(bytes(upload["data"])).hexdigest()[:24]
            upload["media_id"] = media_id
            headers["Media-Id"] = media_id
            self.media.setdefault(media_id, media_record(media_id, name=upload["metadata"].get("filename"),
                                                         status="processing", metadata=upload["metadata"]))
        return httpx.Response(204, headers=headers)

    # -- files ---------------------------------------------------------------------------------------
    def file(self, request: httpx.Request, path: str) -> httpx.Response:
        data = self.files.get(path)
        if data is None:
            return self.error(404, "not_found", "No such file.")
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        wanted = request.headers.get("range")
        if wanted and request.headers.get("if-range") in (None, etag):
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                return httpx.Response(416, headers={"Content-Range": f"bytes */{len(data)}"})
            return httpx.Response(206, content=data[start:], headers={
                "ETag": etag, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        return httpx.Response(200, content=data, headers={"ETag": etag})
