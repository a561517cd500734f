import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../lib/clock.js';
import { openSqliteStateStore } from '../store/sqlite/state-store.js';
import type { StateStore } from '../store/state-store.js';
import { LocalAgentLink } from './local-link.js';
import { AgentService } from './service.js';

const stores: StateStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function setup() {
  const clock = new ManualClock('2024-05-01T10:00:00Z');
  const store = await openSqliteStateStore({ path: ':memory:', clock });
  stores.push(store);
  const acme = await store.tenants.create('acme');
  const other = await store.tenants.create('other');
  const plain = await store.servers.create({
    tenantId: acme.id,
    name: 'plain',
    host: 'h',
    port: 3306,
    username: 'u',
  });
  const remote = await store.servers.create({
    tenantId: acme.id,
    name: 'remote',
    host: 'h',
    port: 3306,
    username: 'u',
    passwordCiphertext: Buffer.from('sealed'),
    defaults: { labels: ['dc2'] },
  });
  const service = new AgentService({
    jobs: store.jobs,
    catalog: store.catalog,
    servers: store.servers,
    tenants: store.tenants,
    decryptPassword: (c, id) => `${Buffer.from(c).toString()}:${id}`,
    clock,
    logger: pino({ level: 'silent' }),
  });
  const enqueue = async (serverId: string, name: string) => {
    const b = await store.catalog.create({ tenantId: acme.id, serverId, serverName: name, tool: 'mydumper' });
    return store.jobs.enqueue({ tenantId: acme.id, kind: 'backup', serverId, backupId: b.id });
  };
  return { clock, store, service, acme, other, plain, remote, enqueue };
}

describe('AgentService', () => {
  it('hands a labelled server only to agents carrying its labels, and only within the key’s tenant', async () => {
    const { service, acme, other, remote, enqueue } = await setup();
    const job = await enqueue(remote.id, 'remote');
    expect(await service.claim({ agentId: 'embedded', labels: [] }, ['backup'], 10_000)).toBeUndefined();
    expect(
      await service.claim({ agentId: 'x', labels: ['dc2'] }, ['backup'], 10_000, { tenantId: other.id }),
    ).toBeUndefined();
    const claimed = await service.claim({ agentId: 'a', labels: ['dc2', 'ssd'] }, ['backup'], 10_000, {
      tenantId: acme.id,
    });
    expect(claimed?.id).toBe(job.id);
  });

  it('gives the connection, password decrypted, to the lease holder only', async () => {
    const { clock, service, acme, other, remote, enqueue } = await setup();
    const job = await enqueue(remote.id, 'remote');
    await service.claim({ agentId: 'a', labels: ['dc2'] }, ['backup'], 10_000);
    const c = await service.connection(job.id, 'a', { tenantId: acme.id });
    expect(c).toMatchObject({ serverName: 'remote', tenantName: 'acme', password: `sealed:${remote.id}` });
    await expect(service.connection(job.id, 'intruder')).rejects.toMatchObject({ code: 'STORE_LEASE_LOST' });
    await expect(service.connection(job.id, 'a', { tenantId: other.id })).rejects.toMatchObject({
      kind: 'not_found',
    });
    clock.advance(10_001);
    await expect(service.connection(job.id, 'a')).rejects.toMatchObject({ code: 'STORE_LEASE_LOST' });
  });

  it('lets a job move only its own backup, and fails the backup with the job when it fails early', async () => {
    const { store, service, plain, enqueue } = await setup();
    const job = await enqueue(plain.id, 'plain');
    await service.claim({ agentId: 'a', labels: [] }, ['backup'], 10_000);
    const catalog = new LocalAgentLink(service).catalogFor(job.id, 'a');
    const someoneElse = await store.catalog.create({
      tenantId: job.tenantId,
      serverName: 'plain',
      tool: 'mydumper',
    });
    await expect(catalog.transition(someoneElse.id, 'running')).rejects.toMatchObject({
      code: 'AGENT_JOB_INVALID',
    });
    await expect(
      catalog.create({ tenantId: job.tenantId, serverName: 'x', tool: 'mydumper' }),
    ).rejects.toThrow(/only report on its own backup/);
    expect((await catalog.transition(job.backupId!, 'running')).status).toBe('running');

    await service.finish(job.id, 'a', {
      status: 'failed',
      error: { code: 'X', message: 'Cannot connect: refused' },
    });
    const backup = await store.catalog.get(job.backupId!);
    expect(backup.status).toBe('failed');
    expect(backup.error).toEqual({ code: 'X', message: 'Cannot connect: refused' });
  });
});
