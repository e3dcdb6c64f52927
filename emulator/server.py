"""HTTP routing: one handler class that reads the request, applies auth and faults, and dispatches."""

import json
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from emulator import files, joblog
from emulator.auth import check_bearer
from emulator.errors import ApiError
from emulator.idempotency import fingerprint
from emulator.jobs import Job, connection_view
from emulator.probing import Task, validate_task_request
from emulator.validation import validate_connection_request, validate_idempotency_key, validate_job_request

__all__ = ["EmulatorHTTPServer", "Handler", "ROUTES"]

log = logging.getLogger("emulator")
MAX_BODY = 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: object
    body: bytes
    params: dict = field(default_factory=dict)

    def json(self):
        """The parsed JSON body; 400 when it is not JSON (an empty body is ``{}``)."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as error:
            raise ApiError(400, f"request body is not valid JSON: {error}") from error

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int = 200
    document: object = None
    headers: dict = field(default_factory=dict)
    file: str | None = None
    drop: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    template: str
    action: str
    auth: bool = True
    faultable: bool = False


def _route(method: str, template: str, action: str, auth: bool = True, faultable: bool = False) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, re.compile(f"^{regex}$"), template, action, auth, faultable)


ROUTES = [
    _route("GET", "/healthz", "healthz", auth=False),
    _route("POST", "/jobs", "create_job", faultable=True),
    _route("GET", "/jobs", "list_jobs", faultable=True),
    _route("GET", "/jobs/{job_id}", "get_job", faultable=True),
    _route("POST", "/tasks", "create_task", faultable=True),
    _route("GET", "/tasks/{task_id}", "get_task", faultable=True),
    _route("POST", "/connections", "create_connection", faultable=True),
    _route("GET", "/connections", "list_connections", faultable=True),
    _route("GET", "/connections/{connection_id}", "get_connection", faultable=True),
    _route("GET", "/files/{job_id}/{name}", "serve_file", auth=False),
    _route("HEAD", "/files/{job_id}/{name}", "serve_file", auth=False),
    # An HLS ladder's rung folders (emulator.hls): /files/<job>/720p/segment-0.ts
    _route("GET", "/files/{job_id}/{folder}/{name}", "serve_file", auth=False),
    _route("HEAD", "/files/{job_id}/{folder}/{name}", "serve_file", auth=False),
    _route("GET", "/_emulator/faults", "get_faults"),
    _route("PUT", "/_emulator/faults", "put_faults"),
    _route("PATCH", "/_emulator/faults", "put_faults"),
    _route("DELETE", "/_emulator/faults", "reset_faults"),
    _route("GET", "/_emulator/counters", "get_counters"),
    _route("POST", "/_emulator/reset", "reset"),
    _route("GET", "/_emulator/webhooks", "list_webhooks"),
    _route("POST", "/_emulator/webhooks/flush", "flush_webhooks"),
    _route("POST", "/_emulator/jobs/{job_id}/redeliver", "redeliver"),
]


def match_route(method: str, path: str) -> tuple[Route, dict]:
    """The route and its path parameters; 404 for unknown paths, 405 for a known path with another method."""
    allowed = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            if route.method == method:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
            allowed.append(route.method)
    if allowed:
        raise ApiError(405, f"{method} is not allowed on {path}", headers={"Allow": ", ".join(allowed)})
    raise ApiError(404, f"no route for {method} {path}", "not_found")


class Actions:
    """The route actions; each takes a Request and returns a Reply."""

    def __init__(self, app):
        self.app = app

    def _lookup(self, scope: str, key: str, digest: str) -> str | None:
        status = self.app.faults.current.idempotency_mismatch_status
        return self.app.store.idempotency.lookup(scope, key, digest, status)

    def healthz(self, req: Request) -> Reply:
        return Reply(200, {"status": "ok", "service": "ittybit-emulator", "jobs": self.app.store.count()})

    def create_job(self, req: Request) -> Reply:
        store, counters = self.app.store, self.app.counters
        key = validate_idempotency_key(req.headers.get("Idempotency-Key"))
        body = req.json()
        digest = fingerprint(body)
        with store.lock:
            existing = self._lookup("jobs", key, digest) if key else None
            if existing is not None and store.find(existing) is not None:
                counters.replayed(key)
                joblog.step(existing, "replayed: same Idempotency-Key and body, no new job")
                return Reply(200, store.snapshot(existing), {"Idempotent-Replayed": "true"})
            job = store.add(Job(**validate_job_request(body, store.connections)))
            if key:
                store.idempotency.remember("jobs", key, digest, job.id)
            counters.job_created(key)
            snapshot = job.to_dict()
        joblog.step(job.id, f"created: {joblog.describe(job.kind, job.metadata)} "
                            f"({job.normalized_options.get('format', '?')})")
        self.app.processor.submit(job.id)
        if self.app.faults.roll(self.app.faults.current.drop_response_rate):
            counters.fault("dropped_response")
            joblog.step(job.id, "answer dropped (fault drop_response_rate): the job exists, the client saw none")
            return Reply(drop=True)
        return Reply(201, snapshot)

    def create_task(self, req: Request) -> Reply:
        """A standalone probe task, run before answering (a final task) unless ``probe_delay_ms`` is set."""
        app = self.app
        store, counters = app.store, app.counters
        key = validate_idempotency_key(req.headers.get("Idempotency-Key"))
        body = req.json()
        digest = fingerprint(body)
        with store.lock:
            existing = self._lookup("tasks", key, digest) if key else None
            task = store.find_task(existing) if existing is not None else None
            replay = task is not None
            if not replay:
                task = store.add_task(Task(**validate_task_request(body, store.connections)))
                if key:
                    store.idempotency.remember("tasks", key, digest, task.id)
                counters.probe_created(key)
        delay_ms = app.faults.current.probe_delay_ms
        if replay:
            counters.replayed(key)
            joblog.task_step(task.id, "replayed: same Idempotency-Key and body, no new task")
            if not delay_ms:
                task.done.wait(app.processor.probe_timeout_s)  # a concurrent first request is still probing
            return Reply(200, store.task_snapshot(task.id), {"Idempotent-Replayed": "true"})
        joblog.task_step(task.id, f"created: {joblog.describe(task.kind, task.metadata)}")
        if delay_ms:
            threading.Thread(target=app.processor.probe, args=(task, delay_ms), name=f"probe-{task.id}", daemon=True).start()
        else:
            app.processor.probe(task)
        snapshot = store.task_snapshot(task.id)
        if app.faults.roll(app.faults.current.drop_response_rate):
            counters.fault("dropped_response")
            joblog.task_step(task.id, "answer dropped (fault drop_response_rate): the task exists, the client saw none")
            return Reply(drop=True)
        return Reply(201, snapshot)

    def get_task(self, req: Request) -> Reply:
        return Reply(200, self.app.store.task_snapshot(req.params["task_id"]))

    def list_jobs(self, req: Request) -> Reply:
        raw = req.arg("limit") or "20"
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise ApiError(400, "limit must be an integer from 1 to 100")
        return Reply(200, self.app.store.list(int(raw), req.arg("cursor"), req.arg("status")))

    def get_job(self, req: Request) -> Reply:
        return Reply(200, self.app.store.snapshot(req.params["job_id"]))

    def create_connection(self, req: Request) -> Reply:
        store, counters = self.app.store, self.app.counters
        key = validate_idempotency_key(req.headers.get("Idempotency-Key"))
        body = req.json()
        digest = fingerprint(body)
        with store.lock:
            existing = self._lookup("connections", key, digest) if key else None
            if existing is not None and existing in store.connections:
                counters.replayed(key)
                return Reply(200, connection_view(store.connections[existing]), {"Idempotent-Replayed": "true"})
            connection = store.add_connection(validate_connection_request(body))
            if key:
                store.idempotency.remember("connections", key, digest, connection["id"])
            counters.connection_created(key)
        return Reply(201, connection_view(connection))

    def list_connections(self, req: Request) -> Reply:
        with self.app.store.lock:
            data = [connection_view(c) for c in reversed(self.app.store.connections.values())]
        return Reply(200, {"object": "list", "data": data, "has_more": False, "next_cursor": None})

    def get_connection(self, req: Request) -> Reply:
        return Reply(200, connection_view(self.app.store.get_connection(req.params["connection_id"])))

    def serve_file(self, req: Request) -> Reply:
        path = files.safe_path(self.app.processor.files_dir, req.params["job_id"], req.params["name"],
                               req.params.get("folder"))
        if path is None or not os.path.isfile(path):
            raise ApiError(404, "file not found", "not_found")
        if path.endswith(".ts") and req.method == "GET" and self.app.faults.take_segment_failure():
            joblog.step(req.params["job_id"], f"segment {req.params['name']} answered 503 (fault fail_segment_requests)")
            raise ApiError(503, "injected segment failure (fail_segment_requests)", "server_error")
        return Reply(200, file=path)

    def get_faults(self, req: Request) -> Reply:
        return Reply(200, self.app.faults.snapshot())

    def put_faults(self, req: Request) -> Reply:
        body = req.json()
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object of switches")
        try:
            return Reply(200, self.app.faults.update(body))
        except (TypeError, ValueError) as error:
            raise ApiError(400, str(error)) from error

    def reset_faults(self, req: Request) -> Reply:
        """Every switch back to what the emulator was started with (jobs, files and counters stay)."""
        self.app.faults.reset()
        return Reply(200, self.app.faults.snapshot())

    def get_counters(self, req: Request) -> Reply:
        return Reply(200, self.app.counters.snapshot())

    def reset(self, req: Request) -> Reply:
        self.app.reset()
        return Reply(200, {"reset": True, "faults": self.app.faults.snapshot()})

    def list_webhooks(self, req: Request) -> Reply:
        return Reply(200, {"object": "list", "data": self.app.dispatcher.deliveries()})

    def flush_webhooks(self, req: Request) -> Reply:
        return Reply(200, {"released": self.app.dispatcher.flush()})

    def redeliver(self, req: Request) -> Reply:
        self.app.store.get(req.params["job_id"])
        delivery = self.app.dispatcher.redeliver(req.params["job_id"])
        if delivery is None:
            raise ApiError(404, "this job has no webhook delivery yet", "not_found")
        return Reply(202, {"webhook_id": delivery.msg_id})


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app = None

    def handle_error(self, request, client_address):
        """A client that hung up is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """Reads the request, runs auth, faults and the action, writes the reply; never raises."""

    protocol_version = "HTTP/1.1"
    server_version = "ittybit-emulator/0.1"
    # Headers and body leave in one segment; otherwise keep-alive clients wait out delayed ACKs (~40 ms).
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def log_message(self, format, *args):
        if self.server.app.config.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    def _handle(self, method: str) -> None:
        app = self.server.app
        parts = urlsplit(self.path)
        route_name = "unmatched"
        status = 500
        try:
            body = self._read_body()
            route, params = match_route(method, parts.path)
            route_name = f"{method} {route.template}"
            if route.auth:
                check_bearer(self.headers.get("Authorization"), app.config.api_key)
            if route.faultable:
                self._inject_faults(app)
            req = Request(method, parts.path, parse_qs(parts.query), self.headers, body, params)
            reply = getattr(app.actions, route.action)(req)
        except ApiError as error:
            headers = dict(error.headers)
            if error.status == 401:
                headers["WWW-Authenticate"] = "Bearer"
            reply = Reply(error.status, error.body(), headers)
        except Exception as error:
            log.exception("unhandled error on %s %s", method, self.path)
            reply = Reply(500, {"kind": "server_error", "message": f"internal error: {type(error).__name__}"})
        try:
            status = self._write(reply, head=(method == "HEAD"))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        app.counters.request(route_name, status)

    def _inject_faults(self, app) -> None:
        faults, switches = app.faults, app.faults.current
        if switches.slow_ms:
            time.sleep(switches.slow_ms / 1000)
        if faults.over_rate_limit() or faults.roll(switches.rate_limit_rate):
            app.counters.fault("rate_limited")
            raise ApiError(429, "rate limit exceeded, retry later", "rate_limited",
                           headers={"Retry-After": str(switches.retry_after)})
        if faults.roll(switches.error_rate):
            app.counters.fault("server_error")
            raise ApiError(faults.choice((500, 503)), "injected server error, nothing was created", "server_error")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit():
            self.close_connection = True
            raise ApiError(400, "bad Content-Length")
        if int(length) > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, f"request body larger than {MAX_BODY} bytes")
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                raise ApiError(413, f"request body larger than {MAX_BODY} bytes")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, reply: Reply, head: bool) -> int:
        """Send ``reply``; return the status sent (0 for a dropped answer)."""
        if reply.drop:
            self.close_connection = True
            return 0
        if reply.file is not None:
            return self._write_file(reply.file, head)
        payload = json.dumps(reply.document).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(payload)
        return reply.status

    def _write_file(self, path: str, head: bool) -> int:
        stat = os.stat(path)
        size = stat.st_size
        etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
        wanted = files.parse_range(self.headers.get("Range"), size)
        if wanted is False:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return 416
        first, last = wanted if wanted else (0, size - 1)
        length = last - first + 1 if size else 0
        status = 206 if wanted else 200
        chunked = not wanted and self.server.app.faults.current.chunked_outputs
        self.send_response(status)
        self.send_header("Content-Type", files.content_type(path))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        if wanted:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if not head:
            with open(path, "rb") as source:
                source.seek(first)
                remaining = length
                while remaining > 0:
                    chunk = source.read(min(CHUNK, remaining))
                    if not chunk:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    remaining -= len(chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        return status
