import type { Clock } from '../../lib/clock.js';
import type { AgentRecord, AgentRepository, AgentSighting } from '../agents.js';
import { InvalidValueError } from '../errors.js';
import { checkAgentSighting } from '../sqlite/agents.js';
import { checkId } from '../validate.js';
import type { PgConnection } from './driver.js';

interface AgentRow {
  scope: string;
  id: string;
  labels: string;
  hostname: string | null;
  version: string | null;
  registered_at: Date;
  last_seen_at: Date;
}

const COLUMNS = 'scope, id, labels, hostname, version, registered_at, last_seen_at';

export class PostgresAgentRepository implements AgentRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async seen(agent: AgentSighting): Promise<AgentRecord> {
    checkAgentSighting(agent);
    const now = this.#clock.now();
    const row = await this.#conn.write(`Cannot record agent ${agent.id}`, (q) =>
      q.row<AgentRow>(
        `INSERT INTO agents (scope, id, labels, hostname, version, registered_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (scope, id) DO UPDATE SET labels = excluded.labels, hostname = excluded.hostname,
           version = excluded.version, last_seen_at = excluded.last_seen_at
         RETURNING ${COLUMNS}`,
        [
          agent.tenantId ?? '',
          agent.id,
          JSON.stringify(agent.labels),
          agent.hostname ?? null,
          agent.version ?? null,
          now,
        ],
      ),
    );
    return fromRow(row!);
  }

  async list(
    filter: { readonly tenantId?: string; readonly limit?: number } = {},
  ): Promise<readonly AgentRecord[]> {
    if (filter.tenantId !== undefined) checkId('tenant id', filter.tenantId);
    const limit = filter.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new InvalidValueError(`Cannot list agents: limit must be at least 1, got ${limit}`);
    }
    const rows = await this.#conn.read('Cannot list agents', (q) =>
      filter.tenantId === undefined
        ? q.rows<AgentRow>(`SELECT ${COLUMNS} FROM agents ORDER BY last_seen_at DESC, scope, id LIMIT $1`, [
            limit,
          ])
        : q.rows<AgentRow>(
            `SELECT ${COLUMNS} FROM agents WHERE scope IN ($1, '') ORDER BY last_seen_at DESC, scope, id LIMIT $2`,
            [filter.tenantId, limit],
          ),
    );
    return rows.map(fromRow);
  }

  forget(before: Date): Promise<number> {
    return this.#conn.write('Cannot forget old agents', (q) =>
      q.run('DELETE FROM agents WHERE last_seen_at < $1', [before]),
    );
  }
}

function fromRow(row: AgentRow): AgentRecord {
  const labels = JSON.parse(row.labels) as unknown;
  return {
    id: row.id,
    tenantId: row.scope === '' ? null : row.scope,
    labels: Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [],
    hostname: row.hostname,
    version: row.version,
    registeredAt: row.registered_at,
    lastSeenAt: row.last_seen_at,
  };
}
