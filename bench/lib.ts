import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { MariaDbSandbox, type MariaDbSandboxOptions } from '../src/sandbox/mariadb.js';

/** Shared pieces of the benchmarks: a private MariaDB, timing, and a printed comparison table. */
export async function startBenchServer(options: MariaDbSandboxOptions = {}): Promise<MariaDbSandbox> {
  return MariaDbSandbox.start({
    ...options,
    extraArgs: ['--innodb-buffer-pool-size=1G', '--max-binlog-size=1G', ...(options.extraArgs ?? [])],
  });
}

export interface Measurement {
  readonly name: string;
  readonly seconds: number;
  readonly rows?: number;
  readonly bytes?: number;
  readonly note?: string;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { result, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** Runs a command with stdout to /dev/null (or a file) and returns its wall time. */
export async function timeCommand(
  cmd: string,
  args: readonly string[],
  stdoutFile = '/dev/null',
  env: NodeJS.ProcessEnv = {},
): Promise<number> {
  const { seconds } = await timed(
    () =>
      new Promise<void>((resolve, reject) => {
        const out = createWriteStream(stdoutFile);
        const child = spawn(cmd, args, {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, ...env },
        });
        child.stdout.pipe(out);
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`)),
        );
      }),
  );
  return seconds;
}

export function printTable(title: string, rows: readonly Measurement[]): void {
  console.log(`\n${title}`);
  console.log(
    `${'measurement'.padEnd(44)} ${'seconds'.padStart(9)} ${'rows/s'.padStart(12)} ${'MB/s'.padStart(9)}  note`,
  );
  for (const r of rows) {
    const rate = r.rows !== undefined ? Math.round(r.rows / r.seconds).toLocaleString('en-US') : '';
    const mbs = r.bytes !== undefined ? (r.bytes / 1e6 / r.seconds).toFixed(1) : '';
    console.log(
      `${r.name.padEnd(44)} ${r.seconds.toFixed(2).padStart(9)} ${rate.padStart(12)} ${mbs.padStart(9)}  ${r.note ?? ''}`,
    );
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}
