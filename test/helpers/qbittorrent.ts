import { createHash, pbkdf2Sync, randomBytes } from "node:crypto";
import { chownSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { freePort, type Proc, spawnProc, tempDir } from "./processes.ts";

/** A value bencode can encode; strings are UTF-8, Uint8Array raw bytes. */
export type Bencodable = number | string | Uint8Array | Bencodable[] | { [key: string]: Bencodable };

/** Bencodes a value (BEP 3): dictionary keys sorted by their raw bytes, integers only. */
export function bencode(value: Bencodable): Buffer {
  const parts: Buffer[] = [];
  const put = (x: Bencodable): void => {
    if (typeof x === "number") {
      if (!Number.isInteger(x)) throw new Error(`bencode: ${x} is not an integer`);
      parts.push(Buffer.from(`i${x}e`));
    } else if (typeof x === "string" || x instanceof Uint8Array) {
      const bytes = typeof x === "string" ? Buffer.from(x, "utf8") : Buffer.from(x);
      parts.push(Buffer.from(`${bytes.length}:`), bytes);
    } else if (Array.isArray(x)) {
      parts.push(Buffer.from("l"));
      for (const item of x) put(item);
      parts.push(Buffer.from("e"));
    } else {
      parts.push(Buffer.from("d"));
      const keys = Object.keys(x).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const key of keys) {
        put(key);
        put(x[key] as Bencodable);
      }
      parts.push(Buffer.from("e"));
    }
  };
  put(value);
  return Buffer.concat(parts);
}

/** A built .torrent: its bytes, the v1 info hash (lower-case hex) and the payload files (paths relative to the save path). */
export interface TorrentFile {
  torrent: Buffer;
  infoHash: string;
  name: string;
  files: { path: string; data: Buffer }[];
}

/**
 * A v1 .torrent announcing to `announce`: single-file `name` holding `data` (64 KiB random unless given), or, with
 * `files`, a folder `name` holding them (a zero-length file among them makes libtorrent create it on add).
 */
export function makeTorrentFile(opts: {
  name: string;
  announce: string;
  data?: Buffer;
  files?: { path: string; data: Buffer }[];
  private?: boolean;
  pieceLength?: number;
}): TorrentFile {
  const pieceLength = opts.pieceLength ?? 16 * 1024;
  const files = opts.files ?? [{ path: opts.name, data: opts.data ?? randomBytes(64 * 1024) }];
  const data = Buffer.concat(files.map((f) => f.data));
  const hashes: Buffer[] = [];
  for (let at = 0; at < data.length; at += pieceLength) {
    hashes.push(
      createHash("sha1")
        .update(data.subarray(at, at + pieceLength))
        .digest(),
    );
  }
  const info: Record<string, Bencodable> = {
    name: opts.name,
    "piece length": pieceLength,
    pieces: Buffer.concat(hashes),
  };
  if (opts.files) info.files = opts.files.map((f) => ({ length: f.data.length, path: f.path.split("/") }));
  else info.length = data.length;
  if (opts.private) info.private = 1;
  const infoHash = createHash("sha1").update(bencode(info)).digest("hex");
  const torrent = bencode({ announce: opts.announce, "created by": "rdtm tests", info });
  const root = opts.files ? `${opts.name}/` : "";
  return { torrent, infoHash, name: opts.name, files: files.map((f) => ({ path: root + f.path, data: f.data })) };
}

/** Writes a torrent's payload below `saveDir`, as a finished download would have left it, owned by `uid`. */
export function writePayload(t: TorrentFile, saveDir: string, uid = 0): void {
  for (const f of t.files) {
    const path = join(saveDir, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.data);
    chownSync(path, uid, uid);
  }
}

/** A loopback HTTP tracker: an empty peer list by default, a `failure reason` for hashes told to fail. */
export interface LoopbackTracker {
  /** The announce URL; libtorrent's SSRF mitigation only accepts a localhost tracker whose path is /announce. */
  announceUrl: string;
  announces: { infoHash: string; event: string }[];
  fail(infoHash: string, reason: string): void;
  close(): Promise<void>;
}

/** Starts a tracker on 127.0.0.1 that answers each info hash as configured with `fail`. */
export async function startTracker(): Promise<LoopbackTracker> {
  const failures = new Map<string, string>();
  const announces: LoopbackTracker["announces"] = [];
  const server = createServer((req, res) => {
    const query = (req.url ?? "").split("?")[1] ?? "";
    const infoHash = rawParam(query, "info_hash").toString("hex");
    announces.push({ infoHash, event: rawParam(query, "event").toString("latin1") });
    const reason = failures.get(infoHash);
    const body: Bencodable =
      reason === undefined ? { interval: 1800, peers: Buffer.alloc(0) } : { "failure reason": reason };
    res.writeHead(200, { "content-type": "text/plain" }).end(bencode(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    announceUrl: `http://127.0.0.1:${port}/announce`,
    announces,
    fail: (infoHash, reason) => failures.set(infoHash.toLowerCase(), reason),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A query parameter as raw bytes: info_hash is binary, which URLSearchParams would mangle as UTF-8. */
function rawParam(query: string, name: string): Buffer {
  const pair = query.split("&").find((p) => p.startsWith(`${name}=`));
  const value = pair?.slice(name.length + 1) ?? "";
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === "%") {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(value.charCodeAt(i));
  }
  return Buffer.from(bytes);
}

/** The `WebUI\Password_PBKDF2` value qBittorrent ≥ 4.2 checks: PBKDF2-HMAC-SHA512, 100,000 rounds, base64 parts. */
export function qbitPasswordHash(password: string, salt: Buffer = randomBytes(16)): string {
  const key = pbkdf2Sync(password, salt, 100_000, 64, "sha512");
  return `@ByteArray(${salt.toString("base64")}:${key.toString("base64")})`;
}

/** What `torrents/add` takes besides the file (qBit 4.5 names). */
export interface AddTorrentOptions {
  savepath: string;
  skipChecking?: boolean;
  paused?: boolean;
  category?: string;
  tags?: string[];
}

/** A running qbittorrent-nox on loopback with its own profile. */
export interface RealQbit {
  url: string;
  port: number;
  username: string;
  password: string;
  /** Root of everything this instance uses; owned by nobody when it runs as nobody. */
  dir: string;
  proc: Proc;
  /** An authenticated WebAPI call (the helper's own session, not the client under test); throws unless 2xx. */
  request(path: string, body?: Record<string, string> | FormData): Promise<string>;
  /** POST /api/v2/torrents/add (multipart) and waits until the torrent is listed; returns its hash. */
  addTorrentFile(t: TorrentFile, opts: AddTorrentOptions): Promise<string>;
  /** Stops (resume data saved) and starts again on the same port and profile. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const NOBODY = 65534;
// qBit shuts down cleanly in a few seconds; past this the process is killed whatever the test does.
const MAX_LIFETIME_S = 150;

/**
 * Starts qbittorrent-nox 4.5 with a pre-written qBittorrent.conf (legal notice accepted, WebUI on 127.0.0.1 with
 * the given login, DHT/PeX/LSD/UPnP and geolocation lookups off, queueing off so every torrent is active at once).
 * `asNobody` runs it as uid 65534, so root-owned folders are really unwritable to it.
 */
export async function startQbittorrent(
  opts: { asNobody?: boolean; username?: string; password?: string } = {},
): Promise<RealQbit> {
  const username = opts.username ?? "admin";
  const password = opts.password ?? "rdtm-test-pass";
  const dir = tempDir("rdtm-qbit-");
  const profile = join(dir, "profile");
  const configDir = join(profile, "qBittorrent", "config");
  mkdirSync(configDir, { recursive: true });
  const [port, peerPort] = [await freePort(), await freePort()];
  writeFileSync(join(configDir, "qBittorrent.conf"), config({ port, peerPort, username, password, dir }));
  if (opts.asNobody) chownTree(dir, [profile, join(profile, "qBittorrent"), configDir]);
  const url = `http://127.0.0.1:${port}`;

  const launch = () => {
    const drop = opts.asNobody ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"] : [];
    // Outer setpriv: TERM when this test process dies. timeout: a hard lifetime, and it forwards that TERM once
    // (--foreground: only to qBit, whose second TERM would skip saving resume data).
    const args = ["--pdeathsig=TERM", "timeout", "--foreground", "--kill-after=5", String(MAX_LIFETIME_S)];
    return spawnProc("setpriv", [...args, ...drop, "qbittorrent-nox", `--profile=${profile}`, `--webui-port=${port}`], {
      cwd: dir,
      env: { HOME: dir, LANG: "C.UTF-8" },
      group: true,
    });
  };

  let proc = launch();
  let cookie: string | undefined;
  const login = async () => {
    const res = await fetch(`${url}/api/v2/auth/login`, {
      method: "POST",
      headers: { Referer: url },
      body: new URLSearchParams({ username, password }),
    });
    const sid = res.headers.getSetCookie().find((c) => /^(SID|QBT_SID_\d+)=/.test(c));
    if ((await res.text()) !== "Ok." || !sid) throw new Error(`qBittorrent login failed (HTTP ${res.status})`);
    cookie = sid.split(";")[0];
  };
  const waitReady = async () => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await login();
        return;
      } catch (err) {
        if (proc.child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`qbittorrent-nox did not start: ${String(err)}\n${proc.output()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const stop = async () => {
    // TERM to `timeout` alone, which hands it to qBit once; the group kill is the watchdog's fallback.
    if (proc.child.pid && proc.child.exitCode === null) process.kill(proc.child.pid, "SIGTERM");
    await proc.exited;
  };
  await waitReady();

  const qbit: RealQbit = {
    url,
    port,
    username,
    password,
    dir,
    get proc() {
      return proc;
    },
    async request(path, body) {
      if (!cookie) await login();
      const init: RequestInit = { headers: { Cookie: cookie ?? "" } };
      if (body) {
        init.method = "POST";
        init.body = body instanceof FormData ? body : new URLSearchParams(body);
      }
      const res = await fetch(`${url}${path}`, init);
      const text = await res.text();
      if (!res.ok) throw new Error(`qBittorrent ${path}: HTTP ${res.status} ${text}`);
      return text;
    },
    async addTorrentFile(t, o) {
      const form = new FormData();
      form.append(
        "torrents",
        new Blob([new Uint8Array(t.torrent)], { type: "application/x-bittorrent" }),
        `${t.name}.torrent`,
      );
      form.append("savepath", o.savepath);
      form.append("skip_checking", String(o.skipChecking ?? false));
      form.append("paused", String(o.paused ?? false));
      if (o.category !== undefined) form.append("category", o.category);
      if (o.tags) form.append("tags", o.tags.join(","));
      const answer = await qbit.request("/api/v2/torrents/add", form);
      if (answer !== "Ok.") throw new Error(`qBittorrent refused ${t.name}: ${answer}`);
      const deadline = Date.now() + 10_000;
      while (!(await qbit.request(`/api/v2/torrents/info?hashes=${t.infoHash}`)).includes(t.infoHash)) {
        if (Date.now() > deadline) throw new Error(`${t.name} was accepted but never listed`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return t.infoHash;
    },
    async restart() {
      await stop();
      cookie = undefined;
      proc = launch();
      await waitReady();
    },
    stop,
  };
  return qbit;
}

/** Gives the instance's folders to nobody; the temp root itself must be enterable. */
function chownTree(root: string, paths: string[]): void {
  for (const p of [root, ...paths]) chownSync(p, NOBODY, NOBODY);
}

function config(o: { port: number; peerPort: number; username: string; password: string; dir: string }): string {
  return `[LegalNotice]
Accepted=true

[BitTorrent]
Session\\DHTEnabled=false
Session\\PeXEnabled=false
Session\\LSDEnabled=false
Session\\Interface=lo
Session\\InterfaceName=lo
Session\\Port=${o.peerPort}
Session\\QueueingSystemEnabled=false
Session\\DefaultSavePath=${join(o.dir, "downloads")}

[Preferences]
Connection\\UPnP=false
Connection\\ResolvePeerCountries=false
General\\Locale=en
WebUI\\Address=127.0.0.1
WebUI\\Port=${o.port}
WebUI\\UseUPnP=false
WebUI\\LocalHostAuth=true
WebUI\\Username=${o.username}
WebUI\\Password_PBKDF2="${qbitPasswordHash(o.password)}"
`;
}
