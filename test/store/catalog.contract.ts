import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, type Clock } from '../../src/lib/clock.js';
import { backupToJson, failureOf, type BackupRecord, type BackupStatus } from '../../src/store/catalog.js';
import {
  AmbiguousIdError,
  BackupIncompleteError,
  DuplicateError,
  IllegalTransitionError,
  InvalidValueError,
  NotFoundError,
  StateConflictError,
  StoreClosedError,
} from '../../src/store/errors.js';
import { newId } from '../../src/store/ids.js';
import type { StateStore } from '../../src/store/state-store.js';

/**
 * The contract every state store backend must meet, written once and run against each real backend
 * (test/store/sqlite.test.ts, later test/store/postgres.test.ts). A backend supplies a factory of empty
 * databases; everything else goes through the public StateStore interface, except seeding bulk history and
 * reading the migration bookkeeping, which use the backend's own fast path.
 */
export interface ContractDatabase {
  /** Opens a store on this database: a new connection each call, so two calls are two writers. */
  open(options?: { readonly clock?: Clock; readonly migrateTo?: number }): Promise<StateStore>;
  /** Runs SQL on the database outside any store (seeding an older schema). */
  exec(sql: string): Promise<void>;
  /** Rows of a query run outside any store. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Inserts finished history rows fast (one transaction), for the size tests. */
  seedBackups(rows: readonly SeedBackup[]): Promise<void>;
  drop(): Promise<void>;
}

export interface SeedBackup {
  readonly id: string;
  readonly tenantId: string;
  readonly serverName: string;
  readonly status: BackupStatus;
  readonly createdAt: Date;
}

export interface ContractBackend {
  readonly name: string;
  /** The newest schema version of this build. */
  readonly latestVersion: number;
  createDatabase(): Promise<ContractDatabase>;
}

const T0 = '2024-05-01T10:00:00.000Z';
const COORDS = { file: 'binlog.000042', position: 123_456, gtid: '0-1-100,1-2-7' } as const;

export function catalogContract(backend: ContractBackend): void {
  describe(`state store contract: ${backend.name}`, () => {
    let db: ContractDatabase;
    let clock: ManualClock;
    let store: StateStore;
    const opened: StateStore[] = [];

    const open = async (options: { clock?: Clock; migrateTo?: number } = {}): Promise<StateStore> => {
      const s = await db.open({ clock, ...options });
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      db = await backend.createDatabase();
      clock = new ManualClock(T0);
      store = await open();
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await db.drop();
    });

    async function tenantAndServer(name = 'acme', server = 'db1') {
      const tenant = await store.tenants.create(name);
      const srv = await store.servers.create({
        tenantId: tenant.id,
        name: server,
        host: '127.0.0.1',
        port: 3306,
        username: 'dbtrail',
      });
      return { tenant, server: srv };
    }

    /** A backup taken through its whole life, one second per step. */
    async function succeeded(tenantId: string, serverName: string): Promise<BackupRecord> {
      const b = await store.catalog.create({ tenantId, serverName, tool: 'mydumper', status: 'running' });
      clock.advance(1000);
      await store.catalog.transition(b.id, 'uploading', { coordinates: COORDS, sizeBytes: 10 });
      clock.advance(1000);
      return store.catalog.transition(b.id, 'succeeded', { location: `file:///objects/${b.id}/` });
    }

    describe('migrations', () => {
      it('brings a new database to the newest version, each migration recorded once', async () => {
        expect(await store.schemaVersion()).toBe(backend.latestVersion);
        const rows = await db.query('SELECT version, name FROM schema_migrations ORDER BY version');
        expect(rows.map((r) => Number(r['version']))).toEqual(
          Array.from({ length: backend.latestVersion }, (_, i) => i + 1),
        );
      });

      it('is idempotent: reopening applies nothing and keeps the data', async () => {
        const { tenant } = await tenantAndServer();
        const before = await db.query(
          'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
        );
        clock.advance(60_000);
        await store.close();
        const again = await open();
        const third = await open();
        expect(await again.schemaVersion()).toBe(backend.latestVersion);
        expect(await third.schemaVersion()).toBe(backend.latestVersion);
        expect(
          await db.query('SELECT version, name, applied_at FROM schema_migrations ORDER BY version'),
        ).toEqual(before);
        expect((await again.tenants.get(tenant.id)).name).toBe('acme');
      });

      it('upgrades a database created by the first migration, keeping its records', async () => {
        const old = await backend.createDatabase();
        try {
          const v1 = await old.open({ clock, migrateTo: 1 });
          expect(await v1.schemaVersion()).toBe(1);
          await v1.close();
          const tenantId = newId();
          const backupId = newId();
          // Written with version 1's columns only, as an old dbtrail would have.
          await old.exec(
            `INSERT INTO tenants (id, name, created_at) VALUES ('${tenantId}', 'old', '2023-01-02T03:04:05.678Z')`,
          );
          await old.exec(
            `INSERT INTO backups (id, tenant_id, server_name, tool, status, created_at, started_at, dump_finished_at,
               finished_at, duration_ms, size_bytes, binlog_file, binlog_position, gtid_set, location, updated_at)
             VALUES ('${backupId}', '${tenantId}', 'legacy', 'mydumper', 'succeeded', '2023-01-02T03:04:05.678Z',
               '2023-01-02T03:04:05.678Z', '2023-01-02T03:05:00.000Z', '2023-01-02T03:06:00.000Z', 114322, 4096,
               'mysql-bin.000003', 4, NULL, 's3://bucket/old/legacy/', '2023-01-02T03:06:00.000Z')`,
          );
          const upgraded = await old.open({ clock });
          try {
            expect(await upgraded.schemaVersion()).toBe(backend.latestVersion);
            const b = await upgraded.catalog.get(backupId);
            expect(b).toMatchObject({
              tenant: 'old',
              serverName: 'legacy',
              scheduleId: null,
              status: 'succeeded',
              durationMs: 114322,
              sizeBytes: 4096,
              coordinates: { file: 'mysql-bin.000003', position: 4, gtid: null },
              location: 's3://bucket/old/legacy/',
            });
            expect(b.createdAt.toISOString()).toBe('2023-01-02T03:04:05.678Z');
            // The upgraded schema is fully usable.
            const fresh = await upgraded.catalog.create({
              tenantId,
              serverName: 'legacy',
              tool: 'xtrabackup',
            });
            const listed = await upgraded.catalog.list({ tenantId });
            expect(listed.map((x) => x.id)).toEqual([fresh.id, backupId]);
          } finally {
            await upgraded.close();
          }
        } finally {
          await old.drop();
        }
      });
    });

    describe('tenants and servers', () => {
      it('creates tenants with unique names and finds them', async () => {
        const a = await store.tenants.create('acme');
        expect(a.createdAt.toISOString()).toBe(T0);
        await expect(store.tenants.create('acme')).rejects.toBeInstanceOf(DuplicateError);
        await expect(store.tenants.create('bad name/..')).rejects.toBeInstanceOf(InvalidValueError);
        expect(await store.tenants.findByName('acme')).toEqual(a);
        expect(await store.tenants.findByName('nobody')).toBeUndefined();
        await expect(store.tenants.get(newId())).rejects.toBeInstanceOf(NotFoundError);
        const b = await store.tenants.create('beta');
        expect((await store.tenants.list()).map((t) => t.name)).toEqual(['acme', 'beta']);
        expect(b.id).not.toBe(a.id);
      });

      it('ensures a tenant once, even when two connections race', async () => {
        const other = await open();
        const got = await Promise.all([
          store.tenants.ensure('default'),
          other.tenants.ensure('default'),
          store.tenants.ensure('default'),
          other.tenants.ensure('default'),
        ]);
        expect(new Set(got.map((t) => t.id)).size).toBe(1);
        expect(await store.tenants.list()).toHaveLength(1);
      });

      it('registers servers per tenant, keeping the password out of every record', async () => {
        const { tenant, server } = await tenantAndServer();
        expect(server).toMatchObject({ tenantId: tenant.id, name: 'db1', port: 3306, hasPassword: false });
        const secret = new Uint8Array([0, 1, 2, 250, 255]);
        const withPassword = await store.servers.create({
          tenantId: tenant.id,
          name: 'db2',
          host: 'db2.internal',
          port: 3307,
          username: 'backup',
          passwordCiphertext: secret,
          defaults: { tool: 'mydumper', threads: 4 },
        });
        expect(withPassword.hasPassword).toBe(true);
        expect(withPassword.defaults).toEqual({ tool: 'mydumper', threads: 4 });
        // The ciphertext must not appear in any of the forms a serializer would give it (ids and times may
        // contain the digits 250, so the bare number proves nothing).
        const listed = JSON.stringify(await store.servers.list(tenant.id));
        for (const form of ['0,1,2,250,255', Buffer.from(secret).toString('base64'), '000102faff']) {
          expect(listed.toLowerCase()).not.toContain(form.toLowerCase());
        }
        expect(Object.keys(withPassword)).not.toContain('passwordCiphertext');
        expect(await store.servers.passwordCiphertext(withPassword.id)).toEqual(secret);
        expect(await store.servers.passwordCiphertext(server.id)).toBeNull();

        await expect(
          store.servers.create({ tenantId: tenant.id, name: 'db1', host: 'h', port: 1, username: 'u' }),
        ).rejects.toBeInstanceOf(DuplicateError);
        await expect(
          store.servers.create({ tenantId: tenant.id, name: 'db3', host: 'h', port: 70000, username: 'u' }),
        ).rejects.toThrow(/port must be 1 to 65535, got 70000/);
        await expect(
          store.servers.create({ tenantId: newId(), name: 'db3', host: 'h', port: 1, username: 'u' }),
        ).rejects.toBeInstanceOf(NotFoundError);

        const other = await store.tenants.create('other');
        const same = await store.servers.create({
          tenantId: other.id,
          name: 'db1',
          host: 'h',
          port: 1,
          username: 'u',
        });
        expect(same.id).not.toBe(server.id);
        expect((await store.servers.list(tenant.id)).map((s) => s.name)).toEqual(['db1', 'db2']);
        expect((await store.servers.findByName(other.id, 'db1'))?.id).toBe(same.id);
        await expect(store.servers.get(server.id, { tenantId: other.id })).rejects.toBeInstanceOf(
          NotFoundError,
        );
        await expect(
          store.servers.passwordCiphertext(withPassword.id, { tenantId: other.id }),
        ).rejects.toBeInstanceOf(NotFoundError);
        expect((await store.servers.get(server.id, { tenantId: tenant.id })).name).toBe('db1');
      });
    });

    describe('catalog: create and status', () => {
      it('creates a queued backup with a UUID and the clock time', async () => {
        const { tenant, server } = await tenantAndServer();
        const b = await store.catalog.create({
          tenantId: tenant.id,
          serverId: server.id,
          serverName: 'db1',
          tool: 'mydumper',
        });
        expect(b.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(b).toMatchObject({
          tenantId: tenant.id,
          tenant: 'acme',
          serverId: server.id,
          serverName: 'db1',
          status: 'queued',
          startedAt: null,
          finishedAt: null,
          durationMs: null,
          coordinates: null,
          error: null,
        });
        expect(b.createdAt.toISOString()).toBe(T0);
        expect(await store.catalog.get(b.id)).toEqual(b);

        const running = await store.catalog.create({
          id: '0f0f0f0f-0000-4000-8000-000000000001',
          tenantId: tenant.id,
          serverName: 'unregistered',
          tool: 'mariadb-backup',
          status: 'running',
          localDir: '/var/lib/dbtrail/dumps/x',
        });
        expect(running).toMatchObject({
          id: '0f0f0f0f-0000-4000-8000-000000000001',
          serverId: null,
          status: 'running',
          localDir: '/var/lib/dbtrail/dumps/x',
        });
        expect(running.startedAt?.toISOString()).toBe(T0);
        await expect(
          store.catalog.create({ id: running.id, tenantId: tenant.id, serverName: 'x', tool: 'mydumper' }),
        ).rejects.toBeInstanceOf(DuplicateError);
      });

      it('refuses bad input with a message naming it', async () => {
        const { tenant } = await tenantAndServer();
        await expect(
          store.catalog.create({ tenantId: tenant.id, serverName: 'db1', tool: 'mysqldump' as 'mydumper' }),
        ).rejects.toThrow(
          'Cannot record backup tool "mysqldump": expected one of mydumper, mariadb-backup, xtrabackup',
        );
        await expect(
          store.catalog.create({ tenantId: tenant.id, serverName: '../etc', tool: 'mydumper' }),
        ).rejects.toBeInstanceOf(InvalidValueError);
        await expect(
          store.catalog.create({ tenantId: newId(), serverName: 'db1', tool: 'mydumper' }),
        ).rejects.toBeInstanceOf(NotFoundError);
        await expect(
          store.catalog.create({
            tenantId: tenant.id,
            serverName: 'db1',
            tool: 'mydumper',
            status: 'succeeded' as 'queued',
          }),
        ).rejects.toThrow(/expected queued or running/);
        await expect(store.catalog.get('nope')).rejects.toThrow(
          'Cannot use backup id "nope": expected a lower-case UUID',
        );
        expect(await store.catalog.list({ tenantId: tenant.id })).toEqual([]);
      });

      it('refuses a server or schedule of another tenant', async () => {
        const { server } = await tenantAndServer('acme', 'db1');
        const other = await store.tenants.create('other');
        await expect(
          store.catalog.create({
            tenantId: other.id,
            serverId: server.id,
            serverName: 'db1',
            tool: 'mydumper',
          }),
        ).rejects.toBeInstanceOf(NotFoundError);
        await expect(
          store.catalog.create({
            tenantId: other.id,
            scheduleId: newId(),
            serverName: 'db1',
            tool: 'mydumper',
          }),
        ).rejects.toBeInstanceOf(NotFoundError);
      });

      it('walks running -> uploading -> succeeded, recording facts and timings', async () => {
        const { tenant, server } = await tenantAndServer();
        const q = await store.catalog.create({
          tenantId: tenant.id,
          serverId: server.id,
          serverName: 'db1',
          tool: 'mydumper',
        });
        clock.advance(5_000);
        const r = await store.catalog.transition(q.id, 'running', { toolVersion: '0.19.1-1' });
        expect(r.status).toBe('running');
        expect(r.startedAt?.toISOString()).toBe('2024-05-01T10:00:05.000Z');
        expect(r.toolVersion).toBe('0.19.1-1');
        clock.advance(60_000);
        const u = await store.catalog.transition(q.id, 'uploading', {
          coordinates: COORDS,
          sizeBytes: 9_007_199_254_740_991,
          localDir: '/tmp/dump',
        });
        expect(u.dumpFinishedAt?.toISOString()).toBe('2024-05-01T10:01:05.000Z');
        expect(u.coordinates).toEqual(COORDS);
        expect(u.sizeBytes).toBe(Number.MAX_SAFE_INTEGER);
        clock.advance(30_250);
        const s = await store.catalog.transition(q.id, 'succeeded', {
          location: 's3://bkt/p/acme/db1/2024-05-01/100005/',
        });
        expect(s.status).toBe('succeeded');
        expect(s.finishedAt?.toISOString()).toBe('2024-05-01T10:01:35.250Z');
        expect(s.durationMs).toBe(90_250);
        expect(s.updatedAt.toISOString()).toBe('2024-05-01T10:01:35.250Z');
        expect(await store.catalog.get(q.id)).toEqual(s);
        expect(backupToJson(s)).toEqual({
          id: q.id,
          tenant: 'acme',
          server_id: server.id,
          server_name: 'db1',
          schedule_id: null,
          tool: 'mydumper',
          tool_version: '0.19.1-1',
          status: 'succeeded',
          created_at: T0,
          started_at: '2024-05-01T10:00:05.000Z',
          dump_finished_at: '2024-05-01T10:01:05.000Z',
          finished_at: '2024-05-01T10:01:35.250Z',
          duration_ms: 90_250,
          size_bytes: Number.MAX_SAFE_INTEGER,
          coordinates: COORDS,
          location: 's3://bkt/p/acme/db1/2024-05-01/100005/',
          local_dir: '/tmp/dump',
          error: null,
        });
      });

      it('rejects illegal transitions with a typed error and leaves the backup as it was', async () => {
        const { tenant } = await tenantAndServer();
        const done = await succeeded(tenant.id, 'db1');
        for (const to of ['queued', 'running', 'uploading', 'failed', 'succeeded'] as const) {
          const err = await store.catalog
            .transition(done.id, to, { error: { code: null, message: 'x' } })
            .catch((e: unknown) => e);
          expect(err).toBeInstanceOf(IllegalTransitionError);
          expect((err as IllegalTransitionError).fields).toEqual({
            backupId: done.id,
            from: 'succeeded',
            to,
          });
        }
        expect(await store.catalog.get(done.id)).toEqual(done);

        const q = await store.catalog.create({ tenantId: tenant.id, serverName: 'db1', tool: 'mydumper' });
        await expect(store.catalog.transition(q.id, 'uploading')).rejects.toThrow(
          `Cannot change status of backup ${q.id} from queued to uploading: from queued only running or failed is allowed`,
        );
        await expect(store.catalog.transition(q.id, 'succeeded')).rejects.toBeInstanceOf(
          IllegalTransitionError,
        );
        await expect(store.catalog.transition(q.id, 'bogus' as BackupStatus)).rejects.toBeInstanceOf(
          InvalidValueError,
        );
        await expect(store.catalog.transition(newId(), 'running')).rejects.toBeInstanceOf(NotFoundError);
        expect((await store.catalog.get(q.id)).status).toBe('queued');
      });

      it('never marks a backup succeeded without coordinates and a location', async () => {
        const { tenant } = await tenantAndServer();
        const b = await store.catalog.create({
          tenantId: tenant.id,
          serverName: 'db1',
          tool: 'mydumper',
          status: 'running',
        });
        await store.catalog.transition(b.id, 'uploading');
        await expect(store.catalog.transition(b.id, 'succeeded', { location: 'file:///x/' })).rejects.toThrow(
          `Cannot mark backup ${b.id} succeeded: missing binlog coordinates`,
        );
        const err = await store.catalog.transition(b.id, 'succeeded').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BackupIncompleteError);
        expect((err as BackupIncompleteError).fields['missing']).toEqual(['binlog coordinates', 'location']);
        expect((await store.catalog.get(b.id)).status).toBe('uploading');
        await store.catalog.record(b.id, { coordinates: COORDS });
        const ok = await store.catalog.transition(b.id, 'succeeded', { location: 'file:///x/' });
        expect(ok.status).toBe('succeeded');
      });

      it('fails with the reason, and retries the upload of a finished dump', async () => {
        const { tenant } = await tenantAndServer();
        const b = await store.catalog.create({
          tenantId: tenant.id,
          serverName: 'db1',
          tool: 'mydumper',
          status: 'running',
        });
        await expect(store.catalog.transition(b.id, 'failed')).rejects.toThrow(/expected an error message/);
        clock.advance(10_000);
        await store.catalog.transition(b.id, 'uploading', { coordinates: COORDS, localDir: '/d' });
        clock.advance(2_000);
        const failure = failureOf(new NotFoundError('Cannot upload part 3: bucket "x" does not exist'));
        const f = await store.catalog.transition(b.id, 'failed', { error: failure });
        expect(f).toMatchObject({
          status: 'failed',
          durationMs: 12_000,
          error: { code: 'STORE_NOT_FOUND', message: 'Cannot upload part 3: bucket "x" does not exist' },
        });
        expect(failureOf(new Error('plain'))).toEqual({ code: null, message: 'plain' });

        clock.advance(3_600_000);
        const retry = await store.catalog.transition(b.id, 'uploading');
        expect(retry).toMatchObject({ status: 'uploading', error: null, finishedAt: null, durationMs: null });
        expect(retry.dumpFinishedAt?.toISOString()).toBe('2024-05-01T10:00:10.000Z');
        const s = await store.catalog.transition(b.id, 'succeeded', {
          location: 'file:///o/',
          sizeBytes: 77,
        });
        expect(s.status).toBe('succeeded');

        const dumpFailed = await store.catalog.create({
          tenantId: tenant.id,
          serverName: 'db1',
          tool: 'mydumper',
          status: 'running',
        });
        await store.catalog.transition(dumpFailed.id, 'failed', {
          error: { code: null, message: 'mydumper exited 2' },
        });
        await expect(store.catalog.transition(dumpFailed.id, 'uploading')).rejects.toThrow(
          /dump step never finished/,
        );

        const neverStarted = await store.catalog.create({
          tenantId: tenant.id,
          serverName: 'db1',
          tool: 'mydumper',
        });
        const cancelled = await store.catalog.transition(neverStarted.id, 'failed', {
          error: { code: 'JOB_LEASE_EXPIRED', message: 'agent a1 stopped heartbeating' },
        });
        expect(cancelled.durationMs).toBeNull();
      });

      it('records facts while running, and refuses them once succeeded', async () => {
        const { tenant } = await tenantAndServer();
        const b = await store.catalog.create({
          tenantId: tenant.id,
          serverName: 'db1',
          tool: 'mydumper',
          status: 'running',
        });
        clock.advance(1);
        const r = await store.catalog.record(b.id, { sizeBytes: 1024, toolVersion: '0.10.0' });
        expect(r).toMatchObject({ sizeBytes: 1024, toolVersion: '0.10.0', status: 'running' });
        expect(r.updatedAt.getTime()).toBe(b.updatedAt.getTime() + 1);
        await expect(store.catalog.record(b.id, { sizeBytes: -1 })).rejects.toThrow(
          'Cannot record backup size: expected a whole number of at least 0, got -1',
        );
        await expect(store.catalog.record(b.id, { sizeBytes: 2 ** 53 })).rejects.toBeInstanceOf(
          InvalidValueError,
        );
        await expect(
          store.catalog.record(b.id, { coordinates: { file: 'binlog.000001', position: 1.5, gtid: null } }),
        ).rejects.toBeInstanceOf(InvalidValueError);
        expect(await store.catalog.record(b.id, {})).toEqual(r);
        const done = await succeeded(tenant.id, 'db1');
        await expect(store.catalog.record(done.id, { sizeBytes: 1 })).rejects.toBeInstanceOf(
          StateConflictError,
        );
      });
    });

    describe('catalog: listing', () => {
      it('lists newest first with filters by server name, server id, status and limit', async () => {
        const { tenant, server } = await tenantAndServer();
        const made: BackupRecord[] = [];
        for (let i = 0; i < 12; i++) {
          clock.advance(1000);
          const serverName = i % 3 === 0 ? 'db1' : 'db2';
          made.push(
            await store.catalog.create({
              tenantId: tenant.id,
              serverName,
              serverId: serverName === 'db1' ? server.id : null,
              tool: 'mydumper',
              status: 'running',
            }),
          );
        }
        // Statuses: every 4th failed, every 4th+1 uploading, the rest running.
        for (const [i, b] of made.entries()) {
          if (i % 4 === 0)
            await store.catalog.transition(b.id, 'failed', { error: { code: null, message: 'x' } });
          if (i % 4 === 1) await store.catalog.transition(b.id, 'uploading');
        }
        const newestFirst = [...made].reverse();
        const ids = (xs: readonly BackupRecord[]) => xs.map((x) => x.id);

        expect(ids(await store.catalog.list({ tenantId: tenant.id }))).toEqual(ids(newestFirst));
        expect(ids(await store.catalog.list({ tenantId: tenant.id, limit: 3 }))).toEqual(
          ids(newestFirst.slice(0, 3)),
        );
        expect(ids(await store.catalog.list({ tenantId: tenant.id, serverName: 'db1' }))).toEqual(
          ids(newestFirst.filter((b) => b.serverName === 'db1')),
        );
        expect(ids(await store.catalog.list({ tenantId: tenant.id, serverId: server.id }))).toEqual(
          ids(newestFirst.filter((b) => b.serverName === 'db1')),
        );
        const statusOf = (b: BackupRecord) => {
          const i = made.indexOf(b);
          return i % 4 === 0 ? 'failed' : i % 4 === 1 ? 'uploading' : 'running';
        };
        expect(ids(await store.catalog.list({ tenantId: tenant.id, status: 'failed' }))).toEqual(
          ids(newestFirst.filter((b) => statusOf(b) === 'failed')),
        );
        expect(
          ids(await store.catalog.list({ tenantId: tenant.id, status: ['running', 'uploading'] })),
        ).toEqual(ids(newestFirst.filter((b) => statusOf(b) !== 'failed')));
        expect(
          ids(
            await store.catalog.list({
              tenantId: tenant.id,
              serverName: 'db2',
              status: 'uploading',
              limit: 2,
            }),
          ),
        ).toEqual(
          ids(newestFirst.filter((b) => b.serverName === 'db2' && statusOf(b) === 'uploading').slice(0, 2)),
        );
        expect(await store.catalog.list({ tenantId: tenant.id, serverName: 'nope' })).toEqual([]);

        await expect(store.catalog.list({ tenantId: tenant.id, limit: 0 })).rejects.toThrow(
          'Cannot list backups: limit must be between 1 and 10000, got 0',
        );
        await expect(
          store.catalog.list({ tenantId: tenant.id, status: 'done' as BackupStatus }),
        ).rejects.toBeInstanceOf(InvalidValueError);
      });

      it('orders backups created in the same millisecond by id, and pages without gaps or repeats', async () => {
        const { tenant } = await tenantAndServer();
        const made: BackupRecord[] = [];
        for (let i = 0; i < 25; i++) {
          if (i % 5 === 0) clock.advance(1);
          made.push(await store.catalog.create({ tenantId: tenant.id, serverName: 'db1', tool: 'mydumper' }));
        }
        const expected = [...made]
          .sort(
            (a, b) =>
              b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
          )
          .map((b) => b.id);
        expect((await store.catalog.list({ tenantId: tenant.id })).map((b) => b.id)).toEqual(expected);

        const paged: string[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await store.catalog.list({
            tenantId: tenant.id,
            limit: 7,
            ...(before ? { before } : {}),
          });
          if (page.length === 0) break;
          paged.push(...page.map((b) => b.id));
          before = page[page.length - 1]!.id;
        }
        expect(paged).toEqual(expected);
        await expect(store.catalog.list({ tenantId: tenant.id, before: newId() })).rejects.toBeInstanceOf(
          NotFoundError,
        );
      });

      it('keeps tenants apart: a backup of tenant A is never listed, read or deleted for tenant B', async () => {
        const a = await store.tenants.create('tenant-a');
        const b = await store.tenants.create('tenant-b');
        const ofA = await succeeded(a.id, 'shared-name');
        const ofB = await store.catalog.create({
          tenantId: b.id,
          serverName: 'shared-name',
          tool: 'mydumper',
        });

        expect((await store.catalog.list({ tenantId: b.id })).map((x) => x.id)).toEqual([ofB.id]);
        expect(
          (await store.catalog.list({ tenantId: b.id, serverName: 'shared-name' })).map((x) => x.id),
        ).toEqual([ofB.id]);
        expect((await store.catalog.list({ tenantId: b.id, status: 'succeeded' })).map((x) => x.id)).toEqual(
          [],
        );
        await expect(store.catalog.get(ofA.id, { tenantId: b.id })).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.catalog.resolveId(ofA.id.slice(0, 8), { tenantId: b.id })).rejects.toBeInstanceOf(
          NotFoundError,
        );
        await expect(store.catalog.list({ tenantId: b.id, before: ofA.id })).rejects.toBeInstanceOf(
          NotFoundError,
        );
        const [del] = await store.catalog.delete([ofA.id], { tenantId: b.id });
        expect(del).toMatchObject({ id: ofA.id, ok: false });
        expect(del?.ok === false && del.error).toBeInstanceOf(NotFoundError);
        expect((await store.catalog.get(ofA.id, { tenantId: a.id })).tenant).toBe('tenant-a');
        expect((await store.catalog.list({ tenantId: a.id })).map((x) => x.id)).toEqual([ofA.id]);
      });

      it('stays fast with 100k backups in the catalog', { timeout: 120_000 }, async () => {
        const a = await store.tenants.create('big');
        const b = await store.tenants.create('small');
        const statuses: BackupStatus[] = ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed'];
        const rows: SeedBackup[] = [];
        const base = Date.parse('2020-01-01T00:00:00Z');
        for (let i = 0; i < 100_000; i++) {
          rows.push({
            id: newId(),
            tenantId: i % 10 === 0 ? b.id : a.id,
            serverName: `db${i % 50}`,
            status: i === 99_991 ? 'running' : statuses[i % 5]!,
            createdAt: new Date(base + i * 60_000),
          });
        }
        await db.seedBackups(rows);
        const newest = (pred: (r: SeedBackup) => boolean, n: number) =>
          rows
            .filter(pred)
            .reverse()
            .slice(0, n)
            .map((r) => r.id);

        const cases: [Parameters<StateStore['catalog']['list']>[0], string[]][] = [
          [{ tenantId: a.id, limit: 100 }, newest((r) => r.tenantId === a.id, 100)],
          [
            { tenantId: a.id, serverName: 'db7', limit: 50 },
            newest((r) => r.tenantId === a.id && r.serverName === 'db7', 50),
          ],
          [
            { tenantId: a.id, status: 'failed', limit: 20 },
            newest((r) => r.tenantId === a.id && r.status === 'failed', 20),
          ],
          [
            { tenantId: a.id, status: 'running' },
            newest((r) => r.tenantId === a.id && r.status === 'running', 100),
          ],
          [
            { tenantId: a.id, serverName: 'db3', status: ['succeeded', 'failed'], limit: 100 },
            newest((r) => r.tenantId === a.id && r.serverName === 'db3', 100),
          ],
          [{ tenantId: b.id, serverName: 'db7', limit: 10 }, []],
          [{ tenantId: b.id, limit: 10 }, newest((r) => r.tenantId === b.id, 10)],
        ];
        for (const [filter, expected] of cases) {
          const times: number[] = [];
          let got: readonly BackupRecord[] = [];
          for (let i = 0; i < 5; i++) {
            const t0 = performance.now();
            got = await store.catalog.list(filter);
            times.push(performance.now() - t0);
          }
          expect(
            got.map((x) => x.id),
            JSON.stringify(filter),
          ).toEqual(expected);
          const median = times.sort((x, y) => x - y)[2]!;
          // A page read is a short index range scan: milliseconds, not the hundreds a table scan takes.
          expect(median, `median ms for ${JSON.stringify(filter)}`).toBeLessThan(25);
        }
        const deep = rows.filter((r) => r.tenantId === a.id)[40_000]!;
        const t0 = performance.now();
        const page = await store.catalog.list({ tenantId: a.id, before: deep.id, limit: 3 });
        expect(performance.now() - t0).toBeLessThan(25);
        expect(page.map((x) => x.id)).toEqual(
          rows
            .filter((r) => r.tenantId === a.id)
            .slice(40_000 - 3, 40_000)
            .reverse()
            .map((r) => r.id),
        );
      });
    });

    describe('catalog: ids and deletion', () => {
      it('resolves a short id to the one backup it starts', async () => {
        const { tenant } = await tenantAndServer();
        const ids = ['abcd1234-0000-4000-8000-000000000001', 'abcd1299-0000-4000-8000-000000000002'];
        for (const id of ids)
          await store.catalog.create({ id, tenantId: tenant.id, serverName: 'db1', tool: 'mydumper' });
        expect(await store.catalog.resolveId('abcd1234')).toBe(ids[0]);
        expect(await store.catalog.resolveId('ABCD129', { tenantId: tenant.id })).toBe(ids[1]);
        expect(await store.catalog.resolveId(ids[0]!)).toBe(ids[0]);
        const err = await store.catalog.resolveId('abcd12').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AmbiguousIdError);
        expect((err as Error).message).toContain('matches several backups');
        await expect(store.catalog.resolveId('ffff')).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.catalog.resolveId('ab')).rejects.toThrow(
          'Cannot find backup "ab": expected a backup id or at least 4 of its leading hex digits',
        );
      });

      it('deletes in a batch with one result per item, refusing backups still at work', async () => {
        const { tenant } = await tenantAndServer();
        const done = await succeeded(tenant.id, 'db1');
        const running = await store.catalog.create({
          tenantId: tenant.id,
          serverName: 'db1',
          tool: 'mydumper',
          status: 'running',
        });
        const queued = await store.catalog.create({
          tenantId: tenant.id,
          serverName: 'db1',
          tool: 'mydumper',
        });
        const missing = newId();
        const results = await store.catalog.delete([done.id, running.id, missing, 'garbage', queued.id], {
          tenantId: tenant.id,
        });
        expect(results.map((r) => [r.id, r.ok])).toEqual([
          [done.id, true],
          [running.id, false],
          [missing, false],
          ['garbage', false],
          [queued.id, true],
        ]);
        const errorOf = (i: number) => {
          const r = results[i]!;
          return r.ok ? undefined : r.error;
        };
        expect(errorOf(1)).toBeInstanceOf(StateConflictError);
        expect(errorOf(1)?.message).toBe(
          `Cannot delete backup ${running.id}: it is running; wait until it ends`,
        );
        expect(errorOf(2)).toBeInstanceOf(NotFoundError);
        expect(errorOf(3)).toBeInstanceOf(InvalidValueError);
        expect((await store.catalog.list({ tenantId: tenant.id })).map((b) => b.id)).toEqual([running.id]);
        expect(await store.catalog.delete([])).toEqual([]);
      });
    });

    describe('concurrency', () => {
      it('takes writes from two connections at once without losing any', async () => {
        const other = await open();
        const tenant = await store.tenants.create('acme');
        const stores = [store, other];
        const lifecycle = async (i: number): Promise<string> => {
          const s = stores[i % 2]!;
          const t = stores[(i + 1) % 2]!;
          const b = await s.catalog.create({
            tenantId: tenant.id,
            serverName: `db${i % 3}`,
            tool: 'mydumper',
            status: 'running',
          });
          await t.catalog.transition(b.id, 'uploading', { coordinates: COORDS });
          await s.catalog.record(b.id, { sizeBytes: i });
          await t.catalog.transition(b.id, 'succeeded', { location: `file:///o/${i}/` });
          return b.id;
        };
        const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => lifecycle(i)));
        expect(new Set(ids).size).toBe(60);
        const listed = await other.catalog.list({ tenantId: tenant.id, status: 'succeeded', limit: 1000 });
        expect(listed).toHaveLength(60);
        expect(listed.map((b) => b.sizeBytes).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(
          Array.from({ length: 60 }, (_, i) => i),
        );
      });

      it('lets exactly one of two racing workers move a backup', async () => {
        const other = await open();
        const tenant = await store.tenants.create('acme');
        const b = await store.catalog.create({ tenantId: tenant.id, serverName: 'db1', tool: 'mydumper' });
        const outcomes = await Promise.allSettled([
          store.catalog.transition(b.id, 'running'),
          other.catalog.transition(b.id, 'running'),
        ]);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const lost = outcomes.find((o) => o.status === 'rejected');
        expect(lost?.status === 'rejected' && lost.reason).toBeInstanceOf(IllegalTransitionError);
      });
    });

    it('refuses use after close', async () => {
      await store.close();
      await store.close();
      await expect(store.tenants.list()).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.catalog.list({ tenantId: newId() })).rejects.toBeInstanceOf(StoreClosedError);
    });
  });
}
