import type { Clock } from '../lib/clock.js';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { JobRecord, JobRepository } from '../store/jobs.js';
import type { ServerRepository } from '../store/servers.js';
import type { TenantRepository } from '../store/tenants.js';
import { captureEnabled } from './service.js';

/**
 * Keeps one capture stream per server with capture switched on (`defaults.capture: true`): a `capture` job that
 * some eligible agent holds with a lease. Run from the scheduler loop of every server process; when a holder dies,
 * lease expiry fails its job and the next pass queues the stream again for any other agent whose labels match.
 *
 * Racing passes of several server replicas are safe: the job is enqueued `exclusive`, so the store lets only one
 * queued-or-running capture job exist per server, however many processes try at once.
 *
 * A stream that failed by itself (source unreachable, a refused commit) is queued again after `retryMs`, so a
 * broken source is not hammered; one whose agent died or stopped is queued at once, since the point is failover.
 */
export interface CaptureStreamsDeps {
  readonly tenants: TenantRepository;
  readonly servers: ServerRepository;
  readonly jobs: JobRepository;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Failures after which a stream is queued again at once: the holder went away, the stream itself was fine. */
const FAILOVER_CODES = new Set(['JOB_LEASE_EXPIRED', 'AGENT_JOB_ABANDONED', 'STORE_LEASE_LOST']);
export const CAPTURE_RETRY_MS = 10_000;

export async function ensureCaptureStreams(
  deps: CaptureStreamsDeps,
  options: { readonly retryMs?: number } = {},
): Promise<readonly JobRecord[]> {
  const retryMs = options.retryMs ?? CAPTURE_RETRY_MS;
  const queued: JobRecord[] = [];
  for (const tenant of await deps.tenants.list()) {
    for (const server of await deps.servers.list(tenant.id)) {
      if (!captureEnabled(server)) continue;
      if ((await deps.jobs.activeFor(server.id, 'capture')) !== undefined) continue;
      const [last] = await deps.jobs.list({ serverId: server.id, kind: 'capture', limit: 1 });
      const now = deps.clock.now();
      let runAfter = now;
      if (
        last !== undefined &&
        last.status === 'failed' &&
        last.finishedAt !== null &&
        !FAILOVER_CODES.has(last.error?.code ?? '')
      ) {
        const retryAt = new Date(last.finishedAt.getTime() + retryMs);
        if (retryAt > now) runAfter = retryAt;
      }
      try {
        const job = await deps.jobs.enqueue({
          tenantId: tenant.id,
          kind: 'capture',
          serverId: server.id,
          exclusive: true,
          runAfter,
        });
        deps.logger.info(
          { serverId: server.id, server: server.name, jobId: job.id, runAfter },
          last === undefined
            ? `Capture stream of "${server.name}" queued`
            : `Capture stream of "${server.name}" queued again after: ${last.error?.message ?? last.status}`,
        );
        queued.push(job);
      } catch (err) {
        // Another server process queued it first.
        if (isDbtrailError(err) && err.code === 'STORE_JOB_ACTIVE') continue;
        deps.logger.error({ serverId: server.id, error: messageOf(err) }, 'Cannot queue the capture stream');
      }
    }
  }
  return queued;
}
