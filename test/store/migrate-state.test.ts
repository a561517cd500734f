import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { generateApiKey } from '../../src/server/api-keys.js';
import { verifyAuditChain } from '../../src/store/audit-log.js';
import { StateConflictError } from '../../src/store/errors.js';
import { importSqliteState } from '../../src/store/postgres/import-sqlite.js';
import { openPostgresStateStore } from '../../src/store/postgres/state-store.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';
import type { StateStore } from '../../src/store/state-store.js';
import { cli } from '../harness/cli.js';
import { postgresTestDatabase } from './backends.js';
import { after, insert, remove, T0_US, tx, update } from './change-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'dbtrail-migrate-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const database = postgresTestDatabase();
let counter = 0;

const DAY_S = 86_400;

/** A SQLite state database with something in every table, written through the store as dbtrail would. */
async function seededSqlite(): Promise<{ path: string; keyHash: string }> {
  const path = join(root, `src${++counter}`, 'dbtrail.db');
  const clock = new ManualClock('2024-05-01T10:00:00.000Z');
  const s = await openSqliteStateStore({ path, clock });
  try {
    const acme = await s.tenants.create('acme');
    const other = await s.tenants.create('other');
    const db1 = await s.servers.create({
      tenantId: acme.id,
      name: 'db1',
      host: 'db1.internal',
      port: 3306,
      username: 'dbtrail',
      passwordCiphertext: new Uint8Array([0, 1, 2, 250, 255]),
      defaults: { tool: 'mydumper', threads: 4 },
    });
    const db2 = await s.servers.create({
      tenantId: other.id,
      name: 'db2',
      host: 'h',
      port: 3307,
      username: 'u',
    });
    const key = generateApiKey();
    await s.apiKeys.create({ tenantId: acme.id, name: 'ci', prefix: key.prefix, keyHash: key.hash });
    const revoked = generateApiKey();
    const k2 = await s.apiKeys.create({ tenantId: acme.id, prefix: revoked.prefix, keyHash: revoked.hash });
    await s.apiKeys.revoke(k2.id);
    const schedule = await s.schedules.create({
      tenantId: acme.id,
      serverId: db1.id,
      cron: '0 3 * * *',
      tool: 'mydumper',
      objectPrefix: 'acme/db1/',
      nextRunAt: new Date('2024-05-02T03:00:00.000Z'),
    });
    await s.schedules.create({
      tenantId: other.id,
      serverId: db2.id,
      cron: '*/5 * * * *',
      timezone: 'Europe/Paris',
      tool: 'xtrabackup',
      retentionDays: 7,
      objectPrefix: 'other/db2/',
      enabled: false,
      nextRunAt: null,
    });
    const backup = await s.catalog.create({
      tenantId: acme.id,
      serverId: db1.id,
      serverName: 'db1',
      tool: 'mydumper',
      scheduleId: schedule.id,
      status: 'running',
    });
    clock.advance(1500);
    await s.catalog.transition(backup.id, 'uploading', {
      coordinates: { file: 'binlog.000001', position: 4, gtid: '0-1-5' },
      sizeBytes: 123_456_789_012,
    });
    clock.advance(1500);
    await s.catalog.transition(backup.id, 'succeeded', { location: 's3://b/acme/db1/1/' });
    const failed = await s.catalog.create({ tenantId: acme.id, serverName: 'db1', tool: 'xtrabackup' });
    await s.catalog.transition(failed.id, 'failed', { error: { code: 'X', message: 'boom' } });
    const job = await s.jobs.enqueue({
      tenantId: acme.id,
      kind: 'backup',
      serverId: db1.id,
      scheduleId: schedule.id,
      scheduledFor: new Date('2024-05-01T03:00:00.000Z'),
      backupId: backup.id,
      payload: { a: [1, 'x'] },
    });
    await s.jobs.claim({ agentId: 'agent-1', kinds: ['backup'], leaseMs: 60_000 });
    await s.jobs.finish(job.id, 'agent-1', { status: 'succeeded' });
    await s.jobs.enqueue({ tenantId: other.id, kind: 'drill', serverId: db2.id });

    // Changes over three months, so that PostgreSQL makes three partitions; the first month is then pruned.
    const months = [0, 31 * DAY_S, 62 * DAY_S];
    let previous: ReturnType<typeof tx> | undefined;
    for (const [i, start] of months.entries()) {
      const t1 = tx(start, [
        insert('app', 'users', { id: String(i), name: `ann${i}`, big: '18446744073709551615' }),
        insert('app', 'blobs', { id: String(i), b: { hex: '00FF' } }),
      ]);
      const t2 = tx(start + 10, [
        update('app', 'users', { id: String(i), name: `ann${i}` }, { id: String(i), name: `bob${i}` }),
      ]);
      const t3 = tx(start + 20, [], {
        ddl: [{ schema: 'app', statement: `ALTER TABLE users ADD c${i} INT` }],
      });
      const t4 = tx(start + 30, [
        remove('app', 'users', { id: String(i), name: `bob${i}` }),
        insert('app', 'nopk', { a: 'x', b: null }, []),
      ]);
      await s.changes.commit(db1.id, {
        transactions: [t1, t2, t3, t4],
        checkpoint: after(t4),
        ...(previous === undefined ? {} : { expectPrevious: after(previous).coordinates }),
        tableSchemas: [
          {
            schema: 'app',
            table: 'users',
            validFrom: { file: t3.file, position: t3.endPosition, gtidSet: null },
            columns: [
              {
                name: 'id',
                type: 'int(11)',
                unsigned: false,
                charset: null,
                collation: null,
                nullable: false,
              },
            ],
            primaryKey: ['id'],
          },
        ],
      });
      previous = t4;
    }
    await s.changes.recordGap(db1.id, {
      reason: 'binlog_purged',
      detail: 'purged while down',
      from: { file: 'binlog.000001', position: 4, gtidSet: null },
      to: { file: 'binlog.000002', position: 4, gtidSet: null },
      fromTimeUs: null,
      toTimeUs: null,
    });
    const t5 = tx(63 * DAY_S, [insert('app', 'users', { id: '99' })]);
    await s.changes.commit(db1.id, { transactions: [t5], checkpoint: after(t5) });
    await s.changes.prune(db1.id, T0_US + BigInt(20 * DAY_S) * 1_000_000n);

    await s.binlogArchive.add({
      serverId: db1.id,
      file: 'binlog.000001',
      startPosition: 4,
      endPosition: 5000,
      endsFile: false,
      startGtidSet: null,
      endGtidSet: '0-1-9',
      firstGtid: '0-1-1',
      lastGtid: '0-1-9',
      firstCommitUs: T0_US,
      lastCommitUs: T0_US + 1n,
      transactions: 9,
      bytes: 4996,
      sha256: 'a'.repeat(64),
      objectKey: 'acme/db1/binlog/000001-4',
    });
    await s.binlogArchive.recordGap(db1.id, {
      from: { file: 'binlog.000001', position: 5000, gtidSet: null },
      to: { file: 'binlog.000003', position: 4, gtidSet: null },
      reason: 'capture_gap',
      detail: 'purged',
    });
    await s.agents.seen({
      id: 'agent-1',
      tenantId: acme.id,
      labels: ['eu', 'ssd'],
      hostname: 'a1',
      version: '0.1.0',
    });
    await s.agents.seen({ id: 'embedded', tenantId: null, labels: [] });
    for (let i = 0; i < 3; i++) {
      await s.audit.append({
        tenantId: i === 2 ? null : acme.id,
        actor: { kind: 'cli', id: 'alice' },
        action: 'backup.run',
        target: backup.id,
        outcome: 'success',
        details: { n: i, big: '18446744073709551615' },
      });
      clock.advance(1);
    }
    await s.serverFacts.record(db1.id, {
      binlogRetentionSeconds: 604_800,
      flavor: 'mariadb',
      version: '11.4.2',
    });
    await s.drills.record({
      tenantId: acme.id,
      serverId: db1.id,
      backupId: backup.id,
      status: 'passed',
      startedAt: new Date('2024-05-01T11:00:00.000Z'),
      finishedAt: new Date('2024-05-01T11:05:00.000Z'),
      rtoMs: 300_000,
      coordinates: { file: 'binlog.000001', position: 4, gtid: null },
      steps: [{ step: 'load', ms: 1000 }],
      tables: [],
      error: null,
    });
    return { path, keyHash: key.hash };
  } finally {
    await s.close();
  }
}

/** What every repository answers, for comparing two stores. */
async function snapshot(s: StateStore, keyHash: string): Promise<unknown> {
  const out: Record<string, unknown> = {};
  const tenants = await s.tenants.list();
  out['tenants'] = tenants;
  out['key'] = await s.apiKeys.findByHash(keyHash);
  out['due'] = await s.schedules.listDue(new Date('2030-01-01T00:00:00Z'));
  out['agents'] = await s.agents.list();
  out['audit'] = await s.audit.list();
  out['auditHead'] = await s.audit.head();
  for (const t of tenants) {
    const servers = await s.servers.list(t.id);
    const json = await s.catalog.listJson({ tenantId: t.id, limit: 1000 });
    const perServer: Record<string, unknown> = {};
    for (const server of servers) {
      const changes = await s.changes.query({ tenantId: t.id, serverId: server.id, limit: 10_000 });
      perServer[server.name] = {
        ciphertext: await s.servers.passwordCiphertext(server.id),
        changes,
        byPk: await s.changes.query({
          tenantId: t.id,
          serverId: server.id,
          schema: 'app',
          table: 'users',
          pk: '["2"]',
        }),
        byColumn: await s.changes.query({ tenantId: t.id, serverId: server.id, changedColumn: 'name' }),
        byValue: await s.changes.query({
          tenantId: t.id,
          serverId: server.id,
          columnEq: { column: 'b', value: { hex: '00ff' } },
        }),
        ddl: await s.changes.ddl(server.id),
        stats: await s.changes.stats(server.id),
        coverage: await s.changes.coverage(server.id),
        gaps: await s.changes.gaps(server.id),
        checkpoint: await s.changes.checkpoint(server.id),
        schemaAt: await s.changes.tableSchemaAt(server.id, 'app', 'users', { seq: 20n }),
        segments: await s.binlogArchive.list(server.id),
        archiveGaps: await s.binlogArchive.gaps(server.id),
        facts: await s.serverFacts.get(server.id),
        drills: await s.drills.list(t.id, server.id),
        active: await s.jobs.activeFor(server.id, 'drill'),
      };
    }
    out[t.name] = {
      servers,
      keys: await s.apiKeys.list(t.id),
      schedules: await s.schedules.list({ tenantId: t.id }),
      jobs: await s.jobs.list({ tenantId: t.id, limit: 1000 }),
      backups: await s.catalog.list({ tenantId: t.id, limit: 1000 }),
      backupsJson: json.map((j) => ({ id: j.id, json: JSON.parse(j.json) as unknown })),
      perServer,
    };
  }
  return out;
}

async function schemaOn(): Promise<{ url: string; schema: string }> {
  const url = await database();
  const schema = `m${++counter}`;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  return { url, schema };
}

describe('migrate-state', () => {
  it(
    'copies every table so that every repository answers the same, and the copy stays usable',
    { timeout: 120_000 },
    async () => {
      const { path, keyHash } = await seededSqlite();
      const target = await schemaOn();
      const result = await importSqliteState({
        sqlitePath: path,
        targetUrl: target.url,
        schema: target.schema,
      });
      const copied = Object.fromEntries(result.tables.map((t) => [t.table, t.rows]));
      for (const table of [
        'tenants',
        'servers',
        'changes',
        'change_columns',
        'change_gaps',
        'audit_log',
        'drills',
        'agents',
      ]) {
        expect(copied[table], table).toBeGreaterThan(0);
      }
      const clock = new ManualClock('2024-08-01T00:00:00.000Z');
      const sqlite = await openSqliteStateStore({ path, clock });
      const pgStore = await openPostgresStateStore({ url: target.url, schema: target.schema, clock });
      try {
        const expected = await snapshot(sqlite, keyHash);
        expect(await snapshot(pgStore, keyHash)).toEqual(expected);
        expect(
          JSON.stringify(expected, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        ).toContain('18446744073709551615');
        // The copy continues where the source stopped: seqs, keys and the audit chain.
        const [acme] = await pgStore.tenants.list();
        const db1 = (await pgStore.servers.findByName(acme!.id, 'db1'))!;
        const before = await pgStore.changes.stats(db1.id);
        expect(Object.values(result.lastSeqs)).toContain(before.lastSeq.toString());
        const next = tx(70 * DAY_S, [insert('app', 'brand_new', { id: '1' })]);
        const r = await pgStore.changes.commit(db1.id, {
          transactions: [next],
          checkpoint: after(next),
          expectPrevious: (await pgStore.changes.checkpoint(db1.id))!.coordinates,
        });
        expect(r.firstSeq).toBe(before.lastSeq + 1n);
        expect(
          (
            await pgStore.changes.query({
              tenantId: acme!.id,
              serverId: db1.id,
              schema: 'app',
              table: 'brand_new',
            })
          ).map((c) => c.seq),
        ).toEqual([before.lastSeq + 1n]);
        await pgStore.audit.append({
          tenantId: null,
          actor: { kind: 'system', id: 'test' },
          action: 'backup.run',
          target: null,
          outcome: 'success',
        });
        expect((await verifyAuditChain(pgStore.audit)).ok).toBe(true);
        await pgStore.changes.recordGap(db1.id, {
          reason: 'other',
          detail: 'after the move',
          from: { file: 'binlog.000009', position: 4, gtidSet: null },
          to: { file: 'binlog.000009', position: 5, gtidSet: null },
          fromTimeUs: null,
          toTimeUs: null,
        });
        expect((await pgStore.changes.gaps(db1.id)).map((g) => g.detail).at(-1)).toBe('after the move');
      } finally {
        await sqlite.close();
        await pgStore.close();
      }
    },
  );

  it(
    'refuses a target that holds state, writes nothing when a copy fails, and replaces only when told',
    { timeout: 120_000 },
    async () => {
      const { path } = await seededSqlite();
      const target = await schemaOn();
      // A copy that fails on the last table but one: nothing of it may stay behind.
      const first = await openPostgresStateStore({ url: target.url, schema: target.schema });
      await first.close();
      const c = new pg.Client({ connectionString: target.url, options: `-c search_path=${target.schema}` });
      await c.connect();
      try {
        await c.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON server_facts FOR EACH ROW EXECUTE FUNCTION refuse();`);
        const failed = await importSqliteState({
          sqlitePath: path,
          targetUrl: target.url,
          schema: target.schema,
        }).catch((e: unknown) => e);
        expect((failed as Error).message).toMatch(/^Cannot copy state from .*: disk full/);
        for (const table of ['tenants', 'changes', 'change_partitions', 'audit_log', 'change_servers']) {
          expect((await c.query(`SELECT COUNT(*)::int AS n FROM ${table}`)).rows[0], table).toEqual({ n: 0 });
        }
        expect(
          (
            await c.query(
              `SELECT COUNT(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'changes_s%'`,
              [target.schema],
            )
          ).rows[0],
        ).toEqual({ n: 0 });
        await c.query('DROP TRIGGER refuse ON server_facts');

        await importSqliteState({ sqlitePath: path, targetUrl: target.url, schema: target.schema });
        const again = await importSqliteState({
          sqlitePath: path,
          targetUrl: target.url,
          schema: target.schema,
        }).catch((e: unknown) => e);
        expect(again).toBeInstanceOf(StateConflictError);
        expect((again as Error).message).toMatch(
          /already holds state \(tenants, servers, .*\); give --force to replace it/,
        );
        const tenants = (await c.query('SELECT COUNT(*)::int AS n FROM tenants')).rows[0] as { n: number };
        expect(tenants.n).toBe(2);

        const replaced = await importSqliteState({
          sqlitePath: path,
          targetUrl: target.url,
          schema: target.schema,
          replace: true,
        });
        expect(replaced.tables.find((t) => t.table === 'tenants')?.rows).toBe(2);
        expect((await c.query('SELECT COUNT(*)::int AS n FROM tenants')).rows[0]).toEqual({ n: 2 });
      } finally {
        await c.end();
      }
    },
  );

  it(
    'runs as a command: target from DBTRAIL_STATE_URL, never a password on the command line',
    { timeout: 120_000 },
    async () => {
      const { path } = await seededSqlite();
      const url = await database();
      const env = { DBTRAIL_HOME: join(root, 'home'), DBTRAIL_STATE_URL: url };
      const ok = await cli(['migrate-state', '--from', `sqlite:${path}`, '--json'], env);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      const out = JSON.parse(ok.stdout) as {
        to: string;
        rows: number;
        tables: { table: string; rows: number }[];
      };
      expect(out.to).toBe(url);
      expect(out.tables.find((t) => t.table === 'tenants')?.rows).toBe(2);
      const refused = await cli(['migrate-state', '--from', `sqlite:${path}`], env);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/already holds state/);
      const forced = await cli(['migrate-state', '--from', `sqlite:${path}`, '--force'], env);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toMatch(
        /^Copied \d+ rows in \d+ tables from sqlite:.* to postgres:.*; counts and last seqs verified$/m,
      );
      const missing = await cli(['migrate-state', '--from', `sqlite:${join(root, 'nope.db')}`], env);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/Cannot open state database .*nope\.db: no such file/);
      const withPassword = await cli(
        ['migrate-state', '--from', `sqlite:${path}`, '--to', 'postgres://u:s3cret@127.0.0.1/x'],
        env,
      );
      expect(withPassword.code).not.toBe(0);
      expect(withPassword.stderr).toMatch(/--to: it holds a password/);
      expect(withPassword.stderr).not.toContain('s3cret');
    },
  );
});
