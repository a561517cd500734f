import { rm } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { physicalToolFor } from '../backup/mariabackup.js';
import { runBackup } from '../backup/run.js';
import type { ManifestSigner } from '../backup/signing.js';
import { messageOf } from '../lib/errors.js';
import type { ObjectStore } from '../objects/store.js';
import { connectSource } from '../source/connect.js';
import type { ResolvedDsn } from '../source/dsn.js';
import { probeServer, type ServerFacts } from '../source/server-facts.js';
import type { BackupTool } from '../store/catalog.js';
import type { JobRecord } from '../store/jobs.js';
import { objectPrefixProblem } from '../store/schedules.js';
import { JobInvalidError } from './errors.js';
import type { ServerConnection, ServerFactsReport } from './link.js';
import type { JobHandler } from './worker.js';

/**
 * Runs a `backup` job: the catalog record was created `queued` by whoever enqueued the job (the API or the
 * scheduler); this dumps the job's server, uploads to the agent's object store and moves the record through
 * running, uploading and succeeded (or failed) with `runBackup`, reporting through the link so that only the lease
 * holder can write. The tool `xtrabackup` of a schedule means "the physical tool of that server": mariadb-backup
 * on MariaDB. The local dump directory is removed once the upload succeeded: an agent runs for months and its
 * disk would fill; a failed upload keeps it so that the upload can be retried.
 */
export interface BackupJobOptions {
  readonly objects: ObjectStore;
  /** Parent directory of local dumps. */
  readonly outDir: string;
  readonly lockDir: string;
  readonly bins?: { readonly mydumper?: string; readonly physical?: string };
  /** Keep the local dump directory after a successful upload (default false). */
  readonly keepLocal?: boolean;
  /** This home's manifest signer (src/backup/home-signer.ts); manifests are unsigned without it. */
  readonly signer?: () => Promise<ManifestSigner>;
}

export function backupJobHandler(options: BackupJobOptions): JobHandler {
  return async (job, { signal, logger, agentId, link }) => {
    if (job.backupId === null) {
      throw new JobInvalidError(`Cannot run backup job ${job.id}: it names no backup record`, {
        fields: { jobId: job.id },
      });
    }
    const catalog = link.catalogFor(job.id, agentId);
    const record = await catalog.get(job.backupId);
    if (record.status !== 'queued') {
      // Only a queued backup is waiting for this job; any other status means someone else decided its fate.
      throw new JobInvalidError(
        `Cannot run backup job ${job.id}: backup ${record.id} is ${record.status}, not queued`,
        {
          fields: { jobId: job.id, backupId: record.id, status: record.status },
        },
      );
    }
    const server = await link.connection(job.id, agentId);
    const dsn = dsnOf(server);

    const facts = await probe(dsn);
    await link
      .reportFacts(job.id, agentId, factsReport(facts))
      .catch((err: unknown) => logger.warn({ error: messageOf(err) }, 'Cannot report server facts'));
    const tool = toolFor(record.tool, facts.flavor);
    const threads = positiveInt(server.defaults['threads']);
    const objectPrefix = objectPrefixOf(job, server.tenantName);

    const result = await runBackup(
      { catalog, objects: options.objects, logger },
      {
        dsn,
        serverName: server.serverName,
        tenant: server.tenantName,
        tenantId: server.tenantId,
        serverId: server.serverId,
        scheduleId: job.scheduleId,
        backupId: job.backupId,
        tool,
        ...(threads !== undefined ? { threads } : {}),
        ...(objectPrefix !== undefined ? { objectPrefix } : {}),
        outDir: options.outDir,
        lockDir: options.lockDir,
        ...(options.signer !== undefined ? { signer: await options.signer() } : {}),
        ...(options.bins !== undefined ? { bins: options.bins } : {}),
        logger,
        signal,
      },
    );
    if (options.keepLocal !== true && isInside(options.outDir, result.dump.dir)) {
      await rm(result.dump.dir, { recursive: true, force: true }).catch((err: unknown) =>
        logger.warn(
          { dir: result.dump.dir, error: messageOf(err) },
          'Cannot remove the local dump directory',
        ),
      );
    }
  };
}

/**
 * The schedule's object prefix the scheduler put in the job (`object_prefix`), checked again here because it
 * decides where objects are written: a relative prefix under the tenant's own name. Undefined for on-demand
 * backups, which use the default `<tenant>/<server-name>/`.
 */
export function objectPrefixOf(job: Pick<JobRecord, 'id' | 'payload'>, tenant: string): string | undefined {
  const prefix = job.payload['object_prefix'];
  if (prefix === undefined || prefix === null) return undefined;
  const problem =
    typeof prefix !== 'string'
      ? `expected a string, got ${typeof prefix}`
      : (objectPrefixProblem(prefix) ??
        (prefix.startsWith(`${tenant}/`) ? undefined : `it must start with the tenant's name "${tenant}/"`));
  if (problem !== undefined) {
    throw new JobInvalidError(`Cannot run backup job ${job.id}: object prefix is not usable: ${problem}`, {
      fields: { jobId: job.id, objectPrefix: typeof prefix === 'string' ? prefix : null },
    });
  }
  return prefix as string;
}

/** The DSN for a registered server. The password came over the authenticated channel (or from the store). */
export function dsnOf(server: ServerConnection): ResolvedDsn {
  const tls = server.defaults['tls'];
  return {
    host: server.host,
    port: server.port,
    user: server.username,
    password: server.password ?? undefined,
    database: undefined,
    socketPath: undefined,
    tls: tls === 'off' || tls === 'required' ? tls : 'preferred',
    // Neither typed on a command line nor read from a file of this host: no warning applies.
    passwordOrigin: 'none',
  };
}

/** The tool to run for the record's tool on a server of this flavour. */
export function toolFor(tool: BackupTool, flavor: 'mysql' | 'mariadb'): BackupTool {
  return tool === 'mydumper' ? tool : physicalToolFor(flavor);
}

/** Binlog retention in seconds from the server's variables; null when unknown. 0 means binlogs never expire. */
export function binlogRetentionSeconds(variables: Readonly<Record<string, string>>): number | null {
  const seconds = Number(variables['binlog_expire_logs_seconds'] ?? '');
  const days = Number(variables['expire_logs_days'] ?? '');
  // MariaDB keeps both in step (10.6+); MySQL 8 uses seconds. A non-zero value of either wins over 0.
  if (Number.isFinite(seconds) && seconds > 0) return seconds;
  if (Number.isFinite(days) && days > 0) return Math.round(days * 86_400);
  if (variables['binlog_expire_logs_seconds'] !== undefined || variables['expire_logs_days'] !== undefined)
    return 0;
  return null;
}

export function factsReport(facts: ServerFacts): ServerFactsReport {
  return {
    binlogRetentionSeconds: binlogRetentionSeconds(facts.variables),
    flavor: facts.flavor,
    version: facts.version,
  };
}

async function probe(dsn: ResolvedDsn): Promise<ServerFacts> {
  const conn = await connectSource(dsn);
  try {
    return await probeServer(conn);
  } finally {
    await conn.close();
  }
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 256
    ? value
    : undefined;
}

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}
