import { captureEnabled } from '../../agent/service.js';
import { openApp, type App } from '../../app.js';
import type { JobRecord } from '../../store/jobs.js';
import type { ServerRecord } from '../../store/servers.js';
import type { CommandContext } from '../command.js';
import { exactJson } from '../render/json.js';

/**
 * The agent side of `dbtrail status`: who holds each capture stream, and (`--agents`) every agent of the tenant
 * with its labels and when it was last seen, from the store, so any host sharing it shows the same.
 */
export interface CaptureStream {
  readonly server: string;
  readonly job: JobRecord | undefined;
}

/** An agent that called in within this long counts as online (as in GET /api/v1/agents). */
const ONLINE_MS = 120_000;

export async function captureStreams(
  app: App,
  servers: readonly ServerRecord[],
): Promise<readonly CaptureStream[]> {
  const out: CaptureStream[] = [];
  for (const server of servers) {
    if (!captureEnabled(server)) continue;
    out.push({ server: server.name, job: await app.store.jobs.activeFor(server.id, 'capture') });
  }
  return out;
}

export function renderStreams(streams: readonly CaptureStream[], now: Date): string {
  const lines = ['', 'Capture streams:'];
  for (const s of streams) {
    const job = s.job;
    let state: string;
    if (job === undefined) state = 'not queued yet (the scheduler queues it within seconds)';
    else if (job.status === 'queued') state = 'waiting for an agent whose labels match';
    else {
      const left =
        job.leaseExpiresAt === null ? 0 : Math.round((job.leaseExpiresAt.getTime() - now.getTime()) / 1000);
      state = `held by ${job.leaseOwner ?? '?'} (lease ${left >= 0 ? `${left} s left` : `expired ${-left} s ago`})`;
    }
    lines.push(`  ${s.server}  ${state}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function agentStatus(ctx: CommandContext, json: boolean): Promise<number> {
  const app = await openApp(ctx.config);
  try {
    const tenant = await app.store.tenants.ensure(ctx.config.tenant);
    const now = app.clock.now();
    const agents = await app.store.agents.list({ tenantId: tenant.id });
    const running = await app.store.jobs.list({
      tenantId: tenant.id,
      kind: 'capture',
      status: 'running',
      limit: 10_000,
    });
    const names = new Map((await app.store.servers.list(tenant.id)).map((s) => [s.id, s.name]));
    const rows = agents.map((a) => ({
      id: a.id,
      embedded: a.tenantId === null,
      labels: a.labels,
      hostname: a.hostname,
      version: a.version,
      online: now.getTime() - a.lastSeenAt.getTime() <= ONLINE_MS,
      last_seen_at: a.lastSeenAt.toISOString(),
      capture_streams: running
        .filter((j) => j.leaseOwner === a.id && j.serverId !== null)
        .map((j) => names.get(j.serverId!) ?? j.serverId!),
    }));
    if (json) {
      ctx.stdout.write(`${exactJson(rows, 2)}\n`);
    } else if (rows.length === 0) {
      ctx.stdout.write(`Tenant "${tenant.name}" has no agents yet\n`);
    } else {
      for (const r of rows) {
        const ago = Math.max(0, Math.round((now.getTime() - Date.parse(r.last_seen_at)) / 1000));
        ctx.stdout.write(
          `${r.id}  ${r.online ? 'online' : 'offline'}  ${r.embedded ? 'embedded' : `host ${r.hostname ?? '?'}`}  labels ${r.labels.length > 0 ? r.labels.join(',') : '-'}  seen ${ago} s ago  streams ${r.capture_streams.length > 0 ? r.capture_streams.join(',') : '-'}\n`,
        );
      }
    }
    return 0;
  } finally {
    await app.close();
  }
}
