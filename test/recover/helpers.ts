import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import { cli, type CliResult } from '../harness/cli.js';
import type { MariaDbSandbox } from '../harness/mariadb.js';
import {
  captureHome,
  spawnCli,
  startSource,
  textConnection,
  waitCaughtUp,
  type RunningCli,
} from '../capture/helpers.js';

/**
 * A private MariaDB with `dbtrail stream` capturing it into a fresh home, and `dbtrail recover` run in-process
 * against that home. Tables are compared byte for byte through `tableRows`.
 */
export interface Captured {
  readonly db: MariaDbSandbox;
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  readonly name: string;
  /** Waits until the index holds everything the server has written. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCaptured(name: string, setup: readonly string[]): Promise<Captured> {
  const db = await startSource();
  for (const sql of setup) await db.query(sql);
  const { home, env } = await captureHome(db);
  const run: RunningCli = spawnCli(['stream', '--dsn', db.dsnWithoutPassword, '--server-name', name], env);
  await waitCaughtUp(home, name, db, 60_000);
  return {
    db,
    home,
    env,
    name,
    caughtUp: () => waitCaughtUp(home, name, db, 60_000),
    async stop() {
      run.child.kill('SIGTERM');
      const exit = await run.exited;
      if (exit.code !== 0) throw new Error(`stream exited ${exit.code}: ${run.stderr()}`);
    },
  };
}

export function recover(
  c: Captured,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  return cli(['recover', '--server-name', c.name, ...args], { ...c.env, ...env });
}

/** `--dsn` of the captured server itself (password from the environment). */
export function dsnArgs(db: MariaDbSandbox): string[] {
  return ['--dsn', db.dsnWithoutPassword];
}

/**
 * Every row of a table as exact text, sorted (a multiset, so duplicate rows of a table without a key count): the
 * bytes of every string, binary, BIT, geometry and JSON value (HEX), FLOAT/DOUBLE widened to DOUBLE, numbers and
 * temporal values as the server prints them (TIMESTAMP in UTC).
 */
export async function tableRows(conn: mysql.Connection, schema: string, table: string): Promise<string[]> {
  const [cols] = (await conn.query(
    'SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [schema, table],
  )) as unknown as [{ COLUMN_NAME: string; DATA_TYPE: string }[]];
  const text = new Set([
    'tinyint',
    'smallint',
    'mediumint',
    'int',
    'bigint',
    'decimal',
    'date',
    'time',
    'datetime',
    'timestamp',
    'year',
  ]);
  const list = cols
    .map(({ COLUMN_NAME: n, DATA_TYPE: t }) => {
      const q = `\`${n}\``;
      if (t === 'float' || t === 'double') return `CAST(${q} AS DOUBLE) AS ${q}`;
      if (text.has(t)) return q;
      return `HEX(${q}) AS ${q}`;
    })
    .join(', ');
  const [rows] = (await conn.query(`SELECT ${list} FROM \`${schema}\`.\`${table}\``)) as unknown as [
    Record<string, string | null>[],
  ];
  return rows.map((r) => JSON.stringify(r)).sort();
}

/** Every listed table's rows. */
export async function snapshot(
  db: MariaDbSandbox,
  tables: readonly (readonly [string, string])[],
): Promise<Record<string, string[]>> {
  const conn = await textConnection(db);
  try {
    const out: Record<string, string[]> = {};
    for (const [s, t] of tables) out[`${s}.${t}`] = await tableRows(conn, s, t);
    return out;
  } finally {
    await conn.end();
  }
}

/**
 * Waits into the next whole second and returns it as an ISO time: MariaDB commit times have whole seconds (the
 * XID event's timestamp), so everything committed before the call is before it and everything after is at or
 * after it.
 */
export async function nextSecond(): Promise<string> {
  const next = Math.floor(Date.now() / 1000) * 1000 + 1000;
  await sleep(next - Date.now() + 20);
  return new Date(next).toISOString();
}
