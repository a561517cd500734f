import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../harness/cli.js';

/**
 * A real `dbtrail server` process (a replica) on the state the environment names, listening on a free port;
 * resolves with its URL once it listens. `--tick 1` keeps the scheduler loop quick for tests.
 */
export function startReplica(
  env: Readonly<Record<string, string>>,
  flags: readonly string[] = ['--no-agent'],
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(PROJECT_ROOT, 'src', 'cli', 'main.ts'),
      'server',
      '--listen',
      '127.0.0.1:0',
      '--tick',
      '1',
      ...flags,
    ],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], DBTRAIL_LOG_LEVEL: 'warn', ...env },
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dbtrail server did not start: ${out}`)), 60_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ url: m[1]!, child });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`dbtrail server exited ${code}: ${out}`)));
  });
}

/** Stops a replica with SIGTERM and waits for it to exit. */
export async function stopReplica(r: { child: ChildProcess }): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGTERM');
  await exited;
}
