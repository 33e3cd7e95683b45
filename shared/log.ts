import { type ConsolaInstance, type ConsolaReporter, createConsola, type LogObject } from "consola/core";
import { createRotatingFile } from "./log-file.ts";

/** A tagged logger; jobs get `log.withTag(jobName)`. */
export type Logger = ConsolaInstance;

const LEVELS = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 } as const;
const SECRET_KEY = /token|password|passwd|secret|api[-_]?key|authorization|cookie/i;

export interface LoggerOptions {
  level: keyof typeof LEVELS;
  format: "json" | "pretty";
  /** Secret values to mask wherever they appear. */
  secrets?: readonly (string | undefined)[];
  /** Where lines go; defaults to console.log (works in Node and workerd). */
  write?: (line: string) => void;
  /** Also append every line, as JSON and masked the same way, to this file (Node only; 10 MB × 5 files). */
  file?: string | undefined;
}

/** Creates the process logger: JSON lines for machines, short readable lines for people. */
export function createLogger(opts: LoggerOptions): Logger {
  // Read at each line: the caller may add secrets it learns later (keys read from config.xml).
  const list = opts.secrets ?? [];
  const secretsNow = () => list.filter((s): s is string => typeof s === "string" && s.length >= 4);
  const write = opts.write ?? ((line: string) => console.log(line));
  const toFile = opts.file ? createRotatingFile(opts.file) : null;
  const reporter: ConsolaReporter = {
    log(entry) {
      const record = toRecord(entry, secretsNow());
      const json = JSON.stringify(record);
      write(opts.format === "json" ? json : pretty(record));
      toFile?.(json);
    },
  };
  return createConsola({ level: LEVELS[opts.level], reporters: [reporter] });
}

interface LogRecord {
  time: string;
  level: string;
  tag?: string;
  msg: string;
  [key: string]: unknown;
}

function toRecord(entry: LogObject, secrets: string[]): LogRecord {
  const args = [...entry.args];
  const first = args.shift();
  const err = [first, ...args].find((a): a is Error => a instanceof Error);
  const data = args.find((a) => a !== null && typeof a === "object" && !(a instanceof Error));
  const msg = first instanceof Error ? first.message : String(first ?? "");
  const record: LogRecord = { time: entry.date.toISOString(), level: entry.type, msg };
  if (entry.tag) record.tag = entry.tag;
  if (data) Object.assign(record, redactObject(data as Record<string, unknown>));
  if (err) record.err = { name: err.name, message: err.message, stack: err.stack };
  return maskSecrets(record, secrets);
}

/** Replaces values under secret-looking keys with "***", recursively. */
export function redactObject(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(obj)) {
    // Only text can be a secret: a count under such a key (qbit-check's `authorization` class) stays readable.
    if (SECRET_KEY.test(k) && typeof val === "string" && val !== "") out[k] = "***";
    else if (val && typeof val === "object" && !Array.isArray(val) && depth < 4)
      out[k] = redactObject(val as Record<string, unknown>, depth + 1);
    else out[k] = val;
  }
  return out;
}

function maskSecrets<T>(record: T, secrets: string[]): T {
  if (secrets.length === 0) return record;
  let text = JSON.stringify(record);
  for (const s of secrets) text = text.split(JSON.stringify(s).slice(1, -1)).join("***");
  return JSON.parse(text) as T;
}

function pretty(r: LogRecord): string {
  const { time, level, tag, msg, err, ...rest } = r;
  const fields = Object.entries(rest)
    .map(([k, val]) => `${k}=${typeof val === "string" ? val : JSON.stringify(val)}`)
    .join(" ");
  const e = err as { stack?: string; message?: string } | undefined;
  return [
    time.slice(11, 19),
    level.toUpperCase().padEnd(5),
    tag ? `[${tag}]` : "",
    msg,
    fields,
    e ? `\n${e.stack ?? e.message}` : "",
  ]
    .filter(Boolean)
    .join(" ");
}
