import type { Clock } from '../../lib/clock.js';
import { CronNoRunError, TimeZoneError } from '../../scheduler/errors.js';
import { cronProblem, nextRun, parseCron } from '../../scheduler/cron.js';
import { canonicalTimeZone } from '../../scheduler/time-zone.js';
import type { BackupRecord } from '../../store/catalog.js';
import {
  DEFAULT_RETENTION_DAYS,
  MAX_RETENTION_DAYS,
  MIN_RETENTION_DAYS,
  objectPrefixProblem,
  SCHEDULE_TOOLS,
  type SchedulePatch,
  type ScheduleRecord,
} from '../../store/schedules.js';
import type { StateStore } from '../../store/state-store.js';
import { principalOf } from '../context.js';
import { empty, json } from '../response.js';
import { route, type Route } from '../router.js';
import { boolean, enumOf, integer, object, optional, string } from '../schema.js';
import { fieldError, iso, storeCall, type RouteDeps } from './common.js';
import { scheduleHealthJson, type ScheduleHealthJson } from './health.js';
import { auditRequest } from './audit.js';

/**
 * `/api/v1/schedules`: cron-driven backups of one server. Every response carries `next_run_at` (null while
 * disabled) and `last_run`, the newest backup the schedule caused. The next run is computed here, when a
 * schedule is created, enabled or re-timed, from the current time: a schedule switched back on does not fire for
 * the slots it missed while off.
 */
const cron = string({
  minLength: 1,
  maxLength: 200,
  description:
    'Five-field cron expression (minute hour day-of-month month day-of-week) or @daily, @hourly, ...',
  check: (v) => cronProblem(v),
});
const timezone = string({
  minLength: 1,
  maxLength: 64,
  description: 'IANA time zone the cron expression is evaluated in',
  check: timeZoneProblem,
});
const tool = enumOf(SCHEDULE_TOOLS, {
  description: 'mydumper (logical) or xtrabackup (physical; mariadb-backup on MariaDB)',
});
const retentionDays = integer({
  min: MIN_RETENTION_DAYS,
  max: MAX_RETENTION_DAYS,
  description: 'Days a backup of this schedule is kept',
});
const s3Prefix = string({
  minLength: 1,
  maxLength: 512,
  description: "Object prefix within the tenant's namespace; `<tenant>/<server-name>/` by default",
  check: (v) => objectPrefixProblem(withSlash(v)),
});

const createBody = object({
  server_id: string({ format: 'uuid' }),
  cron,
  timezone: optional(timezone, 'UTC'),
  tool: optional(tool, 'mydumper'),
  retention_days: optional(retentionDays, DEFAULT_RETENTION_DAYS),
  s3_prefix: optional(s3Prefix),
  enabled: optional(boolean(), true),
});

const patchBody = object({
  cron: optional(cron),
  timezone: optional(timezone),
  tool: optional(tool),
  retention_days: optional(retentionDays),
  s3_prefix: optional(s3Prefix),
  enabled: optional(boolean()),
});

const scheduleParams = object({ schedule_id: string({ format: 'uuid' }) });

const listQuery = object({
  server_id: optional(string({ format: 'uuid' })),
  enabled: optional(boolean()),
});

/** The public JSON form of a schedule. */
export interface ScheduleJson {
  readonly id: string;
  readonly server_id: string;
  readonly server_name: string | null;
  readonly cron: string;
  readonly timezone: string;
  readonly tool: string;
  readonly retention_days: number;
  readonly s3_prefix: string;
  readonly enabled: boolean;
  readonly next_run_at: string | null;
  readonly last_run: {
    readonly status: string;
    readonly time: string;
    readonly backup_id: string;
  } | null;
  /** Whether the schedule is doing its job: src/scheduler/health.ts. */
  readonly health: ScheduleHealthJson;
  readonly created_at: string;
  readonly updated_at: string;
}

export function scheduleToJson(
  s: ScheduleRecord,
  serverName: string | null,
  last: BackupRecord | undefined,
  health: ScheduleHealthJson,
): ScheduleJson {
  return {
    id: s.id,
    server_id: s.serverId,
    server_name: serverName,
    cron: s.cron,
    timezone: s.timezone,
    tool: s.tool,
    retention_days: s.retentionDays,
    s3_prefix: s.objectPrefix,
    enabled: s.enabled,
    next_run_at: iso(s.nextRunAt),
    last_run:
      last === undefined
        ? null
        : {
            status: last.status,
            time: (last.finishedAt ?? last.startedAt ?? last.createdAt).toISOString(),
            backup_id: last.id,
          },
    health,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

export function scheduleRoutes(deps: RouteDeps): Route[] {
  const { store, clock } = deps;
  const tags = ['schedules'];

  const render = async (s: ScheduleRecord, serverName?: string): Promise<ScheduleJson> => {
    const name =
      serverName ??
      (await store.servers.get(s.serverId, { tenantId: s.tenantId }).catch(() => undefined))?.name;
    const [last, health] = await Promise.all([lastRun(store, s), scheduleHealthJson(deps, s)]);
    return scheduleToJson(s, name ?? null, last, health);
  };

  return [
    route({
      method: 'POST',
      path: '/api/v1/schedules',
      operationId: 'createSchedule',
      summary: 'Create a backup schedule for a server',
      tags,
      body: createBody,
      responses: { 201: { description: 'The schedule, with its next run' } },
      async handle({ body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const server = await storeCall(`server ${body.server_id}`, () =>
          store.servers.get(body.server_id, { tenantId }),
        );
        const tenant = await store.tenants.get(tenantId);
        const namespace = `${tenant.name}/`;
        const prefix =
          body.s3_prefix === undefined ? `${namespace}${server.name}/` : withSlash(body.s3_prefix);
        if (!prefix.startsWith(namespace)) {
          throw fieldError(
            's3_prefix',
            `must start with the tenant's namespace "${namespace}", got "${prefix}"`,
          );
        }
        const zone = canonicalTimeZone(body.timezone);
        const record = await storeCall(`server ${body.server_id}`, () =>
          store.schedules.create({
            tenantId,
            serverId: server.id,
            cron: body.cron.trim(),
            timezone: zone,
            tool: body.tool,
            retentionDays: body.retention_days,
            objectPrefix: prefix,
            enabled: body.enabled,
            nextRunAt: body.enabled ? firstRun(body.cron, zone, clock) : null,
          }),
        );
        await auditRequest(store, ctx, {
          action: 'schedule.create',
          target: record.id,
          details: scheduleDetails(record, server.name),
        });
        return json(await render(record, server.name), 201, { location: `/api/v1/schedules/${record.id}` });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/schedules',
      operationId: 'listSchedules',
      summary: "The tenant's schedules, oldest first",
      tags,
      query: listQuery,
      responses: { 200: { description: '`{"schedules": [...]}`' } },
      async handle({ query }, ctx) {
        const { tenantId } = principalOf(ctx);
        const [schedules, servers] = await Promise.all([
          store.schedules.list({
            tenantId,
            ...(query.server_id === undefined ? {} : { serverId: query.server_id }),
            ...(query.enabled === undefined ? {} : { enabled: query.enabled }),
          }),
          store.servers.list(tenantId),
        ]);
        const names = new Map(servers.map((s) => [s.id, s.name]));
        const out = await Promise.all(schedules.map((s) => render(s, names.get(s.serverId))));
        return json({ schedules: out });
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/schedules/{schedule_id}',
      operationId: 'getSchedule',
      summary: 'One schedule',
      tags,
      params: scheduleParams,
      responses: { 200: { description: 'The schedule' } },
      async handle({ params }, ctx) {
        const { tenantId } = principalOf(ctx);
        const record = await storeCall(`schedule ${params.schedule_id}`, () =>
          store.schedules.get(params.schedule_id, { tenantId }),
        );
        return json(await render(record));
      },
    }),
    route({
      method: 'PATCH',
      path: '/api/v1/schedules/{schedule_id}',
      operationId: 'updateSchedule',
      summary: 'Change a schedule; `enabled: false` pauses it without deleting it',
      tags,
      params: scheduleParams,
      body: patchBody,
      responses: { 200: { description: 'The schedule as it is now' } },
      async handle({ params, body }, ctx) {
        const { tenantId } = principalOf(ctx);
        const id = params.schedule_id;
        const current = await storeCall(`schedule ${id}`, () => store.schedules.get(id, { tenantId }));
        const patch: { -readonly [K in keyof SchedulePatch]: SchedulePatch[K] } = {};
        if (body.tool !== undefined) patch.tool = body.tool;
        if (body.retention_days !== undefined) patch.retentionDays = body.retention_days;
        if (body.s3_prefix !== undefined) {
          const tenant = await store.tenants.get(tenantId);
          const prefix = withSlash(body.s3_prefix);
          if (!prefix.startsWith(`${tenant.name}/`)) {
            throw fieldError(
              's3_prefix',
              `must start with the tenant's namespace "${tenant.name}/", got "${prefix}"`,
            );
          }
          patch.objectPrefix = prefix;
        }
        const expression = body.cron?.trim() ?? current.cron;
        const zone = body.timezone === undefined ? current.timezone : canonicalTimeZone(body.timezone);
        const enabled = body.enabled ?? current.enabled;
        if (body.cron !== undefined) patch.cron = expression;
        if (body.timezone !== undefined) patch.timezone = zone;
        if (body.enabled !== undefined) patch.enabled = enabled;
        const retimed =
          (body.cron !== undefined && expression !== current.cron) ||
          (body.timezone !== undefined && zone !== current.timezone) ||
          enabled !== current.enabled;
        if (retimed) patch.nextRunAt = enabled ? firstRun(expression, zone, clock) : null;
        const record = await storeCall(`schedule ${id}`, () =>
          store.schedules.update(id, patch, { tenantId }),
        );
        await auditRequest(store, ctx, {
          action: 'schedule.update',
          target: id,
          details: { ...scheduleDetails(record), before: scheduleDetails(current) },
        });
        return json(await render(record));
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/schedules/{schedule_id}',
      operationId: 'deleteSchedule',
      summary: 'Delete a schedule; its backups stay in the history',
      tags,
      params: scheduleParams,
      responses: { 204: { description: 'Deleted' } },
      async handle({ params }, ctx) {
        const { tenantId } = principalOf(ctx);
        await storeCall(`schedule ${params.schedule_id}`, () =>
          store.schedules.delete(params.schedule_id, { tenantId }),
        );
        await auditRequest(store, ctx, { action: 'schedule.delete', target: params.schedule_id });
        return empty();
      },
    }),
  ];
}

/** What the audit log keeps of a schedule: enough to see what changed. */
function scheduleDetails(
  s: ScheduleRecord,
  serverName?: string,
): { [key: string]: string | number | boolean } {
  return {
    server_id: s.serverId,
    ...(serverName !== undefined ? { server_name: serverName } : {}),
    cron: s.cron,
    timezone: s.timezone,
    tool: s.tool,
    retention_days: s.retentionDays,
    object_prefix: s.objectPrefix,
    enabled: s.enabled,
  };
}

/** The first slot strictly after now; a 400 on `cron` when the expression has none within the search horizon. */
function firstRun(expression: string, zone: string, clock: Clock): Date {
  try {
    return nextRun(parseCron(expression, { timeZone: zone }), clock.now());
  } catch (err) {
    if (err instanceof CronNoRunError) throw fieldError('cron', 'never fires within the next 100 years');
    throw err;
  }
}

async function lastRun(store: StateStore, s: ScheduleRecord): Promise<BackupRecord | undefined> {
  const [newest] = await store.catalog.list({ tenantId: s.tenantId, scheduleId: s.id, limit: 1 });
  return newest;
}

function timeZoneProblem(name: string): string | undefined {
  try {
    canonicalTimeZone(name);
    return undefined;
  } catch (err) {
    if (err instanceof TimeZoneError) return `${err.reason}, got "${name.slice(0, 64)}"`;
    throw err;
  }
}

function withSlash(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}
