-- media-pipeline schema for D1 (SQLite). Idempotent: safe to apply any number of times.
-- Times are epoch milliseconds (INTEGER). Status words are shared by media and renditions.

CREATE TABLE IF NOT EXISTS media (
  id           TEXT PRIMARY KEY,
  r2_key       TEXT NOT NULL UNIQUE,          -- originals/<id> (API uploads) or the uploads/ key (direct R2 uploads)
  name         TEXT,                           -- the client's file name, when it gave one
  content_type TEXT NOT NULL,                  -- as sniffed from the first bytes
  kind         TEXT NOT NULL CHECK (kind IN ('image', 'video', 'audio')),
  size         INTEGER NOT NULL CHECK (size >= 0),
  status       TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  error        TEXT,                           -- why it failed, for people
  source       TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'r2')),
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

-- Newest-first listing with keyset (cursor) pagination, overall and per status.
CREATE INDEX IF NOT EXISTS media_by_created ON media (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS media_by_status_created ON media (status, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS renditions (
  media_id     TEXT NOT NULL REFERENCES media (id) ON DELETE CASCADE,
  name         TEXT NOT NULL,                  -- preset name: web, mobile, thumbnail, ...
  kind         TEXT NOT NULL,                  -- the Ittybit job kind: video, image or audio
  options      TEXT NOT NULL DEFAULT '{}',     -- the Ittybit options, JSON
  job_id       TEXT UNIQUE,                    -- Ittybit job id once created
  status       TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  output_key   TEXT,                           -- renditions/<media id>/<name>.<ext> in R2
  output_url   TEXT,                           -- where Ittybit served the output
  content_type TEXT,
  width        INTEGER,
  height       INTEGER,
  duration     REAL,
  size         INTEGER,
  error        TEXT,
  attempts     INTEGER NOT NULL DEFAULT 0,
  submitted_at INTEGER,                        -- when the Ittybit job was created (reconcile uses it)
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (media_id, name)
);

CREATE INDEX IF NOT EXISTS renditions_by_status_submitted ON renditions (status, submitted_at);

-- Webhook de-duplication: one row per Standard Webhooks `webhook-id` already handled.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  webhook_id   TEXT PRIMARY KEY,
  job_id       TEXT,
  received_at  INTEGER NOT NULL
);
-- The reconcile cron forgets ids older than a day (processor/reconcile.py): by age, not a scan.
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_received ON webhook_deliveries (received_at);

-- Reconcile bookkeeping: how many times, and when last, the cron asked Ittybit about a rendition's
-- open job. It selects the least recently polled jobs first (so jobs that never settle cannot starve
-- newer ones) and gives a job up after RECONCILE_MAX_POLLS polls.
-- A table of its own, not columns on `renditions`: this file is applied again to existing databases,
-- and SQLite has no ADD COLUMN IF NOT EXISTS, so a new column cannot be added idempotently, while a
-- table created IF NOT EXISTS can. `job_id` is the job counted, so a job submitted anew (a lost one)
-- starts again at zero. A row goes with its rendition (ON DELETE CASCADE: D1 enforces foreign keys,
-- so DELETE /api/media's rendition delete takes it along), and the reconcile prunes rows whose job is
-- no longer open.
CREATE TABLE IF NOT EXISTS job_polls (
  media_id       TEXT NOT NULL,
  name           TEXT NOT NULL,
  job_id         TEXT NOT NULL,
  polls          INTEGER NOT NULL DEFAULT 0,
  last_polled_at INTEGER NOT NULL,
  PRIMARY KEY (media_id, name),
  FOREIGN KEY (media_id, name) REFERENCES renditions (media_id, name) ON DELETE CASCADE
);

-- What Ittybit's probe found about the original (issue 17): renditions are sized from it (never
-- above the source), and GET /api/media/{id} shows it. width/height are the DISPLAYED frame (a
-- phone video stored 1920x1080 with a 90 degree rotation is 1080x1920); rotation is what the file
-- said, for information. `pending` while the probe task runs (task_id set once Ittybit answered);
-- `failed` means the source could not be read, and its media failed with `error`.
-- A table of its own for the same reason as job_polls: this file is applied again to existing
-- databases and SQLite has no ADD COLUMN IF NOT EXISTS, while CREATE TABLE IF NOT EXISTS is
-- idempotent. A row goes with its media (ON DELETE CASCADE where foreign keys are enforced, and
-- DELETE /api/media deletes it explicitly in the same batch).
CREATE TABLE IF NOT EXISTS media_probes (
  media_id     TEXT PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
  task_id      TEXT,
  format       TEXT,
  width        INTEGER,
  height       INTEGER,
  rotation     INTEGER,
  duration     REAL,
  fps          REAL,
  video_codec  TEXT,
  audio_codec  TEXT,
  error        TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

-- The failed probes of a media item's source, counted (processor.probe). A probe can fail for a
-- moment's reason (Ittybit could not fetch the source while the API was restarting), so a failed
-- probe is asked again, as a new task under a new Idempotency-Key, until PROBE_ATTEMPTS probes have
-- failed; only then does the media fail (a corrupt file fails after those few probes). `task_id` is
-- the last failed task counted, so a redelivered message never counts one failure twice. A table of
-- its own for the same reason as job_polls; a row goes with its media (ON DELETE CASCADE, and
-- DELETE /api/media deletes it explicitly in the same batch).
CREATE TABLE IF NOT EXISTS probe_failures (
  media_id    TEXT PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
  failures    INTEGER NOT NULL,
  task_id     TEXT,
  updated_at  INTEGER NOT NULL
);

-- The client's own key/value pairs of a media item (issue 11): a resumable upload's
-- Upload-Metadata beyond filename/filetype, or the metadata its one-time upload URL was made
-- with. A JSON object of strings, bounded by the header (4 KiB) and the URL's body (4 KiB).
CREATE TABLE IF NOT EXISTS media_metadata (
  media_id     TEXT PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
  metadata     TEXT NOT NULL
);

-- tus resumable uploads (issue 11, src/api/resumable_uploads.py). `id` is the upload URL's
-- capability (128 random bits); `media_id` the item it becomes at its last byte (originals/<media_id>).
-- `upload_offset` counts the bytes received: the whole parts already in R2 (`parts`, their ETags in
-- order, each `part_size` bytes) and the stash after them (R2 object tus/<id>/<offset>, less than a
-- part). `length` is NULL while deferred; `max_length` bounds it (TUS_MAX_SIZE or the one-time URL's
-- max_size). One PATCH or DELETE at a time holds `lock_token` until `lock_until` (a lease).
-- status: active, completed (media_id is a media item), failed (refused by its first bytes: `error`),
-- terminated (DELETE), expired (past expires_at; the cron aborted its multipart upload).
CREATE TABLE IF NOT EXISTS uploads (
  id            TEXT PRIMARY KEY,
  media_id      TEXT NOT NULL UNIQUE,
  owner         TEXT NOT NULL,                -- 'key' (the API key) or 'token:<upload_tokens.id>'
  length        INTEGER,
  max_length    INTEGER NOT NULL,
  upload_offset INTEGER NOT NULL DEFAULT 0,
  part_size     INTEGER NOT NULL,
  parts         TEXT NOT NULL DEFAULT '[]',
  multipart_id  TEXT,
  metadata      TEXT NOT NULL DEFAULT '{}',   -- Upload-Metadata as received (JSON), echoed by HEAD
  allowed_kinds TEXT,                         -- JSON list from the one-time URL, NULL for any
  name          TEXT,
  content_type  TEXT,                         -- sniffed from the first bytes
  kind          TEXT,
  status        TEXT NOT NULL CHECK (status IN ('active', 'completed', 'failed', 'terminated', 'expired')),
  error         TEXT,
  lock_token    TEXT,
  lock_until    INTEGER,
  expires_at    INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS uploads_by_status_expires ON uploads (status, expires_at);

-- One-time upload URLs (POST /api/direct-uploads): good for creating one upload (upload_id set
-- when it is used) of at most max_size bytes before expires_at.
CREATE TABLE IF NOT EXISTS upload_tokens (
  id            TEXT PRIMARY KEY,
  max_size      INTEGER NOT NULL,
  allowed_kinds TEXT,
  metadata      TEXT NOT NULL DEFAULT '{}',
  expires_at    INTEGER NOT NULL,
  upload_id     TEXT,
  created_at    INTEGER NOT NULL
);

-- Events (issue 12, src/common/events.py): what happened to a media item, oldest first by `seq`.
-- Public types (media.created, media.ready, media.failed, media.deleted, rendition.ready,
-- rendition.failed) are delivered to webhook endpoints; the others are timeline entries. `id` is
-- derived from what the event announces, so a repeated message or webhook inserts nothing
-- (ON CONFLICT DO NOTHING). No foreign key: media.deleted and the timeline outlive the media row.
-- `data` is JSON (for public events the media item as GET /api/media/{id} showed it then), or ''
-- once moved to R2 past the retention window (common/event_archive.py).
-- `published_at`: NULL while a public event's deliveries are still to be made.
CREATE TABLE IF NOT EXISTS events (
  seq          INTEGER PRIMARY KEY,
  id           TEXT NOT NULL UNIQUE,
  media_id     TEXT NOT NULL,
  type         TEXT NOT NULL,
  data         TEXT NOT NULL DEFAULT '{}',
  created_at   INTEGER NOT NULL,
  published_at INTEGER
);

CREATE INDEX IF NOT EXISTS events_by_media ON events (media_id, seq);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, seq);
CREATE INDEX IF NOT EXISTS events_unpublished ON events (created_at) WHERE published_at IS NULL;
-- Events whose data is still in D1: the retention cron's queue (common/event_archive.py). An event
-- archived leaves this index, so the cron's scan does not grow with the library.
CREATE INDEX IF NOT EXISTS events_to_archive ON events (created_at) WHERE data != '';

-- Where archived events' data went (common/event_archive.py): past EVENT_RETENTION_DAYS an event's
-- `data` moves to R2 (`events/<media id>/<first seq>.json`, one object per media item and run) and
-- the row keeps '' in its place. One row per object; its seq range finds the object of an event.
CREATE TABLE IF NOT EXISTS event_archives (
  media_id   TEXT NOT NULL,
  first_seq  INTEGER NOT NULL,
  last_seq   INTEGER NOT NULL,
  r2_key     TEXT NOT NULL,
  events     INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (media_id, first_seq)
);

-- The customer's webhook endpoints (src/api/webhooks.py). `secret` and `previous_secret` are
-- sealed with WEBHOOK_ENCRYPTION_KEY (AES-GCM, common/secret_box.py), never stored in clear;
-- until `previous_until` both sign (a rotation's overlap). `failing_since`: the first failed
-- attempt since the last success; past WEBHOOK_DISABLE_AFTER_SECONDS the endpoint is disabled.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id              TEXT PRIMARY KEY,
  url             TEXT NOT NULL,
  description     TEXT NOT NULL DEFAULT '',
  event_types     TEXT NOT NULL DEFAULT '["*"]',   -- JSON list of types, or ["*"]
  enabled         INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT,
  secret          TEXT NOT NULL,
  previous_secret TEXT,
  previous_until  INTEGER,
  failing_since   INTEGER,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

-- One delivery per (event, endpoint); its id is derived from both, so a repeated publish makes
-- none twice. status: pending (being tried), delivered (a 2xx), failed (retries exhausted, or the
-- endpoint disabled or deleted). A replay sets it pending again.
CREATE TABLE IF NOT EXISTS event_deliveries (
  id            TEXT PRIMARY KEY,
  event_id      TEXT NOT NULL,
  endpoint_id   TEXT NOT NULL,
  status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_status   INTEGER,
  last_error    TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  delivered_at  INTEGER,
  UNIQUE (event_id, endpoint_id)
);

CREATE INDEX IF NOT EXISTS event_deliveries_by_endpoint ON event_deliveries (endpoint_id, created_at DESC, id DESC);
-- Settled deliveries by age: the retention cron (api/retention.py) prunes them, and their attempts,
-- past EVENT_RETENTION_DAYS.
CREATE INDEX IF NOT EXISTS event_deliveries_settled ON event_deliveries (updated_at) WHERE status != 'pending';

-- Every attempt of a delivery: when, how long, the HTTP status (NULL: no answer), a bounded
-- snippet of the answer or the error.
CREATE TABLE IF NOT EXISTS delivery_attempts (
  delivery_id  TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  duration_ms  INTEGER NOT NULL,
  status_code  INTEGER,
  error        TEXT,
  response     TEXT,
  PRIMARY KEY (delivery_id, attempt)
);

-- Dashboard sessions (src/api/sessions.py): the signed cookie names a row; sign-out revokes it.
-- key_fingerprint names the API key that opened it (never the key), so a key rotated out of
-- API_KEY closes its sessions. Expired rows are removed at the next sign-in.
CREATE TABLE IF NOT EXISTS sessions (
  id              TEXT PRIMARY KEY,
  key_fingerprint TEXT NOT NULL,
  created_at      INTEGER NOT NULL,                -- epoch seconds
  expires_at      INTEGER NOT NULL,                -- epoch seconds
  revoked_at      INTEGER                          -- set by DELETE /api/session
);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
-- An HLS rendition's ladder (processor.hls_copy): what its playlists declared, and how its copy
-- into renditions/<id>/<name>/ was cut into queue messages. One row per (media, rendition, job).
CREATE TABLE IF NOT EXISTS hls_ladders (
  media_id       TEXT NOT NULL,
  rendition      TEXT NOT NULL,
  job_id         TEXT NOT NULL,
  rungs          TEXT NOT NULL,                -- JSON [{"name", "width", "height", "bandwidth", "codecs", "segments", "duration"}]
  segment_count  INTEGER NOT NULL,             -- files copied by the chunks (segments, init segments)
  playlist_bytes INTEGER NOT NULL,             -- the master and variant playlists, stored by the plan step
  duration       REAL,                         -- the longest rung's playlist duration, seconds
  chunks         INTEGER NOT NULL,             -- hls.copy messages planned
  sent_at        INTEGER,                      -- when every hls.copy message was sent
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (media_id, rendition, job_id)
);

-- One row per hls.copy message done: a redelivered message records nothing twice.
CREATE TABLE IF NOT EXISTS hls_copy_chunks (
  media_id   TEXT NOT NULL,
  rendition  TEXT NOT NULL,
  job_id     TEXT NOT NULL,
  chunk      INTEGER NOT NULL,
  files      INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  done_at    INTEGER NOT NULL,
  PRIMARY KEY (media_id, rendition, job_id, chunk)
);

-- Media counts per status for GET /api/stats and the daily report (src/common/media_records.py
-- STATS), kept by triggers in the same transaction as every insert, status change and delete of
-- a media row, whichever worker or statement makes it: the stats read four rows, not the library
-- (docs/scale.md: COUNT(*) over media read every row, a cost that grew with the library).
CREATE TABLE IF NOT EXISTS media_status_counts (
  status TEXT PRIMARY KEY CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  n      INTEGER NOT NULL DEFAULT 0
);

INSERT OR IGNORE INTO media_status_counts (status, n)
VALUES ('pending', 0), ('processing', 0), ('completed', 0), ('failed', 0);

CREATE TRIGGER IF NOT EXISTS media_status_counts_insert AFTER INSERT ON media
BEGIN
  UPDATE media_status_counts SET n = n + 1 WHERE status = NEW.status;
END;

CREATE TRIGGER IF NOT EXISTS media_status_counts_update AFTER UPDATE OF status ON media
WHEN OLD.status IS NOT NEW.status
BEGIN
  UPDATE media_status_counts SET n = n - 1 WHERE status = OLD.status;
  UPDATE media_status_counts SET n = n + 1 WHERE status = NEW.status;
END;

CREATE TRIGGER IF NOT EXISTS media_status_counts_delete AFTER DELETE ON media
BEGIN
  UPDATE media_status_counts SET n = n - 1 WHERE status = OLD.status;
END;

-- Recount (one statement, so atomic): a database that had media before these triggers existed
-- starts right, and a count that drifted (it cannot, short of edits made with the triggers
-- dropped) is mended. Reads every media row once per application of this file.
UPDATE media_status_counts
SET n = (SELECT COUNT(*) FROM media WHERE media.status = media_status_counts.status);
