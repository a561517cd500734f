import { BACKUP_STATUSES } from '../../store/backup-lifecycle.js';
import { backupToJson } from '../../store/catalog.js';
import { JobActiveError } from '../../store/errors.js';
import { newId } from '../../store/ids.js';
import { SCHEDULE_TOOLS, type ScheduleTool } from '../../store/schedules.js';
import { principalOf } from '../context.js';
import { HttpError } from '../errors.js';
import { json, JSON_TYPE, text } from '../response.js';
import { route, type Route } from '../router.js';
import { enumOf, integer, object, optional, string } from '../schema.js';
import { API_ERROR_CODES, storeCall, type RouteDeps } from './common.js';
import { auditRequest } from './audit.js';

/**
 * `POST /api/v1/backup` and the backup history. A backup request answers at once: it records the backup as
 * `queued` in the catalog, enqueues a `backup` job that references it, and returns its id; an agent claims the job
 * and moves the backup through running, uploading and succeeded or failed.
 */
const backupBody = object({
  server_id: string({ format: 'uuid' }),
  tool: optional(
    enumOf(SCHEDULE_TOOLS, {
      description: "mydumper or xtrabackup (mariadb-backup on MariaDB); the server's default when omitted",
    }),
  ),
});

export const MAX_PAGE = 1000;

const listQuery = object({
  server_id: optional(string({ format: 'uuid' })),
  status: optional(enumOf(BACKUP_STATUSES)),
  limit: optional(integer({ min: 1, max: MAX_PAGE }), 50),
  before: optional(string({ format: 'uuid', description: 'Only backups older than this one (paging)' })),
});

const backupParams = object({ backup_id: string({ format: 'uuid' }) });

export function backupRoutes(deps: RouteDeps): Route[] {
  const { store } = deps;
  const tags = ['backups'];
  const perServer = new KeyedLock();
  return [
    route({
      method: 'POST',
      path: '/api/v1/backup',
      operationId: 'startBackup',
      summary: 'Start a backup of a server now; answers at once with the backup id',
      tags,
      body: backupBody,
      responses: {
        202: { description: '`{"backup_id", "job_id", "status": "queued"}`; poll GET /api/v1/backups/{id}' },
        409: { description: 'A backup of this server is already queued or running' },
      },
      async handle({ body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const server = await storeCall(`server ${body.server_id}`, () =>
          store.servers.get(body.server_id, { tenantId }),
        );
        const fallback = server.defaults['tool'];
        const tool: ScheduleTool =
          body.tool ??
          ((SCHEDULE_TOOLS as readonly unknown[]).includes(fallback)
            ? (fallback as ScheduleTool)
            : 'mydumper');
        const alreadyActive = (active: { backupId: string | null; id: string; status: string }): HttpError =>
          new HttpError(
            409,
            API_ERROR_CODES.backupActive,
            `Cannot start a backup of server "${server.name}": backup ${active.backupId ?? active.id} is already ${active.status}`,
            { fields: { server_id: server.id, backup_id: active.backupId, job_id: active.id } },
          );
        // The check and the enqueue run one request at a time per server in this process; across processes on one
        // store, the exclusive enqueue repeats the check inside its write transaction.
        return perServer.run(server.id, async () => {
          const active = await store.jobs.activeFor(server.id, 'backup');
          if (active !== undefined) throw alreadyActive(active);
          const backupId = newId();
          const backup = await store.catalog.create({
            id: backupId,
            tenantId,
            serverId: server.id,
            serverName: server.name,
            tool,
            status: 'queued',
          });
          let jobId: string;
          try {
            const job = await store.jobs.enqueue({
              tenantId,
              kind: 'backup',
              serverId: server.id,
              backupId,
              payload: { tool },
              exclusive: true,
            });
            jobId = job.id;
          } catch (err) {
            // No job will ever pick the queued backup up: take it out of the history again.
            await store.catalog.delete([backupId], { tenantId });
            if (err instanceof JobActiveError) {
              const f = err.fields;
              throw alreadyActive({
                id: String(f['jobId']),
                backupId: typeof f['backupId'] === 'string' ? f['backupId'] : null,
                status: String(f['status']),
              });
            }
            throw err;
          }
          ctx.log.info({ backupId, jobId, serverId: server.id, tool }, 'backup queued');
          await auditRequest(store, ctx, {
            action: 'backup.request',
            target: backupId,
            details: { server_id: server.id, server_name: server.name, tool, job_id: jobId },
          });
          return json({ backup_id: backup.id, job_id: jobId, status: backup.status }, 202, {
            location: `/api/v1/backups/${backup.id}`,
          });
        });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/backups',
      operationId: 'listBackups',
      summary: 'Backup history, newest first',
      tags,
      query: listQuery,
      responses: {
        200: {
          description: '`{"backups": [...], "next_before": id | null}`; pass next_before as before to page',
        },
      },
      async handle({ query }, ctx) {
        const { tenantId } = principalOf(ctx);
        // The catalog writes each backup's JSON itself (the same form as backupToJson): the history is the most
        // requested listing, and building records only to serialise them again is most of its cost.
        const backups = await storeCall(`backup ${query.before ?? ''}`.trim(), () =>
          store.catalog.listJson({
            tenantId,
            limit: query.limit,
            ...(query.server_id === undefined ? {} : { serverId: query.server_id }),
            ...(query.status === undefined ? {} : { status: query.status }),
            ...(query.before === undefined ? {} : { before: query.before }),
          }),
        );
        const last = backups.at(-1);
        const nextBefore = backups.length === query.limit && last !== undefined ? last.id : null;
        return text(
          `{"backups":[${backups.map((b) => b.json).join(',')}],"next_before":${JSON.stringify(nextBefore)}}`,
          JSON_TYPE,
          200,
          { 'cache-control': 'no-store' },
        );
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/backups/{backup_id}',
      operationId: 'getBackup',
      summary: 'One backup: status, timings, duration, size, coordinates, location and error',
      tags,
      params: backupParams,
      responses: { 200: { description: 'The backup' } },
      async handle({ params }, ctx) {
        const { tenantId } = principalOf(ctx);
        const backup = await storeCall(`backup ${params.backup_id}`, () =>
          store.catalog.get(params.backup_id, { tenantId }),
        );
        return json(backupToJson(backup));
      },
    }),
  ];
}

/** Runs tasks with the same key one after another; different keys run concurrently. */
class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
