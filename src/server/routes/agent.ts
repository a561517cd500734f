import type { AgentService } from '../../agent/service.js';
import { agentBackupToJson, jobToJson } from '../../agent/wire.js';
import { BACKUP_STATUSES } from '../../store/backup-lifecycle.js';
import { BACKUP_TOOLS, type TransitionChanges } from '../../store/catalog.js';
import { principalOf } from '../context.js';
import { empty, json } from '../response.js';
import { route, type Route } from '../router.js';
import { array, enumOf, integer, nullable, object, optional, string, type Infer } from '../schema.js';

/**
 * The agent protocol: what `dbtrail agent` calls on the server, under /api/v1/agent/*, with a tenant's API key.
 * An agent claims a job of its key's tenant (restricted to the servers its labels allow), renews the lease with
 * heartbeats, fetches the job's server connection (the password decrypted, over this authenticated channel and
 * only to the lease holder), moves the job's own backup through its statuses, and finishes the job. Every call
 * after the claim names the agent and is refused with 409 STORE_LEASE_LOST once the agent no longer holds the lease.
 */
const JOB_KIND_VALUES = ['backup', 'upload', 'drill', 'drift', 'capture', 'retention'] as const;

const agentId = string({
  minLength: 1,
  maxLength: 200,
  description: 'The agent id the job was claimed with',
});
const leaseMs = integer({ min: 500, max: 3_600_000, description: 'Lease length in milliseconds' });

const claimBody = object({
  agent_id: agentId,
  labels: optional(array(string({ minLength: 1, maxLength: 100 }), { maxItems: 50 }), []),
  kinds: optional(array(enumOf(JOB_KIND_VALUES), { minItems: 1, maxItems: 6 }), ['backup']),
  lease_ms: optional(leaseMs, 60_000),
});

const jobParams = object({ job_id: string({ format: 'uuid' }) });

const errorBody = object({
  code: nullable(string({ maxLength: 200 })),
  message: string({ minLength: 1, maxLength: 10_000 }),
});

const factsShape = {
  agent_id: agentId,
  tool: optional(enumOf(BACKUP_TOOLS, { description: 'The dump tool actually run' })),
  tool_version: optional(string({ maxLength: 200 })),
  coordinates: optional(
    object({
      file: string({ minLength: 1, maxLength: 512 }),
      position: integer({ min: 0 }),
      gtid: nullable(string({ maxLength: 65_536 })),
    }),
  ),
  size_bytes: optional(integer({ min: 0 })),
  location: optional(string({ minLength: 1, maxLength: 2048 })),
  local_dir: optional(string({ minLength: 1, maxLength: 4096 })),
} as const;

const transitionBody = object({ ...factsShape, to: enumOf(BACKUP_STATUSES), error: optional(errorBody) });
const factsBody = object(factsShape);

export function agentRoutes(service: AgentService): Route[] {
  const tags = ['agent'];
  return [
    route({
      method: 'POST',
      path: '/api/v1/agent/claim',
      operationId: 'agentClaim',
      summary: 'Claim the next job this agent may run, with a lease',
      tags,
      body: claimBody,
      responses: { 200: { description: '`{"job": {...}}`, or `{"job": null}` when there is no work' } },
      async handle({ body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const job = await service.claim(
          { agentId: body.agent_id, labels: body.labels },
          body.kinds,
          body.lease_ms,
          {
            tenantId,
          },
        );
        return json({ job: job === undefined ? null : jobToJson(job) });
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/heartbeat',
      operationId: 'agentHeartbeat',
      summary: "Renew a job's lease",
      tags,
      params: jobParams,
      body: object({ agent_id: agentId, lease_ms: optional(leaseMs, 60_000) }),
      responses: {
        204: { description: 'Renewed' },
        409: { description: 'The agent no longer holds the lease' },
      },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        await service.heartbeat(params.job_id, body.agent_id, body.lease_ms, { tenantId });
        return empty();
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/finish',
      operationId: 'agentFinish',
      summary: 'End a job succeeded or failed',
      tags,
      params: jobParams,
      body: object({
        agent_id: agentId,
        status: enumOf(['succeeded', 'failed']),
        error: optional(errorBody),
      }),
      responses: {
        204: { description: 'Recorded' },
        409: { description: 'The agent no longer holds the lease' },
      },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        await service.finish(
          params.job_id,
          body.agent_id,
          body.status === 'succeeded'
            ? { status: 'succeeded' }
            : {
                status: 'failed',
                error: body.error ?? { code: null, message: 'The agent reported a failure without a reason' },
              },
          { tenantId },
        );
        return empty();
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/connection',
      operationId: 'agentConnection',
      summary: "The job's server connection, password included (lease holder only)",
      tags,
      params: jobParams,
      body: object({ agent_id: agentId }),
      responses: {
        200: { description: 'host, port, username, password, tenant and server names, defaults' },
      },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const c = await service.connection(params.job_id, body.agent_id, { tenantId });
        ctx.log.info(
          { jobId: params.job_id, agentId: body.agent_id, serverId: c.serverId },
          'server connection handed to agent',
        );
        return json({
          server_id: c.serverId,
          server_name: c.serverName,
          tenant_id: c.tenantId,
          tenant_name: c.tenantName,
          host: c.host,
          port: c.port,
          username: c.username,
          password: c.password,
          defaults: c.defaults,
        });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/agent/jobs/{job_id}/backup',
      operationId: 'agentGetBackup',
      summary: "The job's backup record",
      tags,
      params: jobParams,
      query: object({ agent_id: agentId }),
      responses: { 200: { description: 'The backup' } },
      async handle({ params, query }, ctx) {
        const { tenantId } = principalOf(ctx);
        return json(agentBackupToJson(await service.backup(params.job_id, query.agent_id, { tenantId })));
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/backup/transition',
      operationId: 'agentTransitionBackup',
      summary: "Move the job's backup to another status, with what was learned",
      tags,
      params: jobParams,
      body: transitionBody,
      responses: { 200: { description: 'The backup after the change' } },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const changes: TransitionChanges = {
          ...factsOf(body),
          ...(body.error !== undefined ? { error: body.error } : {}),
        };
        const record = await service.transitionBackup(params.job_id, body.agent_id, body.to, changes, {
          tenantId,
        });
        return json(agentBackupToJson(record));
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/backup/facts',
      operationId: 'agentRecordBackup',
      summary: "Record facts about the job's backup without a status change",
      tags,
      params: jobParams,
      body: factsBody,
      responses: { 200: { description: 'The backup after the change' } },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        return json(
          agentBackupToJson(
            await service.recordBackup(params.job_id, body.agent_id, factsOf(body), { tenantId }),
          ),
        );
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/server-facts',
      operationId: 'agentReportServerFacts',
      summary: "Report what the agent learned about the job's server (binlog retention, version)",
      tags,
      params: jobParams,
      body: object({
        agent_id: agentId,
        binlog_retention_seconds: nullable(integer({ min: 0 })),
        flavor: enumOf(['mysql', 'mariadb']),
        version: string({ maxLength: 200 }),
      }),
      responses: { 204: { description: 'Recorded' } },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        await service.reportFacts(
          params.job_id,
          body.agent_id,
          {
            binlogRetentionSeconds: body.binlog_retention_seconds,
            flavor: body.flavor,
            version: body.version,
          },
          { tenantId },
        );
        return empty();
      },
    }),
  ];
}

function factsOf(body: Infer<typeof factsBody>): TransitionChanges {
  return {
    ...(body.tool !== undefined ? { tool: body.tool } : {}),
    ...(body.tool_version !== undefined ? { toolVersion: body.tool_version } : {}),
    ...(body.coordinates !== undefined ? { coordinates: body.coordinates } : {}),
    ...(body.size_bytes !== undefined ? { sizeBytes: body.size_bytes } : {}),
    ...(body.location !== undefined ? { location: body.location } : {}),
    ...(body.local_dir !== undefined ? { localDir: body.local_dir } : {}),
  };
}
