import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pkText,
  type CapturedRowChange,
  type CapturedTransaction,
  type TableColumn,
} from '../store/change-index.js';
import type { StateStore } from '../store/state-store.js';
import { openSqliteStateStore } from '../store/sqlite/state-store.js';
import { planRecovery, type PlanRequest } from './plan.js';
import { ndjsonChunks, sqlChunks } from './render.js';
import type { ChangeSelection } from './select.js';
import { canSpool, spoolUndoScript, type ScriptFormat } from './stream.js';

// The streamed undo must be byte for byte what planning the whole selection in memory renders, whatever the
// window size (transactions cut by windows), with stragglers (commit times out of seq order) and conflicts.

const T0 = 1_714_557_600_000_000n;
const COLUMNS: TableColumn[] = [
  ['id', 'bigint(20)'],
  ['v', 'varchar(20)'],
  ['n', 'int(11)'],
].map(([name, type]) => ({
  name: name!,
  type: type!,
  unsigned: false,
  charset: type!.startsWith('varchar') ? 'utf8mb4' : null,
  collation: null,
  nullable: name !== 'id',
}));

let dir: string;
let store: StateStore;
let tenantId: string;
let serverId: string;

/** A deterministic workload: inserts, updates (some changing the key), deletes, over two tables. */
function workload(): CapturedTransaction[] {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % n;
  };
  const rows = new Map<string, Map<number, { v: string; n: number }>>([
    ['a', new Map()],
    ['b', new Map()],
  ]);
  let nextId = 1;
  const txs: CapturedTransaction[] = [];
  for (let t = 0; t < 120; t++) {
    const changes: CapturedRowChange[] = [];
    const size = 1 + rand(4);
    for (let i = 0; i < size; i++) {
      const table = rand(2) === 0 ? 'a' : 'b';
      const live = rows.get(table)!;
      const base = { schema: 'app', table, pkColumns: ['id'], pkIsFullImage: false };
      const image = (id: number, r: { v: string; n: number }) => ({ id: String(id), v: r.v, n: String(r.n) });
      const ids = [...live.keys()];
      const op = ids.length < 3 ? 0 : rand(10);
      if (op < 4) {
        const id = nextId++;
        const r = { v: `v${id}`, n: rand(100) };
        live.set(id, r);
        changes.push({
          ...base,
          type: 'insert',
          pk: pkText([String(id)]),
          before: null,
          after: image(id, r),
          changedColumns: null,
        });
      } else if (op < 9) {
        const id = ids[ids.length - 1 - rand(Math.min(6, ids.length))]!;
        const old = live.get(id)!;
        const moved = op === 8;
        const to = moved ? nextId++ : id;
        const r = { v: old.v, n: old.n + 1 };
        live.delete(id);
        live.set(to, r);
        changes.push({
          ...base,
          type: 'update',
          pk: pkText([String(id)]),
          before: image(id, old),
          after: image(to, r),
          changedColumns: moved ? ['id', 'n'] : ['n'],
        });
      } else {
        const id = ids[ids.length - 1 - rand(Math.min(6, ids.length))]!;
        const old = live.get(id)!;
        live.delete(id);
        changes.push({
          ...base,
          type: 'delete',
          pk: pkText([String(id)]),
          before: image(id, old),
          after: null,
          changedColumns: null,
        });
      }
    }
    // Every 5th transaction carries a commit time from before its neighbours (its statement started earlier).
    const time = t % 5 === 4 ? T0 + BigInt(t - 15) * 1000n : T0 + BigInt(t) * 1000n;
    txs.push({
      gtid: `0-1-${t + 1}`,
      file: 'binlog.000001',
      position: 4 + t * 1000,
      endPosition: 4 + (t + 1) * 1000,
      commitTimeUs: time,
      threadId: 1,
      changes,
      ddl: [],
    });
  }
  return txs;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dbtrail-recover-stream-'));
  store = await openSqliteStateStore({ path: join(dir, 'dbtrail.db') });
  tenantId = (await store.tenants.ensure('t')).id;
  serverId = (await store.servers.create({ tenantId, name: 'db1', host: 'h', port: 3306, username: 'u' })).id;
  for (const table of ['a', 'b']) {
    await store.changes.recordTableSchema(serverId, {
      schema: 'app',
      table,
      validFrom: { file: 'binlog.000001', position: 4, gtidSet: null },
      validFromSeq: 1n,
      columns: COLUMNS,
      primaryKey: ['id'],
    });
  }
  const txs = workload();
  const last = txs[txs.length - 1]!;
  await store.changes.commit(serverId, {
    transactions: txs,
    checkpoint: {
      coordinates: { file: last.file, position: last.endPosition, gtidSet: last.gtid },
      identity: { serverUuid: null, serverId: '1', hostname: 'h', flavor: 'mariadb' },
    },
    expectPrevious: null,
  });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function inMemory(request: PlanRequest, format: ScriptFormat): Promise<string> {
  const plan = await planRecovery({ index: store.changes, flavor: 'mariadb' }, request);
  const options = { serverName: 'db1', generatedAt: new Date(0) };
  return (format === 'sql' ? [...sqlChunks(plan, options)] : [...ndjsonChunks(plan, options)]).join('');
}

async function streamed(request: PlanRequest, format: ScriptFormat, window: bigint): Promise<string> {
  const spooled = await spoolUndoScript({ index: store.changes, flavor: 'mariadb' }, request, format, window);
  try {
    let out = '';
    for await (const chunk of spooled.chunks({ serverName: 'db1', generatedAt: new Date(0) })) {
      out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    }
    return out;
  } finally {
    spooled.close();
  }
}

describe('spoolUndoScript', () => {
  const selections: [string, (s: { tenantId: string; serverId: string }) => ChangeSelection][] = [
    ['everything', (s) => s],
    ['since a time (stragglers before it)', (s) => ({ ...s, sinceUs: T0 + 40_000n })],
    ['one table since a time', (s) => ({ ...s, schema: 'app', table: 'b', sinceUs: T0 + 30_000n })],
    ['after a seq', (s) => ({ ...s, afterSeq: 100n })],
  ];
  for (const [name, select] of selections) {
    for (const onConflict of ['abort', 'skip', 'force'] as const) {
      it(`renders what planRecovery renders: ${name}, on conflict ${onConflict}`, async () => {
        const request: PlanRequest = {
          selection: select({ tenantId, serverId }),
          direction: 'undo',
          onConflict,
          columns: onConflict === 'skip' ? 'changed' : 'all',
        };
        expect(canSpool(request)).toBe(true);
        for (const format of ['sql', 'ndjson'] as const) {
          const want = await inMemory(request, format);
          for (const window of [1n, 5n, 20_000n]) {
            expect(await streamed(request, format, window)).toBe(want);
          }
        }
      });
    }
  }

  it('finds the conflicts planRecovery finds (the workload has some)', async () => {
    const request: PlanRequest = {
      selection: { tenantId, serverId, sinceUs: T0 + 40_000n },
      direction: 'undo',
    };
    const plan = await planRecovery({ index: store.changes, flavor: 'mariadb' }, request);
    expect(plan.conflicts.length).toBeGreaterThan(0);
    const spooled = await spoolUndoScript({ index: store.changes, flavor: 'mariadb' }, request, 'sql', 3n);
    spooled.close();
    expect(spooled.plan.conflicts).toEqual(plan.conflicts);
    expect(spooled.plan.summary).toEqual(plan.summary);
  });

  it('refuses more than --limit changes, like planRecovery', async () => {
    const request: PlanRequest = { selection: { tenantId, serverId }, direction: 'undo', limit: 10 };
    await expect(
      spoolUndoScript({ index: store.changes, flavor: 'mariadb' }, request, 'sql'),
    ).rejects.toThrow(/more than 10 changes match/);
  });

  it('takes only closed undo selections', () => {
    expect(canSpool({ selection: { tenantId, serverId, pk: '1' }, direction: 'undo' })).toBe(false);
    expect(canSpool({ selection: { tenantId, serverId }, direction: 'forward' })).toBe(false);
  });
});
