-- qbit-check: strikes per download, and the last reason qBittorrent logged per torrent.

-- One row per *arr queue download that looks wrong: which class, how many checks in a row.
CREATE TABLE IF NOT EXISTS qbit_strikes (
  item_key      TEXT PRIMARY KEY,          -- <arr instance>:<download id, lower case>
  arr           TEXT NOT NULL,             -- Sonarr/Radarr instance name
  download_id   TEXT NOT NULL,             -- the info hash, lower case
  queue_ids     TEXT NOT NULL,             -- JSON: the queue records of this download
  title         TEXT,
  class         TEXT NOT NULL,
  action        TEXT NOT NULL,
  strikes       INTEGER NOT NULL,
  needed        INTEGER NOT NULL,          -- strikes the rule wants before acting
  evidence      TEXT,                      -- what matched (source and text)
  first_seen_at INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  acted_at      INTEGER,                   -- when its action was taken (never twice)
  planned_at    INTEGER                    -- a dry run journaled its action (planned once, not every run)
);
CREATE INDEX IF NOT EXISTS qbit_strikes_arr ON qbit_strikes (arr);

-- File errors are only in qBittorrent's log, written once: kept here so later checks still see them.
CREATE TABLE IF NOT EXISTS qbit_reasons (
  instance  TEXT NOT NULL,                 -- qBittorrent instance name
  torrent   TEXT NOT NULL,                 -- torrent name as logged
  reason    TEXT NOT NULL,
  at        INTEGER NOT NULL,
  PRIMARY KEY (instance, torrent)
);
