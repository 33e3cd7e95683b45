-- Real-Debrid state: the account's torrents, scan progress, the shared request budget, and the repair
-- queue the scans fill (the repair pipeline advances it).

CREATE TABLE IF NOT EXISTS torrents (
  id                TEXT PRIMARY KEY,          -- RD torrent id
  hash              TEXT NOT NULL,             -- lower-case SHA1 info hash
  filename          TEXT NOT NULL,
  status            TEXT NOT NULL,
  bytes             INTEGER NOT NULL,
  progress          REAL NOT NULL,
  links             INTEGER NOT NULL,
  added_at          INTEGER NOT NULL,
  ended_at          INTEGER,
  first_seen_at     INTEGER NOT NULL,
  last_seen_at      INTEGER NOT NULL,
  status_changed_at INTEGER NOT NULL,
  seen_generation   INTEGER NOT NULL DEFAULT 0,  -- last full-scan generation that listed it
  gone_at           INTEGER                      -- set when a completed full scan no longer lists it
);
CREATE INDEX IF NOT EXISTS torrents_status ON torrents (status);
CREATE INDEX IF NOT EXISTS torrents_added ON torrents (added_at DESC);
-- Deliberately no index on hash or seen_generation: random 40-hex keys made the 100k full-scan upsert
-- ~50% slower (measured), and both are read rarely enough for a table scan (repairs and permanent
-- failures key on hash in their own tables).

-- One row per scan kind. The full scan walks the account one page per run; `cursor_added` and
-- `cursor_ids` locate the walk in the newest-first listing, `offset_hint` is only where to look.
CREATE TABLE IF NOT EXISTS scan_progress (
  scan          TEXT PRIMARY KEY,             -- 'full' | 'quick'
  generation    INTEGER NOT NULL DEFAULT 0,
  status        TEXT NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'pending', 'running', 'completed', 'failed')),
  phase         TEXT,                         -- full scan: 'body' (walk down) | 'head' (catch up on additions)
  offset_hint   INTEGER NOT NULL DEFAULT 0,
  cursor_added  INTEGER,
  cursor_ids    TEXT,
  boundary      INTEGER,                      -- head pass: everything added at or before it was seen
  head_top      INTEGER,                      -- head pass: newest torrent of the current head walk
  total         INTEGER,                      -- last X-Total-Count
  seen          INTEGER NOT NULL DEFAULT 0,
  pages         INTEGER NOT NULL DEFAULT 0,
  started_at    INTEGER,
  updated_at    INTEGER,
  completed_at  INTEGER,
  last_error    TEXT,
  verify        INTEGER NOT NULL DEFAULT 0    -- 1: torrents vanished during the walk; the next generation verifies
);

-- Requests to RD counted in 5-second buckets, shared by every process on this database.
CREATE TABLE IF NOT EXISTS rd_budget (
  bucket  INTEGER PRIMARY KEY,
  count   INTEGER NOT NULL
);
-- A throttle seen by any process pauses all of them.
CREATE TABLE IF NOT EXISTS rd_limiter (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  pause_until       INTEGER NOT NULL DEFAULT 0,
  last_throttle_at  INTEGER
);
INSERT OR IGNORE INTO rd_limiter (id, pause_until) VALUES (1, 0);

-- One row per repair: a persisted state machine (the pipeline adds its steps).
CREATE TABLE IF NOT EXISTS repairs (
  id               INTEGER PRIMARY KEY,
  torrent_id       TEXT,
  hash             TEXT NOT NULL,
  filename         TEXT,
  reason           TEXT NOT NULL,
  priority         INTEGER NOT NULL,
  state            TEXT NOT NULL DEFAULT 'queued',
  attempt          INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  error_class      TEXT,
  last_error       TEXT,
  new_torrent_id   TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  finished_at      INTEGER
);
-- At most one open repair per hash.
CREATE UNIQUE INDEX IF NOT EXISTS repairs_open_hash ON repairs (hash) WHERE state NOT IN ('done', 'failed', 'cancelled');
CREATE INDEX IF NOT EXISTS repairs_due ON repairs (state, next_attempt_at, priority);

-- Hashes that failed for good (infringing, virus, uncached...): never re-queued until the user resets them.
CREATE TABLE IF NOT EXISTS permanent_failures (
  hash        TEXT PRIMARY KEY,
  torrent_id  TEXT,
  filename    TEXT,
  error_type  TEXT NOT NULL,
  detail      TEXT,
  processed   INTEGER NOT NULL DEFAULT 0,
  failed_at   INTEGER NOT NULL,
  reset_at    INTEGER
);
