import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import type { PgConnectOptions, PgPool } from '../../src/store/postgres/driver.js';
import { connectPostgres } from '../../src/store/postgres/driver.js';
import { StoreOpenError } from '../../src/store/errors.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { openPostgresStateStore } from '../../src/store/postgres/state-store.js';
import type { StateStore } from '../../src/store/state-store.js';
import { postgresTestDatabase } from './backends.js';
import { after, insert, T0_US, tx, update } from './change-fixtures.js';

/**
 * What only the PostgreSQL backend has: month partitions of the change index (created on demand, dropped by
 * prune), lookups that read only one server's partitions through an index, migrations racing from several
 * connections, and job claims from many agents at once.
 */
const database = postgresTestDatabase();
let counter = 0;
const DAY_US = 86_400_000_000n;

async function freshSchema(): Promise<{
  url: string;
  schema: string;
  sql: (text: string, params?: unknown[]) => Promise<pg.QueryResultRow[]>;
}> {
  const url = await database();
  const schema = `b${++counter}`;
  const sql = async (text: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await c.connect();
    try {
      return (await c.query<pg.QueryResultRow>(text, params)).rows;
    } finally {
      await c.end();
    }
  };
  await sql(`CREATE SCHEMA ${schema}`);
  return { url, schema, sql };
}

async function serverIn(store: StateStore, name = 'db1'): Promise<{ tenantId: string; serverId: string }> {
  const tenant = await store.tenants.ensure('acme');
  const server = await store.servers.create({
    tenantId: tenant.id,
    name,
    host: 'h',
    port: 3306,
    username: 'u',
  });
  return { tenantId: tenant.id, serverId: server.id };
}

describe('postgres change index partitions', () => {
  it('creates a partition per server and month, and prune drops whole months before the cutoff', async () => {
    const { url, schema, sql } = await freshSchema();
    const clock = new ManualClock('2024-09-01T00:00:00Z');
    const store = await openPostgresStateStore({ url, schema, clock });
    const writer = await openPostgresStateStore({ url, schema, clock });
    try {
      const { tenantId, serverId } = await serverIn(store);
      // May, June, July and August 2024 (T0 is 2024-05-01T10:00Z).
      const days = [0, 31, 45, 62, 93];
      const txs = days.map((d, i) =>
        tx(Number(BigInt(d) * 86_400n), [
          insert('app', 'users', { id: String(i), v: '0' }),
          update('app', 'users', { id: String(i), v: '0' }, { id: String(i), v: '1' }),
        ]),
      );
      // Another process's store commits May's changes, so it knows (and caches) May's partition.
      await writer.changes.commit(serverId, { transactions: [txs[0]!], checkpoint: after(txs[0]!) });
      await store.changes.commit(serverId, { transactions: txs.slice(1), checkpoint: after(txs[4]!) });
      const parts = await sql('SELECT suffix FROM change_partitions ORDER BY from_us');
      expect(parts.map((p) => p['suffix'] as string)).toEqual([
        's1_202405',
        's1_202406',
        's1_202407',
        's1_202408',
      ]);
      const tables = await sql(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = 'changes' AND p.relnamespace = to_regnamespace($1) ORDER BY 1`,
        [schema],
      );
      expect(tables.map((t) => t['relname'] as string)).toEqual([
        'changes_s1_202405',
        'changes_s1_202406',
        'changes_s1_202407',
        'changes_s1_202408',
      ]);

      // Cutoff in mid-June: May goes as a partition, June's first half row by row.
      const cutoff = T0_US + 40n * DAY_US;
      const r = await store.changes.prune(serverId, cutoff);
      expect(r.deleted).toBe(4n);
      expect(r.gap).toMatchObject({ reason: 'pruned', toTimeUs: cutoff });
      expect(
        (await sql('SELECT suffix FROM change_partitions ORDER BY from_us')).map(
          (p) => p['suffix'] as string,
        ),
      ).toEqual(['s1_202406', 's1_202407', 's1_202408']);
      expect(
        await sql(
          "SELECT to_regclass('changes_s1_202405') AS t, to_regclass('change_columns_s1_202405') AS c",
        ),
      ).toEqual([{ t: null, c: null }]);
      const left = await store.changes.query({ tenantId, serverId, limit: 100 });
      expect(left.map((c) => c.commitTimeUs >= cutoff)).toEqual(Array(6).fill(true));
      expect(await store.changes.query({ tenantId, serverId, changedColumn: 'v' })).toHaveLength(3);
      expect(await store.changes.stats(serverId)).toMatchObject({ rowChanges: 6n, transactions: 3n });
      // A PK lookup reads only the partitions its time bounds overlap (July here), and nothing outside them.
      const users = { tenantId, serverId, schema: 'app', table: 'users', pk: '["3"]' };
      const july = { sinceUs: T0_US + 61n * DAY_US, untilUs: T0_US + 63n * DAY_US };
      expect((await store.changes.query({ ...users, ...july })).map((c) => c.type)).toEqual([
        'insert',
        'update',
      ]);
      expect(await store.changes.query({ ...users, sinceUs: T0_US + 63n * DAY_US })).toEqual([]);
      expect(await store.changes.query({ ...users, untilUs: T0_US + 61n * DAY_US })).toEqual([]);
      expect(await store.changes.query({ ...users, pk: '["0"]' })).toEqual([]);

      // The other store still believes in May's partition: its next May commit makes it again.
      const again = tx(2, [insert('app', 'users', { id: 'again' })]);
      const w = await writer.changes.commit(serverId, { transactions: [again], checkpoint: after(again) });
      expect(w.firstSeq).toBe(11n);
      expect(await sql("SELECT to_regclass('changes_s1_202405')::text AS t")).toEqual([
        { t: 'changes_s1_202405' },
      ]);
      expect(
        (
          await store.changes.query({ tenantId, serverId, pk: '["again"]', schema: 'app', table: 'users' })
        ).map((c) => c.seq),
      ).toEqual([11n]);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it(
    "answers lookups by pk, time, GTID and changed column from indexes of the one server's partitions",
    { timeout: 120_000 },
    async () => {
      const { url, schema, sql } = await freshSchema();
      const statements: { text: string; values: readonly unknown[] }[] = [];
      const connect = (o: PgConnectOptions): PgPool => {
        const pool = connectPostgres(o);
        return {
          end: () => pool.end(),
          connect: async () => {
            const client = await pool.connect();
            return {
              release: (e) => client.release(e),
              query: (text, values) => {
                statements.push({ text, values: values ?? [] });
                return client.query(text, values);
              },
            };
          },
        };
      };
      const store = await openPostgresStateStore({ url, schema, connect });
      try {
        const { tenantId, serverId } = await serverIn(store);
        const other = (await serverIn(store, 'db2')).serverId;
        // 20k changes per server over two months, then statistics, as autovacuum would gather them.
        for (const id of [serverId, other]) {
          let previous: ReturnType<typeof tx> | undefined;
          for (let b = 0; b < 20; b++) {
            const batch = Array.from({ length: 50 }, (_, i) => {
              const n = b * 50 + i;
              return tx(
                n * 3_000,
                Array.from({ length: 20 }, (_, k) =>
                  update('app', `t${k % 4}`, { id: `${n}-${k}`, a: '0' }, { id: `${n}-${k}`, a: '1' }),
                ),
                { gtid: `0-1-${n + 1}` },
              );
            });
            await store.changes.commit(id, {
              transactions: batch,
              checkpoint: after(batch[49]!),
              ...(previous === undefined ? {} : { expectPrevious: after(previous).coordinates }),
            });
            previous = batch[49];
          }
        }
        await sql('ANALYZE');
        const q = { tenantId, serverId };
        const cases: [string, Parameters<StateStore['changes']['query']>[0], RegExp][] = [
          [
            'pk',
            { ...q, schema: 'app', table: 't1', pk: '["500-5"]' },
            /Index Scan using changes_s1_\w+ on changes_s1_\d+ .*\n\s+Index Cond: \(\(table_key = '\d+'::bigint\) AND \(\(CASE WHEN \(octet_length\(pk\) <= 32\)/,
          ],
          ['gtid', { ...q, gtid: '0-1-700' }, /Index Scan using changes_s1_\d+_pkey/],
          [
            'time',
            { ...q, sinceUs: T0_US + 3_000_000_000n, untilUs: T0_US + 3_100_000_000n },
            /Index Scan using changes_s1_\d+_server_key_commit_time_us_seq_idx/,
          ],
          [
            'changed column',
            { ...q, schema: 'app', table: 't2', changedColumn: 'a', limit: 10 },
            /Index (Only )?Scan using change_columns_s1_\d+_pkey/,
          ],
        ];
        for (const [name, filter, index] of cases) {
          statements.length = 0;
          const rows = await store.changes.query(filter);
          expect(rows.length, name).toBeGreaterThan(0);
          const run = statements.find((s) => s.text.includes('JOIN change_tables t'))!;
          const plan = (
            await sql(
              `EXPLAIN ${run.text}`,
              run.values.map((v) => (Array.isArray(v) ? v.map(String) : v)),
            )
          )
            .map((r) => r['QUERY PLAN'] as string)
            .join('\n');
          if (process.env['SHOW_PLANS']) console.log(name, plan);
          expect(plan, name).toMatch(index);
          // Only server 1's partitions are read, and no partition of changes is scanned whole.
          expect(plan, name).not.toMatch(/changes_s2_/);
          expect(plan, name).not.toMatch(/Seq Scan on changes_/);
        }
      } finally {
        await store.close();
      }
    },
  );
});

describe('postgres pk lookups without planner statistics', () => {
  it(
    "uses the pk index of a fresh, never analyzed partition, not a scan of the server's time index",
    { timeout: 180_000 },
    async () => {
      const { url, schema, sql } = await freshSchema();
      const statements: { text: string; values: readonly unknown[] }[] = [];
      const connect = (o: PgConnectOptions): PgPool => {
        const pool = connectPostgres(o);
        return {
          end: () => pool.end(),
          connect: async () => {
            const client = await pool.connect();
            return {
              release: (e) => client.release(e),
              query: (text, values) => {
                statements.push({ text, values: values ?? [] });
                return client.query(text, values);
              },
            };
          },
        };
      };
      const store = await openPostgresStateStore({ url, schema, connect });
      try {
        const { tenantId, serverId } = await serverIn(store);
        const first = tx(0, [insert('app', 'users', { id: 'probe', v: '0' })]);
        await store.changes.commit(serverId, { transactions: [first], checkpoint: after(first) });
        // A month's partition filled by 400k changes of one table, as capture fills it, and never analyzed: no
        // column statistics, so the planner falls back to default selectivities for every condition.
        await sql('ALTER TABLE changes_s1_202405 SET (autovacuum_enabled = false)');
        await sql(
          `INSERT INTO changes (server_key, seq, table_key, tx_seq, change_type, commit_time_us, pk_hash, pk,
             pk_columns, pk_is_full_image, before_image, after_image, changed_columns)
           SELECT 1, 1 + i, 1, 1 + i, 'insert', $1::bigint + i * 1000, i, '["' || i || '"]', '["id"]', false, NULL,
             '{"id":"' || i || '","v":"0"}', NULL
           FROM generate_series(1, 400000) AS i`,
          [T0_US],
        );
        expect(
          await sql(
            "SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'changes_s1_202405' AND schemaname = $1",
            [schema],
          ),
        ).toEqual([{ n: 0 }]);
        statements.length = 0;
        const rows = await store.changes.query({
          tenantId,
          serverId,
          schema: 'app',
          table: 'users',
          pk: '["probe"]',
        });
        expect(rows.map((r) => [r.seq, r.pk])).toEqual([[1n, '["probe"]']]);
        const run = statements.find((st) => st.text.includes('JOIN change_tables t'))!;
        const explain = async (text: string): Promise<string> =>
          (
            await sql(
              `EXPLAIN ${text}`,
              run.values.map((v) => (Array.isArray(v) ? v.map(String) : v)),
            )
          )
            .map((r) => r['QUERY PLAN'] as string)
            .join('\n');
        const plan = await explain(run.text);
        // The same statement on the parent with the server condition, as lookups were written before: shown for
        // comparison (SHOW_PLANS=1); without statistics it may AND the pk index with the time index.
        if (process.env['SHOW_PLANS']) {
          const before = run.text.replace(
            /FROM \(SELECT [^)]*\) c\s+WHERE /,
            'FROM changes c WHERE c.server_key = $1 AND ',
          );
          console.log(
            'pk lookup, no statistics:\n' + plan + '\n\nthe same on the parent:\n' + (await explain(before)),
          );
        }
        // The partition is read through its pk index alone (an index scan, or a bitmap of that one index).
        expect(plan).toMatch(
          /(Index Scan using|Bitmap Index Scan on) changes_s1_202405_table_key_pk_hash_idx.*\n\s+Index Cond: \(\(table_key = '1'::bigint\) AND \(\(CASE WHEN \(octet_length\(pk\) <= 32\)/,
        );
        // No other index of changes joins in: with no condition on server_key, changes_by_time has nothing to
        // match, and the table_key condition is already the pk index's (the planner never ANDs two indexes on
        // the same condition).
        expect(plan).not.toMatch(
          /BitmapAnd|Seq Scan on changes_|server_key_commit_time_us_seq_idx|table_key_commit_time/,
        );
        // And the partition's scan is not filtered by server (the node's lines, up to the next node).
        const scan = plan.slice(plan.indexOf('on changes_s1_202405'));
        expect(scan.slice(0, scan.indexOf('->'))).not.toMatch(/server_key/);
      } finally {
        await store.close();
      }
    },
  );
});

describe('postgres connections', () => {
  it('replaces connections the server dropped, and reports a lost one as a connection error', async () => {
    const { url, schema, sql } = await freshSchema();
    const store = await openPostgresStateStore({ url, schema, maxConnections: 2 });
    try {
      await store.tenants.ensure('acme');
      const killed = await sql(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'dbtrail' AND datname = current_database() AND pid <> pg_backend_pid()",
      );
      expect(killed.length).toBeGreaterThan(0);
      // The pool learns of the dropped idle connections; a call that still meets one fails as a connection error.
      let names: string[] | undefined;
      for (let attempt = 0; attempt < 3 && names === undefined; attempt++) {
        try {
          names = (await store.tenants.list()).map((t) => t.name);
        } catch (err) {
          expect(err).toBeInstanceOf(StoreOpenError);
        }
      }
      expect(names).toEqual(['acme']);
    } finally {
      await store.close();
    }
  });
});

describe('postgres migrations and claims from many connections', () => {
  it('migrates a new database once when eight connections open it at once', async () => {
    const { url, schema, sql } = await freshSchema();
    const stores = await Promise.all(
      Array.from({ length: 8 }, () => openPostgresStateStore({ url, schema, maxConnections: 2 })),
    );
    try {
      expect(await Promise.all(stores.map((s) => s.schemaVersion()))).toEqual(
        Array(8).fill(POSTGRES_MIGRATIONS.length),
      );
      expect(
        (await sql('SELECT version FROM schema_migrations ORDER BY version')).map(
          (r) => r['version'] as number,
        ),
      ).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it(
    'gives each of 300 jobs to exactly one of 10 agents claiming at once (SKIP LOCKED)',
    { timeout: 60_000 },
    async () => {
      const { url, schema, sql } = await freshSchema();
      const agents = await Promise.all(
        Array.from({ length: 10 }, () => openPostgresStateStore({ url, schema, maxConnections: 2 })),
      );
      try {
        const tenant = await agents[0]!.tenants.create('acme');
        const ids: string[] = [];
        for (let i = 0; i < 300; i++)
          ids.push((await agents[0]!.jobs.enqueue({ tenantId: tenant.id, kind: 'backup' })).id);
        const claimed = await Promise.all(
          agents.map(async (s, a) => {
            const mine: string[] = [];
            for (;;) {
              const job = await s.jobs.claim({ agentId: `agent-${a}`, kinds: ['backup'], leaseMs: 60_000 });
              if (job === undefined) return mine;
              mine.push(job.id);
              await s.jobs.finish(job.id, `agent-${a}`, { status: 'succeeded' });
            }
          }),
        );
        const all = claimed.flat();
        expect(all.length).toBe(300);
        expect(new Set(all).size).toBe(300);
        expect([...all].sort()).toEqual([...ids].sort());
        expect(claimed.filter((c) => c.length > 0).length).toBeGreaterThan(1);
        expect(
          await sql("SELECT COUNT(*)::int AS n FROM jobs WHERE attempts <> 1 OR status <> 'succeeded'"),
        ).toEqual([{ n: 0 }]);
      } finally {
        await Promise.all(agents.map((s) => s.close()));
      }
    },
  );
});
