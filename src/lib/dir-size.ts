import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Total size of the regular files under a directory; files that vanish while it counts are skipped. */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    try {
      total += (await stat(join(e.parentPath, e.name))).size;
    } catch {
      // A tool may rename or remove its temporary files at any moment.
    }
  }
  return total;
}

/**
 * Calls `onSize` with the directory's size every `intervalMs` until the returned stop function is called: progress
 * for tools (mydumper, mariadb-backup) that report none themselves. The timer never keeps the process alive.
 */
export function watchDirectorySize(
  dir: string,
  intervalMs: number,
  onSize: (bytes: number) => void,
): () => void {
  let stopped = false;
  let busy = false;
  const timer = setInterval(() => {
    if (busy || stopped) return;
    busy = true;
    void directorySize(dir)
      .then((n) => {
        if (!stopped) onSize(n);
      })
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
