-- Name keys of the account's torrents for matching broken links to them (shared/library/match.ts):
-- each torrent is keyed once (again if its filename or the key rules change), so a sweep run looks up
-- the few torrents its broken links can match instead of normalising the whole account in memory
-- (100k torrents: ~2 s and ~200 MB on every run that found a broken link, measured).
CREATE TABLE IF NOT EXISTS torrent_keys (
  id          TEXT PRIMARY KEY,   -- torrents.id
  filename    TEXT NOT NULL,      -- the filename the keys were computed from
  normalized  TEXT NOT NULL,      -- normalizeName(filename)
  release     TEXT NOT NULL,      -- the fuzzy level's bucket: title + season/episode
  detail      TEXT NOT NULL,      -- what the fuzzy level compares within a bucket (JSON, see match.ts)
  version     INTEGER NOT NULL    -- KEY_VERSION of the rules that computed them
);
CREATE INDEX IF NOT EXISTS torrent_keys_filename ON torrent_keys (filename);
CREATE INDEX IF NOT EXISTS torrent_keys_normalized ON torrent_keys (normalized);
CREATE INDEX IF NOT EXISTS torrent_keys_release ON torrent_keys (release);
