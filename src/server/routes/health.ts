import {
  healthToJson,
  loadScheduleHealth,
  serverHealth,
  type ScheduleHealth,
  type ScheduleHealthJson,
  type ServerHealth,
} from '../../scheduler/health.js';
import type { ScheduleRecord } from '../../store/schedules.js';
import type { RouteDeps } from './common.js';

/**
 * The `health` of schedules and servers in API responses, computed when asked from the catalog (two small
 * indexed reads per schedule) and the binlog retention the agents reported. A server's health is the worst of its
 * schedules'; a server without an enabled schedule is `unprotected`.
 */
export type { ScheduleHealthJson } from '../../scheduler/health.js';

export interface ServerHealthJson {
  readonly status: ServerHealth['status'];
  readonly reasons: readonly string[];
  readonly warnings: readonly string[];
}

export function scheduleHealthOf(deps: RouteDeps, schedule: ScheduleRecord): Promise<ScheduleHealth> {
  return loadScheduleHealth(
    {
      catalog: deps.store.catalog,
      ...(deps.binlogRetentionSeconds === undefined
        ? {}
        : { binlogRetentionSeconds: deps.binlogRetentionSeconds }),
    },
    schedule,
    deps.clock.now(),
  );
}

export async function scheduleHealthJson(
  deps: RouteDeps,
  schedule: ScheduleRecord,
): Promise<ScheduleHealthJson> {
  return healthToJson(await scheduleHealthOf(deps, schedule));
}

/** The health of each server id given, from the tenant's schedules (any may be passed; others are ignored). */
export async function serverHealthJson(
  deps: RouteDeps,
  serverIds: readonly string[],
  schedules: readonly ScheduleRecord[],
): Promise<Map<string, ServerHealthJson>> {
  const wanted = new Set(serverIds);
  const byServer = new Map<string, ScheduleHealth[]>(serverIds.map((id) => [id, []]));
  const relevant = schedules.filter((s) => wanted.has(s.serverId));
  const healths = await Promise.all(relevant.map((s) => scheduleHealthOf(deps, s)));
  relevant.forEach((s, i) => byServer.get(s.serverId)?.push(healths[i]!));
  const out = new Map<string, ServerHealthJson>();
  for (const [id, list] of byServer) {
    const h = serverHealth(list);
    out.set(id, { status: h.status, reasons: h.reasons, warnings: h.warnings });
  }
  return out;
}
