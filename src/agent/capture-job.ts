import { runStreamCapture } from '../capture/stream.js';
import { parseTableFilter } from '../capture/filter.js';
import { messageOf } from '../lib/errors.js';
import { connectSource } from '../source/connect.js';
import { probeServer } from '../source/server-facts.js';
import { dsnOf, factsReport } from './backup-job.js';
import { JobInvalidError } from './errors.js';
import type { JobHandler } from './worker.js';

/**
 * Runs a `capture` job: the one live capture stream of a server, for as long as this agent holds the job's lease.
 * It is `runStreamCapture` (the same code as `dbtrail stream`) over the job-scoped change index of the link, so it
 * resumes from the stored checkpoint and every commit is fenced with `expectPrevious`.
 *
 * The stream ends when the lease is lost or the agent stops (the worker aborts the signal) or when a commit is
 * refused (another holder moved the checkpoint: this one is stale and must stop). The job then ends failed and
 * the control plane queues the stream again; the next holder resumes from the checkpoint, so nothing is lost or
 * written twice. Purged binlogs are recorded as a gap and capture goes on: an unattended stream cannot wait for
 * someone to pass `--accept-gap`, and the gap is reported wherever windows are.
 *
 * A server's `defaults.databases` narrows capture to those schemas, as it narrows its backups.
 */
export interface CaptureJobOptions {
  /** Heartbeat interval of the replication connection (tests shorten it). */
  readonly heartbeatMs?: number;
}

export function captureJobHandler(options: CaptureJobOptions = {}): JobHandler {
  return async (job, { signal, logger, agentId, link }) => {
    if (job.serverId === null) {
      throw new JobInvalidError(`Cannot run capture job ${job.id}: it names no server`, {
        fields: { jobId: job.id },
      });
    }
    const server = await link.connection(job.id, agentId);
    const dsn = dsnOf(server);
    const conn = await connectSource(dsn);
    try {
      const facts = await probeServer(conn);
      await link
        .reportFacts(job.id, agentId, factsReport(facts))
        .catch((err: unknown) => logger.warn({ error: messageOf(err) }, 'Cannot report server facts'));
    } finally {
      await conn.close();
    }
    const databases = server.defaults['databases'];
    const schemas = Array.isArray(databases)
      ? databases.filter((d): d is string => typeof d === 'string')
      : undefined;
    const summary = await runStreamCapture({
      dsn,
      index: link.changeIndexFor(job.id, agentId, server.serverId),
      serverId: server.serverId,
      serverName: server.serverName,
      filter: parseTableFilter(schemas !== undefined && schemas.length > 0 ? schemas : undefined, undefined),
      stopAtEnd: false,
      acceptGap: true,
      signal,
      logger: logger.child({ component: 'capture', server: server.serverName }),
      ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    });
    logger.info(
      {
        transactions: summary.transactions,
        changes: summary.changes,
        reconnects: summary.reconnects,
        checkpoint: summary.checkpoint,
      },
      `Capture of "${server.serverName}" stopped: ${summary.changes} row changes in ${summary.transactions} transactions`,
    );
  };
}
