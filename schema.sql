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
