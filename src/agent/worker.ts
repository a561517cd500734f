import { setTimeout as sleep } from 'node:timers/promises';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import { failureOf } from '../store/catalog.js';
import type { JobKind, JobRecord } from '../store/jobs.js';
import { JobAbandonedError } from './errors.js';
import type { AgentIdentity, AgentLink, JobOutcome } from './link.js';

/**
 * The worker: claims jobs with a lease, keeps each lease with heartbeats while the job runs, and finishes the job
 * succeeded or failed. At most `concurrency` jobs run at once. The same worker runs embedded in `dbtrail server`
 * and as `dbtrail agent`; only the link differs.
 *
 * A heartbeat that finds the lease lost (the agent stalled longer than the lease and the job was failed by
 * `expireLeases`) aborts the job: another agent may already be running its successor, and two dumps of one server
 * must not race. Stopping the worker aborts running jobs too; they end `failed` with the reason.
 */
export type JobHandler = (job: JobRecord, context: JobContext) => Promise<void>;

export interface JobContext {
  /** Aborted when the lease is lost or the worker stops. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly agentId: string;
  readonly link: AgentLink;
}

export interface WorkerOptions {
  readonly identity: AgentIdentity;
  readonly link: AgentLink;
  readonly handlers: Partial<Readonly<Record<JobKind, JobHandler>>>;
  readonly logger: Logger;
  /** Jobs run at once (default 2), capture streams not counted. */
  readonly concurrency?: number;
  /**
   * Capture streams held at once (default 16), apart from `concurrency`: a stream runs for as long as the agent
   * holds it, and must not keep backups from running.
   */
  readonly captureStreams?: number;
  /** Lease length (default 60 s). A dead agent's job is failed this long after its last heartbeat. */
  readonly leaseMs?: number;
  /** Time between heartbeats (default a third of the lease, so two can be missed before it expires). */
  readonly heartbeatMs?: number;
  /** Time between polls for work when idle (default 2 s). `wake()` polls at once. */
  readonly pollMs?: number;
}

export const DEFAULT_LEASE_MS = 60_000;

export class Worker {
  readonly #options: Required<Omit<WorkerOptions, 'heartbeatMs'>> & { readonly heartbeatMs: number };
  readonly #running = new Map<
    string,
    { readonly kind: JobKind; readonly abort: AbortController; readonly done: Promise<void> }
  >();
  readonly #log: Logger;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: WorkerOptions) {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const concurrency = options.concurrency ?? 2;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new RangeError(
        `Cannot start worker: concurrency must be a whole number from 1 to 64, got ${concurrency}`,
      );
    }
    if (!Number.isInteger(leaseMs) || leaseMs < 100) {
      throw new RangeError(`Cannot start worker: lease must be at least 100 ms, got ${leaseMs}`);
    }
    this.#options = {
      ...options,
      concurrency,
      captureStreams: options.captureStreams ?? 16,
      leaseMs,
      heartbeatMs: options.heartbeatMs ?? Math.max(50, Math.floor(leaseMs / 3)),
      pollMs: options.pollMs ?? 2_000,
    };
    this.#log = options.logger.child({ component: 'agent', agentId: options.identity.agentId });
  }

  get agentId(): string {
    return this.#options.identity.agentId;
  }

  /** Ids of the jobs running now. */
  get runningJobs(): readonly string[] {
    return [...this.#running.keys()];
  }

  /** Starts polling for work; idempotent. */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#stopping = false;
    this.#log.info(
      { labels: this.#options.identity.labels, concurrency: this.#options.concurrency },
      'Agent started',
    );
    this.#loop = this.#poll();
  }

  /** Polls now instead of at the next interval (the API calls it after enqueueing a job). */
  wake(): void {
    this.#wake?.();
  }

  /**
   * Claims jobs until the worker is full or the queue is empty, and starts them. Returns the jobs started. The
   * loop calls it; tests call it directly.
   */
  async fill(): Promise<readonly JobRecord[]> {
    const started: JobRecord[] = [];
    const kinds = Object.keys(this.#options.handlers) as JobKind[];
    const work = kinds.filter((k) => k !== 'capture');
    const streams = kinds.includes('capture') ? (['capture'] as const) : [];
    const { concurrency, captureStreams } = this.#options;
    for (const [claimKinds, limit] of [
      [work, concurrency],
      [streams, captureStreams],
    ] as const) {
      if (claimKinds.length === 0) continue;
      const capture = claimKinds === streams;
      while (!this.#stopping && this.#count(capture) < limit) {
        const job = await this.#options.link.claim(this.#options.identity, claimKinds, this.#options.leaseMs);
        if (job === undefined) break;
        this.#start(job);
        started.push(job);
      }
    }
    return started;
  }

  /** Resolves when every running job has finished (tests). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  /**
   * Stops claiming, aborts running jobs and waits for them to be recorded as failed (`agent stopped`). With
   * `graceful`, running jobs are left to finish instead.
   */
  async stop(options: { readonly graceful?: boolean } = {}): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    if (options.graceful !== true) {
      for (const run of this.#running.values()) {
        run.abort.abort(new JobAbandonedError('Cannot finish job: the agent is stopping'));
      }
    }
    await this.#loop;
    this.#loop = undefined;
    await this.idle();
  }

  /** Running capture streams, or running other jobs. */
  #count(capture: boolean): number {
    let n = 0;
    for (const run of this.#running.values()) if ((run.kind === 'capture') === capture) n++;
    return n;
  }

  async #poll(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.fill();
      } catch (err) {
        // The control plane may be restarting or unreachable; keep polling rather than dying.
        this.#log.warn({ error: messageOf(err) }, 'Cannot claim jobs');
      }
      if (this.#stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#options.pollMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }

  #start(job: JobRecord): void {
    const abort = new AbortController();
    const done = this.#run(job, abort).finally(() => {
      this.#running.delete(job.id);
      // A slot is free: look for more work at once.
      if (!this.#stopping) this.#wake?.();
    });
    this.#running.set(job.id, { kind: job.kind, abort, done });
  }

  async #run(job: JobRecord, abort: AbortController): Promise<void> {
    const { link, identity, leaseMs, heartbeatMs } = this.#options;
    const log = this.#log.child({ jobId: job.id, kind: job.kind, backupId: job.backupId ?? undefined });
    const handler = this.#options.handlers[job.kind];
    log.info({ serverId: job.serverId }, 'Job started');
    const startedAt = Date.now();

    let leaseLost = false;
    let beating = true;
    const heartbeats = (async () => {
      while (beating) {
        try {
          await sleep(heartbeatMs, undefined, { signal: abort.signal });
        } catch {
          return;
        }
        if (!beating) return;
        try {
          await link.heartbeat(job.id, identity.agentId, leaseMs);
        } catch (err) {
          if (isDbtrailError(err) && err.code === 'STORE_LEASE_LOST') {
            leaseLost = true;
            log.error({ error: err.message }, 'Lost the lease of the job; abandoning it');
            abort.abort(
              new JobAbandonedError(`Cannot continue job ${job.id}: ${err.message}`, { cause: err }),
            );
            return;
          }
          // A missed heartbeat is not fatal: the lease allows for two; keep trying.
          log.warn({ error: messageOf(err) }, 'Cannot send heartbeat');
        }
      }
    })();

    let outcome: JobOutcome;
    try {
      if (handler === undefined) {
        throw new JobAbandonedError(
          `Cannot run job ${job.id}: this agent has no handler for ${job.kind} jobs`,
        );
      }
      await handler(job, { signal: abort.signal, logger: log, agentId: identity.agentId, link });
      // A handler that finished after the abort may not have noticed it; the abort reason wins.
      if (abort.signal.aborted) throw abortReason(abort.signal);
      outcome = { status: 'succeeded' };
    } catch (err) {
      const reason = abort.signal.aborted ? abortReason(abort.signal) : err;
      outcome = { status: 'failed', error: failureOf(reason) };
    }
    beating = false;
    abort.abort();
    await heartbeats;

    if (leaseLost) return;
    try {
      await link.finish(job.id, identity.agentId, outcome);
    } catch (err) {
      log.error({ error: messageOf(err) }, 'Cannot record the end of the job');
      return;
    }
    const ms = Date.now() - startedAt;
    if (outcome.status === 'succeeded') log.info({ ms }, 'Job succeeded');
    else log.warn({ ms, error: outcome.error.message, code: outcome.error.code }, 'Job failed');
  }
}

function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new JobAbandonedError('Cannot finish job: it was aborted');
}
