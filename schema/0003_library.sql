-- The symlink library: broken links found by the sweep, and the sweep's own progress.

CREATE TABLE IF NOT EXISTS broken_links (
  path                TEXT PRIMARY KEY,       -- the symlink, absolute
  root                TEXT NOT NULL,          -- the LIBRARY_ROOTS entry it was found under
  target              TEXT NOT NULL,          -- where it points, resolved against its folder
  reason              TEXT NOT NULL,          -- missing_torrent | missing_file | missing_target | loop | unreadable
  torrent_name        TEXT,                   -- parsed from the target when it lies under the mount
  matched_torrent_id  TEXT,                   -- the torrents row it maps to, if any
  match_kind          TEXT,                   -- exact | original | normalized | fuzzy
  state               TEXT NOT NULL DEFAULT 'broken' CHECK (state IN ('broken', 'resolved', 'removed')),
  generation          INTEGER NOT NULL,       -- last sweep generation that found it broken
  first_seen_at       INTEGER NOT NULL,
  last_seen_at        INTEGER NOT NULL,
  resolved_at         INTEGER
);
CREATE INDEX IF NOT EXISTS broken_links_state ON broken_links (state, generation);
CREATE INDEX IF NOT EXISTS broken_links_torrent ON broken_links (matched_torrent_id);

-- One row: where the sweep stands. The walk is depth-first in sorted order, so `cursor` (the last
-- entry handled, relative to its root) is enough to resume it in a later run.
CREATE TABLE IF NOT EXISTS sweep_state (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  generation      INTEGER NOT NULL DEFAULT 0,
  status          TEXT NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'pending', 'running', 'completed')),
  root_index      INTEGER NOT NULL DEFAULT 0,
  cursor          TEXT,
  entries         INTEGER NOT NULL DEFAULT 0,
  links           INTEGER NOT NULL DEFAULT 0,
  broken          INTEGER NOT NULL DEFAULT 0,
  matched         INTEGER NOT NULL DEFAULT 0,
  skipped         INTEGER NOT NULL DEFAULT 0,
  started_at      INTEGER,
  updated_at      INTEGER,
  completed_at    INTEGER,
  guard_reason    TEXT,                        -- set while the mount guard holds the sweep
  guard_at        INTEGER
);
INSERT OR IGNORE INTO sweep_state (id) VALUES (1);
