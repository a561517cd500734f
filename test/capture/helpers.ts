import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import type { RowImage } from '../../src/binlog/events.js';
import { readBinlogFile } from '../../src/binlog/file-reader.js';
import { compareCoordinates } from '../../src/capture/coordinates.js';
import { openStateStore } from '../../src/app.js';
import type { ChangeRecord } from '../../src/store/change-index.js';
import type { StateStore } from '../../src/store/state-store.js';
import { PROJECT_ROOT } from '../harness/cli.js';
import { scratchDir, startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';

/**
 * A private MariaDB whose temporary files (information_schema queries use on-disk temporary tables) live in a
 * directory of its own rather than the shared /tmp, which other processes on the machine may clean.
 */
export async function startSource(extraArgs: readonly string[] = []): Promise<MariaDbSandbox> {
  const tmp = await scratchDir('dbtrail-mdb-tmp-');
  return startMariaDb({ extraArgs: [`--tmpdir=${tmp}`, ...extraArgs] });
}

/** A fresh DBTRAIL_HOME and the environment a capture process runs with (password never on argv). */
export async function captureHome(db: MariaDbSandbox): Promise<{ home: string; env: NodeJS.ProcessEnv }> {
  const home = await mkdtemp(join(tmpdir(), 'dbtrail-capture-'));
  return {
    home,
    env: {
      DBTRAIL_HOME: home,
      DBTRAIL_SOURCE_PASSWORD: db.appPassword,
      DBTRAIL_LOG_LEVEL: 'info',
      DBTRAIL_LOG_FORMAT: 'json',
    },
  };
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the real CLI as a child process (through tsx, so the test needs no build), as an operator would. */
export function spawnCli(argv: readonly string[], env: NodeJS.ProcessEnv): RunningCli {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli', 'main.ts'), ...argv],
    {
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stderr: () => err, exited };
}

export async function openIndex(home: string): Promise<StateStore> {
  return openStateStore(`sqlite:${join(home, 'dbtrail.db')}`);
}

/** The server id and tenant id of a captured server in a home. */
export async function serverIds(
  store: StateStore,
  name: string,
): Promise<{ tenantId: string; serverId: string }> {
  const tenant = await store.tenants.findByName('default');
  if (tenant === undefined) throw new Error('no tenant');
  const server = await store.servers.findByName(tenant.id, name);
  if (server === undefined) throw new Error(`no server ${name}`);
  return { tenantId: tenant.id, serverId: server.id };
}

/** Every change of a schema in seq order (paged). */
export async function indexedChanges(
  store: StateStore,
  name: string,
  schema: string,
): Promise<ChangeRecord[]> {
  const { tenantId, serverId } = await serverIds(store, name);
  const out: ChangeRecord[] = [];
  let afterSeq: bigint | undefined;
  for (;;) {
    const page = await store.changes.query({
      tenantId,
      serverId,
      schema,
      limit: 100_000,
      order: 'asc',
      ...(afterSeq !== undefined ? { afterSeq } : {}),
    });
    out.push(...page);
    if (page.length < 100_000) break;
    afterSeq = page[page.length - 1]!.seq;
  }
  return out.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
}

/** Waits until the stored checkpoint reaches the server's current binlog position. */
export async function waitCaughtUp(
  home: string,
  name: string,
  db: MariaDbSandbox,
  timeoutMs = 30_000,
): Promise<void> {
  const target = await db.coordinates();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const store = await openIndex(home);
    try {
      const { serverId } = await serverIds(store, name).catch(() => ({ serverId: '' }));
      const cp = serverId === '' ? undefined : await store.changes.checkpoint(serverId);
      if (cp !== undefined && compareCoordinates(cp.coordinates, target) >= 0) return;
    } finally {
      await store.close();
    }
    if (Date.now() > deadline) throw new Error(`capture did not reach ${target.file}:${target.position}`);
    await sleep(100);
  }
}

export interface BinlogChange {
  readonly file: string;
  readonly gtid: string | undefined;
  readonly table: string;
  readonly op: string;
  readonly before: RowImage | null;
  readonly after: RowImage | null;
}

/** The row changes of a schema in the server's binlog files, from `from` on: what the index must hold. */
export async function binlogChanges(
  db: MariaDbSandbox,
  schema: string,
  from: { file: string; position: number },
): Promise<BinlogChange[]> {
  const out: BinlogChange[] = [];
  for (const file of await db.binlogFilesOnDisk()) {
    if (compareCoordinates({ file, position: 0 }, { file: from.file, position: 0 }) < 0) continue;
    try {
      for await (const e of readBinlogFile(
        db.binlogPath(file),
        file === from.file ? { fromPos: from.position } : {},
      )) {
        if (e.body.kind !== 'rows' || e.body.schema !== schema) continue;
        for (const r of e.body.rows) {
          out.push({
            file,
            gtid: e.gtid,
            table: e.body.table,
            op: e.body.op,
            before: r.before,
            after: r.after,
          });
        }
      }
    } catch (err) {
      // The active file may end inside an event being written; everything before it was read.
      if ((err as { code?: string }).code !== 'BINLOG_INCOMPLETE_EVENT') throw err;
    }
  }
  return out;
}

export function changeKey(
  c: { gtid: string | null | undefined; table: string; before: unknown; after: unknown },
  op: string,
): string {
  return `${c.gtid ?? ''}|${c.table}|${op}|${JSON.stringify(c.before)}|${JSON.stringify(c.after)}`;
}

/** A root connection whose values all come back as the server's text. */
export async function textConnection(db: MariaDbSandbox): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({
    socketPath: db.socket,
    user: 'root',
    charset: 'UTF8MB4_GENERAL_CI',
    typeCast: (field) => field.string(),
  });
  await conn.query("SET SESSION time_zone = '+00:00'");
  return conn;
}
