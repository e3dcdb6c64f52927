"""Jobs, standalone tasks and storage connections: the in-memory store, its state transitions and JSON shapes."""

import threading
import time
from dataclasses import dataclass, field

from emulator.errors import ApiError
from emulator.ids import new_id
from emulator.idempotency import IdempotencyKeys

__all__ = ["Job", "JobStore", "FINAL_STATUSES"]

FINAL_STATUSES = ("completed", "succeeded", "ready", "failed")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Job:
    """One job with its single task; ``to_dict`` gives the Ittybit job object."""

    kind: str
    input: str
    options: dict
    normalized_options: dict
    metadata: dict
    webhook_url: str | None
    connection_id: str | None
    id: str = field(default_factory=lambda: new_id("job"))
    task_id: str = field(default_factory=lambda: new_id("task"))
    status: str = "pending"
    error: str | None = None
    output_file: dict | None = None
    created: int = field(default_factory=now_ms)
    updated: int = 0

    def __post_init__(self):
        self.updated = self.updated or self.created

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_dict(self) -> dict:
        task = {
            "id": self.task_id,
            "object": "task",
            "kind": self.kind,
            "status": self.status,
            "output": dict(self.output_file) if self.output_file else None,
            "error": self.error,
            "created": self.created,
            "updated": self.updated,
        }
        return {
            "id": self.id,
            "object": "job",
            "kind": self.kind,
            "input": self.input,
            "output": self.output_file["url"] if self.output_file else None,
            "options": self.options,
            "metadata": self.metadata,
            "status": self.status,
            "error": self.error,
            "tasks": [task],
            "created": self.created,
            "updated": self.updated,
            "webhook_url": self.webhook_url,
        }


class JobStore:
    """Jobs, connections and idempotency keys behind one lock."""

    def __init__(self, idempotency_ttl_s: float = 24 * 3600.0):
        self.lock = threading.RLock()
        self.idempotency = IdempotencyKeys(idempotency_ttl_s)
        self._jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self.connections: dict[str, dict] = {}
        self._tasks: dict = {}  # standalone tasks (probing.Task) by id

    def clear(self) -> None:
        with self.lock:
            self._jobs.clear()
            self._order.clear()
            self.connections.clear()
            self._tasks.clear()
            self.idempotency.clear()

    def count(self) -> int:
        with self.lock:
            return len(self._jobs)

    def add(self, job: Job) -> Job:
        with self.lock:
            self._jobs[job.id] = job
            self._order.append(job.id)
            return job

    def get(self, job_id: str) -> Job:
        with self.lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"job {job_id} not found", "not_found")
        return job

    def find(self, job_id: str) -> Job | None:
        with self.lock:
            return self._jobs.get(job_id)

    def snapshot(self, job_id: str) -> dict:
        with self.lock:
            return self.get(job_id).to_dict()

    def transition(self, job_id: str, status: str, error: str | None = None, output_file: dict | None = None) -> dict | None:
        """Move a job forward and return its new JSON; a final job never changes again (None)."""
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job.final:
                return None
            job.status = status
            job.error = error
            if output_file is not None:
                job.output_file = output_file
            job.updated = max(now_ms(), job.updated)
            return job.to_dict()

    def list(self, limit: int, cursor: str | None, status: str | None) -> dict:
        """Newest first; ``cursor`` is the id of the last job of the previous page."""
        with self.lock:
            ids = list(reversed(self._order))
            if cursor:
                if cursor not in self._jobs:
                    raise ApiError(400, "cursor does not name a job")
                ids = ids[ids.index(cursor) + 1:]
            jobs = [self._jobs[i] for i in ids if status is None or self._jobs[i].status == status]
            page = jobs[:limit]
            return {
                "object": "list",
                "data": [job.to_dict() for job in page],
                "has_more": len(jobs) > limit,
                "next_cursor": page[-1].id if len(jobs) > limit else None,
            }

    def add_task(self, task):
        with self.lock:
            self._tasks[task.id] = task
            return task

    def find_task(self, task_id: str):
        with self.lock:
            return self._tasks.get(task_id)

    def task_snapshot(self, task_id: str) -> dict:
        with self.lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise ApiError(404, f"task {task_id} not found", "not_found")
            return task.to_dict()

    def finish_task(self, task_id: str, status: str, error: str | None = None, output: dict | None = None) -> dict | None:
        """Make a task final and return its JSON; a final task never changes again (None)."""
        with self.lock:
            task = self._tasks.get(task_id)
            if task is None or task.final:
                return None
            task.status, task.error, task.output = status, error, output
            task.updated = max(now_ms(), task.updated)
            snapshot = task.to_dict()
        task.done.set()
        return snapshot

    def add_connection(self, spec: dict) -> dict:
        connection = {"id": new_id("con"), "object": "connection", **spec, "created": now_ms()}
        connection["updated"] = connection["created"]
        with self.lock:
            self.connections[connection["id"]] = connection
        return connection

    def get_connection(self, connection_id: str) -> dict:
        with self.lock:
            connection = self.connections.get(connection_id)
        if connection is None:
            raise ApiError(404, f"connection {connection_id} not found", "not_found")
        return connection


def connection_view(connection: dict) -> dict:
    """The connection as answered: never the secret key."""
    view = {k: v for k, v in connection.items() if k != "secret_access_key"}
    return view
