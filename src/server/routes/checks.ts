import type { CanonicalValue } from '../../lib/canonical-json.js';
import { MAX_AUDIT_PAGE, type AuditEntry } from '../../store/audit-log.js';
import type { DrillRecord } from '../../store/drills.js';
import { principalOf } from '../context.js';
import { json } from '../response.js';
import { route, type Route } from '../router.js';
import { array, boolean, enumOf, integer, nullable, object, optional, string } from '../schema.js';
import { storeCall, type RouteDeps } from './common.js';
import { serverParams } from './servers.js';

/**
 * The checks that prove a server's backups are worth something, newest first:
 * - `GET /api/v1/servers/{server_id}/drills`: restore drills from the catalog (`dbtrail drill`,
 *   src/store/drills.ts), in the same JSON form as `dbtrail drill --json`;
 * - `GET /api/v1/servers/{server_id}/drift-checks`: drift checks (`dbtrail drift`), read from the tenant's
 *   `drift.run` entries of the audit log, which is where a drift check is recorded.
 * Another tenant's server answers 404 like one that does not exist. Public surface: add fields, never rename.
 */
export const MAX_CHECKS_PAGE = 1000;

const limitQuery = object({
  limit: optional(
    integer({ min: 1, max: MAX_CHECKS_PAGE, description: 'At most this many, newest first' }),
    20,
  ),
});

const DRIFT_STATUSES = ['clean', 'drift', 'error'] as const;

const coordinatesSchema = nullable(
  object({
    file: string(),
    position: integer({ min: 0 }),
    gtid: nullable(string()),
  }),
);

const drillSchema = object({
  id: string({ format: 'uuid' }),
  server_id: string({ format: 'uuid' }),
  backup_id: nullable(string({ description: 'The backup restored; null when none could be chosen' })),
  status: enumOf(['passed', 'failed'] as const),
  started_at: string({ format: 'date-time' }),
  finished_at: string({ format: 'date-time' }),
  rto_ms: nullable(integer({ min: 0, description: 'Fetch + load + replay; null when the restore failed' })),
  coordinates: coordinatesSchema,
  steps: array(object({ step: string(), ms: integer({ min: 0 }) })),
  tables: array(
    object({
      table: string({ description: '`schema.table` on the source' }),
      source_rows: string({ description: 'Exact row count, as a decimal string' }),
      scratch_rows: string(),
      source_checksum: string(),
      scratch_checksum: string(),
      match: boolean(),
    }),
  ),
  error: nullable(string({ description: 'Why it failed, in one line; null when it passed' })),
});

const driftCheckSchema = object({
  seq: integer({ min: 1, description: 'The audit log entry that records the check' }),
  at: string({ format: 'date-time' }),
  outcome: enumOf(['success', 'failure'] as const, {
    description: 'success: clean; failure: drift found, or the check could not run',
  }),
  status: enumOf(DRIFT_STATUSES, {
    description: 'clean, drift, or error when the check could not run',
  }),
  mode: nullable(string({ description: 'live or between (two backups); null when the check could not run' })),
  drifted_rows: nullable(integer({ min: 0 })),
  drifted_tables: nullable(integer({ min: 0 })),
  backup_id: nullable(string({ description: 'The backup the expected state was built from' })),
  coordinates: coordinatesSchema,
  error: nullable(string()),
});

export type DriftCheckStatus = (typeof DRIFT_STATUSES)[number];

export interface DriftCheckJson {
  readonly seq: number;
  readonly at: string;
  readonly outcome: 'success' | 'failure';
  readonly status: DriftCheckStatus;
  readonly mode: string | null;
  readonly drifted_rows: number | null;
  readonly drifted_tables: number | null;
  readonly backup_id: string | null;
  readonly coordinates: {
    readonly file: string;
    readonly position: number;
    readonly gtid: string | null;
  } | null;
  readonly error: string | null;
}

/** A drill as `dbtrail drill --json` prints it (src/cli/commands/drill.ts); the server may not import the CLI. */
export function drillToJson(d: DrillRecord): Record<string, unknown> {
  return {
    id: d.id,
    server_id: d.serverId,
    backup_id: d.backupId,
    status: d.status,
    started_at: d.startedAt.toISOString(),
    finished_at: d.finishedAt.toISOString(),
    rto_ms: d.rtoMs,
    coordinates: d.coordinates,
    steps: d.steps.map((s) => ({ step: s.step, ms: s.ms })),
    tables: d.tables.map((t) => ({
      table: t.table,
      source_rows: t.sourceRows,
      scratch_rows: t.scratchRows,
      source_checksum: t.sourceChecksum,
      scratch_checksum: t.scratchChecksum,
      match: t.match,
    })),
    error: d.error,
  };
}

/**
 * One `drift.run` audit entry as a drift check. The entry's details are what `dbtrail drift` wrote (see
 * src/cli/commands/drift.ts): a run that could not finish has only `error`; a finished one has status, counts,
 * backup and coordinates. Fields of another shape read as null rather than failing the whole listing.
 */
export function driftCheckJson(e: AuditEntry): DriftCheckJson {
  const d = e.details;
  const text = (v: CanonicalValue | undefined): string | null => (typeof v === 'string' ? v : null);
  const count = (v: CanonicalValue | undefined): number | null =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
  const recorded = text(d['status']);
  const status: DriftCheckStatus =
    recorded === 'clean' || recorded === 'drift' ? recorded : e.outcome === 'success' ? 'clean' : 'error';
  const file = text(d['file']);
  const position = count(d['position']);
  return {
    seq: e.seq,
    at: e.at,
    outcome: e.outcome,
    status,
    mode: text(d['mode']),
    drifted_rows: count(d['drifted_rows']),
    drifted_tables: count(d['drifted_tables']),
    backup_id: text(d['backup_id']),
    coordinates: file === null || position === null ? null : { file, position, gtid: text(d['gtid']) },
    error:
      text(d['error']) ?? (status === 'error' ? 'The check could not run; no reason was recorded' : null),
  };
}

/** Whether a `drift.run` entry is about this server: by id, which (unlike the name) never changes. */
function aboutServer(e: AuditEntry, serverId: string): boolean {
  return e.details['server_id'] === serverId || e.target === serverId;
}

export function checkRoutes(deps: RouteDeps): Route[] {
  const { store } = deps;
  const tags = ['servers'];
  return [
    route({
      method: 'GET',
      path: '/api/v1/servers/{server_id}/drills',
      operationId: 'listServerDrills',
      summary: "A server's restore drills, newest first",
      description:
        'Each drill restored the latest backup plus captured changes into a scratch server and compared per-table checksums with the source at the same coordinates (`dbtrail drill`).',
      tags,
      params: serverParams,
      query: limitQuery,
      responses: {
        200: {
          description: '`{"drills": [...]}`, newest first',
          schema: object({ drills: array(drillSchema) }),
        },
        404: { description: 'No such server in this tenant' },
      },
      async handle({ params, query }, ctx) {
        const { tenantId } = principalOf(ctx);
        await storeCall(`server ${params.server_id}`, () =>
          store.servers.get(params.server_id, { tenantId }),
        );
        const drills = await store.drills.list(tenantId, params.server_id, query.limit);
        return json({ drills: drills.map(drillToJson) });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/servers/{server_id}/drift-checks',
      operationId: 'listServerDriftChecks',
      summary: "A server's drift checks, newest first",
      description:
        "Each check compared the live server (or a later backup) with the state expected from a dump plus captured changes (`dbtrail drift`). Read from the audit log's `drift.run` entries.",
      tags,
      params: serverParams,
      query: limitQuery,
      responses: {
        200: {
          description: '`{"drift_checks": [...]}`, newest first',
          schema: object({ drift_checks: array(driftCheckSchema) }),
        },
        404: { description: 'No such server in this tenant' },
      },
      async handle({ params, query }, ctx) {
        const { tenantId } = principalOf(ctx);
        const serverId = params.server_id;
        await storeCall(`server ${serverId}`, () => store.servers.get(serverId, { tenantId }));
        // The audit log reads in chain order only; drift checks are few (one per run of `dbtrail drift`), so
        // the tenant's are paged through and the newest `limit` of this server's kept.
        const newest: AuditEntry[] = [];
        let afterSeq = 0;
        for (;;) {
          const page = await store.audit.list({
            tenantId,
            action: 'drift.run',
            afterSeq,
            limit: MAX_AUDIT_PAGE,
          });
          for (const e of page) {
            if (!aboutServer(e, serverId)) continue;
            newest.push(e);
            if (newest.length > query.limit) newest.shift();
          }
          const last = page.at(-1);
          if (page.length < MAX_AUDIT_PAGE || last === undefined) break;
          afterSeq = last.seq;
        }
        return json({ drift_checks: newest.reverse().map(driftCheckJson) });
      },
    }),
  ];
}
