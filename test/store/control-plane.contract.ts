import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, type Clock } from '../../src/lib/clock.js';
import { generateApiKey } from '../../src/server/api-keys.js';
import {
  AmbiguousIdError,
  DuplicateError,
  InvalidValueError,
  LeaseLostError,
  NotFoundError,
  StateConflictError,
} from '../../src/store/errors.js';
import { newId } from '../../src/store/ids.js';
import type { JobRecord } from '../../src/store/jobs.js';
import type { StateStore } from '../../src/store/state-store.js';
import type { ContractBackend, ContractDatabase } from './catalog.contract.js';

/**
 * The contract of the control-plane repositories (API keys, schedules, jobs, server edits), written once and run
 * against every real backend, like catalog.contract.ts.
 */
const T0 = '2024-05-01T10:00:00.000Z';
const at = (iso: string): Date => new Date(iso);

export function controlPlaneContract(backend: ContractBackend): void {
  describe(`control-plane store contract: ${backend.name}`, () => {
    let db: ContractDatabase;
    let clock: ManualClock;
    let store: StateStore;
    const opened: StateStore[] = [];

    const open = async (options: { clock?: Clock } = {}): Promise<StateStore> => {
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
      const tenant = await store.tenants.ensure(name);
      const srv = await store.servers.create({
        tenantId: tenant.id,
        name: server,
        host: '127.0.0.1',
        port: 3306,
        username: 'dbtrail',
        passwordCiphertext: new Uint8Array([1, 2, 3]),
      });
      return { tenant, server: srv };
    }

    describe('api keys', () => {
      it('stores a key by hash and finds it by hash only', async () => {
        const { tenant } = await tenantAndServer();
        const k = generateApiKey();
        const record = await store.apiKeys.create({
          tenantId: tenant.id,
          name: 'ci',
          prefix: k.prefix,
          keyHash: k.hash,
        });
        expect(record).toEqual({
          id: record.id,
          tenantId: tenant.id,
          name: 'ci',
          prefix: k.prefix,
          createdAt: at(T0),
          lastUsedAt: null,
          revokedAt: null,
        });
        expect(await store.apiKeys.findByHash(k.hash)).toEqual(record);
        expect(await store.apiKeys.findByHash(generateApiKey().hash)).toBeUndefined();
        expect(await store.apiKeys.findByHash('not a hash')).toBeUndefined();
        const rows = await db.query('SELECT * FROM api_keys');
        expect(JSON.stringify(rows)).not.toContain(k.key);
        expect(rows[0]?.['key_hash']).toBe(k.hash);
      });

      it('refuses duplicates, unknown tenants and malformed values', async () => {
        const { tenant } = await tenantAndServer();
        const k = generateApiKey();
        await store.apiKeys.create({ tenantId: tenant.id, prefix: k.prefix, keyHash: k.hash });
        await expect(
          store.apiKeys.create({ tenantId: tenant.id, prefix: k.prefix, keyHash: k.hash }),
        ).rejects.toThrow(DuplicateError);
        await expect(
          store.apiKeys.create({ tenantId: newId(), prefix: k.prefix, keyHash: generateApiKey().hash }),
        ).rejects.toThrow(NotFoundError);
        await expect(
          store.apiKeys.create({ tenantId: tenant.id, prefix: k.prefix, keyHash: k.key }),
        ).rejects.toThrow(InvalidValueError);
        await expect(
          store.apiKeys.create({ tenantId: tenant.id, prefix: 'sk_1234', keyHash: generateApiKey().hash }),
        ).rejects.toThrow(InvalidValueError);
      });

      it('lists, scopes, resolves and revokes', async () => {
        const { tenant } = await tenantAndServer();
        const other = await store.tenants.ensure('other');
        const a = generateApiKey();
        const b = generateApiKey();
        const ka = await store.apiKeys.create({ tenantId: tenant.id, prefix: a.prefix, keyHash: a.hash });
        clock.advance(1000);
        const kb = await store.apiKeys.create({ tenantId: tenant.id, prefix: b.prefix, keyHash: b.hash });
        expect((await store.apiKeys.list(tenant.id)).map((k) => k.id)).toEqual([ka.id, kb.id]);
        expect(await store.apiKeys.list(other.id)).toEqual([]);
        await expect(store.apiKeys.get(ka.id, { tenantId: other.id })).rejects.toThrow(NotFoundError);
        expect((await store.apiKeys.resolve(ka.id)).id).toBe(ka.id);
        expect((await store.apiKeys.resolve(ka.id.slice(0, 8))).id).toBe(ka.id);
        expect((await store.apiKeys.resolve(a.prefix)).id).toBe(ka.id);
        expect((await store.apiKeys.resolve(a.prefix.slice(0, 12))).id).toBe(ka.id);
        await expect(store.apiKeys.resolve(a.prefix, { tenantId: other.id })).rejects.toThrow(NotFoundError);
        await expect(store.apiKeys.resolve('bt_live_')).rejects.toThrow(InvalidValueError);
        await expect(store.apiKeys.resolve('zz')).rejects.toThrow(InvalidValueError);

        clock.advance(1000);
        const revoked = await store.apiKeys.revoke(ka.id);
        expect(revoked.revokedAt).toEqual(clock.now());
        clock.advance(1000);
        expect((await store.apiKeys.revoke(ka.id)).revokedAt).toEqual(revoked.revokedAt);
        expect((await store.apiKeys.findByHash(a.hash))?.revokedAt).toEqual(revoked.revokedAt);
        expect((await store.apiKeys.get(kb.id)).revokedAt).toBeNull();
        await expect(store.apiKeys.revoke(kb.id, { tenantId: other.id })).rejects.toThrow(NotFoundError);
      });

      it('reports an ambiguous display prefix instead of guessing', async () => {
        const { tenant } = await tenantAndServer();
        // Two keys whose random part starts alike: same 32 bytes but the last.
        const bytes = Buffer.alloc(32, 9);
        const a = generateApiKey(() => bytes);
        const b = generateApiKey(() => Buffer.concat([bytes.subarray(0, 31), Buffer.from([1])]));
        expect(a.prefix).toBe(b.prefix);
        await store.apiKeys.create({ tenantId: tenant.id, prefix: a.prefix, keyHash: a.hash });
        await store.apiKeys.create({ tenantId: tenant.id, prefix: b.prefix, keyHash: b.hash });
        await expect(store.apiKeys.resolve(a.prefix)).rejects.toThrow(AmbiguousIdError);
      });

      it('records use at most once per interval', async () => {
        const { tenant } = await tenantAndServer();
        const k = generateApiKey();
        const key = await store.apiKeys.create({ tenantId: tenant.id, prefix: k.prefix, keyHash: k.hash });
        expect(await store.apiKeys.touch(key.id, clock.now(), 60_000)).toBe(true);
        expect((await store.apiKeys.get(key.id)).lastUsedAt).toEqual(at(T0));
        clock.advance(30_000);
        expect(await store.apiKeys.touch(key.id, clock.now(), 60_000)).toBe(false);
        expect((await store.apiKeys.get(key.id)).lastUsedAt).toEqual(at(T0));
        clock.advance(30_000);
        expect(await store.apiKeys.touch(key.id, clock.now(), 60_000)).toBe(true);
        expect((await store.apiKeys.get(key.id)).lastUsedAt).toEqual(clock.now());
        await expect(store.apiKeys.touch(newId(), clock.now())).rejects.toThrow(NotFoundError);
      });
    });

    describe('schedules', () => {
      const base = { cron: '0 3 * * *', tool: 'mydumper', objectPrefix: 'acme/db1/' } as const;

      it('creates with defaults and scopes reads to the tenant', async () => {
        const { tenant, server } = await tenantAndServer();
        const other = await store.tenants.ensure('other');
        const s = await store.schedules.create({
          ...base,
          tenantId: tenant.id,
          serverId: server.id,
          nextRunAt: at('2024-05-02T03:00:00Z'),
        });
        expect(s).toEqual({
          id: s.id,
          tenantId: tenant.id,
          serverId: server.id,
          cron: '0 3 * * *',
          timezone: 'UTC',
          tool: 'mydumper',
          retentionDays: 30,
          objectPrefix: 'acme/db1/',
          enabled: true,
          nextRunAt: at('2024-05-02T03:00:00Z'),
          createdAt: at(T0),
          updatedAt: at(T0),
        });
        expect(await store.schedules.get(s.id, { tenantId: tenant.id })).toEqual(s);
        await expect(store.schedules.get(s.id, { tenantId: other.id })).rejects.toThrow(NotFoundError);
        // Another tenant's server cannot be scheduled.
        await expect(
          store.schedules.create({
            ...base,
            tenantId: other.id,
            serverId: server.id,
            nextRunAt: clock.now(),
          }),
        ).rejects.toThrow(NotFoundError);
      });

      it('refuses bad values before they reach the database', async () => {
        const { tenant, server } = await tenantAndServer();
        const ok = { ...base, tenantId: tenant.id, serverId: server.id, nextRunAt: clock.now() };
        await expect(store.schedules.create({ ...ok, retentionDays: 0 })).rejects.toThrow(
          'Cannot store schedule: retentionDays must be a whole number of days from 1 to 365, got 0',
        );
        await expect(store.schedules.create({ ...ok, retentionDays: 366 })).rejects.toThrow(
          InvalidValueError,
        );
        await expect(store.schedules.create({ ...ok, tool: 'mysqldump' as never })).rejects.toThrow(
          InvalidValueError,
        );
        await expect(store.schedules.create({ ...ok, objectPrefix: '../x/' })).rejects.toThrow(
          'Cannot store schedule: objectPrefix must not contain "." or ".." segments',
        );
        await expect(store.schedules.create({ ...ok, objectPrefix: '/abs/' })).rejects.toThrow(
          InvalidValueError,
        );
        await expect(store.schedules.create({ ...ok, nextRunAt: null })).rejects.toThrow(
          'Cannot store schedule: nextRunAt is required for an enabled schedule',
        );
        expect(await store.schedules.list({ tenantId: tenant.id })).toEqual([]);
      });

      it('keeps no next run while disabled, lists with filters, updates and deletes', async () => {
        const { tenant, server } = await tenantAndServer();
        const second = await store.servers.create({
          tenantId: tenant.id,
          name: 'db2',
          host: 'h',
          port: 3306,
          username: 'u',
        });
        const off = await store.schedules.create({
          ...base,
          tenantId: tenant.id,
          serverId: server.id,
          enabled: false,
          nextRunAt: at('2024-05-02T03:00:00Z'),
        });
        expect(off.enabled).toBe(false);
        expect(off.nextRunAt).toBeNull();
        clock.advance(1000);
        const on = await store.schedules.create({
          ...base,
          tenantId: tenant.id,
          serverId: second.id,
          nextRunAt: at('2024-05-02T03:00:00Z'),
        });
        expect((await store.schedules.list({ tenantId: tenant.id })).map((s) => s.id)).toEqual([
          off.id,
          on.id,
        ]);
        expect((await store.schedules.list({ tenantId: tenant.id, enabled: true })).map((s) => s.id)).toEqual(
          [on.id],
        );
        expect(
          (await store.schedules.list({ tenantId: tenant.id, serverId: server.id })).map((s) => s.id),
        ).toEqual([off.id]);

        await expect(store.schedules.update(off.id, { enabled: true })).rejects.toThrow(InvalidValueError);
        clock.advance(1000);
        const enabled = await store.schedules.update(off.id, {
          enabled: true,
          nextRunAt: at('2024-05-03T03:00:00Z'),
          retentionDays: 7,
          tool: 'xtrabackup',
        });
        expect(enabled).toMatchObject({
          enabled: true,
          nextRunAt: at('2024-05-03T03:00:00Z'),
          retentionDays: 7,
          tool: 'xtrabackup',
          cron: '0 3 * * *',
          updatedAt: clock.now(),
        });
        const disabled = await store.schedules.update(off.id, { enabled: false });
        expect(disabled.nextRunAt).toBeNull();
        const other = await store.tenants.ensure('other');
        await expect(
          store.schedules.update(on.id, { retentionDays: 5 }, { tenantId: other.id }),
        ).rejects.toThrow(NotFoundError);
        await expect(store.schedules.delete(on.id, { tenantId: other.id })).rejects.toThrow(NotFoundError);
        await store.schedules.delete(on.id, { tenantId: tenant.id });
        await expect(store.schedules.get(on.id)).rejects.toThrow(NotFoundError);
      });

      it('lists due schedules, most overdue first, never disabled or future ones', async () => {
        const { tenant, server } = await tenantAndServer();
        const mk = (nextRunAt: string, enabled = true) =>
          store.schedules.create({
            ...base,
            tenantId: tenant.id,
            serverId: server.id,
            enabled,
            nextRunAt: at(nextRunAt),
          });
        const late = await mk('2024-05-01T08:00:00Z');
        const due = await mk('2024-05-01T10:00:00Z');
        await mk('2024-05-01T10:00:00.001Z');
        await mk('2024-05-01T07:00:00Z', false);
        expect((await store.schedules.listDue(clock.now())).map((s) => s.id)).toEqual([late.id, due.id]);
        expect((await store.schedules.listDue(clock.now(), 1)).map((s) => s.id)).toEqual([late.id]);
      });

      it('advances a slot by compare-and-set: one of several schedulers wins', async () => {
        const { tenant, server } = await tenantAndServer();
        const slot = at('2024-05-01T03:00:00Z');
        const s = await store.schedules.create({
          ...base,
          tenantId: tenant.id,
          serverId: server.id,
          nextRunAt: slot,
        });
        const second = await open();
        const next = at('2024-05-02T03:00:00Z');
        const results = await Promise.all([
          store.schedules.advance(s.id, slot, next),
          second.schedules.advance(s.id, slot, next),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.schedules.get(s.id)).nextRunAt).toEqual(next);
        expect(await store.schedules.advance(s.id, slot, at('2024-05-03T03:00:00Z'))).toBe(false);
        await store.schedules.update(s.id, { enabled: false });
        expect(await store.schedules.advance(s.id, next, at('2024-05-03T03:00:00Z'))).toBe(false);
      });
    });

    describe('jobs', () => {
      it('enqueues with defaults and refuses a second job for a schedule slot', async () => {
        const { tenant, server } = await tenantAndServer();
        const schedule = await store.schedules.create({
          cron: '0 3 * * *',
          tool: 'mydumper',
          objectPrefix: 'acme/db1/',
          tenantId: tenant.id,
          serverId: server.id,
          nextRunAt: clock.now(),
        });
        const slot = at('2024-05-01T03:00:00Z');
        const job = await store.jobs.enqueue({
          tenantId: tenant.id,
          kind: 'backup',
          serverId: server.id,
          scheduleId: schedule.id,
          scheduledFor: slot,
          payload: { tool: 'mydumper', threads: 4 },
        });
        expect(job).toEqual({
          id: job.id,
          tenantId: tenant.id,
          kind: 'backup',
          status: 'queued',
          serverId: server.id,
          scheduleId: schedule.id,
          backupId: null,
          scheduledFor: slot,
          payload: { tool: 'mydumper', threads: 4 },
          runAfter: at(T0),
          attempts: 0,
          leaseOwner: null,
          leaseExpiresAt: null,
          heartbeatAt: null,
          createdAt: at(T0),
          startedAt: null,
          finishedAt: null,
          error: null,
        });
        const second = await open();
        const racing = await Promise.allSettled([
          store.jobs.enqueue({
            tenantId: tenant.id,
            kind: 'backup',
            scheduleId: schedule.id,
            scheduledFor: slot,
          }),
          second.jobs.enqueue({
            tenantId: tenant.id,
            kind: 'backup',
            scheduleId: schedule.id,
            scheduledFor: slot,
          }),
        ]);
        for (const r of racing) {
          expect(r.status).toBe('rejected');
          expect((r as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateError);
        }
        // The next slot is free.
        await store.jobs.enqueue({
          tenantId: tenant.id,
          kind: 'backup',
          scheduleId: schedule.id,
          scheduledFor: at('2024-05-02T03:00:00Z'),
        });
        const other = await store.tenants.ensure('other');
        await expect(
          store.jobs.enqueue({ tenantId: other.id, kind: 'backup', serverId: server.id }),
        ).rejects.toThrow(NotFoundError);
        await expect(store.jobs.enqueue({ tenantId: tenant.id, kind: 'nap' as never })).rejects.toThrow(
          InvalidValueError,
        );
        await expect(store.jobs.get(job.id, { tenantId: other.id })).rejects.toThrow(NotFoundError);
      });

      it('claims the oldest runnable matching job, with a lease', async () => {
        const { tenant, server } = await tenantAndServer();
        const other = await store.tenants.ensure('other');
        const later = await store.jobs.enqueue({
          tenantId: tenant.id,
          kind: 'backup',
          serverId: server.id,
          runAfter: at('2024-05-01T11:00:00Z'),
        });
        clock.advance(1000);
        const drill = await store.jobs.enqueue({ tenantId: tenant.id, kind: 'drill' });
        clock.advance(1000);
        const first = await store.jobs.enqueue({ tenantId: tenant.id, kind: 'backup', serverId: server.id });
        clock.advance(1000);
        const foreign = await store.jobs.enqueue({ tenantId: other.id, kind: 'backup' });

        const req = { agentId: 'agent-1', kinds: ['backup'] as const, leaseMs: 30_000 };
        expect(await store.jobs.claim({ ...req, tenantIds: [] })).toBeUndefined();
        expect(await store.jobs.claim({ ...req, serverIds: [] })).toBeUndefined();
        const claimed = await store.jobs.claim({ ...req, tenantIds: [tenant.id] });
        expect(claimed).toMatchObject({
          id: first.id,
          status: 'running',
          leaseOwner: 'agent-1',
          leaseExpiresAt: new Date(clock.now().getTime() + 30_000),
          heartbeatAt: clock.now(),
          startedAt: clock.now(),
          attempts: 1,
        });
        // `later` is not runnable yet, `drill` is another kind, `foreign` another tenant.
        expect(await store.jobs.claim({ ...req, tenantIds: [tenant.id] })).toBeUndefined();
        expect((await store.jobs.claim({ ...req, serverIds: [server.id] }))?.id).toBeUndefined();
        expect((await store.jobs.claim({ ...req, kinds: ['drill', 'drift'] }))?.id).toBe(drill.id);
        expect((await store.jobs.claim(req))?.id).toBe(foreign.id);
        clock.set('2024-05-01T11:00:00Z');
        expect((await store.jobs.claim({ ...req, serverIds: [server.id] }))?.id).toBe(later.id);
        await expect(store.jobs.claim({ ...req, kinds: [] })).rejects.toThrow(InvalidValueError);
        await expect(store.jobs.claim({ ...req, leaseMs: 0 })).rejects.toThrow(InvalidValueError);
      });

      it('keeps a lease with heartbeats and ends a held job once', async () => {
        const { tenant, server } = await tenantAndServer();
        const job = await store.jobs.enqueue({ tenantId: tenant.id, kind: 'backup', serverId: server.id });
        expect((await store.jobs.activeFor(server.id, 'backup'))?.id).toBe(job.id);
        await store.jobs.claim({ agentId: 'a', kinds: ['backup'], leaseMs: 10_000 });
        expect((await store.jobs.activeFor(server.id, 'backup'))?.status).toBe('running');
        expect(await store.jobs.activeFor(server.id, 'drill')).toBeUndefined();
        clock.advance(8000);
        const beat = await store.jobs.heartbeat(job.id, 'a', 10_000);
        expect(beat.leaseExpiresAt).toEqual(new Date(clock.now().getTime() + 10_000));
        expect(beat.heartbeatAt).toEqual(clock.now());
        await expect(store.jobs.heartbeat(job.id, 'b', 10_000)).rejects.toThrow(LeaseLostError);
        await expect(store.jobs.finish(job.id, 'b', { status: 'succeeded' })).rejects.toThrow(
          'Cannot finish job',
        );
        // Past the first lease but within the renewed one: nothing expires.
        clock.advance(5000);
        expect(await store.jobs.expireLeases()).toEqual([]);
        const done = await store.jobs.finish(job.id, 'a', {
          status: 'failed',
          error: { code: 'DUMP_FAILED', message: 'Cannot dump app: disk full' },
        });
        expect(done).toMatchObject({
          status: 'failed',
          finishedAt: clock.now(),
          error: { code: 'DUMP_FAILED', message: 'Cannot dump app: disk full' },
        });
        await expect(store.jobs.finish(job.id, 'a', { status: 'succeeded' })).rejects.toThrow(LeaseLostError);
        expect(await store.jobs.activeFor(server.id, 'backup')).toBeUndefined();
      });

      it('fails a job whose agent stopped renewing its lease, with that reason', async () => {
        const { tenant, server } = await tenantAndServer();
        const job = await store.jobs.enqueue({ tenantId: tenant.id, kind: 'backup', serverId: server.id });
        await store.jobs.claim({ agentId: 'agent-dead', kinds: ['backup'], leaseMs: 10_000 });
        clock.advance(9_999);
        expect(await store.jobs.expireLeases()).toEqual([]);
        clock.advance(1);
        const [expired, ...rest] = await store.jobs.expireLeases();
        expect(rest).toEqual([]);
        expect(expired).toMatchObject({
          id: job.id,
          status: 'failed',
          finishedAt: clock.now(),
          error: {
            code: 'JOB_LEASE_EXPIRED',
            message: `Cannot finish backup job ${job.id}: agent agent-dead lost its lease (no heartbeat since ${T0})`,
          },
        });
        expect(await store.jobs.expireLeases()).toEqual([]);
        await expect(store.jobs.heartbeat(job.id, 'agent-dead', 10_000)).rejects.toThrow(LeaseLostError);
        await expect(store.jobs.finish(job.id, 'agent-dead', { status: 'succeeded' })).rejects.toThrow(
          /no longer holds it, it is failed/,
        );
        expect((await store.jobs.list({ tenantId: tenant.id, status: 'failed' })).map((j) => j.id)).toEqual([
          job.id,
        ]);
        expect(await store.jobs.list({ tenantId: tenant.id, status: ['queued', 'running'] })).toEqual([]);
      });

      it('gives each job to exactly one of two connections claiming at once', async () => {
        const { tenant } = await tenantAndServer();
        const ids: string[] = [];
        for (let i = 0; i < 60; i++) {
          ids.push((await store.jobs.enqueue({ tenantId: tenant.id, kind: 'backup' })).id);
          clock.advance(1);
        }
        const second = await open();
        const drain = async (s: StateStore, agentId: string): Promise<JobRecord[]> => {
          const got: JobRecord[] = [];
          for (;;) {
            const job = await s.jobs.claim({ agentId, kinds: ['backup'], leaseMs: 60_000 });
            if (job === undefined) return got;
            got.push(job);
            // Yield, so that the two connections alternate.
            await new Promise((resolve) => setImmediate(resolve));
          }
        };
        const [a, b] = await Promise.all([drain(store, 'a'), drain(second, 'b')]);
        const all = [...a, ...b].map((j) => j.id);
        expect(new Set(all).size).toBe(all.length);
        expect([...all].sort()).toEqual([...ids].sort());
        expect(a.length).toBeGreaterThan(0);
        expect(b.length).toBeGreaterThan(0);
        for (const j of a) expect(j.leaseOwner).toBe('a');
        for (const j of b) expect(j.leaseOwner).toBe('b');
      });
    });

    describe('server edits', () => {
      it('updates fields, keeps the password unless told, refuses a taken name', async () => {
        const { tenant, server } = await tenantAndServer();
        await store.servers.create({
          tenantId: tenant.id,
          name: 'db2',
          host: 'h',
          port: 3306,
          username: 'u',
        });
        clock.advance(1000);
        const updated = await store.servers.update(server.id, { host: '10.0.0.5', port: 3307 });
        expect(updated).toMatchObject({ host: '10.0.0.5', port: 3307, name: 'db1', hasPassword: true });
        expect(updated.updatedAt).toEqual(clock.now());
        expect(await store.servers.passwordCiphertext(server.id)).toEqual(new Uint8Array([1, 2, 3]));
        expect((await store.servers.update(server.id, { passwordCiphertext: null })).hasPassword).toBe(false);
        await expect(store.servers.update(server.id, { name: 'db2' })).rejects.toThrow(DuplicateError);
        await expect(store.servers.update(server.id, { port: 70000 })).rejects.toThrow(InvalidValueError);
        const other = await store.tenants.ensure('other');
        await expect(store.servers.update(server.id, { host: 'x' }, { tenantId: other.id })).rejects.toThrow(
          NotFoundError,
        );
      });

      it('deletes a server with its schedules, keeps its backups, refuses while a job is active', async () => {
        const { tenant, server } = await tenantAndServer();
        const schedule = await store.schedules.create({
          cron: '0 3 * * *',
          tool: 'mydumper',
          objectPrefix: 'acme/db1/',
          tenantId: tenant.id,
          serverId: server.id,
          nextRunAt: clock.now(),
        });
        const backup = await store.catalog.create({
          tenantId: tenant.id,
          serverId: server.id,
          serverName: 'db1',
          tool: 'mydumper',
          status: 'queued',
        });
        const job = await store.jobs.enqueue({ tenantId: tenant.id, kind: 'backup', serverId: server.id });
        await expect(store.servers.delete(server.id)).rejects.toThrow(StateConflictError);
        await store.jobs.claim({ agentId: 'a', kinds: ['backup'], leaseMs: 1000 });
        await store.jobs.finish(job.id, 'a', { status: 'succeeded' });
        const other = await store.tenants.ensure('other');
        await expect(store.servers.delete(server.id, { tenantId: other.id })).rejects.toThrow(NotFoundError);
        await store.servers.delete(server.id, { tenantId: tenant.id });
        await expect(store.servers.get(server.id)).rejects.toThrow(NotFoundError);
        await expect(store.schedules.get(schedule.id)).rejects.toThrow(NotFoundError);
        const kept = await store.catalog.get(backup.id);
        expect(kept.serverId).toBeNull();
        expect(kept.serverName).toBe('db1');
      });
    });
  });
}
