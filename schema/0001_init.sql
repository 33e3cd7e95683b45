-- Platform tables. Every timestamp is integer milliseconds since the Unix epoch, UTC.

CREATE TABLE IF NOT EXISTS job_runs (
  id          TEXT PRIMARY KEY,
  job         TEXT NOT NULL,
  trigger     TEXT NOT NULL CHECK (trigger IN ('cron', 'http', 'worker', 'cli', 'test')),
  tick_at     INTEGER,
  dry_run     INTEGER NOT NULL,
  holder      TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'aborted', 'interrupted')),
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER,
  summary     TEXT,
  progress    TEXT,
  error       TEXT
);
CREATE INDEX IF NOT EXISTS job_runs_job_started ON job_runs (job, started_at DESC);
CREATE INDEX IF NOT EXISTS job_runs_started ON job_runs (started_at);

-- One row per job: who runs it now (holder/expires_at) and the last schedule tick taken,
-- so several processes sharing one database run each job once per tick.
CREATE TABLE IF NOT EXISTS leases (
  job         TEXT PRIMARY KEY,
  holder      TEXT,
  run_id      TEXT,
  acquired_at INTEGER,
  expires_at  INTEGER NOT NULL DEFAULT 0,
  last_tick   INTEGER NOT NULL DEFAULT 0
);

-- Time series for the dashboard and /metrics (the seeds' metrics table).
CREATE TABLE IF NOT EXISTS metrics (
  id      INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  type    TEXT NOT NULL,
  name    TEXT NOT NULL,
  value   REAL NOT NULL,
  tags    TEXT
);
CREATE INDEX IF NOT EXISTS metrics_at ON metrics (at);
CREATE INDEX IF NOT EXISTS metrics_type_name_at ON metrics (type, name, at);

-- Every call made to a service on behalf of a repair (filled by the repair pipeline).
CREATE TABLE IF NOT EXISTS attempts (
  id          INTEGER PRIMARY KEY,
  repair_id   INTEGER,
  at          INTEGER NOT NULL,
  endpoint    TEXT NOT NULL,
  status      INTEGER,
  error_code  INTEGER,
  latency_ms  INTEGER,
  message     TEXT
);
CREATE INDEX IF NOT EXISTS attempts_at ON attempts (at);

-- Journal of every destructive action: written before it is done, then marked done/failed;
-- a dry run writes it as planned.
CREATE TABLE IF NOT EXISTS actions (
  id          INTEGER PRIMARY KEY,
  run_id      TEXT,
  job         TEXT NOT NULL,
  kind        TEXT NOT NULL,
  target      TEXT NOT NULL,
  detail      TEXT,
  state       TEXT NOT NULL CHECK (state IN ('planned', 'pending', 'done', 'failed')),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  error       TEXT
);
CREATE INDEX IF NOT EXISTS actions_created ON actions (created_at);

-- Small key/value state for jobs (cursors, last results) that has no table of its own.
CREATE TABLE IF NOT EXISTS job_state (
  key         TEXT PRIMARY KEY,
  value       TEXT NOT NULL,
  updated_at  INTEGER NOT NULL
);
