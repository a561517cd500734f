import { spawn } from 'node:child_process';
import type { Logger } from '../log/logger.js';
import { DumpAbortedError, DumpToolError } from './errors.js';

/**
 * Runs an external backup tool (mydumper, myloader, mariadb-backup, xtrabackup) with no shell, no stdin and no
 * secrets: the password travels in an option file, and variables that hold secrets are removed from the child's
 * environment. Keeps the last bytes of its output for error messages and streams lines to the debug log.
 */
export interface ToolRunOptions {
  readonly cwd?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** How much of the tail of stdout+stderr to keep (default 16 KiB). */
  readonly tailBytes?: number;
  /** Grace period between SIGTERM and SIGKILL when aborted (default 5 s). */
  readonly killAfterMs?: number;
  /** Called with the child's process id once it is spawned (to watch which files it holds open). */
  readonly onSpawn?: (pid: number) => void;
}

export interface ToolRunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last `tailBytes` of the combined output. */
  readonly output: string;
}

/** Environment variables that may hold secrets and that no child needs. */
const SECRET_ENV = ['DBTRAIL_SOURCE_PASSWORD', 'MYSQL_PWD'];

export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (!SECRET_ENV.includes(k)) out[k] = v;
  }
  // Stable, parseable output from the tools (dates, decimal points).
  out['LC_ALL'] = 'C';
  return out;
}

export function runTool(
  bin: string,
  args: readonly string[],
  options: ToolRunOptions = {},
): Promise<ToolRunResult> {
  const tailBytes = options.tailBytes ?? 16 * 1024;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted === true) {
      reject(new DumpAbortedError(`Cannot run ${bin}: aborted before it started`));
      return;
    }
    const child = spawn(bin, args, {
      cwd: options.cwd,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-tailBytes);
      if (options.logger?.isLevelEnabled('debug') === true) {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') options.logger.debug({ tool: bin }, line);
      }
    };
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);

    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 5000);
      killTimer.unref();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.once('error', (err: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (err.code === 'ENOENT') {
        reject(
          new DumpToolError(`Cannot run ${bin}: not found (install it or put it on PATH)`, 'unsupported', {
            cause: err,
          }),
        );
      } else {
        reject(new DumpToolError(`Cannot run ${bin}: ${err.message}`, 'internal', { cause: err }));
      }
    });
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (killTimer !== undefined) clearTimeout(killTimer);
      if (options.signal?.aborted === true) {
        reject(new DumpAbortedError(`Cannot finish ${bin}: aborted`, { fields: { tool: bin } }));
        return;
      }
      resolve({ code, signal, output: tail });
    });
  });
}

/** The last few non-empty lines of a tool's output, on one line, for an error message. */
export function lastLines(output: string, n = 5): string {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-n)
    .join(' | ');
}
