import type { Clock } from '../../lib/clock.js';
import { InvalidValueError, NotFoundError } from '../errors.js';
import type { NewServerFacts, ServerFactsRecord, ServerFactsRepository } from '../server-facts.js';
import { checkId } from '../validate.js';
import type { PgConnection } from './driver.js';

interface FactsRow {
  server_id: string;
  binlog_retention_seconds: bigint | null;
  flavor: 'mysql' | 'mariadb';
  version: string;
  reported_at: Date;
}

export class PostgresServerFactsRepository implements ServerFactsRepository {
  readonly #conn: PgConnection;
  readonly #clock: Clock;

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async record(serverId: string, facts: NewServerFacts): Promise<ServerFactsRecord> {
    checkId('server id', serverId);
    const r = facts.binlogRetentionSeconds;
    if (r !== null && (!Number.isSafeInteger(r) || r < 0)) {
      throw new InvalidValueError(
        `Cannot record facts of server ${serverId}: binlog retention must be a whole number of seconds of at least 0, got ${r}`,
      );
    }
    if (facts.flavor !== 'mysql' && facts.flavor !== 'mariadb') {
      throw new InvalidValueError(`Cannot record facts of server ${serverId}: unknown flavor`);
    }
    const action = `Cannot record facts of server ${serverId}`;
    const row = await this.#conn.write(action, async (q) => {
      if ((await q.row('SELECT 1 FROM servers WHERE id = $1', [serverId])) === undefined) {
        throw new NotFoundError(`${action}: no such server`, { fields: { serverId } });
      }
      return q.row<FactsRow>(
        `INSERT INTO server_facts (server_id, binlog_retention_seconds, flavor, version, reported_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (server_id) DO UPDATE SET binlog_retention_seconds = excluded.binlog_retention_seconds,
           flavor = excluded.flavor, version = excluded.version, reported_at = excluded.reported_at
         RETURNING *`,
        [serverId, r, facts.flavor, facts.version.slice(0, 200), this.#clock.now()],
      );
    });
    return toRecord(row!);
  }

  async get(serverId: string): Promise<ServerFactsRecord | undefined> {
    checkId('server id', serverId);
    const row = await this.#conn.read(`Cannot read facts of server ${serverId}`, (q) =>
      q.row<FactsRow>('SELECT * FROM server_facts WHERE server_id = $1', [serverId]),
    );
    return row === undefined ? undefined : toRecord(row);
  }
}

function toRecord(row: FactsRow): ServerFactsRecord {
  return {
    serverId: row.server_id,
    binlogRetentionSeconds:
      row.binlog_retention_seconds === null ? null : Number(row.binlog_retention_seconds),
    flavor: row.flavor,
    version: row.version,
    reportedAt: row.reported_at,
  };
}
