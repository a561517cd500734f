import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** CPU time (user + system); shown in its own column when any measurement of a table has it. */
  readonly cpuSeconds?: number;
  readonly note?: string;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { result, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/**
 * Runs a command with stdout to /dev/null (or a file), opened for the child itself as a shell's `> file` would
 * (no pipe through this process, which would add its own CPU time to the measurement), and returns its wall time.
 */
export async function timeCommand(
  cmd: string,
  args: readonly string[],
  stdoutFile = '/dev/null',
  env: NodeJS.ProcessEnv = {},
): Promise<number> {
  const fd = openSync(stdoutFile, 'w');
  try {
    const { seconds } = await timed(
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(cmd, args, {
            stdio: ['ignore', fd, 'pipe'],
            env: { ...process.env, ...env },
          });
          let err = '';
          child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
          child.on('error', reject);
          child.on('close', (code) =>
            code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`)),
          );
        }),
    );
    return seconds;
  } finally {
    closeSync(fd);
  }
}

export function printTable(title: string, rows: readonly Measurement[]): void {
  const cpu = rows.some((r) => r.cpuSeconds !== undefined);
  console.log(`\n${title}`);
  console.log(
    `${'measurement'.padEnd(44)} ${'seconds'.padStart(9)}${cpu ? ` ${'cpu s'.padStart(7)}` : ''} ${'rows/s'.padStart(12)} ${'MB/s'.padStart(9)}  note`,
  );
  for (const r of rows) {
    const rate = r.rows !== undefined ? Math.round(r.rows / r.seconds).toLocaleString('en-US') : '';
    const mbs = r.bytes !== undefined ? (r.bytes / 1e6 / r.seconds).toFixed(1) : '';
    const cpuText = cpu ? ` ${(r.cpuSeconds !== undefined ? r.cpuSeconds.toFixed(2) : '').padStart(7)}` : '';
    console.log(
      `${r.name.padEnd(44)} ${r.seconds.toFixed(2).padStart(9)}${cpuText} ${rate.padStart(12)} ${mbs.padStart(9)}  ${r.note ?? ''}`,
    );
  }
}

/** Wall time, CPU time and peak RSS of one run of a command or of in-process work. */
export interface RunCost {
  readonly seconds: number;
  readonly cpuSeconds: number;
  /** Peak resident set size in bytes; undefined when it cannot be measured. */
  readonly maxRssBytes: number | undefined;
}

/**
 * `timeCommand` under GNU time (`/usr/bin/time`), which reports the child's CPU time and peak RSS; without it,
 * only wall time is known and CPU time is reported as wall time.
 */
export async function measureCommand(cmd: string, args: readonly string[]): Promise<RunCost> {
  const gnuTime = '/usr/bin/time';
  if (!existsSync(gnuTime)) {
    const seconds = await timeCommand(cmd, args);
    return { seconds, cpuSeconds: seconds, maxRssBytes: undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'dbtrail-bench-time-'));
  try {
    const report = join(dir, 'time.txt');
    const seconds = await timeCommand(gnuTime, ['-f', '%e %U %S %M', '-o', report, cmd, ...args]);
    // The last line holds the four figures (a line about a non-zero exit status may precede it).
    const [, user = '0', system = '0', rssKiB = ''] = readFileSync(report, 'utf8')
      .trim()
      .split(/\s+/)
      .slice(-4);
    return {
      seconds,
      cpuSeconds: Number(user) + Number(system),
      maxRssBytes: rssKiB === '' ? undefined : Number(rssKiB) * 1024,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs in-process work and returns its result with wall and CPU time (of the whole process: run it alone). */
export async function measure<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; seconds: number; cpuSeconds: number }> {
  const cpu0 = process.cpuUsage();
  const { result, seconds } = await timed(fn);
  const cpu = process.cpuUsage(cpu0);
  return { result, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Peak resident set size of this process so far, in bytes (getrusage ru_maxrss). */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}
