import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoMicros, type CapturedTransaction } from '../../src/store/change-index.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import { cli } from '../harness/cli.js';
import { after, insert, remove, tx, update } from '../store/change-fixtures.js';

/**
 * `dbtrail query`, `status` and `prune` against a state database seeded through the store. Commit times are
 * placed relative to the real clock (the CLI uses it): two transactions 40 days ago, the rest an hour ago.
 */
const root = mkdtempSync(join(tmpdir(), 'dbtrail-change-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DAY_US = 86_400_000_000n;
const nowUs = () => BigInt(Date.now()) * 1000n;

interface Seeded {
  readonly env: NodeJS.ProcessEnv;
  readonly path: string;
  readonly serverId: string;
  readonly txs: readonly CapturedTransaction[];
}

async function seed(name: string): Promise<Seeded> {
  const home = join(root, name);
  const path = join(home, 'dbtrail.db');
  const store = await openSqliteStateStore({ path });
  const tenant = await store.tenants.ensure('default');
  const server = await store.servers.create({
    tenantId: tenant.id,
    name: 'db1',
    host: '127.0.0.1',
    port: 3306,
    username: 'dbtrail',
  });
  await store.servers.create({ tenantId: tenant.id, name: 'db2', host: 'h', port: 3306, username: 'u' });
  const base = nowUs();
  // tx() places a transaction `seconds` after 2024-05-01; move each to the wanted age.
  const at = (t: CapturedTransaction, ageUs: bigint): CapturedTransaction => ({
    ...t,
    commitTimeUs: base - ageUs,
  });
  const txs = [
    at(
      tx(0, [insert('app', 'users', { id: '1', name: 'ann', status: 'new' })], { gtid: '0-1-10' }),
      40n * DAY_US,
    ),
    at(
      tx(1, [insert('app', 'users', { id: '2', name: 'bob', status: 'new' })], { gtid: '0-1-11' }),
      39n * DAY_US,
    ),
    at(
      tx(
        2,
        [
          update(
            'app',
            'users',
            { id: '1', name: 'ann', status: 'new' },
            { id: '1', name: 'ann', status: 'active' },
          ),
          insert('app', 'items', { shop: '1', sku: 'a|b', qty: '5' }, ['shop', 'sku']),
        ],
        { gtid: '0-1-12' },
      ),
      3_600_000_000n,
    ),
    at(
      tx(3, [insert('logs', 'events', { at: '2024-05-01 10:00:00', msg: 'hello' }, [])], { gtid: '0-1-13' }),
      3_500_000_000n,
    ),
    at(
      tx(
        4,
        [
          remove('app', 'users', { id: '2', name: 'bob', status: 'new' }),
          insert('app', 'ledger', { id: '18446744073709551615', amount: '12345678901234567890.123456789' }),
        ],
        {
          gtid: '0-1-14',
        },
      ),
      3_400_000_000n,
    ),
  ];
  await store.changes.commit(server.id, { transactions: txs, checkpoint: after(txs[4]!, '0-1-14') });
  await store.close();
  return { env: { DBTRAIL_HOME: home }, path, serverId: server.id, txs };
}

/** Everything the index holds for the server, to show that a refused command changed nothing. */
async function snapshot(s: Seeded): Promise<unknown> {
  const store = await openSqliteStateStore({ path: s.path });
  try {
    const tenant = (await store.tenants.findByName('default'))!;
    return {
      changes: await store.changes.query({ tenantId: tenant.id, serverId: s.serverId, limit: 1000 }),
      checkpoint: await store.changes.checkpoint(s.serverId),
      gaps: await store.changes.gaps(s.serverId),
      stats: await store.changes.stats(s.serverId),
    };
  } finally {
    await store.close();
  }
}

function ndjson(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('dbtrail query', () => {
  let s: Seeded;
  beforeAll(async () => {
    s = await seed('query');
  });

  it('prints NDJSON with the public fields, exact values and microsecond UTC timestamps', async () => {
    const r = await cli(['query', '--server-name', 'db1', '--format', 'ndjson'], s.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"seq":7,');
    const rows = ndjson(r.stdout);
    expect(rows.map((x) => x['seq'])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Object.keys(rows[2]!)).toEqual([
      'server',
      'seq',
      'gtid',
      'file',
      'pos',
      'timestamp',
      'schema',
      'table',
      'type',
      'pk',
      'before',
      'after',
      'changed_columns',
    ]);
    expect(rows[2]).toMatchObject({
      server: 'db1',
      gtid: '0-1-12',
      file: 'binlog.000001',
      pos: s.txs[2]!.position,
      timestamp: isoMicros(s.txs[2]!.commitTimeUs),
      type: 'update',
      pk: { id: '1' },
      changed_columns: ['status'],
    });
    expect(rows[2]!['timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(rows[4]).toMatchObject({ table: 'events', pk_is_full_image: true });
    expect(r.stdout).toContain('"amount":"12345678901234567890.123456789"');
    expect(r.stdout).toContain('"pk":{"id":"18446744073709551615"}');
  });

  it('finds a row by its composite primary key, with an escaped bar', async () => {
    const r = await cli(
      [
        'query',
        '--server-name',
        'db1',
        '--schema',
        'app',
        '--table',
        'items',
        '--pk',
        '1|a\\|b',
        '--format',
        'ndjson',
      ],
      s.env,
    );
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout).map((x) => x['pk'])).toEqual([{ shop: '1', sku: 'a|b' }]);
  });

  it('applies the time, type, GTID, column and paging filters', async () => {
    const q = async (...extra: string[]) => {
      const r = await cli(['query', '--server-name', 'db1', '--format', 'ndjson', ...extra], s.env);
      expect(r.stderr).toBe('');
      return ndjson(r.stdout).map((x) => x['seq']);
    };
    const since = isoMicros(s.txs[2]!.commitTimeUs);
    expect(await q('--since', since)).toEqual([3, 4, 5, 6, 7]);
    expect(await q('--since', since, '--until', isoMicros(s.txs[4]!.commitTimeUs))).toEqual([3, 4, 5]);
    // The MySQL form, read in the --tz zone.
    const mysqlForm = since.slice(0, 26).replace('T', ' ');
    expect(await q('--since', mysqlForm, '--tz', 'UTC')).toEqual([3, 4, 5, 6, 7]);
    expect(await q('--type', 'insert', '--schema', 'app')).toEqual([1, 2, 4, 7]);
    expect(await q('--gtid', '0-1-14')).toEqual([6, 7]);
    expect(await q('--changed-column', 'status')).toEqual([3]);
    expect(await q('--column-eq', 'name=bob')).toEqual([2, 6]);
    expect(await q('--order', 'desc', '--limit', '2')).toEqual([7, 6]);
  });

  it('prints a table readable at 120 columns, noting tables without a primary key', async () => {
    const r = await cli(['query', '--server-name', 'db1'], s.env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+TIME \(UTC\)\s+TYPE\s+TABLE\s+PK\s+CHANGE$/);
    expect(lines[3]).toMatch(
      /^3\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\s+update\s+app\.users\s+1\s+status: new -> active$/,
    );
    expect(lines[5]).toMatch(/insert\s+logs\.events\s+\(no PK\)/);
    expect(lines.at(-1)).toBe(
      '(no PK) logs.events has no primary key: the full row image identifies its rows (pk_is_full_image)',
    );
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(120);
  });

  it('prints CSV and JSON', async () => {
    const csv = await cli(['query', '--server-name', 'db1', '--format', 'csv', '--limit', '1'], s.env);
    expect(csv.stdout.split('\r\n')[0]).toBe(
      'server,seq,gtid,file,pos,timestamp,schema,table,type,pk,pk_is_full_image,before,after,changed_columns',
    );
    expect(csv.stdout.split('\r\n')[1]).toMatch(
      /^db1,1,0-1-10,binlog\.000001,\d+,.*,app,users,insert,"{""id"":""1""}",false,,/,
    );
    const json = await cli(['query', '--server-name', 'db1', '--format', 'json'], s.env);
    expect((JSON.parse(json.stdout) as unknown[]).length).toBe(7);
    const none = await cli(['query', '--server-name', 'db2'], s.env);
    expect(none.stdout).toBe('No changes of server "db2" match\n');
  });

  it('refuses bad input with a clear message and leaves the index untouched', async () => {
    const before = await snapshot(s);
    const cases: [string[], number, string | RegExp][] = [
      [
        ['--since', 'last tuesday'],
        2,
        'dbtrail: Cannot parse --since "last tuesday": expected ISO 8601 (2024-05-01T10:00:00Z) or YYYY-MM-DD HH:MM:SS[.ffffff] with a time zone\n',
      ],
      [
        ['--since', '2024-05-01 10:00:00'],
        2,
        /^dbtrail: Cannot parse --since "2024-05-01 10:00:00": the time has no zone/,
      ],
      [['--until', '2024-13-01T00:00:00Z'], 2, /not a valid date and time/],
      [
        ['--schema', 'app', '--table', 'items', '--pk', '1'],
        2,
        'dbtrail: Cannot query app.items by --pk "1": its primary key has 2 columns (shop, sku), got 1 value; separate values with | and write a literal | as \\|\n',
      ],
      [
        ['--schema', 'app', '--table', 'users', '--pk', '1|2'],
        2,
        /its primary key has 1 column \(id\), got 2 values/,
      ],
      [
        ['--schema', 'logs', '--table', 'events', '--pk', 'x'],
        2,
        /logs\.events by --pk: the table has no primary key/,
      ],
      [['--pk', '1'], 2, /--pk: it needs --schema and --table/],
      [['--column-eq', 'oops'], 2, /Cannot parse --column-eq "oops": expected COLUMN=VALUE/],
      [['--type', 'upsert'], 2, /--type must be one of insert, update, delete, got "upsert"/],
      [['--frobnicate'], 2, /unknown flag "--frobnicate"/],
      [['--limit', '0'], 2, /--limit expects a whole number from 1 to 100000/],
    ];
    for (const [extra, code, message] of cases) {
      const r = await cli(['query', '--server-name', 'db1', ...extra], s.env);
      expect(r.code, extra.join(' ')).toBe(code);
      if (typeof message === 'string') expect(r.stderr).toBe(message);
      else expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    const unknown = await cli(['query', '--server-name', 'nope'], s.env);
    expect(unknown.code).toBe(7);
    expect(unknown.stderr).toBe(
      'dbtrail: Cannot find server "nope" in tenant "default": expected one of db1, db2\n',
    );
    expect(await snapshot(s)).toEqual(before);
  });
});

describe('dbtrail status and prune', () => {
  let s: Seeded;
  beforeAll(async () => {
    s = await seed('prune');
  });

  it('shows checkpoint, lag, counts, gaps and windows; prune records a gap that moves the window', async () => {
    const first = await cli(['status', '--json'], s.env);
    expect(first.code).toBe(0);
    const [db1, db2] = JSON.parse(first.stdout) as Record<string, unknown>[];
    expect(db1).toMatchObject({
      server: 'db1',
      checkpoint: { file: 'binlog.000001', position: s.txs[4]!.endPosition, gtidSet: '0-1-14' },
      rowChanges: 7,
      transactions: 5,
      firstChange: isoMicros(s.txs[0]!.commitTimeUs),
      lastChange: isoMicros(s.txs[4]!.commitTimeUs),
      gaps: [],
      windows: [{ from: isoMicros(s.txs[0]!.commitTimeUs), to: isoMicros(s.txs[4]!.commitTimeUs) }],
    });
    // The newest commit was 3400 s ago.
    expect(db1!['lagSeconds']).toBeGreaterThanOrEqual(3400);
    expect(db1!['lagSeconds']).toBeLessThan(3500);
    expect(db2).toMatchObject({
      server: 'db2',
      checkpoint: null,
      lagSeconds: null,
      rowChanges: 0,
      windows: [],
    });

    const text = await cli(['status'], s.env);
    expect(text.stdout).toMatch(/^Server db1\n {2}Checkpoint {4}binlog\.000001:\d+ {2}GTID 0-1-14\n/);
    expect(text.stdout).toMatch(/\n {2}Lag {11}(56m|57m) \d+s \(since the last captured commit, .* UTC\)\n/);
    expect(text.stdout).toContain('\n  Row changes   7 in 5 transactions, 0 DDL\n');
    expect(text.stdout).toContain(
      '\nServer db2\n  Checkpoint    none (never captured)\n  Lag           unknown\n',
    );

    const pruned = await cli(['prune', '--server-name', 'db1', '--older-than', '30d'], s.env);
    expect(pruned.stderr).toBe('');
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(
      /^Pruned 2 row changes of server "db1" committed before \d{4}-\d\d-\d\dT[\d:.]+Z; recorded gap [0-9a-f-]{36} so that the covered window starts at the cutoff\n$/,
    );
    const again = await cli(['prune', '--server-name', 'db1', '--older-than', '30d', '--json'], s.env);
    expect(JSON.parse(again.stdout)).toMatchObject({ server: 'db1', deleted: 0, gapId: null });

    const afterPrune = JSON.parse(
      (await cli(['status', '--server-name', 'db1', '--json'], s.env)).stdout,
    ) as Record<string, unknown>[];
    expect(afterPrune).toHaveLength(1);
    const status = afterPrune[0]!;
    expect(status).toMatchObject({ rowChanges: 5, firstChange: isoMicros(s.txs[2]!.commitTimeUs) });
    const gaps = status['gaps'] as Record<string, unknown>[];
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ reason: 'pruned', fromTime: isoMicros(s.txs[0]!.commitTimeUs) });
    const windows = status['windows'] as { from: string; to: string }[];
    expect(windows).toHaveLength(1);
    expect(windows[0]!.from).toBe(gaps[0]!['toTime']);
    expect(windows[0]!.to).toBe(isoMicros(s.txs[4]!.commitTimeUs));
    const shown = await cli(['status', '--server-name', 'db1'], s.env);
    expect(shown.stdout).toMatch(
      /\n {2}Gaps {10}1\n {4}- pruned: binlog\.000001:\d+ to binlog\.000001:\d+ \(.* UTC to .* UTC\)\n {6}2 row changes committed before/,
    );
  });

  it('refuses a malformed duration or an unknown server, pruning nothing', async () => {
    const before = await snapshot(s);
    for (const bad of ['30', '0d', '-5d', 'month']) {
      const r = await cli(['prune', '--server-name', 'db1', '--older-than', bad], s.env);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toBe(
        `dbtrail: Cannot parse --older-than "${bad}": expected a positive duration such as 30d, 12h, 90m, 2w or 45s\n`,
      );
    }
    const missing = await cli(['prune', '--server-name', 'db1'], s.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required flag --older-than/);
    const unknown = await cli(['prune', '--server-name', 'nope', '--older-than', '1d'], s.env);
    expect(unknown.code).toBe(7);
    expect(unknown.stderr).toMatch(/^dbtrail: Cannot find server "nope" in tenant "default"/);
    const unknownStatus = await cli(['status', '--server-name', 'nope'], s.env);
    expect(unknownStatus.code).toBe(7);
    expect(await snapshot(s)).toEqual(before);
  });
});
