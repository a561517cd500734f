import { hash } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import type {
  BinlogCoordinates,
  CapturedTransaction,
  ChangeIndex,
  ChangeQuery,
  ChangeRecord,
  ChangeStats,
  Checkpoint,
  CommitBatch,
  CommitResult,
  Coverage,
  DdlFilter,
  DdlRecord,
  Gap,
  NewGap,
  ResolvedGap,
  RowImage,
  TableColumn,
  TableSchemaEntry,
} from '../change-index.js';
import { isoMicros } from '../change-index.js';
import {
  binlogFileNumber,
  checkBinlogCoordinates,
  checkChangeQuery,
  checkCommitBatch,
  checkDdlFilter,
  checkGap,
  checkTableSchema,
} from '../change-validate.js';
import { CheckpointConflictError, InvalidValueError, NotFoundError } from '../errors.js';
import { newId } from '../ids.js';
import { checkId } from '../validate.js';
import { settle, type SqliteConnection, type SqliteValue } from './driver.js';
import { fromDbTime, toDbTime } from './rows.js';

/**
 * The change index on SQLite. Writes go through one BEGIN IMMEDIATE transaction per `commit()` with cached
 * prepared statements and no per-row reads: the server and table keys are resolved from in-memory maps (filled
 * only after a successful commit, so a rolled-back insert never leaves a stale key behind), and seqs are counted
 * in memory from the `last_seq` read at the start of the transaction.
 */
export class SqliteChangeIndex implements ChangeIndex {
  readonly #conn: SqliteConnection;
  readonly #clock: Clock;
  /** server id -> server_key. Keys are never deleted, so a cached one stays valid for other processes' writes too. */
  readonly #serverKeys = new Map<string, number>();
  /** `${serverKey}\0${schema}\0${table}` -> table_key. */
  readonly #tableKeys = new Map<string, number>();

  constructor(conn: SqliteConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  commit(serverId: string, batch: CommitBatch): Promise<CommitResult> {
    return settle(() => {
      checkCommitBatch(serverId, batch);
      const action = `Cannot commit changes of server ${serverId}`;
      const newServers = new Map<string, number>();
      const newTables = new Map<string, number>();
      const result = this.#conn.write(action, (c) => {
        const serverKey = this.#ensureServer(c, serverId, action, newServers);
        const previous = c
          .bigintStatement(
            `SELECT binlog_file, binlog_position, gtid_set, last_commit_time_us
             FROM change_checkpoints WHERE server_key = ?`,
          )
          .get(serverKey) as
          | {
              binlog_file: string;
              binlog_position: bigint;
              gtid_set: string | null;
              last_commit_time_us: bigint | null;
            }
          | undefined;
        if (batch.expectPrevious !== undefined) checkFence(serverId, batch.expectPrevious, previous);
        const counters = c
          .bigintStatement('SELECT last_seq FROM change_servers WHERE server_key = ?')
          .get(serverKey) as { last_seq: bigint };
        const seqBefore = counters.last_seq;
        const now = toDbTime(this.#clock.now());

        if (batch.gap !== undefined) {
          this.#insertGap(c, serverKey, batch.gap, seqBefore, previous?.last_commit_time_us ?? null, now);
        }
        const written = this.#appendTransactions(c, serverKey, batch.transactions, seqBefore, newTables);
        const seqAfter = written.lastSeq ?? seqBefore;
        const lastTx = batch.transactions[batch.transactions.length - 1];
        const firstTx = batch.transactions[0];
        c.statement(
          `UPDATE change_servers SET last_seq = ?, row_changes = row_changes + ?, transactions = transactions + ?,
             ddl_events = ddl_events + ?, first_commit_time_us = COALESCE(first_commit_time_us, ?)
           WHERE server_key = ?`,
        ).run(
          seqAfter,
          written.rows,
          written.transactions,
          written.ddl,
          firstTx === undefined ? null : firstTx.commitTimeUs,
          serverKey,
        );
        const { coordinates, identity } = batch.checkpoint;
        c.statement(
          `INSERT INTO change_checkpoints (server_key, binlog_file, binlog_position, gtid_set, source_server_uuid,
             source_server_id, source_hostname, source_flavor, last_commit_time_us, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (server_key) DO UPDATE SET binlog_file = excluded.binlog_file,
             binlog_position = excluded.binlog_position, gtid_set = excluded.gtid_set,
             source_server_uuid = excluded.source_server_uuid, source_server_id = excluded.source_server_id,
             source_hostname = excluded.source_hostname, source_flavor = excluded.source_flavor,
             last_commit_time_us = COALESCE(excluded.last_commit_time_us, last_commit_time_us),
             updated_at = excluded.updated_at`,
        ).run(
          serverKey,
          coordinates.file,
          coordinates.position,
          coordinates.gtidSet,
          identity.serverUuid,
          identity.serverId,
          identity.hostname,
          identity.flavor,
          lastTx === undefined ? null : lastTx.commitTimeUs,
          now,
        );
        for (const entry of batch.tableSchemas ?? []) {
          const seq =
            entry.validFromSeq ??
            seqForCoordinates(entry.validFrom, batch.transactions, written.txSeqs, seqAfter);
          this.#insertTableSchema(c, serverKey, entry, seq, now);
        }
        return { firstSeq: written.firstSeq, lastSeq: written.lastSeq };
      });
      for (const [k, v] of newServers) this.#serverKeys.set(k, v);
      for (const [k, v] of newTables) this.#tableKeys.set(k, v);
      return result;
    });
  }

  checkpoint(serverId: string): Promise<Checkpoint | undefined> {
    return settle(() => {
      checkId('server id', serverId);
      return this.#conn.read(`Cannot read the checkpoint of server ${serverId}`, (c) => {
        const row = c
          .statement(
            `SELECT k.binlog_file, k.binlog_position, k.gtid_set, k.source_server_uuid, k.source_server_id,
               k.source_hostname, k.source_flavor, k.updated_at
             FROM change_checkpoints k JOIN change_servers s ON s.server_key = k.server_key
             WHERE s.server_id = ?`,
          )
          .get(serverId) as CheckpointRow | undefined;
        if (row === undefined) return undefined;
        return {
          serverId,
          coordinates: { file: row.binlog_file, position: row.binlog_position, gtidSet: row.gtid_set },
          identity: {
            serverUuid: row.source_server_uuid,
            serverId: row.source_server_id,
            hostname: row.source_hostname,
            flavor: row.source_flavor,
          },
          updatedAt: fromDbTime(row.updated_at),
        };
      });
    });
  }

  recordGap(serverId: string, gap: NewGap): Promise<Gap> {
    return settle(() => {
      checkId('server id', serverId);
      checkGap(gap);
      const action = `Cannot record a gap for server ${serverId}`;
      const newServers = new Map<string, number>();
      const id = this.#conn.write(action, (c) => {
        const serverKey = this.#ensureServer(c, serverId, action, newServers);
        const row = c
          .bigintStatement(
            `SELECT s.last_seq, k.last_commit_time_us FROM change_servers s
             LEFT JOIN change_checkpoints k ON k.server_key = s.server_key WHERE s.server_key = ?`,
          )
          .get(serverKey) as { last_seq: bigint; last_commit_time_us: bigint | null };
        return this.#insertGap(
          c,
          serverKey,
          gap,
          row.last_seq,
          row.last_commit_time_us,
          toDbTime(this.#clock.now()),
        );
      });
      for (const [k, v] of newServers) this.#serverKeys.set(k, v);
      return this.#readGaps(serverId).find((g) => g.gap.id === id)!.gap;
    });
  }

  gaps(serverId: string): Promise<readonly Gap[]> {
    return settle(() => {
      checkId('server id', serverId);
      return this.#readGaps(serverId).map((g) => g.gap);
    });
  }

  query(filter: ChangeQuery): Promise<readonly ChangeRecord[]> {
    return settle(() => {
      const checked = checkChangeQuery(filter);
      const { serverId } = filter;
      return this.#conn.read(`Cannot query changes of server ${serverId}`, (c) => {
        const owner = c.statement('SELECT tenant_id FROM servers WHERE id = ?').get(serverId) as
          { tenant_id: string } | undefined;
        if (owner === undefined || owner.tenant_id !== filter.tenantId) {
          throw new NotFoundError(`Cannot query changes of server ${serverId}: no such server`, {
            fields: { serverId },
          });
        }
        const serverKey = this.#serverKey(c, serverId);
        if (serverKey === undefined) return [];
        // Each query is driven by one index, chosen here from the most selective filter given, rather than left
        // to the planner: without statistics it prefers an index that yields the sort order, and would then
        // walk a whole server's changes to find one primary key or one GTID.
        let driver: Driver;
        const where: string[] = [];
        const params: SqliteValue[] = [];
        let tableKeys: number[] | undefined;
        if (filter.schema !== undefined) {
          const tables = (
            filter.table === undefined
              ? c
                  .statement('SELECT table_key FROM change_tables WHERE server_key = ? AND schema_name = ?')
                  .all(serverKey, filter.schema)
              : c
                  .statement(
                    'SELECT table_key FROM change_tables WHERE server_key = ? AND schema_name = ? AND table_name = ?',
                  )
                  .all(serverKey, filter.schema, filter.table)
          ) as { table_key: number }[];
          if (tables.length === 0) return [];
          tableKeys = tables.map((t) => t.table_key);
        }
        const inList = (n: number) => Array.from({ length: n }, () => '?').join(', ');
        let gtidRanges: { first_seq: bigint; last_seq: bigint }[] | undefined;
        if (filter.gtid !== undefined) {
          gtidRanges = c
            .bigintStatement(
              'SELECT first_seq, last_seq FROM change_transactions INDEXED BY change_transactions_by_gtid WHERE server_key = ? AND gtid = ? ORDER BY first_seq',
            )
            .all(serverKey, filter.gtid) as { first_seq: bigint; last_seq: bigint }[];
          if (gtidRanges.length === 0) return [];
        }
        if (filter.pk !== undefined && tableKeys !== undefined) {
          driver = 'changes_by_pk_key';
          where.push(`c.table_key IN (${inList(tableKeys.length)}) AND ${PK_KEY_SQL} = ? AND c.pk = ?`);
          params.push(...tableKeys, pkKey(filter.pk), filter.pk);
        } else if (gtidRanges !== undefined) {
          driver = 'changes_by_seq';
          // One index range over the transactions' seqs (normally there is one transaction per GTID), then
          // the exact ranges.
          where.push('c.server_key = ? AND c.seq BETWEEN ? AND ?');
          params.push(serverKey, gtidRanges[0]!.first_seq, gtidRanges[gtidRanges.length - 1]!.last_seq);
          if (gtidRanges.length > 1) {
            where.push(`(${gtidRanges.map(() => 'c.seq BETWEEN ? AND ?').join(' OR ')})`);
            for (const t of gtidRanges) params.push(t.first_seq, t.last_seq);
          }
        } else if (filter.seqRange?.after !== undefined && filter.seqRange.until !== undefined) {
          // A bounded seq range (undo and replay read a window at a time): the seq index reads just that window.
          driver = 'changes_by_seq';
          where.push('c.server_key = ? AND c.seq > ? AND c.seq <= ?');
          params.push(serverKey, filter.seqRange.after, filter.seqRange.until);
        } else if (filter.changedColumn !== undefined) {
          // Read the column's updates from change_columns, in commit order for one table, and join each change.
          driver = 'change_columns';
          where.push(
            `cc.column_name = ? AND cc.table_key IN (${
              tableKeys === undefined
                ? 'SELECT table_key FROM change_tables WHERE server_key = ?'
                : inList(tableKeys.length)
            }) AND c.server_key = ?`,
          );
          params.push(filter.changedColumn, ...(tableKeys ?? [serverKey]), serverKey);
        } else if (tableKeys !== undefined) {
          driver = 'changes_by_table_time';
          where.push(`c.table_key IN (${inList(tableKeys.length)})`);
          params.push(...tableKeys);
        } else {
          driver = 'changes_by_time';
          where.push('c.server_key = ?');
          params.push(serverKey);
        }
        // The sort key is taken from the driving table, so that its index yields the order.
        const order = driver === 'change_columns' ? 'cc' : 'c';
        if (
          driver !== 'changes_by_pk_key' &&
          driver !== 'changes_by_table_time' &&
          driver !== 'change_columns' &&
          tableKeys !== undefined
        ) {
          where.push(`c.table_key IN (${inList(tableKeys.length)})`);
          params.push(...tableKeys);
        }
        if (driver !== 'changes_by_pk_key' && filter.pk !== undefined) {
          where.push('c.pk = ?');
          params.push(filter.pk);
        }
        if (driver !== 'change_columns' && filter.changedColumn !== undefined) {
          where.push(
            'EXISTS (SELECT 1 FROM change_columns cc WHERE cc.table_key = c.table_key AND cc.column_name = ? AND cc.seq = c.seq)',
          );
          params.push(filter.changedColumn);
        }
        if (driver !== 'changes_by_seq' && gtidRanges !== undefined) {
          where.push(`(${gtidRanges.map(() => 'c.seq BETWEEN ? AND ?').join(' OR ')})`);
          for (const t of gtidRanges) params.push(t.first_seq, t.last_seq);
        }
        if (filter.seqRange !== undefined && !(driver === 'changes_by_seq' && gtidRanges === undefined)) {
          if (filter.seqRange.after !== undefined) {
            where.push('c.seq > ?');
            params.push(filter.seqRange.after);
          }
          if (filter.seqRange.until !== undefined) {
            where.push('c.seq <= ?');
            params.push(filter.seqRange.until);
          }
        }
        if (filter.sinceUs !== undefined) {
          where.push(`${order}.commit_time_us >= ?`);
          params.push(filter.sinceUs);
        }
        if (filter.untilUs !== undefined) {
          where.push(`${order}.commit_time_us < ?`);
          params.push(filter.untilUs);
        }
        if (checked.types.length > 0) {
          where.push(`c.change_type IN (${inList(checked.types.length)})`);
          params.push(...checked.types);
        }
        if (filter.columnEq !== undefined) {
          const { column, value } = filter.columnEq;
          // Evaluated on the JSON images of the rows the index narrowed to.
          if (typeof value === 'string') {
            const path = `$."${column}"`;
            // json_extract gives SQL text for a JSON string and the JSON text for an object, so a binary value
            // ({"hex": ...}) never equals a plain string; json_type makes sure the match is a JSON string.
            where.push(
              `(json_extract(c.after_image, ?) = ? AND json_type(c.after_image, ?) = 'text'
                OR json_extract(c.before_image, ?) = ? AND json_type(c.before_image, ?) = 'text')`,
            );
            params.push(path, value, path, path, value, path);
          } else {
            const path = `$."${column}".hex`;
            const hex = value.hex.toUpperCase();
            where.push('(json_extract(c.after_image, ?) = ? OR json_extract(c.before_image, ?) = ?)');
            params.push(path, hex, path, hex);
          }
        }
        const dir = checked.order === 'asc' ? 'ASC' : 'DESC';
        if (filter.afterSeq !== undefined) {
          const anchor = c
            .bigintStatement('SELECT commit_time_us FROM changes WHERE server_key = ? AND seq = ?')
            .get(serverKey, filter.afterSeq) as { commit_time_us: bigint } | undefined;
          if (anchor === undefined) {
            throw new InvalidValueError(
              `Cannot page through changes of server ${serverId}: no change has seq ${filter.afterSeq} (pruned, or not a change)`,
              { fields: { serverId, afterSeq: String(filter.afterSeq) } },
            );
          }
          where.push(`(${order}.commit_time_us, ${order}.seq) ${dir === 'ASC' ? '>' : '<'} (?, ?)`);
          params.push(anchor.commit_time_us, filter.afterSeq);
        }
        params.push(checked.limit);
        const stmt = c.bigintStatement(
          `${selectChanges(driver)} WHERE ${where.join(' AND ')}
             ORDER BY ${order}.commit_time_us ${dir}, ${order}.seq ${dir} LIMIT ?`,
        );
        // Rows as arrays where the driver offers it: building a 15-key object per row costs more than reading it
        // (long reads of undo and replay spend a third of their time here). This SQL text is only run here.
        const raw = (stmt as { raw?: (toggle?: boolean) => unknown }).raw;
        if (raw !== undefined) {
          raw.call(stmt, true);
          return (stmt.all(...params) as RawChangeRow[]).map((r) => rawToChangeRecord(serverId, r));
        }
        const rows = stmt.all(...params) as ChangeRow[];
        return rows.map((r) => toChangeRecord(serverId, r));
      });
    });
  }

  ddl(serverId: string, filter: DdlFilter = {}): Promise<readonly DdlRecord[]> {
    return settle(() => {
      checkId('server id', serverId);
      const limit = checkDdlFilter(filter);
      return this.#conn.read(`Cannot list DDL events of server ${serverId}`, (c) => {
        const serverKey = this.#serverKey(c, serverId);
        if (serverKey === undefined) return [];
        const where = ['server_key = ?'];
        const params: SqliteValue[] = [serverKey];
        if (filter.schema !== undefined) {
          where.push('schema_name = ?');
          params.push(filter.schema);
        }
        if (filter.afterSeq !== undefined) {
          where.push('seq > ?');
          params.push(filter.afterSeq);
        }
        if (filter.untilSeq !== undefined) {
          where.push('seq <= ?');
          params.push(filter.untilSeq);
        }
        params.push(limit);
        const rows = c
          .bigintStatement(
            `SELECT seq, gtid, binlog_file, binlog_position, commit_time_us, thread_id, schema_name, statement
             FROM change_ddl WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`,
          )
          .all(...params) as DdlRow[];
        return rows.map((r): DdlRecord => ({
          serverId,
          seq: r.seq,
          gtid: r.gtid,
          file: r.binlog_file,
          position: Number(r.binlog_position),
          commitTimeUs: r.commit_time_us,
          threadId: r.thread_id === null ? null : Number(r.thread_id),
          schema: r.schema_name,
          statement: r.statement,
        }));
      });
    });
  }

  stats(serverId: string): Promise<ChangeStats> {
    return settle(() => {
      checkId('server id', serverId);
      return this.#conn.read(`Cannot read change statistics of server ${serverId}`, (c) => {
        const row = c
          .bigintStatement(
            `SELECT server_key, last_seq, row_changes, transactions, ddl_events FROM change_servers
             WHERE server_id = ?`,
          )
          .get(serverId) as
          | {
              server_key: bigint;
              last_seq: bigint;
              row_changes: bigint;
              transactions: bigint;
              ddl_events: bigint;
            }
          | undefined;
        if (row === undefined) {
          return {
            rowChanges: 0n,
            transactions: 0n,
            ddlEvents: 0n,
            firstCommitTimeUs: null,
            lastCommitTimeUs: null,
            lastSeq: 0n,
          };
        }
        // MIN and MAX over the leading columns of changes_by_time: one index seek each.
        const first = c
          .bigintStatement('SELECT MIN(commit_time_us) AS t FROM changes WHERE server_key = ?')
          .get(row.server_key) as { t: bigint | null };
        const last = c
          .bigintStatement('SELECT MAX(commit_time_us) AS t FROM changes WHERE server_key = ?')
          .get(row.server_key) as { t: bigint | null };
        return {
          rowChanges: row.row_changes,
          transactions: row.transactions,
          ddlEvents: row.ddl_events,
          firstCommitTimeUs: first.t,
          lastCommitTimeUs: last.t,
          lastSeq: row.last_seq,
        };
      });
    });
  }

  coverage(serverId: string): Promise<Coverage> {
    return settle(() => {
      checkId('server id', serverId);
      const gaps = this.#readGaps(serverId);
      return this.#conn.read(`Cannot read the coverage of server ${serverId}`, (c) => {
        const row = c
          .bigintStatement(
            `SELECT s.first_commit_time_us, k.last_commit_time_us FROM change_servers s
             LEFT JOIN change_checkpoints k ON k.server_key = s.server_key WHERE s.server_id = ?`,
          )
          .get(serverId) as
          { first_commit_time_us: bigint | null; last_commit_time_us: bigint | null } | undefined;
        return {
          startUs: row?.first_commit_time_us ?? null,
          endUs: row?.last_commit_time_us ?? null,
          gaps,
        };
      });
    });
  }

  prune(
    serverId: string,
    olderThanUs: bigint,
  ): Promise<{ readonly deleted: bigint; readonly gap: Gap | null }> {
    return settle(() => {
      checkId('server id', serverId);
      if (typeof olderThanUs !== 'bigint' || olderThanUs < 0n) {
        throw new InvalidValueError(
          `Cannot prune changes of server ${serverId}: expected the cutoff as non-negative microseconds since the epoch`,
        );
      }
      const action = `Cannot prune changes of server ${serverId}`;
      const outcome = this.#conn.write(action, (c) => {
        const serverKey = this.#serverKey(c, serverId);
        if (serverKey === undefined) return { deleted: 0n, gapId: null };
        const last = c
          .bigintStatement('SELECT last_seq FROM change_servers WHERE server_key = ?')
          .get(serverKey) as { last_seq: bigint };
        // The first change (in seq order) committed at or after the cutoff: everything before it goes. Scanning
        // in seq order stops there, so the cost is that of the rows deleted.
        const keep = c
          .bigintStatement(
            `SELECT seq FROM changes INDEXED BY changes_by_seq
             WHERE server_key = ? AND commit_time_us >= ? ORDER BY seq LIMIT 1`,
          )
          .get(serverKey, olderThanUs) as { seq: bigint } | undefined;
        const bound = keep?.seq ?? last.last_seq + 1n;
        const span = c
          .bigintStatement(
            `SELECT COUNT(*) AS n, MIN(seq) AS first_seq, MAX(seq) AS last_seq, MIN(commit_time_us) AS first_time
             FROM changes WHERE server_key = ? AND seq < ?`,
          )
          .get(serverKey, bound) as {
          n: bigint;
          first_seq: bigint | null;
          last_seq: bigint | null;
          first_time: bigint | null;
        };
        if (span.n === 0n || span.first_seq === null || span.last_seq === null)
          return { deleted: 0n, gapId: null };
        const txAt = (seq: bigint) =>
          c
            .bigintStatement(
              `SELECT binlog_file, binlog_position, end_position FROM change_transactions
               WHERE server_key = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1`,
            )
            .get(serverKey, seq) as { binlog_file: string; binlog_position: bigint; end_position: bigint };
        const firstTx = txAt(span.first_seq);
        const lastTx = txAt(span.last_seq);
        const tables = c
          .statement('SELECT table_key FROM change_tables WHERE server_key = ?')
          .all(serverKey) as {
          table_key: number;
        }[];
        for (const { table_key } of tables) {
          // Walk the distinct column names of the table's key (one seek each), then range-delete per column.
          let column: string | undefined = '';
          for (;;) {
            const next = c
              .statement(
                'SELECT column_name FROM change_columns WHERE table_key = ? AND column_name > ? ORDER BY column_name LIMIT 1',
              )
              .get(table_key, column) as { column_name: string } | undefined;
            if (next === undefined) break;
            column = next.column_name;
            // Every deleted change committed before the cutoff: a range of the key, narrowed by seq.
            c.statement(
              `DELETE FROM change_columns
               WHERE table_key = ? AND column_name = ? AND commit_time_us < ? AND seq < ?`,
            ).run(table_key, column, olderThanUs, bound);
          }
        }
        const deleted = c
          .statement('DELETE FROM changes WHERE server_key = ? AND seq < ?')
          .run(serverKey, bound);
        const txDeleted = c
          .statement('DELETE FROM change_transactions WHERE server_key = ? AND first_seq < ?')
          .run(serverKey, bound);
        c.statement(
          'UPDATE change_servers SET row_changes = row_changes - ?, transactions = transactions - ? WHERE server_key = ?',
        ).run(deleted.changes, txDeleted.changes, serverKey);
        const gapId = this.#insertGap(
          c,
          serverKey,
          {
            reason: 'pruned',
            detail: `${deleted.changes} row changes committed before ${isoMicros(olderThanUs)} were pruned`,
            from: { file: firstTx.binlog_file, position: Number(firstTx.binlog_position), gtidSet: null },
            to: { file: lastTx.binlog_file, position: Number(lastTx.end_position), gtidSet: null },
            fromTimeUs: span.first_time,
            toTimeUs: olderThanUs,
          },
          last.last_seq,
          null,
          toDbTime(this.#clock.now()),
        );
        return { deleted: BigInt(deleted.changes), gapId };
      });
      const gap =
        outcome.gapId === null
          ? null
          : (this.#readGaps(serverId).find((g) => g.gap.id === outcome.gapId)?.gap ?? null);
      return { deleted: outcome.deleted, gap };
    });
  }

  recordTableSchema(serverId: string, entry: TableSchemaEntry): Promise<void> {
    return settle(() => {
      checkId('server id', serverId);
      checkTableSchema(entry);
      const action = `Cannot record the schema of ${entry.schema}.${entry.table} for server ${serverId}`;
      const newServers = new Map<string, number>();
      this.#conn.write(action, (c) => {
        const serverKey = this.#ensureServer(c, serverId, action, newServers);
        const { last_seq } = c
          .bigintStatement('SELECT last_seq FROM change_servers WHERE server_key = ?')
          .get(serverKey) as { last_seq: bigint };
        this.#insertTableSchema(
          c,
          serverKey,
          entry,
          entry.validFromSeq ?? last_seq + 1n,
          toDbTime(this.#clock.now()),
        );
      });
      for (const [k, v] of newServers) this.#serverKeys.set(k, v);
    });
  }

  tableSchemaAt(
    serverId: string,
    schema: string,
    table: string,
    at: { readonly seq?: bigint; readonly coordinates?: BinlogCoordinates },
  ): Promise<TableSchemaEntry | undefined> {
    return settle(() => {
      checkId('server id', serverId);
      if (at.coordinates !== undefined) checkBinlogCoordinates('schema lookup position', at.coordinates);
      return this.#conn.read(`Cannot read the schema history of ${schema}.${table}`, (c) => {
        const serverKey = this.#serverKey(c, serverId);
        if (serverKey === undefined) return undefined;
        const base = `SELECT valid_from_file, valid_from_position, valid_from_gtid_set, valid_from_seq, columns,
            primary_key FROM change_table_schemas WHERE server_key = ? AND schema_name = ? AND table_name = ?`;
        let row: TableSchemaRow | undefined;
        if (at.coordinates !== undefined) {
          row = c
            .bigintStatement(
              `${base} AND (valid_from_file_no, valid_from_position) <= (?, ?)
               ORDER BY valid_from_file_no DESC, valid_from_position DESC, rowid DESC LIMIT 1`,
            )
            .get(serverKey, schema, table, binlogFileNumber(at.coordinates.file), at.coordinates.position) as
            TableSchemaRow | undefined;
        } else if (at.seq !== undefined) {
          row = c
            .bigintStatement(
              `${base} AND valid_from_seq <= ? ORDER BY valid_from_seq DESC, rowid DESC LIMIT 1`,
            )
            .get(serverKey, schema, table, at.seq) as TableSchemaRow | undefined;
        } else {
          row = c
            .bigintStatement(`${base} ORDER BY valid_from_seq DESC, rowid DESC LIMIT 1`)
            .get(serverKey, schema, table) as TableSchemaRow | undefined;
        }
        if (row === undefined) return undefined;
        return {
          schema,
          table,
          validFrom: {
            file: row.valid_from_file,
            position: Number(row.valid_from_position),
            gtidSet: row.valid_from_gtid_set,
          },
          validFromSeq: row.valid_from_seq,
          columns: JSON.parse(row.columns) as TableColumn[],
          primaryKey: JSON.parse(row.primary_key) as string[],
        };
      });
    });
  }

  // ---------------------------------------------------------------------------------------------------------

  #serverKey(c: SqliteConnection, serverId: string): number | undefined {
    const cached = this.#serverKeys.get(serverId);
    if (cached !== undefined) return cached;
    const row = c.statement('SELECT server_key FROM change_servers WHERE server_id = ?').get(serverId) as
      { server_key: number } | undefined;
    if (row !== undefined) this.#serverKeys.set(serverId, row.server_key);
    return row?.server_key;
  }

  /** The server's key, creating its change_servers row on first use. Call inside a write. */
  #ensureServer(c: SqliteConnection, serverId: string, action: string, created: Map<string, number>): number {
    const known = this.#serverKey(c, serverId);
    if (known !== undefined) return known;
    if (c.statement('SELECT 1 AS present FROM servers WHERE id = ?').get(serverId) === undefined) {
      throw new NotFoundError(`${action}: no such server (register it first)`, { fields: { serverId } });
    }
    const info = c
      .statement('INSERT INTO change_servers (server_id, created_at) VALUES (?, ?)')
      .run(serverId, toDbTime(this.#clock.now())) as { changes: number; lastInsertRowid?: number | bigint };
    const key = Number(
      info.lastInsertRowid ??
        (
          c.statement('SELECT server_key FROM change_servers WHERE server_id = ?').get(serverId) as {
            server_key: number;
          }
        ).server_key,
    );
    created.set(serverId, key);
    return key;
  }

  #tableKey(
    c: SqliteConnection,
    serverKey: number,
    schema: string,
    table: string,
    created: Map<string, number>,
  ): number {
    const id = `${serverKey}\0${schema}\0${table}`;
    const cached = this.#tableKeys.get(id) ?? created.get(id);
    if (cached !== undefined) return cached;
    c.statement(
      'INSERT INTO change_tables (server_key, schema_name, table_name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ).run(serverKey, schema, table);
    const row = c
      .statement(
        'SELECT table_key FROM change_tables WHERE server_key = ? AND schema_name = ? AND table_name = ?',
      )
      .get(serverKey, schema, table) as { table_key: number };
    created.set(id, row.table_key);
    return row.table_key;
  }

  #appendTransactions(
    c: SqliteConnection,
    serverKey: number,
    transactions: readonly CapturedTransaction[],
    seqBefore: bigint,
    newTables: Map<string, number>,
  ): {
    firstSeq: bigint | null;
    lastSeq: bigint | null;
    rows: number;
    transactions: number;
    ddl: number;
    txSeqs: (bigint | null)[];
  } {
    const changes = new RowBuffer(c, 'changes', [
      'server_key',
      'seq',
      'table_key',
      'tx_seq',
      'change_type',
      'commit_time_us',
      'pk_hash',
      'pk',
      'pk_columns',
      'pk_is_full_image',
      'before_image',
      'after_image',
      'changed_columns',
    ]);
    const columns = new RowBuffer(c, 'change_columns', ['table_key', 'column_name', 'commit_time_us', 'seq']);
    const txRows = new RowBuffer(c, 'change_transactions', [
      'server_key',
      'first_seq',
      'last_seq',
      'gtid',
      'binlog_file',
      'binlog_position',
      'end_position',
      'commit_time_us',
      'thread_id',
    ]);
    const insertDdl = c.statement(
      `INSERT INTO change_ddl (server_key, seq, gtid, binlog_file, binlog_position, commit_time_us, thread_id,
         schema_name, statement)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const pkColumnsText = new ColumnListText();
    let seq = seqBefore;
    let firstSeq: bigint | null = null;
    let rows = 0;
    let txCount = 0;
    let ddl = 0;
    const txSeqs: (bigint | null)[] = [];
    for (const tx of transactions) {
      let txFirst: bigint | null = null;
      // A DDL precedes the row changes of its transaction (CREATE TABLE ... SELECT logs the DDL first).
      for (const d of tx.ddl) {
        seq += 1n;
        txFirst ??= seq;
        insertDdl.run(
          serverKey,
          seq,
          tx.gtid,
          tx.file,
          tx.position,
          tx.commitTimeUs,
          tx.threadId,
          d.schema,
          d.statement,
        );
        ddl++;
      }
      if (tx.changes.length > 0) {
        const txSeq = seq + 1n;
        txFirst ??= txSeq;
        for (const ch of tx.changes) {
          seq += 1n;
          const tableKey = this.#tableKey(c, serverKey, ch.schema, ch.table, newTables);
          changes.add(
            serverKey,
            seq,
            tableKey,
            txSeq,
            ch.type,
            tx.commitTimeUs,
            pkHash(ch.pk),
            ch.pk,
            pkColumnsText.of(ch.pkColumns),
            ch.pkIsFullImage ? 1 : 0,
            imageText(ch.before),
            imageText(ch.after),
            ch.changedColumns === null ? null : JSON.stringify(ch.changedColumns),
          );
          if (ch.changedColumns !== null) {
            for (const column of new Set(ch.changedColumns))
              columns.add(tableKey, column, tx.commitTimeUs, seq);
          }
        }
        txRows.add(
          serverKey,
          txSeq,
          seq,
          tx.gtid,
          tx.file,
          tx.position,
          tx.endPosition,
          tx.commitTimeUs,
          tx.threadId,
        );
        rows += tx.changes.length;
        txCount++;
      }
      txSeqs.push(txFirst);
      firstSeq ??= txFirst;
    }
    changes.flush();
    columns.flush();
    txRows.flush();
    return { firstSeq, lastSeq: seq === seqBefore ? null : seq, rows, transactions: txCount, ddl, txSeqs };
  }

  /** Returns the new gap's id. */
  #insertGap(
    c: SqliteConnection,
    serverKey: number,
    gap: NewGap,
    afterSeq: bigint,
    checkpointTimeUs: bigint | null,
    now: string,
  ): string {
    const id = newId();
    c.statement(
      `INSERT INTO change_gaps (id, server_key, reason, detail, from_file, from_position, from_gtid_set, to_file,
         to_position, to_gtid_set, from_time_us, to_time_us, after_seq, checkpoint_time_us, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      id,
      serverKey,
      gap.reason,
      gap.detail,
      gap.from.file,
      gap.from.position,
      gap.from.gtidSet,
      gap.to.file,
      gap.to.position,
      gap.to.gtidSet,
      gap.fromTimeUs,
      gap.toTimeUs,
      afterSeq,
      checkpointTimeUs,
      now,
    );
    return id;
  }

  #insertTableSchema(
    c: SqliteConnection,
    serverKey: number,
    entry: TableSchemaEntry,
    seq: bigint,
    now: string,
  ): void {
    c.statement(
      `INSERT INTO change_table_schemas (server_key, schema_name, table_name, valid_from_file, valid_from_file_no,
         valid_from_position, valid_from_gtid_set, valid_from_seq, columns, primary_key, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      serverKey,
      entry.schema,
      entry.table,
      entry.validFrom.file,
      binlogFileNumber(entry.validFrom.file),
      entry.validFrom.position,
      entry.validFrom.gtidSet,
      seq,
      JSON.stringify(
        entry.columns.map((col) => ({
          name: col.name,
          type: col.type,
          unsigned: col.unsigned,
          charset: col.charset,
          collation: col.collation,
          nullable: col.nullable,
        })),
      ),
      JSON.stringify(entry.primaryKey),
      now,
    );
  }

  /** Gaps oldest first, with their time spans resolved for coverage. */
  #readGaps(serverId: string): ResolvedGap[] {
    return this.#conn.read(`Cannot read the gaps of server ${serverId}`, (c) => {
      const serverKey = this.#serverKey(c, serverId);
      if (serverKey === undefined) return [];
      const rows = c
        .bigintStatement(
          `SELECT id, reason, detail, from_file, from_position, from_gtid_set, to_file, to_position, to_gtid_set,
             from_time_us, to_time_us, after_seq, checkpoint_time_us, recorded_at
           FROM change_gaps WHERE server_key = ? ORDER BY rowid`,
        )
        .all(serverKey) as GapRow[];
      return rows.map((r): ResolvedGap => {
        const gap: Gap = {
          id: r.id,
          serverId,
          from: { file: r.from_file, position: Number(r.from_position), gtidSet: r.from_gtid_set },
          to: { file: r.to_file, position: Number(r.to_position), gtidSet: r.to_gtid_set },
          fromTimeUs: r.from_time_us,
          toTimeUs: r.to_time_us,
          reason: r.reason,
          detail: r.detail,
          recordedAt: fromDbTime(r.recorded_at),
        };
        let toUs = r.to_time_us;
        if (toUs === null) {
          // Capture resumed with the first transaction committed after the gap was recorded.
          const next = c
            .bigintStatement(
              `SELECT MIN(t) AS t FROM (
                 SELECT commit_time_us AS t FROM change_transactions WHERE server_key = ? AND first_seq > ?
                   ORDER BY first_seq LIMIT 1)
               UNION ALL SELECT commit_time_us FROM (
                 SELECT commit_time_us FROM change_ddl WHERE server_key = ? AND seq > ? ORDER BY seq LIMIT 1)`,
            )
            .all(serverKey, r.after_seq, serverKey, r.after_seq) as { t: bigint | null }[];
          for (const n of next) if (n.t !== null && (toUs === null || n.t < toUs)) toUs = n.t;
        }
        return {
          gap,
          // Pruning removes the whole history before its cutoff, so its gap reaches back to the beginning.
          fromUs: r.reason === 'pruned' ? null : (r.from_time_us ?? r.checkpoint_time_us),
          toUs,
        };
      });
    });
  }
}

/**
 * Rows for one table, inserted ROWS_PER_STATEMENT at a time with a multi-row INSERT: fewer statement executions
 * per row change on the hot path. The statements are prepared once per row count and cached by the connection.
 */
class RowBuffer {
  static readonly ROWS_PER_STATEMENT = 32;
  readonly #conn: SqliteConnection;
  readonly #prefix: string;
  readonly #tuple: string;
  readonly #width: number;
  /** The statement text for a full buffer, built once: most flushes use it. */
  readonly #fullSql: string;
  #params: SqliteValue[] = [];
  #rows = 0;

  constructor(conn: SqliteConnection, table: string, columns: readonly string[]) {
    this.#conn = conn;
    this.#prefix = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `;
    this.#tuple = `(${columns.map(() => '?').join(', ')})`;
    this.#width = columns.length;
    this.#fullSql = this.#sql(RowBuffer.ROWS_PER_STATEMENT);
  }

  add(...values: SqliteValue[]): void {
    if (values.length !== this.#width) throw new Error(`Cannot buffer row: expected ${this.#width} values`);
    for (const v of values) this.#params.push(v);
    if (++this.#rows === RowBuffer.ROWS_PER_STATEMENT) this.flush();
  }

  flush(): void {
    if (this.#rows === 0) return;
    const sql = this.#rows === RowBuffer.ROWS_PER_STATEMENT ? this.#fullSql : this.#sql(this.#rows);
    this.#conn.statement(sql).run(...this.#params);
    this.#params = [];
    this.#rows = 0;
  }

  #sql(rows: number): string {
    return this.#prefix + Array.from({ length: rows }, () => this.#tuple).join(', ');
  }
}

/**
 * JSON of a column-name list, remembering the last list seen: capture hands every change of a rows event the
 * same pk column array, so most changes reuse the text instead of serialising it again.
 */
class ColumnListText {
  #last: readonly string[] | undefined;
  #text = '';

  of(columns: readonly string[]): string {
    if (columns !== this.#last) {
      this.#last = columns;
      this.#text = JSON.stringify(columns);
    }
    return this.#text;
  }
}

interface CheckpointRow {
  binlog_file: string;
  binlog_position: number;
  gtid_set: string | null;
  source_server_uuid: string | null;
  source_server_id: string;
  source_hostname: string;
  source_flavor: 'mysql' | 'mariadb';
  updated_at: string;
}

interface ChangeRow {
  seq: bigint;
  change_type: 'insert' | 'update' | 'delete';
  commit_time_us: bigint;
  pk: string;
  pk_columns: string;
  pk_is_full_image: bigint;
  before_image: string | null;
  after_image: string | null;
  changed_columns: string | null;
  schema_name: string;
  table_name: string;
  gtid: string | null;
  binlog_file: string;
  binlog_position: bigint;
  thread_id: bigint | null;
}

/** A ChangeRow as an array, in selectChanges' column order. */
type RawChangeRow = [
  seq: bigint,
  changeType: ChangeRow['change_type'],
  commitTimeUs: bigint,
  pk: string,
  pkColumns: string,
  pkIsFullImage: bigint,
  beforeImage: string | null,
  afterImage: string | null,
  changedColumns: string | null,
  schemaName: string,
  tableName: string,
  gtid: string | null,
  binlogFile: string,
  binlogPosition: bigint,
  threadId: bigint | null,
];

interface DdlRow {
  seq: bigint;
  gtid: string | null;
  binlog_file: string;
  binlog_position: bigint;
  commit_time_us: bigint;
  thread_id: bigint | null;
  schema_name: string | null;
  statement: string;
}

interface GapRow {
  id: string;
  reason: Gap['reason'];
  detail: string;
  from_file: string;
  from_position: bigint;
  from_gtid_set: string | null;
  to_file: string;
  to_position: bigint;
  to_gtid_set: string | null;
  from_time_us: bigint | null;
  to_time_us: bigint | null;
  after_seq: bigint;
  checkpoint_time_us: bigint | null;
  recorded_at: string;
}

interface TableSchemaRow {
  valid_from_file: string;
  valid_from_position: bigint;
  valid_from_gtid_set: string | null;
  valid_from_seq: bigint;
  columns: string;
  primary_key: string;
}

/** The index a change query is driven by; `change_columns` drives from that table's primary key. */
type Driver =
  'changes_by_pk_key' | 'changes_by_seq' | 'changes_by_table_time' | 'changes_by_time' | 'change_columns';

/** The change columns with their table names and transaction coordinates, read through the given index. */
function selectChanges(driver: Driver): string {
  const from =
    driver === 'change_columns'
      ? // CROSS JOIN fixes the join order in SQLite: change_columns outer, changes looked up by seq.
        'change_columns cc CROSS JOIN changes c INDEXED BY changes_by_seq ON c.seq = cc.seq'
      : `changes c INDEXED BY ${driver}`;
  return `SELECT c.seq, c.change_type, c.commit_time_us, c.pk, c.pk_columns, c.pk_is_full_image,
    c.before_image, c.after_image, c.changed_columns, t.schema_name, t.table_name, x.gtid, x.binlog_file,
    x.binlog_position, x.thread_id
  FROM ${from}
  JOIN change_tables t ON t.table_key = c.table_key
  JOIN change_transactions x ON x.server_key = c.server_key AND x.first_seq = c.tx_seq`;
}

/**
 * Parsed column-name lists by their JSON text: a server has few distinct pk column lists and changed-column sets,
 * so long reads (undo, replay) parse each once. The arrays are shared and frozen; the cache is bounded.
 */
const nameLists = new Map<string, readonly string[]>();
function nameList(json: string): readonly string[] {
  let list = nameLists.get(json);
  if (list === undefined) {
    if (nameLists.size >= 4096) nameLists.clear();
    list = Object.freeze(JSON.parse(json) as string[]);
    nameLists.set(json, list);
  }
  return list;
}

function toChangeRecord(serverId: string, r: ChangeRow): ChangeRecord {
  return {
    serverId,
    seq: r.seq,
    gtid: r.gtid,
    file: r.binlog_file,
    position: Number(r.binlog_position),
    commitTimeUs: r.commit_time_us,
    threadId: r.thread_id === null ? null : Number(r.thread_id),
    schema: r.schema_name,
    table: r.table_name,
    type: r.change_type,
    pk: r.pk,
    pkColumns: nameList(r.pk_columns),
    pkIsFullImage: r.pk_is_full_image === 1n,
    before: r.before_image === null ? null : (JSON.parse(r.before_image) as RowImage),
    after: r.after_image === null ? null : (JSON.parse(r.after_image) as RowImage),
    changedColumns: r.changed_columns === null ? null : nameList(r.changed_columns),
  };
}

function rawToChangeRecord(serverId: string, r: RawChangeRow): ChangeRecord {
  return {
    serverId,
    seq: r[0],
    gtid: r[11],
    file: r[12],
    position: Number(r[13]),
    commitTimeUs: r[2],
    threadId: r[14] === null ? null : Number(r[14]),
    schema: r[9],
    table: r[10],
    type: r[1],
    pk: r[3],
    pkColumns: nameList(r[4]),
    pkIsFullImage: r[5] === 1n,
    before: r[6] === null ? null : (JSON.parse(r[6]) as RowImage),
    after: r[7] === null ? null : (JSON.parse(r[7]) as RowImage),
    changedColumns: r[8] === null ? null : nameList(r[8]),
  };
}

/** The first 8 bytes of SHA-256 of the canonical pk text, as a signed 64-bit integer (SQLite's INTEGER). */
export function pkHash(pk: string): bigint {
  // The one-shot hash to hex is about three times cheaper than createHash().update().digest() per call; the
  // first 16 hex digits are the first 8 bytes, big-endian.
  return BigInt.asIntN(64, BigInt(`0x${hash('sha256', pk, 'hex').slice(0, 16)}`));
}

/**
 * Longest pk text (in UTF-8 bytes) indexed by its own text in changes_by_pk_key (migration 5); longer ones are
 * indexed by pk_hash. The same number is written in the index's expression.
 */
export const PK_KEY_MAX_BYTES = 32;

/** The expression changes_by_pk_key indexes, as a query must spell it for SQLite to use that index. */
const PK_KEY_SQL = `CASE WHEN octet_length(c.pk) <= ${PK_KEY_MAX_BYTES} THEN c.pk ELSE c.pk_hash END`;

/** The value of changes_by_pk_key's expression for a pk text: the text itself when short, else its hash. */
export function pkKey(pk: string): string | bigint {
  return Buffer.byteLength(pk, 'utf8') <= PK_KEY_MAX_BYTES ? pk : pkHash(pk);
}

/**
 * Images are stored as compact JSON text. Canonical values are strings, null or {hex}, so JSON.stringify is
 * lossless here: no number ever goes through it.
 */
function imageText(image: RowImage | null): string | null {
  return image === null ? null : JSON.stringify(image);
}

function checkFence(
  serverId: string,
  expected: BinlogCoordinates | null,
  stored: { binlog_file: string; binlog_position: bigint; gtid_set: string | null } | undefined,
): void {
  const describe = (c: { file: string; position: number | bigint; gtidSet: string | null } | null): string =>
    c === null ? 'none' : `${c.file}:${c.position}${c.gtidSet === null ? '' : ` (GTID ${c.gtidSet})`}`;
  const current =
    stored === undefined
      ? null
      : { file: stored.binlog_file, position: stored.binlog_position, gtidSet: stored.gtid_set };
  const same =
    expected === null
      ? current === null
      : current !== null &&
        current.file === expected.file &&
        current.position === BigInt(expected.position) &&
        current.gtidSet === expected.gtidSet;
  if (!same) {
    throw new CheckpointConflictError(
      `Cannot commit changes of server ${serverId}: the checkpoint is ${describe(current)}, expected ${describe(expected)}; another writer moved it, or these transactions were already committed`,
      {
        fields: {
          serverId,
          expected: expected === null ? null : describe(expected),
          actual: current === null ? null : describe(current),
        },
      },
    );
  }
}

/**
 * The seq a schema entry of a commit batch starts at: that of the first transaction of the batch at or after its
 * coordinates (same binlog file numbering), or the next seq after the batch.
 */
function seqForCoordinates(
  at: BinlogCoordinates,
  transactions: readonly CapturedTransaction[],
  txSeqs: readonly (bigint | null)[],
  seqAfter: bigint,
): bigint {
  const fileNo = binlogFileNumber(at.file);
  for (let i = 0; i < transactions.length; i++) {
    const tx = transactions[i]!;
    const seq = txSeqs[i];
    if (seq === null || seq === undefined) continue;
    const txFile = binlogFileNumber(tx.file);
    if (txFile > fileNo || (txFile === fileNo && tx.position >= at.position)) return seq;
  }
  return seqAfter + 1n;
}
