// What the jobs need from a debrid service. Real-Debrid implements it; another service can be added
// behind the same interface without touching the jobs.

/** One torrent as the account listing shows it. */
export interface DebridTorrent {
  id: string;
  /** Lower-case 40-hex info hash. */
  hash: string;
  filename: string;
  status: string;
  bytes: number;
  progress: number;
  /** Number of download links (one per selected file when finished). */
  links: number;
  addedAt: number;
  endedAt: number | null;
}

/** A file inside a torrent. */
export interface DebridFile {
  id: number;
  /** Path inside the torrent, starting with "/". */
  path: string;
  bytes: number;
  selected: boolean;
}

/** A torrent with its files. */
export interface DebridTorrentInfo extends DebridTorrent {
  originalFilename: string;
  files: DebridFile[];
}

/** One page of the account listing, newest first, with the account's total when the service says it. */
export interface TorrentPage {
  items: DebridTorrent[];
  total: number | null;
}

/** The account behind the token. */
export interface DebridUser {
  username: string;
  type: string;
  premiumSecondsLeft: number;
  expiration: number | null;
}

/** A debrid service as the jobs use it. */
export interface DebridProvider {
  readonly name: string;
  getUser(signal?: AbortSignal): Promise<DebridUser>;
  listTorrents(q: { offset: number; limit: number }, signal?: AbortSignal): Promise<TorrentPage>;
  getTorrent(id: string, signal?: AbortSignal): Promise<DebridTorrentInfo>;
  addMagnet(magnet: string, signal?: AbortSignal): Promise<{ id: string }>;
  /** "selected", or "already" when the service says the selection was already made. */
  selectFiles(id: string, fileIds: number[] | "all", signal?: AbortSignal): Promise<"selected" | "already">;
  deleteTorrent(id: string, signal?: AbortSignal): Promise<void>;
  activeCount(signal?: AbortSignal): Promise<{ active: number; limit: number }>;
}
