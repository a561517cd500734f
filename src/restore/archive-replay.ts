import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchSegments } from '../archive/fetch.js';
import { childEnv } from '../backup/child.js';
import { clientGroup, writeOptionFile, type ClientOptions } from '../backup/option-file.js';
import type { ObjectStore } from '../objects/store.js';
import { RestoreStepError } from './errors.js';
import type { ArchiveReplay } from './plan.js';

/**
 * Replay from the raw binlog archive: the plan's segments are fetched (each checked against its SHA-256) and
 * piped through `mariadb-binlog` into the `mariadb` client, as a DBA would by hand. The backup's GTID position is
 * the start (exclusive: what the dump holds is skipped), the stop is an inclusive GTID or a datetime. The client
 * gets the password through a 0600 option file, and stops at the first error.
 */
export function mariadbBinlogArgs(replay: ArchiveReplay, files: readonly string[]): string[] {
  const args = [`--start-position=${replay.startGtid}`];
  if (replay.stop.kind === 'gtid') args.push(`--stop-position=${replay.stop.gtid}`);
  if (replay.stop.kind === 'datetime') args.push(`--stop-datetime=${replay.stop.utc}`);
  return [...args, ...files];
}

export async function replayFromArchive(options: {
  readonly replay: ArchiveReplay;
  readonly objects: ObjectStore;
  readonly connection: ClientOptions;
  readonly workDir: string;
  readonly signal?: AbortSignal;
}): Promise<void> {
  const dir = await mkdtemp(join(options.workDir, 'dbtrail-restore-binlogs-'));
  const optionFile = await writeOptionFile({ client: clientGroup(options.connection) });
  try {
    const files = await fetchSegments(
      options.objects,
      options.replay.segments,
      dir,
      options.signal !== undefined ? { signal: options.signal } : {},
    );
    // --stop-datetime is read in the local time zone of mariadb-binlog: make that UTC.
    const env = { ...childEnv(), TZ: 'UTC' };
    const reader = spawn('mariadb-binlog', mariadbBinlogArgs(options.replay, files), {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const client = spawn('mariadb', [`--defaults-file=${optionFile.path}`, '--binary-mode'], {
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    reader.stdout.pipe(client.stdin);
    const abort = (): void => {
      reader.kill('SIGTERM');
      client.kill('SIGTERM');
    };
    options.signal?.addEventListener('abort', abort, { once: true });
    const collect = (c: typeof reader | typeof client): Promise<{ code: number | null; err: string }> =>
      new Promise((resolve) => {
        let err = '';
        c.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
        c.on('error', (e) => resolve({ code: -1, err: e.message }));
        c.on('close', (code) => resolve({ code, err }));
      });
    const [r, m] = await Promise.all([collect(reader), collect(client)]);
    options.signal?.removeEventListener('abort', abort);
    if (r.code !== 0 || m.code !== 0) {
      const who =
        m.code !== 0
          ? `mariadb exited with ${m.code}: ${m.err.trim()}`
          : `mariadb-binlog exited with ${r.code}: ${r.err.trim()}`;
      throw new RestoreStepError(`Cannot replay from the binlog archive: ${who}`, 'internal', {
        fields: { step: 'replay' },
      });
    }
  } finally {
    await optionFile.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}
