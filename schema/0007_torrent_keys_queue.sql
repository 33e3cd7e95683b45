-- torrent_keys kept exact by the database itself: a row there is always the keys of a listed torrent's
-- current filename, so a sweep run neither scans the account for stale keys (~70 ms at 100k torrents on
-- every run, measured) nor joins its lookups back to torrents.
-- - New torrents are found past a watermark on torrents' rowid (torrent_keys_state.keyed_rowid): no
--   trigger on insert, which cost the first full scan of an account ~10% (measured).
-- - Triggers drop a torrent's keys the moment it is renamed, goes or is deleted, and queue it
--   (torrent_keys_queue) when renamed or listed again. They fire on a real change only.
-- keyTorrents (shared/library/record.ts) keys what lies past the watermark, then what is queued.
-- (a rowid table, as every table here: the backup of an sqld database copies tables in rowid order)
CREATE TABLE IF NOT EXISTS torrent_keys_queue (
  id TEXT PRIMARY KEY   -- torrents.id, to be keyed again
);

CREATE TABLE IF NOT EXISTS torrent_keys_state (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  keyed_rowid  INTEGER NOT NULL,  -- every torrent with a rowid up to this one was keyed or queued
  version      INTEGER NOT NULL,  -- KEY_VERSION of the stored keys; another one empties the table to key again
  deletes      INTEGER NOT NULL DEFAULT 0  -- torrents deleted: a pass that saw one meanwhile keeps the watermark
);

-- What the strict lookups read, in the indexes themselves: no visit of the table's rows.
DROP INDEX IF EXISTS torrent_keys_filename;
CREATE INDEX IF NOT EXISTS torrent_keys_filename_cover ON torrent_keys (filename, id);
DROP INDEX IF EXISTS torrent_keys_normalized;
CREATE INDEX IF NOT EXISTS torrent_keys_normalized_cover ON torrent_keys (normalized, id, filename);

CREATE TRIGGER IF NOT EXISTS torrents_keys_rename AFTER UPDATE OF filename ON torrents
WHEN NEW.filename IS NOT OLD.filename
BEGIN
  DELETE FROM torrent_keys WHERE id = NEW.id;
  INSERT OR IGNORE INTO torrent_keys_queue (id) SELECT NEW.id WHERE NEW.gone_at IS NULL;
END;

CREATE TRIGGER IF NOT EXISTS torrents_keys_gone AFTER UPDATE OF gone_at ON torrents
WHEN NEW.gone_at IS NOT NULL AND OLD.gone_at IS NULL
BEGIN
  DELETE FROM torrent_keys WHERE id = NEW.id;
  DELETE FROM torrent_keys_queue WHERE id = NEW.id;
END;

CREATE TRIGGER IF NOT EXISTS torrents_keys_back AFTER UPDATE OF gone_at ON torrents
WHEN NEW.gone_at IS NULL AND OLD.gone_at IS NOT NULL
BEGIN
  INSERT OR IGNORE INTO torrent_keys_queue (id) VALUES (NEW.id);
END;

-- SQLite gives a new row the largest rowid + 1, so deleting the last rows frees their rowids for reuse:
-- the watermark goes back to the largest rowid left, below any rowid a new torrent can get, and a pass
-- running meanwhile (which may have read a rowid now given to another torrent) does not move it.
CREATE TRIGGER IF NOT EXISTS torrents_keys_delete AFTER DELETE ON torrents
BEGIN
  DELETE FROM torrent_keys WHERE id = OLD.id;
  DELETE FROM torrent_keys_queue WHERE id = OLD.id;
  UPDATE torrent_keys_state
  SET keyed_rowid = min(keyed_rowid, (SELECT coalesce(max(rowid), 0) FROM torrents)), deletes = deletes + 1
  WHERE id = 1;
END;

-- The fuzzy level's detail is stored as JSONB: a run's buckets came back in 19 ms instead of 28 (7,300 rows,
-- measured), and it takes two thirds of the space. (Readers use json(detail), which takes either form.)
UPDATE torrent_keys SET detail = jsonb(detail) WHERE typeof(detail) = 'text';

-- A database keyed before this migration: drop keys that no longer hold; the watermark starts at 0, so the
-- first pass keys every listed torrent still without keys (and keeps the rest as they are).
DELETE FROM torrent_keys WHERE NOT EXISTS (
  SELECT 1 FROM torrents t WHERE t.id = torrent_keys.id AND t.gone_at IS NULL AND t.filename = torrent_keys.filename);
INSERT OR IGNORE INTO torrent_keys_state (id, keyed_rowid, version)
  VALUES (1, 0, coalesce((SELECT min(version) FROM torrent_keys), 0));
