// File output for Node only. node:fs is never imported statically: the Worker bundle loads this module
// too, and workerd has no filesystem.
import type * as NodeFs from "node:fs";

/** The synchronous file calls the rotating writer uses (node:fs, or a fake in tests). */
export type FileOps = Pick<typeof NodeFs, "appendFileSync" | "mkdirSync" | "renameSync" | "rmSync" | "statSync">;

/** How a rotating log file is sized, kept and written. */
export interface RotatingFileOptions {
  /** Size past which the file is rotated before the next line; default 10 MB. */
  maxBytes?: number;
  /** Files kept, the live one included (`x.log`, `x.log.1` … `x.log.<keep-1>`); default 5. */
  keep?: number;
  /** File calls; default node:fs, taken from process.getBuiltinModule (or imported, on older Node). */
  fs?: FileOps;
  /** Told when a line could not be written; the line is dropped, later lines are tried again. */
  onError?: (err: unknown) => void;
}

/** Appends one line. Never throws: logging must not break the caller. */
export type LineWriter = (line: string) => void;

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_KEEP = 5;
const encoder = new TextEncoder();

/** Opens a log file that rotates at `maxBytes`, keeping `keep` files (the seed's 10 MB × 5). */
export function createRotatingFile(path: string, opts: RotatingFileOptions = {}): LineWriter {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const keep = Math.max(1, opts.keep ?? DEFAULT_KEEP);
  const onError = opts.onError ?? reportOnce(path);
  let fs: FileOps | null = opts.fs ?? builtinFs();
  // Only on Node < 20.16 (no process.getBuiltinModule): lines wait here until node:fs is imported.
  let queue: string[] | null = null;
  if (!fs) {
    queue = [];
    import("node:fs").then(
      (mod) => {
        fs = mod;
        for (const line of queue ?? []) append(mod, line);
        queue = null;
      },
      (err: unknown) => {
        queue = null;
        onError(err);
      },
    );
  }
  let dirMade = false;

  function rotate(f: FileOps): void {
    if (keep === 1) {
      f.rmSync(path, { force: true });
      return;
    }
    // Oldest first: renaming onto `.<keep-1>` drops the oldest file.
    for (let i = keep - 1; i >= 1; i--) {
      const from = i === 1 ? path : `${path}.${i - 1}`;
      if (f.statSync(from, { throwIfNoEntry: false })) f.renameSync(from, `${path}.${i}`);
    }
  }

  function append(f: FileOps, line: string): void {
    const data = line.endsWith("\n") ? line : `${line}\n`;
    try {
      if (!dirMade) {
        const dir = parentDir(path);
        if (dir) f.mkdirSync(dir, { recursive: true });
        dirMade = true;
      }
      // Stat every time rather than count: another process (the CLI) may append to or rotate the same file.
      const size = f.statSync(path, { throwIfNoEntry: false })?.size ?? 0;
      if (size > 0 && size + encoder.encode(data).length > maxBytes) {
        // A failed rotation only lets the file grow: the line is still written.
        try {
          rotate(f);
        } catch (err) {
          onError(err);
        }
      }
      f.appendFileSync(path, data);
    } catch (err) {
      dirMade = false;
      onError(err);
    }
  }

  return (line) => {
    if (fs) append(fs, line);
    else queue?.push(line);
  };
}

/** Appends one line to a file, creating its directory; Node only (throws where there is no node:fs). */
export async function appendLine(path: string, line: string): Promise<void> {
  const { appendFile, mkdir } = await import("node:fs/promises");
  const dir = parentDir(path);
  if (dir) await mkdir(dir, { recursive: true });
  await appendFile(path, line.endsWith("\n") ? line : `${line}\n`);
}

function builtinFs(): FileOps | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return (proc?.getBuiltinModule?.("node:fs") as FileOps | undefined) ?? null;
}

function parentDir(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut > 0 ? path.slice(0, cut) : "";
}

// The same failure repeats on every line (full disk, no permission): say it once, not once per line.
function reportOnce(path: string): (err: unknown) => void {
  let last = "";
  return (err) => {
    const msg = err instanceof Error ? err.message : String(err);
    if (msg === last) return;
    last = msg;
    console.error(`rdtm: cannot write log file ${path}: ${msg}`);
  };
}
