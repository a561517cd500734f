import type { Clock } from '../../lib/clock.js';
import { InvalidValueError, NotFoundError } from '../errors.js';
import type { NewServerFacts, ServerFactsRecord, ServerFactsRepository } from '../server-facts.js';
import { checkId } from '../validate.js';
import { settle, type SqliteConnection } from './driver.js';
import { fromDbTime, toDbTime } from './rows.js';

interface FactsRow {
  server_id: string;
  binlog_retention_seconds: number | null;
  flavor: 'mysql' | 'mariadb';
  version: string;
  reported_at: string;
}

export class SqliteServerFactsRepository implements ServerFactsRepository {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  record(serverId: string, facts: NewServerFacts): Promise<ServerFactsRecord> {
    return settle(() => {
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
      return this.#conn.write(action, (c) => {
        if (c.statement('SELECT 1 AS present FROM servers WHERE id = ?').get(serverId) === undefined) {
          throw new NotFoundError(`${action}: no such server`, { fields: { serverId } });
        }
        const at = toDbTime(this.#clock.now());
        c.statement(
          `INSERT INTO server_facts (server_id, binlog_retention_seconds, flavor, version, reported_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (server_id) DO UPDATE SET binlog_retention_seconds = excluded.binlog_retention_seconds,
             flavor = excluded.flavor, version = excluded.version, reported_at = excluded.reported_at`,
        ).run(serverId, r, facts.flavor, facts.version.slice(0, 200), at);
        return {
          serverId,
          binlogRetentionSeconds: r,
          flavor: facts.flavor,
          version: facts.version.slice(0, 200),
          reportedAt: fromDbTime(at),
        };
      });
    });
  }

  get(serverId: string): Promise<ServerFactsRecord | undefined> {
    return settle(() => {
      checkId('server id', serverId);
      const row = this.#conn.read(`Cannot read facts of server ${serverId}`, (c) =>
        c.statement('SELECT * FROM server_facts WHERE server_id = ?').get(serverId),
      ) as FactsRow | undefined;
      return row === undefined
        ? undefined
        : {
            serverId: row.server_id,
            binlogRetentionSeconds: row.binlog_retention_seconds,
            flavor: row.flavor,
            version: row.version,
            reportedAt: fromDbTime(row.reported_at),
          };
    });
  }
}
