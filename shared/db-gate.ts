import type { Client, Transaction, TransactionMode } from "@libsql/client";

const LOCK_WAIT_MS = 60_000;

/** FIFO async mutex; `lock` resolves to the release function, or fails after `waitMs`. */
export class Mutex {
  constructor(private readonly waitMs = LOCK_WAIT_MS) {}

  #tail: Promise<void> = Promise.resolve();

  lock(what: string): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const prev = this.#tail;
    this.#tail = prev.then(() => held);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // This waiter gives up, but its place in the queue must still pass the lock on when its turn
        // comes, or every later caller would wait forever behind it.
        void prev.then(release);
        reject(
          new Error(`waited over ${this.waitMs / 1000} s for the database (${what}); is a transaction left open?`),
        );
      }, this.waitMs);
    });
    return Promise.race([prev.then(() => release), timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * Serialises this process's use of an embedded (file) database. The native binding runs every query
 * synchronously, so nothing is lost by queueing calls; what matters is that an interactive
 * transaction holds the gate until it ends. Without it, a second write from this process would
 * meet SQLITE_BUSY (or block the event loop in SQLite's busy handler) while the transaction that
 * holds the lock can never get the event loop back to commit. Other processes are waited for by
 * SQLite's busy timeout.
 */
export function gateFileClient(client: Client): Client {
  const gate = new Mutex();
  const once =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const release = await gate.lock("query");
      try {
        return await fn(...args);
      } finally {
        release();
      }
    };

  const execute = once(client.execute.bind(client));
  const batch = once(client.batch.bind(client));
  const executeMultiple = once(client.executeMultiple.bind(client));
  const migrate = once(client.migrate.bind(client));

  async function transaction(mode?: TransactionMode): Promise<Transaction> {
    const release = await gate.lock("transaction");
    let tx: Transaction;
    try {
      tx = await client.transaction(mode);
    } catch (err) {
      release();
      throw err;
    }
    let released = false;
    const end = () => {
      if (!released) {
        released = true;
        release();
      }
    };
    return new Proxy(tx, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        const fn = value as (...args: unknown[]) => unknown;
        if (prop === "commit" || prop === "rollback") {
          return async (...args: unknown[]) => {
            try {
              return await fn.apply(target, args);
            } finally {
              end();
            }
          };
        }
        if (prop === "close") {
          return (...args: unknown[]) => {
            try {
              return fn.apply(target, args);
            } finally {
              end();
            }
          };
        }
        return fn.bind(target);
      },
    });
  }

  return new Proxy(client, {
    get(target, prop) {
      switch (prop) {
        case "execute":
          return execute;
        case "batch":
          return batch;
        case "executeMultiple":
          return executeMultiple;
        case "migrate":
          return migrate;
        case "transaction":
          return transaction;
        default: {
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        }
      }
    },
  });
}
