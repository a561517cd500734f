import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRunnerExtension, jobRunnerOf } from '../../src/agent/extension.js';
import { HttpAgentLink } from '../../src/agent/http-link.js';
import { openApp, type App } from '../../src/app.js';
import { isDbtrailError } from '../../src/lib/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { serveControlPlane, type RunningControlPlane } from '../../src/server/control-plane.js';
import type { BinlogCoordinates, CommitBatch, ServerIdentity } from '../../src/store/change-index.js';
import { cli } from '../harness/cli.js';
import { OffsetClock } from '../control-plane/helpers.js';

/**
 * The capture part of the agent protocol over real HTTP: a remote agent resumes and commits through the control
 * plane with no database access of its own. Exact values cross the wire (bigints as strings); a retried batch, a
 * stale holder after takeover and a batch without fencing are all refused with nothing written; another tenant's
 * key reaches nothing.
 */
const home = mkdtempSync(join(tmpdir(), 'dbtrail-capture-link-'));
const clock = new OffsetClock();
let app: App;
let running: RunningControlPlane;
let key: string;
let otherKey: string;
let serverId: string;

const identity: ServerIdentity = { serverUuid: null, serverId: '7', hostname: 'db7', flavor: 'mariadb' };
const BIG = '18446744073709551615';
const TIME_US = 1_732_550_400_123_456n;

function batch(previous: BinlogCoordinates | null, position: number, gtidSeq: number): CommitBatch {
  return {
    transactions: [
      {
        gtid: `0-7-${gtidSeq}`,
        file: 'binlog.000001',
        position: position - 100,
        endPosition: position,
        commitTimeUs: TIME_US + BigInt(gtidSeq),
        threadId: 12,
        changes: [
          {
            schema: 'app',
            table: 't',
            type: 'insert',
            pk: JSON.stringify([BIG]),
            pkColumns: ['id'],
            pkIsFullImage: false,
            before: null,
            after: { id: BIG, d: '-0.000000000000000000000000000001', b: { hex: '00FF' }, n: null },
            changedColumns: null,
          },
        ],
        ddl: [],
      },
    ],
    checkpoint: {
      coordinates: { file: 'binlog.000001', position, gtidSet: `0-7-${gtidSeq}` },
      identity,
    },
    expectPrevious: previous,
  };
}

beforeAll(async () => {
  const env = { DBTRAIL_HOME: home };
  for (const t of ['acme', 'other']) expect((await cli(['tenant', 'create', t], env)).code).toBe(0);
  key = /bt_live_\S+/.exec((await cli(['apikey', 'create', '--tenant', 'acme'], env)).stdout)![0];
  otherKey = /bt_live_\S+/.exec((await cli(['apikey', 'create', '--tenant', 'other'], env)).stdout)![0];
  app = await openApp(loadConfig({ env }), { clock });
  running = await serveControlPlane(app, {
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    extensions: [jobRunnerExtension({ agent: false, scheduler: false })],
  });
  const tenant = (await app.store.tenants.list()).find((t) => t.name === 'acme')!;
  const server = await app.store.servers.create({
    tenantId: tenant.id,
    name: 'db7',
    host: '127.0.0.1',
    port: 1,
    username: 'u',
    defaults: { capture: true },
  });
  serverId = server.id;
});

afterAll(async () => {
  await running?.close();
  await app?.close();
  rmSync(home, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isDbtrailError(err) ? err.code : String(err);
  }
  return 'no error';
}

describe('capture over the agent protocol', () => {
  it('commits exactly, refuses retries, stale holders and unfenced batches', async () => {
    const tenantId = (await app.store.servers.get(serverId)).tenantId;
    await app.store.jobs.enqueue({ tenantId, kind: 'capture', serverId, exclusive: true });
    const a = new HttpAgentLink({ url: running.url, key });
    const other = new HttpAgentLink({ url: running.url, key: otherKey });

    // Another tenant's agent finds no work and cannot touch the job.
    expect(await other.claim({ agentId: 'x', labels: [] }, ['capture'], 1000)).toBeUndefined();
    const job = (await a.claim({ agentId: 'A', labels: [] }, ['capture'], 1000))!;
    expect(job.kind).toBe('capture');
    expect(await codeOf(other.changeIndexFor(job.id, 'A', serverId).checkpoint(serverId))).toBe(
      'STORE_NOT_FOUND',
    );

    const indexA = a.changeIndexFor(job.id, 'A', serverId);
    expect(await indexA.checkpoint(serverId)).toBeUndefined();
    const first = batch(null, 500, 1);
    expect(await indexA.commit(serverId, first)).toEqual({ firstSeq: 1n, lastSeq: 1n });
    const [stored] = await app.store.changes.query({ tenantId, serverId });
    expect(stored!.after).toEqual({
      id: BIG,
      d: '-0.000000000000000000000000000001',
      b: { hex: '00FF' },
      n: null,
    });
    expect(stored!.commitTimeUs).toBe(TIME_US + 1n);
    expect((await indexA.checkpoint(serverId))!.coordinates).toEqual(first.checkpoint.coordinates);
    expect((await indexA.stats(serverId)).lastCommitTimeUs).toBe(TIME_US + 1n);
    // Only the job's own server, only what capture uses.
    await expect(indexA.checkpoint('00000000-0000-0000-0000-000000000000')).rejects.toThrow(
      /captures server/,
    );
    await expect(indexA.query({ tenantId, serverId })).rejects.toThrow(/only reads its checkpoint/);

    // The answer was lost and the agent retries: the checkpoint moved, nothing is applied twice.
    expect(await codeOf(indexA.commit(serverId, first))).toBe('STORE_CHECKPOINT_CONFLICT');
    // Without fencing the control plane refuses outright.
    const raw = await fetch(`${running.url}/api/v1/agent/jobs/${job.id}/capture/commit`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        agent_id: 'A',
        batch: { transactions: [], checkpoint: { coordinates: { file: 'binlog.000001', position: 4 } } },
      }),
    });
    expect(raw.status).toBe(400);
    expect(await raw.text()).toContain('expect_previous');
    expect((await app.store.changes.stats(serverId)).rowChanges).toBe(1n);

    // A stalls past its lease; the stream is taken over by B, which resumes from the checkpoint.
    clock.offsetMs += 5_000;
    await jobRunnerOf(app)!.service.expireLeases();
    clock.offsetMs = 0;
    await app.store.jobs.enqueue({ tenantId, kind: 'capture', serverId, exclusive: true });
    const b = new HttpAgentLink({ url: running.url, key });
    const jobB = (await b.claim({ agentId: 'B', labels: [] }, ['capture'], 60_000))!;
    const indexB = b.changeIndexFor(jobB.id, 'B', serverId);
    const resumeAt = (await indexB.checkpoint(serverId))!.coordinates;

    // A wakes up and commits what it had in hand: its lease is gone.
    expect(await codeOf(indexA.commit(serverId, batch(first.checkpoint.coordinates, 600, 2)))).toBe(
      'STORE_LEASE_LOST',
    );
    // B with a stale idea of the checkpoint is refused too; with the stored one it goes on.
    expect(await codeOf(indexB.commit(serverId, batch(null, 600, 2)))).toBe('STORE_CHECKPOINT_CONFLICT');
    expect(await indexB.commit(serverId, batch(resumeAt, 600, 2))).toEqual({ firstSeq: 2n, lastSeq: 2n });
    expect((await app.store.changes.stats(serverId)).rowChanges).toBe(2n);
  });
});
