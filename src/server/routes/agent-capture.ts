import {
  checkpointToJson,
  commitBatchFromJson,
  commitResultToJson,
  coordinatesFromJson,
  statsToJson,
  tableSchemaToJson,
} from '../../agent/capture-wire.js';
import type { AgentService } from '../../agent/service.js';
import { principalOf } from '../context.js';
import { json } from '../response.js';
import { route, type Route } from '../router.js';
import { object, optional, string, type Schema } from '../schema.js';

/**
 * The capture part of the agent protocol: what a `dbtrail agent` holding a capture job calls to resume and to
 * commit, so that a remote agent needs no access to the state database. Every call names the agent and is refused
 * with 409 STORE_LEASE_LOST unless it holds the job's lease; a commit must carry `expect_previous` (the coordinates
 * it last committed, null before the first), and is refused with 409 STORE_CHECKPOINT_CONFLICT and nothing written
 * when the stored checkpoint differs: a stale holder cannot write, and a retried batch is never applied twice.
 * Bigints travel as decimal strings (src/agent/capture-wire.ts).
 */
const agentId = string({
  minLength: 1,
  maxLength: 200,
  description: 'The agent id the job was claimed with',
});
const jobParams = object({ job_id: string({ format: 'uuid' }) });

/** A body part checked by the capture wire decoder rather than by a schema (its shape is recursive and large). */
function wire(description: string): Schema<unknown> {
  return {
    kind: 'json',
    parse: (value) => value,
    toJsonSchema: () => ({ type: 'object', description }),
  };
}

/** A capture batch is at most tens of MiB (src/capture/batch.ts limits), more as JSON text. */
const COMMIT_BODY_LIMIT = 256 * 1024 * 1024;
const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;

export function agentCaptureRoutes(service: AgentService): Route[] {
  const tags = ['agent'];
  return [
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/capture/checkpoint',
      operationId: 'agentCaptureCheckpoint',
      summary: "The capture job's server checkpoint (lease holder only)",
      tags,
      params: jobParams,
      body: object({ agent_id: agentId }),
      responses: {
        200: { description: '`{"checkpoint": {...}}`, or `{"checkpoint": null}` before the first commit' },
      },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const checkpoint = await service.captureCheckpoint(params.job_id, body.agent_id, { tenantId });
        return json({ checkpoint: checkpointToJson(checkpoint) });
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/capture/commit',
      operationId: 'agentCaptureCommit',
      summary: 'Commit a batch of captured transactions with the checkpoint, fenced by expect_previous',
      tags,
      params: jobParams,
      body: object({
        agent_id: agentId,
        batch: wire('transactions, checkpoint, expect_previous, gap, table_schemas'),
      }),
      bodyLimit: COMMIT_BODY_LIMIT,
      responses: {
        200: {
          description: '`{"first_seq": "...", "last_seq": "..."}` (null when the batch held no changes)',
        },
        409: { description: 'The agent no longer holds the lease, or the checkpoint moved (stale holder)' },
      },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const batch = commitBatchFromJson(body.batch);
        const result = await service.captureCommit(params.job_id, body.agent_id, batch, { tenantId });
        return json(commitResultToJson(result));
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/capture/table-schema',
      operationId: 'agentCaptureTableSchema',
      summary: 'The schema history entry of a table valid at a seq or coordinates (lease holder only)',
      tags,
      params: jobParams,
      body: object({
        agent_id: agentId,
        schema: string({ minLength: 1, maxLength: 256 }),
        table: string({ minLength: 1, maxLength: 256 }),
        seq: optional(string({ pattern: DECIMAL, patternDescription: 'a whole number as a decimal string' })),
        coordinates: optional(wire('file, position, gtid_set')),
      }),
      responses: { 200: { description: '`{"entry": {...}}` or `{"entry": null}`' } },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const entry = await service.captureTableSchemaAt(
          params.job_id,
          body.agent_id,
          body.schema,
          body.table,
          {
            ...(body.seq !== undefined ? { seq: BigInt(body.seq) } : {}),
            ...(body.coordinates !== undefined
              ? { coordinates: coordinatesFromJson(body.coordinates, 'coordinates') }
              : {}),
          },
          { tenantId },
        );
        return json({ entry: entry === undefined ? null : tableSchemaToJson(entry) });
      },
    }),
    route({
      method: 'POST',
      path: '/api/v1/agent/jobs/{job_id}/capture/stats',
      operationId: 'agentCaptureStats',
      summary: "Counts and commit times of the capture job's server index (lease holder only)",
      tags,
      params: jobParams,
      body: object({ agent_id: agentId }),
      responses: { 200: { description: 'Counts as decimal strings' } },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        return json(statsToJson(await service.captureStats(params.job_id, body.agent_id, { tenantId })));
      },
    }),
  ];
}
