"""The processor's SQL (schema.sql): `?` placeholders, parameters in the order listed.

Every write is guarded so that redelivered or reordered events cannot undo a final
status: a rendition, probe or media row that is 'completed' or 'failed' is never updated
again. Times are epoch milliseconds. Reading a media row, or its renditions, is
common.media_records.SELECT_MEDIA / SELECT_RENDITIONS. The widest statements are called
through keyword wrappers (record_outcome, record_probe) that return a `(sql, *params)`
statement for common.d1.run(db, *statement) or common.d1.batch.
"""

from __future__ import annotations

__all__ = [
    "ADOPT_JOB",
    "COUNT_PROBE_FAILURE",
    "DELETE_UNMOVED_MEDIA",
    "DELETE_WEBHOOK_DELIVERY",
    "FAIL_OPEN_RENDITIONS",
    "FORGET_PROBE_TASK",
    "GIVE_UP_JOB",
    "INSERT_RENDITION",
    "INSERT_WEBHOOK_DELIVERY",
    "MARK_MEDIA_PROCESSING",
    "MARK_REJECTED",
    "MARK_SUBMITTED",
    "NOTE_PROBE_PENDING",
    "NOTE_PROBE_RETRY",
    "NOTE_RETRY",
    "PRUNE_JOB_POLLS",
    "PRUNE_WEBHOOK_DELIVERIES",
    "RECORD_OUTCOME_FOR_RENDITION",
    "RECORD_POLL",
    "RECORD_PROBE",
    "RELEASE_LOST_JOB",
    "SELECT_MEDIA_BY_R2_KEY",
    "SELECT_PENDING_MEDIA",
    "SELECT_PROBE",
    "SELECT_RENDITION",
    "SELECT_RENDITION_BY_JOB",
    "SELECT_STUCK_JOBS",
    "SELECT_UNSETTLED_MEDIA",
    "SET_MEDIA_R2_KEY",
    "UPDATE_MEDIA_STATUS",
    "record_outcome",
    "record_probe",
]

from common.media_records import FINAL, MEDIA_COLUMNS, RENDITION_COLUMNS

# SQL for "not yet final" (common.media_records.FINAL).
_NOT_FINAL = "status NOT IN (" + ", ".join(f"'{status}'" for status in sorted(FINAL)) + ")"

# media_id, name, kind, options (JSON), output_key, created_at, updated_at
INSERT_RENDITION = """
INSERT OR IGNORE INTO renditions (media_id, name, kind, options, output_key, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""

# job_id, submitted_at, updated_at, media_id, name
MARK_SUBMITTED = f"""
UPDATE renditions
SET job_id = ?, status = 'processing', submitted_at = ?, updated_at = ?, error = NULL
WHERE media_id = ? AND name = ? AND {_NOT_FINAL}
"""

# job_id, status, output_key, output_url, content_type, width, height, duration, size, error,
# updated_at, media_id, name (call it through record_outcome). Keyed by (media_id, name), so it
# also serves a webhook that arrives before MARK_SUBMITTED stored the job id (found through the
# job's metadata); a stored job id is kept. Pass only 'processing', 'completed' or 'failed': a
# 'pending' report must not move a job back.
RECORD_OUTCOME_FOR_RENDITION = f"""
UPDATE renditions
SET job_id = COALESCE(job_id, ?),
    status = ?,
    output_key = COALESCE(?, output_key),
    output_url = COALESCE(?, output_url),
    content_type = COALESCE(?, content_type),
    width = COALESCE(?, width),
    height = COALESCE(?, height),
    duration = COALESCE(?, duration),
    size = COALESCE(?, size),
    error = ?,
    updated_at = ?
WHERE media_id = ? AND name = ? AND {_NOT_FINAL}
"""


def record_outcome(
    media_id: str,
    name: str,
    *,
    job_id: str,
    status: str,
    now: int,
    output_key: str | None = None,
    output_url: str | None = None,
    content_type: str | None = None,
    width: int | None = None,
    height: int | None = None,
    duration: float | None = None,
    size: int | None = None,
    error: str | None = None,
) -> tuple:
    """RECORD_OUTCOME_FOR_RENDITION as a statement; the facts left None keep their stored value."""
    return (RECORD_OUTCOME_FOR_RENDITION, job_id, status, output_key, output_url, content_type,
            width, height, duration, size, error, now, media_id, name)


# error, updated_at, media_id, name
MARK_REJECTED = f"""
UPDATE renditions
SET status = 'failed', error = ?, updated_at = ?
WHERE media_id = ? AND name = ? AND {_NOT_FINAL}
"""

# job_id
SELECT_RENDITION_BY_JOB = f"""
SELECT {RENDITION_COLUMNS}
FROM renditions
WHERE job_id = ?
"""

# updated_at, id; only a pending media item starts processing
MARK_MEDIA_PROCESSING = """
UPDATE media SET status = 'processing', updated_at = ?
WHERE id = ? AND status = 'pending'
"""

# status, error, updated_at, id
UPDATE_MEDIA_STATUS = f"""
UPDATE media SET status = ?, error = ?, updated_at = ?
WHERE id = ? AND {_NOT_FINAL}
"""

# webhook_id, job_id, received_at; meta.changes == 1 means a new delivery, 0 a duplicate
INSERT_WEBHOOK_DELIVERY = """
INSERT OR IGNORE INTO webhook_deliveries (webhook_id, job_id, received_at)
VALUES (?, ?, ?)
"""

# webhook_id; undoes INSERT_WEBHOOK_DELIVERY when handling failed, so Ittybit's retry is not a "duplicate"
DELETE_WEBHOOK_DELIVERY = """
DELETE FROM webhook_deliveries WHERE webhook_id = ?
"""

# received_at cutoff; deliveries older than the signature tolerance can no longer be replayed
PRUNE_WEBHOOK_DELIVERIES = """
DELETE FROM webhook_deliveries WHERE received_at < ?
"""

# submitted_at cutoff, limit. The least recently polled first (never polled before all others), then
# the oldest: jobs that never settle rotate through the limit instead of starving newer ones.
# `polls` counts the polls of this very job (0 when none, or when they were of an earlier job).
SELECT_STUCK_JOBS = """
SELECT r.media_id, r.name, r.job_id, r.submitted_at, r.attempts, r.created_at,
       COALESCE(p.polls, 0) AS polls, p.last_polled_at
FROM renditions r
LEFT JOIN job_polls p ON p.media_id = r.media_id AND p.name = r.name AND p.job_id = r.job_id
WHERE r.status = 'processing' AND r.job_id IS NOT NULL AND r.submitted_at < ?
ORDER BY COALESCE(p.last_polled_at, 0), r.submitted_at
LIMIT ?
"""

# last_polled_at, media_id, name, job_id; one more poll of the rendition's job (the first of a new job
# counts 1). Inserts only for a rendition that still has that job, so a deleted one gets no row.
RECORD_POLL = """
INSERT INTO job_polls (media_id, name, job_id, polls, last_polled_at)
SELECT media_id, name, job_id, 1, ? FROM renditions WHERE media_id = ? AND name = ? AND job_id = ?
ON CONFLICT (media_id, name) DO UPDATE SET
  polls = CASE WHEN job_polls.job_id = excluded.job_id THEN job_polls.polls + 1 ELSE 1 END,
  job_id = excluded.job_id,
  last_polled_at = excluded.last_polled_at
"""

# Bookkeeping of jobs no longer open (final, released, or their media deleted): not needed any more.
PRUNE_JOB_POLLS = """
DELETE FROM job_polls
WHERE NOT EXISTS (
  SELECT 1 FROM renditions r
  WHERE r.media_id = job_polls.media_id AND r.name = job_polls.name
    AND r.job_id = job_polls.job_id AND r.status = 'processing'
)
"""

# error, updated_at, media_id, name, job_id; the reconcile gives up on a job that never settled
GIVE_UP_JOB = f"""
UPDATE renditions
SET status = 'failed', error = ?, updated_at = ?
WHERE media_id = ? AND name = ? AND job_id = ? AND {_NOT_FINAL}
"""

# updated_at cutoff, limit; oldest first. Left behind: still 'pending' (its message was lost), or
# 'processing' with no renditions yet or a rendition never submitted (its message died).
SELECT_PENDING_MEDIA = """
SELECT id, r2_key, kind, status, updated_at
FROM media
WHERE status IN ('pending', 'processing')
  AND updated_at < ?
  AND (
    status = 'pending'
    OR NOT EXISTS (SELECT 1 FROM renditions r WHERE r.media_id = media.id)
    OR EXISTS (SELECT 1 FROM renditions r WHERE r.media_id = media.id AND r.status = 'pending')
  )
ORDER BY updated_at
LIMIT ?
"""

# updated_at cutoff, limit; oldest first. Media whose renditions are all final but whose own status is
# not: the refresh after the last rendition's final write failed (a D1 error, an evicted isolate).
SELECT_UNSETTLED_MEDIA = f"""
SELECT id
FROM media
WHERE status IN ('pending', 'processing')
  AND updated_at < ?
  AND EXISTS (SELECT 1 FROM renditions r WHERE r.media_id = media.id)
  AND NOT EXISTS (SELECT 1 FROM renditions r WHERE r.media_id = media.id AND r.{_NOT_FINAL})
ORDER BY updated_at
LIMIT ?
"""

# job_id, submitted_at, updated_at, media_id, name. A job we learn of from Ittybit (a webhook or a
# replayed create) before, or instead of, MARK_SUBMITTED: keeps a stored job id and submit time.
ADOPT_JOB = f"""
UPDATE renditions
SET job_id = COALESCE(job_id, ?), status = 'processing', submitted_at = COALESCE(submitted_at, ?), updated_at = ?
WHERE media_id = ? AND name = ? AND {_NOT_FINAL}
"""

# media_id, name
SELECT_RENDITION = f"""
SELECT {RENDITION_COLUMNS}
FROM renditions
WHERE media_id = ? AND name = ?
"""

# error, updated_at, media_id, name, job_id: Ittybit answered 404 for the job, so forget it and let the
# next media.process message create it again (same Idempotency-Key).
RELEASE_LOST_JOB = f"""
UPDATE renditions
SET job_id = NULL, status = 'pending', submitted_at = NULL, output_url = NULL,
    attempts = attempts + 1, error = ?, updated_at = ?
WHERE media_id = ? AND name = ? AND job_id = ? AND {_NOT_FINAL}
"""

# error, updated_at, media_id, name; a transient failure: count it and keep its message for the dead-letter reason
NOTE_RETRY = f"""
UPDATE renditions
SET attempts = attempts + 1, error = ?, updated_at = ?
WHERE media_id = ? AND name = ? AND {_NOT_FINAL}
"""

# error, updated_at, media_id; the dead-letter consumer gives up on whatever is still open
FAIL_OPEN_RENDITIONS = f"""
UPDATE renditions
SET status = 'failed', error = ?, updated_at = ?
WHERE media_id = ? AND {_NOT_FINAL}
"""

# new r2_key, updated_at, id, old r2_key; a direct upload now points at its copy under originals/
SET_MEDIA_R2_KEY = """
UPDATE media SET r2_key = ?, updated_at = ?
WHERE id = ? AND r2_key = ?
"""

# Parameters: r2_key. The record that holds an uploads/ key (r2_key is UNIQUE).
SELECT_MEDIA_BY_R2_KEY = f"SELECT {MEDIA_COLUMNS} FROM media WHERE r2_key = ?"

# Parameters: id, r2_key. Removes a direct upload that never reached originals/ (so it has no
# renditions), only while it still points at that uploads/ key.
DELETE_UNMOVED_MEDIA = "DELETE FROM media WHERE id = ? AND r2_key = ? AND source = 'r2'"

# media_id; the source's probe (processor.probe), with how many of its probes failed so far.
SELECT_PROBE = """
SELECT p.media_id, p.status, p.task_id, p.format, p.width, p.height, p.rotation, p.duration, p.fps,
       p.video_codec, p.audio_codec, p.error, p.created_at, p.updated_at, COALESCE(f.failures, 0) AS failures
FROM media_probes p LEFT JOIN probe_failures f ON f.media_id = p.media_id WHERE p.media_id = ?
"""

# media_id, task_id, updated_at: one more failed probe, counted once per failed task.
COUNT_PROBE_FAILURE = """
INSERT INTO probe_failures (media_id, failures, task_id, updated_at) VALUES (?, 1, ?, ?)
ON CONFLICT (media_id) DO UPDATE SET
  failures = probe_failures.failures + 1, task_id = excluded.task_id, updated_at = excluded.updated_at
WHERE probe_failures.task_id IS NOT excluded.task_id
"""

# media_id, error, created_at, updated_at: a failed probe to be asked again; the next attempt
# creates a new task (the failed one's id is dropped). Never touches a final row.
NOTE_PROBE_RETRY = """
INSERT INTO media_probes (media_id, status, task_id, error, created_at, updated_at)
VALUES (?, 'pending', NULL, ?, ?, ?)
ON CONFLICT (media_id) DO UPDATE SET task_id = NULL, error = excluded.error, updated_at = excluded.updated_at
WHERE media_probes.status = 'pending'
"""

# media_id, task_id, error, created_at, updated_at: a probe asked for (or a retry noted), still open.
# Never touches a final row; keeps a known task id when this attempt learnt none.
NOTE_PROBE_PENDING = """
INSERT INTO media_probes (media_id, status, task_id, error, created_at, updated_at)
VALUES (?, 'pending', ?, ?, ?, ?)
ON CONFLICT (media_id) DO UPDATE SET
  task_id = COALESCE(excluded.task_id, media_probes.task_id),
  error = excluded.error,
  updated_at = excluded.updated_at
WHERE media_probes.status = 'pending'
"""

# media_id: Ittybit no longer knows the task (404); the next attempt creates it again.
FORGET_PROBE_TASK = """
UPDATE media_probes SET task_id = NULL WHERE media_id = ? AND status = 'pending'
"""

# media_id, status, task_id, format, width, height, rotation, duration, fps, video_codec, audio_codec,
# error, created_at, updated_at (call it through record_probe): the final answer; a final row stays as it is.
RECORD_PROBE = """
INSERT INTO media_probes (media_id, status, task_id, format, width, height, rotation, duration, fps,
                          video_codec, audio_codec, error, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (media_id) DO UPDATE SET
  status = excluded.status, task_id = COALESCE(excluded.task_id, media_probes.task_id),
  format = excluded.format, width = excluded.width, height = excluded.height,
  rotation = excluded.rotation, duration = excluded.duration, fps = excluded.fps,
  video_codec = excluded.video_codec, audio_codec = excluded.audio_codec,
  error = excluded.error, updated_at = excluded.updated_at
WHERE media_probes.status = 'pending'
"""


def record_probe(media_id: str, *, status: str, task_id: str | None, source, error: str | None, now: int) -> tuple:
    """RECORD_PROBE as a statement; `source` is the probed SourceInfo, or None when nothing was learnt."""
    facts = (
        (source.format, source.width, source.height, source.rotation, source.duration, source.fps,
         source.video_codec, source.audio_codec)
        if source is not None else (None,) * 8
    )
    return (RECORD_PROBE, media_id, status, task_id, *facts, error, now, now)
