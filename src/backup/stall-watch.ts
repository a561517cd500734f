import { readFile } from 'node:fs/promises';

/**
 * Watches a running dump tool for a stall: it used no CPU time for `stallMs` and `isServerIdle()` says the server
 * runs no query for it either (so it is not waiting on a lock or a slow query). mydumper 0.10 sometimes ends like
 * that: every file written, one worker thread blocked for ever on a queue mutex in g_async_queue_push and the main
 * thread joining it, `metadata.partial` never renamed. Without this the dump would wait for ever.
 */
export interface StallWatchOptions {
  /** How long without CPU use counts as a stall (default 60 s). */
  readonly stallMs?: number;
  /** How often to look (default 5 s). */
  readonly everyMs?: number;
  /** Whether the server is running nothing for the tool; checked only once the CPU has been still for `stallMs`. */
  readonly isServerIdle: () => Promise<boolean>;
  /** Called once when a stall is found. */
  readonly onStall: (stalledMs: number) => void;
}

export function watchForStall(pid: number, options: StallWatchOptions): () => void {
  const stallMs = options.stallMs ?? 60_000;
  let lastCpu = -1;
  let stillSince = Date.now();
  let checking = false;
  let done = false;
  const timer = setInterval(() => {
    if (checking || done) return;
    checking = true;
    void (async () => {
      const cpu = await processCpuTicks(pid);
      if (cpu === undefined) return;
      if (cpu !== lastCpu) {
        lastCpu = cpu;
        stillSince = Date.now();
        return;
      }
      const still = Date.now() - stillSince;
      if (still < stallMs) return;
      if (await options.isServerIdle().catch(() => false)) {
        done = true;
        clearInterval(timer);
        options.onStall(still);
      } else {
        stillSince = Date.now();
      }
    })().finally(() => {
      checking = false;
    });
  }, options.everyMs ?? 5_000);
  timer.unref();
  return () => {
    done = true;
    clearInterval(timer);
  };
}

/** utime + stime of a process (all its threads), in clock ticks; undefined once it is gone or without /proc. */
export async function processCpuTicks(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
