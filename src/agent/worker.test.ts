import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LeaseLostError } from '../store/errors.js';
import type { BackupCatalog } from '../store/catalog.js';
import type { ChangeIndex } from '../store/change-index.js';
import type { JobRecord } from '../store/jobs.js';
import type { AgentLink, JobOutcome, ServerConnection } from './link.js';
import { Worker } from './worker.js';

const logger = pino({ level: 'silent' });

function job(id: string): JobRecord {
  const now = new Date();
  return {
    id,
    tenantId: 't',
    kind: 'backup',
    status: 'running',
    serverId: 's',
    scheduleId: null,
    backupId: null,
    scheduledFor: null,
    payload: {},
    runAfter: now,
    attempts: 1,
    leaseOwner: 'a',
    leaseExpiresAt: now,
    heartbeatAt: null,
    createdAt: now,
    startedAt: now,
    finishedAt: null,
    error: null,
  };
}

class FakeLink implements AgentLink {
  queue: JobRecord[] = [];
  finished: { id: string; outcome: JobOutcome }[] = [];
  heartbeats: string[] = [];
  lost = new Set<string>();
  claim(): Promise<JobRecord | undefined> {
    return Promise.resolve(this.queue.shift());
  }
  heartbeat(jobId: string): Promise<void> {
    this.heartbeats.push(jobId);
    if (this.lost.has(jobId))
      return Promise.reject(new LeaseLostError(`Cannot act on job ${jobId}: lease lost`));
    return Promise.resolve();
  }
  finish(id: string, _agent: string, outcome: JobOutcome): Promise<void> {
    if (this.lost.has(id)) return Promise.reject(new LeaseLostError('lost'));
    this.finished.push({ id, outcome });
    return Promise.resolve();
  }
  connection(): Promise<ServerConnection> {
    return Promise.reject(new Error('unused'));
  }
  catalogFor(): BackupCatalog {
    throw new Error('unused');
  }
  reportFacts(): Promise<void> {
    return Promise.resolve();
  }
  changeIndexFor(): ChangeIndex {
    throw new Error('unused');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Worker', () => {
  it('runs at most `concurrency` jobs at once and finishes each succeeded or failed', async () => {
    const link = new FakeLink();
    link.queue = [job('j1'), job('j2'), job('j3')];
    let running = 0;
    let peak = 0;
    const worker = new Worker({
      identity: { agentId: 'a', labels: [] },
      link,
      logger,
      concurrency: 2,
      leaseMs: 1_000,
      handlers: {
        backup: async (j) => {
          running++;
          peak = Math.max(peak, running);
          await sleep(30);
          running--;
          if (j.id === 'j2') throw new Error('dump exploded');
        },
      },
    });
    expect((await worker.fill()).map((j) => j.id)).toEqual(['j1', 'j2']);
    await worker.idle();
    await worker.fill();
    await worker.idle();
    expect(peak).toBe(2);
    expect(link.finished.map((f) => [f.id, f.outcome.status])).toEqual([
      ['j1', 'succeeded'],
      ['j2', 'failed'],
      ['j3', 'succeeded'],
    ]);
    const failed = link.finished[1]!.outcome;
    expect(failed.status === 'failed' && failed.error.message).toBe('dump exploded');
  });

  it('sends heartbeats while a job runs and aborts the job when the lease is lost', async () => {
    const link = new FakeLink();
    link.queue = [job('j1')];
    let aborted = false;
    const worker = new Worker({
      identity: { agentId: 'a', labels: [] },
      link,
      logger,
      leaseMs: 300,
      heartbeatMs: 50,
      handlers: {
        backup: (_j, { signal }) =>
          new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              resolve();
            });
            setTimeout(() => link.lost.add('j1'), 120);
          }),
      },
    });
    await worker.fill();
    await worker.idle();
    expect(link.heartbeats.length).toBeGreaterThanOrEqual(2);
    expect(aborted).toBe(true);
    // The job was failed by whoever expired the lease; the worker records nothing more.
    expect(link.finished).toEqual([]);
  });

  it('stopping aborts running jobs, which end failed with the reason', async () => {
    const link = new FakeLink();
    link.queue = [job('j1')];
    const worker = new Worker({
      identity: { agentId: 'a', labels: [] },
      link,
      logger,
      pollMs: 10,
      handlers: {
        backup: (_j, { signal }) =>
          new Promise<void>((_resolve, reject) =>
            signal.addEventListener('abort', () => reject(new Error('aborted'))),
          ),
      },
    });
    worker.start();
    while (worker.runningJobs.length === 0) await sleep(5);
    await worker.stop();
    expect(link.finished).toHaveLength(1);
    const outcome = link.finished[0]!.outcome;
    expect(outcome.status).toBe('failed');
    expect(outcome.status === 'failed' && outcome.error.code).toBe('AGENT_JOB_ABANDONED');
  });

  it('holds capture streams apart from the backup slots, up to captureStreams', async () => {
    const link = new FakeLink();
    const streams = ['c1', 'c2', 'c3', 'c4'].map((id) => ({ ...job(id), kind: 'capture' as const }));
    const backups = [job('b1'), job('b2'), job('b3')];
    const asked: string[][] = [];
    (link as { claim: AgentLink['claim'] }).claim = (_agent, kinds) => {
      asked.push([...kinds]);
      return Promise.resolve(kinds.includes('capture') ? streams.shift() : backups.shift());
    };
    const forever = (_j: JobRecord, { signal }: { signal: AbortSignal }) =>
      new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    const worker = new Worker({
      identity: { agentId: 'a', labels: [] },
      link,
      logger,
      concurrency: 1,
      captureStreams: 3,
      handlers: { backup: forever, capture: forever },
    });
    const started = await worker.fill();
    // One backup (concurrency 1) and three streams, although more of each were queued.
    expect(started.map((j) => j.id)).toEqual(['b1', 'c1', 'c2', 'c3']);
    // Backups and streams are claimed separately, so a queue of streams never starves backups.
    expect(asked.every((k) => k.length === 1)).toBe(true);
    await worker.stop();
  });
});
