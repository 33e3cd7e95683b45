-- The repair pipeline: what each repair row needs to resume any step after a crash, and the journal's
-- link from an action to its repair.

-- The terminal result the remaining steps lead to (NULL: done; else the failure class), set when a
-- failure still needs clean-up (discard the new torrent, delete the old one, remove links) first.
ALTER TABLE repairs ADD COLUMN outcome TEXT;
-- Paths (inside the torrent) the old torrent had selected, JSON array; the new one selects the same.
ALTER TABLE repairs ADD COLUMN old_files TEXT;
-- File ids of the new torrent to select, JSON array, computed from old_files once its files are known.
ALTER TABLE repairs ADD COLUMN select_ids TEXT;
-- Set while a mutating call may have reached the service: a resumed run first checks what happened.
ALTER TABLE repairs ADD COLUMN step_started_at INTEGER;
-- The new torrent must be downloaded by then, or it is uncached: removed, and the old one kept.
ALTER TABLE repairs ADD COLUMN deadline_at INTEGER;
-- Transient failures (RD down, timeouts) in a row; they back off and, past a cap, count as an attempt.
ALTER TABLE repairs ADD COLUMN transient INTEGER NOT NULL DEFAULT 0;
-- Ids of replacement torrents this repair added and removed again (never adopted after a crash).
ALTER TABLE repairs ADD COLUMN discarded TEXT;
-- Sonarr/Radarr commands the infringing flow still has to send, JSON (fixed before the first is sent).
ALTER TABLE repairs ADD COLUMN arr_plan TEXT;
-- Last time a dry run journaled this repair's plan (dry runs re-plan a repair at most once a day).
ALTER TABLE repairs ADD COLUMN planned_at INTEGER;

ALTER TABLE actions ADD COLUMN repair_id INTEGER;
CREATE INDEX IF NOT EXISTS actions_repair ON actions (repair_id) WHERE repair_id IS NOT NULL;
ALTER TABLE attempts ADD COLUMN run_id TEXT;
CREATE INDEX IF NOT EXISTS attempts_repair ON attempts (repair_id) WHERE repair_id IS NOT NULL;
