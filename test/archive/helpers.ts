import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BinlogSegment } from '../../src/store/binlog-archive.js';
import { openIndex, serverIds } from '../capture/helpers.js';

const run = promisify(execFile);

/** The archived segments of a captured server, in coordinate order. */
export async function archivedSegments(home: string, name: string): Promise<readonly BinlogSegment[]> {
  const store = await openIndex(home);
  try {
    const { serverId } = await serverIds(store, name).catch(() => ({ serverId: '' }));
    return serverId === '' ? [] : await store.binlogArchive.list(serverId);
  } finally {
    await store.close();
  }
}

/** Where the local object store of a capture home keeps an object. */
export function objectPath(home: string, key: string): string {
  return join(home, 'objects', key);
}

/**
 * The decoded row events `mariadb-binlog -v` prints for a binlog file (optionally an offset range of it): the
 * `###` pseudo-SQL lines, which hold every row image and nothing position-dependent.
 */
export async function rowLines(path: string, range?: { start: number; stop: number }): Promise<string[]> {
  const args = ['--no-defaults', '--base64-output=decode-rows', '-v'];
  if (range !== undefined) args.push(`--start-position=${range.start}`, `--stop-position=${range.stop}`);
  const { stdout } = await run('mariadb-binlog', [...args, path], { maxBuffer: 512 * 1024 * 1024 });
  return stdout.split('\n').filter((l) => l.startsWith('### '));
}

/** `mariadb-binlog FILE... | mariadb` into a server over its socket, as an operator replays binlogs. */
export async function replayInto(files: readonly string[], socket: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const dump = spawn('mariadb-binlog', ['--no-defaults', ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    const client = spawn('mariadb', ['--no-defaults', '-uroot', `--socket=${socket}`], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    dump.stderr.on('data', (d: Buffer) => (err += d.toString()));
    client.stderr.on('data', (d: Buffer) => (err += d.toString()));
    dump.stdout.pipe(client.stdin);
    let pending = 2;
    const done = (code: number | null): void => {
      if (code !== 0) reject(new Error(`replay failed (exit ${code}): ${err}`));
      else if (--pending === 0) resolve();
    };
    dump.on('exit', done);
    client.on('exit', done);
  });
}
