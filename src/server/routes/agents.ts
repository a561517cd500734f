import type { AgentService } from '../../agent/service.js';
import type { AgentRecord } from '../../store/agents.js';
import { principalOf } from '../context.js';
import { empty, json } from '../response.js';
import { route, type Route } from '../router.js';
import { array, object, optional, string } from '../schema.js';

/**
 * Agents: a remote agent registers when it starts (and is then recorded as seen on every claim); the tenant lists
 * its agents with their labels and whether they are online. Embedded agents of `dbtrail server` serve every
 * tenant and are listed too, with `embedded: true` and `tenant_id` null.
 */
const LABEL_PATTERN = /^[A-Za-z0-9._:=/-]+$/;

/** An agent that called in within this long counts as online: several idle polls, or a heartbeat, fit in it. */
export const AGENT_ONLINE_MS = 120_000;

export interface AgentJson {
  readonly id: string;
  readonly tenant_id: string | null;
  readonly embedded: boolean;
  readonly labels: readonly string[];
  readonly hostname: string | null;
  readonly version: string | null;
  readonly online: boolean;
  readonly registered_at: string;
  readonly last_seen_at: string;
}

export function agentToJson(a: AgentRecord, now: Date): AgentJson {
  return {
    id: a.id,
    tenant_id: a.tenantId,
    embedded: a.tenantId === null,
    labels: a.labels,
    hostname: a.hostname,
    version: a.version,
    online: now.getTime() - a.lastSeenAt.getTime() <= AGENT_ONLINE_MS,
    registered_at: a.registeredAt.toISOString(),
    last_seen_at: a.lastSeenAt.toISOString(),
  };
}

export function agentsRoutes(service: AgentService, now: () => Date): Route[] {
  return [
    route({
      method: 'POST',
      path: '/api/v1/agent/register',
      operationId: 'agentRegister',
      summary: 'Record an agent with its labels as it starts (also checks the key)',
      tags: ['agent'],
      body: object({
        agent_id: string({ minLength: 1, maxLength: 200 }),
        labels: optional(
          array(
            string({
              minLength: 1,
              maxLength: 100,
              pattern: LABEL_PATTERN,
              patternDescription: 'letters, digits, ".", "_", ":", "=", "/" or "-", without spaces',
            }),
            { maxItems: 50 },
          ),
          [],
        ),
        hostname: optional(string({ minLength: 1, maxLength: 200 })),
        version: optional(string({ minLength: 1, maxLength: 200 })),
      }),
      responses: { 204: { description: 'Recorded' } },
      async handle({ body }, ctx) {
        const { tenantId } = principalOf(ctx);
        await service.register(
          { agentId: body.agent_id, labels: body.labels },
          { hostname: body.hostname ?? null, version: body.version ?? null },
          { tenantId },
        );
        ctx.log.info({ agentId: body.agent_id, labels: body.labels }, 'agent registered');
        return empty();
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/agents',
      operationId: 'listAgents',
      summary: "The tenant's agents and the embedded ones, most recently seen first",
      tags: ['agents'],
      responses: { 200: { description: '`{"agents": [...]}`' } },
      async handle(_input, ctx) {
        const { tenantId } = principalOf(ctx);
        const at = now();
        const agents = await service.listAgents({ tenantId });
        return json({ agents: agents.map((a) => agentToJson(a, at)) });
      },
    }),
  ];
}
