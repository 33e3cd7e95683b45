// Migrations are bundled as text so the Worker (no filesystem) applies exactly the same files.
// A test checks that every schema/*.sql file is listed here, in order.
import init from "./0001_init.sql";
import realDebrid from "./0002_real_debrid.sql";
import library from "./0003_library.sql";
import repairPipeline from "./0004_repair_pipeline.sql";
import qbit from "./0005_qbit.sql";
import torrentKeys from "./0006_torrent_keys.sql";
import torrentKeysQueue from "./0007_torrent_keys_queue.sql";
import torrentKeysFuzzyIndex from "./0008_torrent_keys_fuzzy_index.sql";

/** The ordered migrations: version, file name and SQL. */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 1, name: "0001_init.sql", sql: init },
  { version: 2, name: "0002_real_debrid.sql", sql: realDebrid },
  { version: 3, name: "0003_library.sql", sql: library },
  { version: 4, name: "0004_repair_pipeline.sql", sql: repairPipeline },
  { version: 5, name: "0005_qbit.sql", sql: qbit },
  { version: 6, name: "0006_torrent_keys.sql", sql: torrentKeys },
  { version: 7, name: "0007_torrent_keys_queue.sql", sql: torrentKeysQueue },
  { version: 8, name: "0008_torrent_keys_fuzzy_index.sql", sql: torrentKeysFuzzyIndex },
];
