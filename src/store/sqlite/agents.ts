import type { Clock } from '../../lib/clock.js';
import type { AgentRecord, AgentRepository, AgentSighting } from '../agents.js';
import { InvalidValueError } from '../errors.js';
import { checkId } from '../validate.js';
import { settle, type SqliteConnection } from './driver.js';
import { fromDbTime, toDbTime } from './rows.js';

interface AgentRow {
  scope: string;
  id: string;
  labels: string;
  hostname: string | null;
  version: string | null;
  registered_at: string;
  last_seen_at: string;
}

const COLUMNS = 'scope, id, labels, hostname, version, registered_at, last_seen_at';
const MAX_TEXT = 200;

export class SqliteAgentRepository implements AgentRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  seen(agent: AgentSighting): Promise<AgentRecord> {
    return settle(() => {
      checkAgentSighting(agent);
      const scope = agent.tenantId ?? '';
      const now = toDbTime(this.#clock.now());
      return this.#conn.write(`Cannot record agent ${agent.id}`, (c) => {
        c.statement(
          `INSERT INTO agents (scope, id, labels, hostname, version, registered_at, last_seen_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (scope, id) DO UPDATE SET labels = excluded.labels, hostname = excluded.hostname,
             version = excluded.version, last_seen_at = excluded.last_seen_at`,
        ).run(
          scope,
          agent.id,
          JSON.stringify(agent.labels),
          agent.hostname ?? null,
          agent.version ?? null,
          now,
          now,
        );
        const row = c
          .statement(`SELECT ${COLUMNS} FROM agents WHERE scope = ? AND id = ?`)
          .get(scope, agent.id);
        return fromRow(row as AgentRow);
      });
    });
  }

  list(
    filter: { readonly tenantId?: string; readonly limit?: number } = {},
  ): Promise<readonly AgentRecord[]> {
    return settle(() => {
      if (filter.tenantId !== undefined) checkId('tenant id', filter.tenantId);
      const limit = filter.limit ?? 1000;
      const rows = this.#conn.read('Cannot list agents', (c) =>
        filter.tenantId === undefined
          ? c
              .statement(`SELECT ${COLUMNS} FROM agents ORDER BY last_seen_at DESC, scope, id LIMIT ?`)
              .all(limit)
          : c
              .statement(
                `SELECT ${COLUMNS} FROM agents WHERE scope IN (?, '') ORDER BY last_seen_at DESC, scope, id LIMIT ?`,
              )
              .all(filter.tenantId, limit),
      ) as AgentRow[];
      return rows.map(fromRow);
    });
  }

  forget(before: Date): Promise<number> {
    return settle(() =>
      this.#conn.write(
        'Cannot forget old agents',
        (c) => c.statement('DELETE FROM agents WHERE last_seen_at < ?').run(toDbTime(before)).changes,
      ),
    );
  }
}

/** The checks every backend applies to an agent before recording it. */
export function checkAgentSighting(agent: AgentSighting): void {
  const text = (what: string, v: string | null | undefined): void => {
    if (v !== null && v !== undefined && (v.length === 0 || v.length > MAX_TEXT)) {
      throw new InvalidValueError(
        `Cannot record agent ${agent.id}: ${what} must be 1 to ${MAX_TEXT} characters long, got ${v.length}`,
        { fields: { field: what } },
      );
    }
  };
  if (typeof agent.id !== 'string' || agent.id.length === 0 || agent.id.length > MAX_TEXT) {
    throw new InvalidValueError(`Cannot record agent: its id must be 1 to ${MAX_TEXT} characters long`, {
      fields: { field: 'id' },
    });
  }
  if (agent.tenantId !== null) checkId('tenant id', agent.tenantId);
  text('hostname', agent.hostname);
  text('version', agent.version);
  if (agent.labels.length > 50) {
    throw new InvalidValueError(
      `Cannot record agent ${agent.id}: at most 50 labels, got ${agent.labels.length}`,
      {
        fields: { field: 'labels' },
      },
    );
  }
  for (const l of agent.labels) text('label', l);
}

function fromRow(row: AgentRow): AgentRecord {
  const labels = JSON.parse(row.labels) as unknown;
  return {
    id: row.id,
    tenantId: row.scope === '' ? null : row.scope,
    labels: Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [],
    hostname: row.hostname,
    version: row.version,
    registeredAt: fromDbTime(row.registered_at),
    lastSeenAt: fromDbTime(row.last_seen_at),
  };
}
