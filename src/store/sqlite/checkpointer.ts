import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints off the request path, for long-running processes (server, agent, capture).
 *
 * With SQLite's automatic checkpoints, the commit that pushes the WAL over `wal_autocheckpoint` pages copies the
 * WAL back into the database file and syncs it, inside that commit, on the event loop: one API request in a few
 * hundred waits tens of milliseconds for it (the p99 of `POST /backup`). Long-running processes therefore turn
 * automatic checkpoints off on their own connection and run PASSIVE checkpoints from a worker thread with a
 * connection of its own. PASSIVE never waits for readers or writers: it copies what it can and returns, so it
 * cannot stall the process's transactions, and the WAL stays bounded because every run resets it once no reader
 * holds an old snapshot (https://www.sqlite.org/wal.html#ckpt, https://www.sqlite.org/c3ref/wal_checkpoint_v2.html).
 *
 * The worker is plain JavaScript evaluated from a string so that it runs the same from the TypeScript sources
 * (tests) and from the build; it loads better-sqlite3 by the path this module resolves.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driverPath);
const db = new Database(workerData.path, { timeout: 0 });
db.pragma('busy_timeout = 0');
let stopped = false;
const run = (id) => {
  if (stopped) return;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    // SQLITE_BUSY: another checkpoint is running (another process); the next tick tries again.
    if (!String(err && err.code).startsWith('SQLITE_BUSY')) parentPort.postMessage({ error: String(err && err.message) });
  }
  if (id !== undefined) parentPort.postMessage({ ran: id });
};
const timer = setInterval(() => run(undefined), workerData.intervalMs);
parentPort.on('message', (m) => {
  if (typeof m === 'number') run(m);
  if (m === 'stop') {
    stopped = true;
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});
`;

export interface WalCheckpointer {
  /** Runs one checkpoint now and resolves when it is done (tests). */
  runOnce(): Promise<void>;
  /** Stops the worker and closes its connection; idempotent. */
  stop(): Promise<void>;
}

export interface WalCheckpointerOptions {
  readonly path: string;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
  /** A checkpoint failed for a reason other than contention (the process keeps running; the WAL may grow). */
  readonly onError?: (message: string) => void;
}

export function startWalCheckpointer(options: WalCheckpointerOptions): WalCheckpointer {
  const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path: options.path, intervalMs: options.intervalMs ?? 1000, driverPath },
  });
  // The process must be free to exit while the worker idles between checkpoints.
  worker.unref();
  const waiting = new Map<number, () => void>();
  let nextId = 0;
  worker.on('message', (m: { ran?: number; error?: string }) => {
    if (m.error !== undefined) options.onError?.(m.error);
    if (m.ran !== undefined) {
      waiting.get(m.ran)?.();
      waiting.delete(m.ran);
    }
  });
  worker.on('error', (err) => options.onError?.(err.message));
  let stopping: Promise<void> | undefined;
  return {
    runOnce: () =>
      new Promise<void>((resolve) => {
        const id = nextId++;
        waiting.set(id, resolve);
        worker.postMessage(id);
      }),
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        // Referenced again while stopping: a caller awaiting stop() must keep the process alive until the
        // worker has closed its connection. One that does not exit promptly (stuck in a sync call) is terminated.
        worker.ref();
        const kill = setTimeout(() => void worker.terminate(), 2000);
        worker.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        worker.postMessage('stop');
      });
      return stopping;
    },
  };
}
