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
import { CheckpointConflictError, InvalidValueError, NotFoundError, StoreQueryError } from '../errors.js';
import { newId } from '../ids.js';
import { checkId } from '../validate.js';
import { CHECK_VIOLATION, type PgConnection, type PgQuery } from './driver.js';
import {
  ensurePartition,
  monthOf,
  partitionName,
  PARTITIONED_TABLES,
  type MonthRange,
} from './partitions.js';

/**
 * The change index on PostgreSQL: the same tables and semantics as the SQLite one (src/store/sqlite/
 * change-index.ts), with the three big tables partitioned per server and month (partitions.ts).
 *
 * A commit is one transaction that first locks the server's change_servers row (FOR UPDATE): commits of one
 * server are serialised across processes, so the checkpoint fence and the seq counter are read and advanced
 * without races, while commits of different servers proceed in parallel. Rows go in with one INSERT ... SELECT
 * FROM unnest(arrays) per table. The month partitions a batch needs are created before that transaction, in
 * one of their own.
 */
export class PostgresChangeIndex implements ChangeIndex {
  readonly #conn: PgConnection;
  readonly #clock: Clock;
  /** server id -> server_key. Keys are never deleted. */
  readonly #serverKeys = new Map<string, bigint>();
  /** `${serverKey}\0${schema}\0${table}` -> table_key; filled only after a commit succeeded. */
  readonly #tableKeys = new Map<string, bigint>();
  /** server id -> tenant id, for servers with a key (see `query`). */
  readonly #owners = new Map<string, string>();
  /** Partition suffixes known to exist. A prune (here or in another process) may drop some: see `commit`. */
  readonly #partitions = new Set<string>();

  constructor(conn: PgConnection, clock: Clock) {
    this.#conn = conn;
    this.#clock = clock;
  }

  async commit(serverId: string, batch: CommitBatch): Promise<CommitResult> {
    checkCommitBatch(serverId, batch);
    const action = `Cannot commit changes of server ${serverId}`;
    const serverKey = await this.#ensureServer(serverId, action);
    try {
      return await this.#commitOnce(serverKey, serverId, batch, action);
    } catch (err) {
      // A partition this process believed in was dropped by a prune elsewhere: make it again, once.
      const missingPartition =
        err instanceof StoreQueryError &&
        err.fields['sqlState'] === CHECK_VIOLATION &&
        err.message.includes('no partition of relation');
      if (!missingPartition) throw err;
      for (const s of [...this.#partitions]) if (s.startsWith(`s${serverKey}_`)) this.#partitions.delete(s);
      return await this.#commitOnce(serverKey, serverId, batch, action);
    }
  }

  async #commitOnce(
    serverKey: bigint,
    serverId: string,
    batch: CommitBatch,
    action: string,
  ): Promise<CommitResult> {
    const months = new Map<string, MonthRange>();
    for (const tx of batch.transactions) {
      if (tx.changes.length === 0) continue;
      const m = monthOf(serverKey, tx.commitTimeUs);
      if (!this.#partitions.has(m.suffix)) months.set(m.suffix, m);
    }
    for (const m of months.values()) {
      await this.#conn.write(`${action}: cannot create partition ${m.suffix}`, (q) =>
        ensurePartition(q, serverKey, m),
      );
      this.#partitions.add(m.suffix);
    }
    const newTables = new Map<string, bigint>();
    const result = await this.#conn.write(action, async (q) => {
      const counters = await q.row<{ last_seq: bigint }>(
        'SELECT last_seq FROM change_servers WHERE server_key = $1 FOR UPDATE',
        [serverKey],
      );
      const previous = await q.row<{
        binlog_file: string;
        binlog_position: bigint;
        gtid_set: string | null;
        last_commit_time_us: bigint | null;
      }>(
        'SELECT binlog_file, binlog_position, gtid_set, last_commit_time_us FROM change_checkpoints WHERE server_key = $1',
        [serverKey],
      );
      if (batch.expectPrevious !== undefined) checkFence(serverId, batch.expectPrevious, previous);
      const seqBefore = counters!.last_seq;
      const now = this.#clock.now();
      if (batch.gap !== undefined) {
        await insertGap(q, serverKey, batch.gap, seqBefore, previous?.last_commit_time_us ?? null, now);
      }
      const written = await this.#appendTransactions(q, serverKey, batch.transactions, seqBefore, newTables);
      const seqAfter = written.lastSeq ?? seqBefore;
      const firstTx = batch.transactions[0];
      const lastTx = batch.transactions[batch.transactions.length - 1];
      await q.run(
        `UPDATE change_servers SET last_seq = $1, row_changes = row_changes + $2, transactions = transactions + $3,
           ddl_events = ddl_events + $4, first_commit_time_us = COALESCE(first_commit_time_us, $5)
         WHERE server_key = $6`,
        [seqAfter, written.rows, written.transactions, written.ddl, firstTx?.commitTimeUs ?? null, serverKey],
      );
      const { coordinates, identity } = batch.checkpoint;
      await q.run(
        `INSERT INTO change_checkpoints (server_key, binlog_file, binlog_position, gtid_set, source_server_uuid,
           source_server_id, source_hostname, source_flavor, last_commit_time_us, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (server_key) DO UPDATE SET binlog_file = excluded.binlog_file,
           binlog_position = excluded.binlog_position, gtid_set = excluded.gtid_set,
           source_server_uuid = excluded.source_server_uuid, source_server_id = excluded.source_server_id,
           source_hostname = excluded.source_hostname, source_flavor = excluded.source_flavor,
           last_commit_time_us = COALESCE(excluded.last_commit_time_us, change_checkpoints.last_commit_time_us),
           updated_at = excluded.updated_at`,
        [
          serverKey,
          coordinates.file,
          coordinates.position,
          coordinates.gtidSet,
          identity.serverUuid,
          identity.serverId,
          identity.hostname,
          identity.flavor,
          lastTx?.commitTimeUs ?? null,
          now,
        ],
      );
      for (const entry of batch.tableSchemas ?? []) {
        const seq =
          entry.validFromSeq ??
          seqForCoordinates(entry.validFrom, batch.transactions, written.txSeqs, seqAfter);
        await insertTableSchema(q, serverKey, entry, seq, now);
      }
      return { firstSeq: written.firstSeq, lastSeq: written.lastSeq };
    });
    for (const [k, v] of newTables) this.#tableKeys.set(k, v);
    return result;
  }

  async checkpoint(serverId: string): Promise<Checkpoint | undefined> {
    checkId('server id', serverId);
    const row = await this.#conn.read(`Cannot read the checkpoint of server ${serverId}`, (q) =>
      q.row<{
        binlog_file: string;
        binlog_position: bigint;
        gtid_set: string | null;
        source_server_uuid: string | null;
        source_server_id: string;
        source_hostname: string;
        source_flavor: 'mysql' | 'mariadb';
        updated_at: Date;
      }>(
        `SELECT k.binlog_file, k.binlog_position, k.gtid_set, k.source_server_uuid, k.source_server_id,
           k.source_hostname, k.source_flavor, k.updated_at
         FROM change_checkpoints k JOIN change_servers s ON s.server_key = k.server_key
         WHERE s.server_id = $1`,
        [serverId],
      ),
    );
    if (row === undefined) return undefined;
    return {
      serverId,
      coordinates: { file: row.binlog_file, position: Number(row.binlog_position), gtidSet: row.gtid_set },
      identity: {
        serverUuid: row.source_server_uuid,
        serverId: row.source_server_id,
        hostname: row.source_hostname,
        flavor: row.source_flavor,
      },
      updatedAt: row.updated_at,
    };
  }

  async recordGap(serverId: string, gap: NewGap): Promise<Gap> {
    checkId('server id', serverId);
    checkGap(gap);
    const action = `Cannot record a gap for server ${serverId}`;
    const serverKey = await this.#ensureServer(serverId, action);
    const id = await this.#conn.write(action, async (q) => {
      const row = await q.row<{ last_seq: bigint; last_commit_time_us: bigint | null }>(
        `SELECT s.last_seq, k.last_commit_time_us FROM change_servers s
         LEFT JOIN change_checkpoints k ON k.server_key = s.server_key WHERE s.server_key = $1 FOR UPDATE OF s`,
        [serverKey],
      );
      return insertGap(q, serverKey, gap, row!.last_seq, row!.last_commit_time_us, this.#clock.now());
    });
    return (await this.#readGaps(serverId)).find((g) => g.gap.id === id)!.gap;
  }

  async gaps(serverId: string): Promise<readonly Gap[]> {
    checkId('server id', serverId);
    return (await this.#readGaps(serverId)).map((g) => g.gap);
  }

  async query(filter: ChangeQuery): Promise<readonly ChangeRecord[]> {
    try {
      return await this.#query(filter);
    } catch (err) {
      // A PK lookup names the server's partitions (see #query); a prune elsewhere dropped one between the listing
      // and the lookup. Its rows are pruned anyway: asking again reads the partitions that remain.
      const dropped = err instanceof StoreQueryError && err.fields['sqlState'] === UNDEFINED_TABLE;
      if (!dropped || filter.pk === undefined) throw err;
      return await this.#query(filter);
    }
  }

  async #query(filter: ChangeQuery): Promise<readonly ChangeRecord[]> {
    const checked = checkChangeQuery(filter);
    const { serverId } = filter;
    return this.#conn.read(`Cannot query changes of server ${serverId}`, async (q) => {
      // Round trips are most of a lookup's cost, so what cannot change is remembered: a server that has a key in
      // the change index cannot be deleted (the key refers to it) and never changes tenant; table keys are never
      // deleted.
      let tenantOf = this.#owners.get(serverId);
      if (tenantOf === undefined) {
        const owner = await q.row<{ tenant_id: string }>('SELECT tenant_id FROM servers WHERE id = $1', [
          serverId,
        ]);
        tenantOf = owner?.tenant_id;
      }
      if (tenantOf !== filter.tenantId) {
        throw new NotFoundError(`Cannot query changes of server ${serverId}: no such server`, {
          fields: { serverId },
        });
      }
      const serverKey = await this.#serverKey(q, serverId);
      if (serverKey === undefined) return [];
      this.#owners.set(serverId, tenantOf);
      const params: unknown[] = [serverKey];
      const p = (value: unknown): string => {
        params.push(value);
        return `$${params.length}`;
      };
      // Every condition names the server (the partition key's first column), so only its partitions are read.
      const where = [SERVER_CONDITION];
      let tableKeys: bigint[] | undefined;
      const known =
        filter.schema !== undefined && filter.table !== undefined
          ? this.#tableKeys.get(`${serverKey}\0${filter.schema}\0${filter.table}`)
          : undefined;
      if (known !== undefined) {
        tableKeys = [known];
        where.push(`c.table_key = ${p(known)}`);
      } else if (filter.schema !== undefined) {
        const tables = await q.rows<{ table_key: bigint }>(
          filter.table === undefined
            ? 'SELECT table_key FROM change_tables WHERE server_key = $1 AND schema_name = $2'
            : 'SELECT table_key FROM change_tables WHERE server_key = $1 AND schema_name = $2 AND table_name = $3',
          filter.table === undefined ? [serverKey, filter.schema] : [serverKey, filter.schema, filter.table],
        );
        if (tables.length === 0) return [];
        tableKeys = tables.map((t) => t.table_key);
        if (filter.table !== undefined)
          this.#tableKeys.set(`${serverKey}\0${filter.schema}\0${filter.table}`, tableKeys[0]!);
        // Equality for one table, so that an index on (table_key, commit_time_us, seq) also yields the order.
        where.push(
          tableKeys.length === 1
            ? `c.table_key = ${p(tableKeys[0])}`
            : `c.table_key IN (${tableKeys.map((k) => p(k)).join(', ')})`,
        );
      }
      if (filter.pk !== undefined) {
        where.push(`${PK_KEY_SQL} = ${p(pkKey(filter.pk))}`, `c.pk = ${p(filter.pk)}`);
      }
      if (filter.gtid !== undefined) {
        const ranges = await q.rows<{ first_seq: bigint; last_seq: bigint }>(
          'SELECT first_seq, last_seq FROM change_transactions WHERE server_key = $1 AND gtid = $2 ORDER BY first_seq',
          [serverKey, filter.gtid],
        );
        if (ranges.length === 0) return [];
        where.push(`c.seq BETWEEN ${p(ranges[0]!.first_seq)} AND ${p(ranges[ranges.length - 1]!.last_seq)}`);
        if (ranges.length > 1) {
          where.push(
            `(${ranges.map((r) => `c.seq BETWEEN ${p(r.first_seq)} AND ${p(r.last_seq)}`).join(' OR ')})`,
          );
        }
      }
      // A changed-column search is driven by change_columns, whose key (server, table, column, time, seq) yields
      // the column's updates of one table in commit order; each change is then fetched by its primary key.
      const byColumn = filter.changedColumn !== undefined;
      // Conditions on the driving table: the same list as `where` unless change_columns drives.
      const driving = byColumn ? [] : where;
      if (byColumn) {
        driving.push(
          'cc.server_key = $1',
          `cc.column_name = ${p(filter.changedColumn)}`,
          tableKeys === undefined
            ? 'cc.table_key IN (SELECT table_key FROM change_tables WHERE server_key = $1)'
            : tableKeys.length === 1
              ? `cc.table_key = ${p(tableKeys[0])}`
              : `cc.table_key IN (${tableKeys.map((k) => p(k)).join(', ')})`,
        );
      }
      const o = byColumn ? 'cc' : 'c';
      if (filter.seqRange?.after !== undefined) where.push(`c.seq > ${p(filter.seqRange.after)}`);
      if (filter.seqRange?.until !== undefined) where.push(`c.seq <= ${p(filter.seqRange.until)}`);
      if (filter.sinceUs !== undefined) driving.push(`${o}.commit_time_us >= ${p(filter.sinceUs)}`);
      if (filter.untilUs !== undefined) driving.push(`${o}.commit_time_us < ${p(filter.untilUs)}`);
      if (checked.types.length > 0) where.push(`c.change_type = ANY(${p([...checked.types])}::text[])`);
      if (filter.columnEq !== undefined) {
        const { column, value } = filter.columnEq;
        // Images are JSON text written by JSON.stringify, and json's -> gives a value's token as written, so the
        // token is compared with the JSON text of the wanted value: a binary {"hex"} never equals a string.
        // PostgreSQL refuses \u0000 in json values; it is swapped for an escape JSON.stringify never writes
        // (\ufdd0, a noncharacter it emits raw), on both sides.
        const k = p(column);
        if (typeof value === 'string') {
          const v = p(nulSafe(JSON.stringify(value)));
          where.push(
            `((${jsonOf('c.after_image')} -> ${k})::text = ${v} OR (${jsonOf('c.before_image')} -> ${k})::text = ${v})`,
          );
        } else {
          const v = p(JSON.stringify(value.hex.toUpperCase()));
          where.push(
            `((${jsonOf('c.after_image')} -> ${k} -> 'hex')::text = ${v} OR (${jsonOf('c.before_image')} -> ${k} -> 'hex')::text = ${v})`,
          );
        }
      }
      const dir = checked.order === 'asc' ? 'ASC' : 'DESC';
      if (filter.afterSeq !== undefined) {
        const anchor = await q.row<{ commit_time_us: bigint }>(
          'SELECT commit_time_us FROM changes WHERE server_key = $1 AND seq = $2',
          [serverKey, filter.afterSeq],
        );
        if (anchor === undefined) {
          throw new InvalidValueError(
            `Cannot page through changes of server ${serverId}: no change has seq ${filter.afterSeq} (pruned, or not a change)`,
            { fields: { serverId, afterSeq: String(filter.afterSeq) } },
          );
        }
        driving.push(
          `(${o}.commit_time_us, ${o}.seq) ${dir === 'ASC' ? '>' : '<'} (${p(anchor.commit_time_us)}, ${p(filter.afterSeq)})`,
        );
      }
      // A PK lookup reads the server's partitions by name (those its time bounds overlap), with no condition on
      // server_key: that condition (needed on the parent for partition pruning) matches changes_by_time, and with
      // no statistics on a partition yet (a fresh month, autovacuum behind) the planner may AND the pk index with
      // a scan of that whole index, reading every entry of the server's month. Without it, the pk index is the
      // only plan that uses the lookup's conditions, whatever the statistics (test/store/postgres-backend.test.ts).
      let source = 'changes c';
      if (filter.pk !== undefined && !byColumn) {
        const bounds: string[] = [];
        const boundParams: unknown[] = [serverKey];
        if (filter.sinceUs !== undefined) {
          boundParams.push(filter.sinceUs);
          bounds.push(`AND to_us > $${boundParams.length}`);
        }
        if (filter.untilUs !== undefined) {
          boundParams.push(filter.untilUs);
          bounds.push(`AND from_us < $${boundParams.length}`);
        }
        const parts = await q.rows<{ suffix: string }>(
          `SELECT suffix FROM change_partitions WHERE server_key = $1 ${bounds.join(' ')} ORDER BY from_us`,
          boundParams,
        );
        if (parts.length === 0) return [];
        source = `(${parts
          .map((part) => `SELECT ${CHANGE_COLUMNS} FROM ${partitionName('changes', part.suffix)}`)
          .join(' UNION ALL ')}) c`;
        where.splice(where.indexOf(SERVER_CONDITION), 1);
      }
      const limit = p(checked.limit);
      // The page is chosen first (inner query: filters, order, limit), then each of its rows gets its table and
      // transaction by key. The LATERAL lookup (its LIMIT keeps the planner from flattening it into a join) reads one
      // transaction by primary key per change, rather than hashing the server's whole transaction partitions when
      // the planner's row estimates are off (no statistics yet after a bulk load).
      const rows = await q.rows<ChangeRow>(
        `SELECT c.seq, c.change_type, c.commit_time_us, c.pk, c.pk_columns, c.pk_is_full_image, c.before_image,
           c.after_image, c.changed_columns, t.schema_name, t.table_name, x.gtid, x.binlog_file, x.binlog_position,
           x.thread_id
         FROM (
           SELECT c.seq, c.change_type, c.commit_time_us, c.pk, c.pk_columns, c.pk_is_full_image, c.before_image,
             c.after_image, c.changed_columns, c.table_key, c.tx_seq
           FROM ${
             byColumn
               ? // The column's updates in key order, each change looked up by its primary key and filtered.
                 `change_columns cc CROSS JOIN LATERAL (
                    SELECT c.* FROM changes c
                    WHERE c.server_key = cc.server_key AND c.seq = cc.seq AND c.commit_time_us = cc.commit_time_us
                      AND ${where.join(' AND ')} LIMIT 1) c`
               : source
           }
           WHERE ${driving.join(' AND ')}
           ORDER BY ${o}.commit_time_us ${dir}, ${o}.seq ${dir} LIMIT ${limit}
         ) c
         JOIN change_tables t ON t.table_key = c.table_key
         CROSS JOIN LATERAL (
           SELECT x.gtid, x.binlog_file, x.binlog_position, x.thread_id FROM change_transactions x
           WHERE x.server_key = $1 AND x.first_seq = c.tx_seq AND x.commit_time_us = c.commit_time_us LIMIT 1
         ) x
         ORDER BY c.commit_time_us ${dir}, c.seq ${dir}`,
        params,
      );
      return rows.map((r) => toChangeRecord(serverId, r));
    });
  }

  async ddl(serverId: string, filter: DdlFilter = {}): Promise<readonly DdlRecord[]> {
    checkId('server id', serverId);
    const limit = checkDdlFilter(filter);
    return this.#conn.read(`Cannot list DDL events of server ${serverId}`, async (q) => {
      const serverKey = await this.#serverKey(q, serverId);
      if (serverKey === undefined) return [];
      const params: unknown[] = [serverKey];
      const where = ['server_key = $1'];
      if (filter.schema !== undefined) {
        params.push(filter.schema);
        where.push(`schema_name = $${params.length}`);
      }
      if (filter.afterSeq !== undefined) {
        params.push(filter.afterSeq);
        where.push(`seq > $${params.length}`);
      }
      if (filter.untilSeq !== undefined) {
        params.push(filter.untilSeq);
        where.push(`seq <= $${params.length}`);
      }
      params.push(limit);
      const rows = await q.rows<{
        seq: bigint;
        gtid: string | null;
        binlog_file: string;
        binlog_position: bigint;
        commit_time_us: bigint;
        thread_id: bigint | null;
        schema_name: string | null;
        statement: string;
      }>(
        `SELECT seq, gtid, binlog_file, binlog_position, commit_time_us, thread_id, schema_name, statement
         FROM change_ddl WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $${params.length}`,
        params,
      );
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
  }

  async stats(serverId: string): Promise<ChangeStats> {
    checkId('server id', serverId);
    return this.#conn.read(`Cannot read change statistics of server ${serverId}`, async (q) => {
      const row = await q.row<{
        server_key: bigint;
        last_seq: bigint;
        row_changes: bigint;
        transactions: bigint;
        ddl_events: bigint;
      }>(
        'SELECT server_key, last_seq, row_changes, transactions, ddl_events FROM change_servers WHERE server_id = $1',
        [serverId],
      );
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
      // MIN and MAX over the leading columns of changes_by_time: one index probe per partition of the server.
      const span = await q.row<{ first: bigint | null; last: bigint | null }>(
        'SELECT MIN(commit_time_us) AS first, MAX(commit_time_us) AS last FROM changes WHERE server_key = $1',
        [row.server_key],
      );
      return {
        rowChanges: row.row_changes,
        transactions: row.transactions,
        ddlEvents: row.ddl_events,
        firstCommitTimeUs: span?.first ?? null,
        lastCommitTimeUs: span?.last ?? null,
        lastSeq: row.last_seq,
      };
    });
  }

  async coverage(serverId: string): Promise<Coverage> {
    checkId('server id', serverId);
    const gaps = await this.#readGaps(serverId);
    const row = await this.#conn.read(`Cannot read the coverage of server ${serverId}`, (q) =>
      q.row<{ first_commit_time_us: bigint | null; last_commit_time_us: bigint | null }>(
        `SELECT s.first_commit_time_us, k.last_commit_time_us FROM change_servers s
         LEFT JOIN change_checkpoints k ON k.server_key = s.server_key WHERE s.server_id = $1`,
        [serverId],
      ),
    );
    return { startUs: row?.first_commit_time_us ?? null, endUs: row?.last_commit_time_us ?? null, gaps };
  }

  async prune(
    serverId: string,
    olderThanUs: bigint,
  ): Promise<{ readonly deleted: bigint; readonly gap: Gap | null }> {
    checkId('server id', serverId);
    if (typeof olderThanUs !== 'bigint' || olderThanUs < 0n) {
      throw new InvalidValueError(
        `Cannot prune changes of server ${serverId}: expected the cutoff as non-negative microseconds since the epoch`,
      );
    }
    const action = `Cannot prune changes of server ${serverId}`;
    const dropped: string[] = [];
    const outcome = await this.#conn.write(action, async (q) => {
      const serverKey = await this.#serverKey(q, serverId);
      if (serverKey === undefined) return { deleted: 0n, gapId: null };
      const last = await q.row<{ last_seq: bigint }>(
        'SELECT last_seq FROM change_servers WHERE server_key = $1 FOR UPDATE',
        [serverKey],
      );
      // The first change (in seq order) committed at or after the cutoff: everything before it goes.
      const keep = await q.row<{ seq: bigint }>(
        'SELECT seq FROM changes WHERE server_key = $1 AND commit_time_us >= $2 ORDER BY seq LIMIT 1',
        [serverKey, olderThanUs],
      );
      const bound = keep?.seq ?? last!.last_seq + 1n;
      // Every change before the bound committed before the cutoff, so `commit_time_us < cutoff` is implied: it
      // is written out so that only the partitions before the cutoff are read.
      const span = await q.row<{
        n: bigint;
        first_seq: bigint | null;
        last_seq: bigint | null;
        first_time: bigint | null;
      }>(
        `SELECT COUNT(*) AS n, MIN(seq) AS first_seq, MAX(seq) AS last_seq, MIN(commit_time_us) AS first_time
         FROM changes WHERE server_key = $1 AND commit_time_us < $2 AND seq < $3`,
        [serverKey, olderThanUs, bound],
      );
      if (span === undefined || span.n === 0n || span.first_seq === null || span.last_seq === null) {
        return { deleted: 0n, gapId: null };
      }
      const txAt = async (seq: bigint) =>
        (await q.row<{ binlog_file: string; binlog_position: bigint; end_position: bigint }>(
          `SELECT binlog_file, binlog_position, end_position FROM change_transactions
           WHERE server_key = $1 AND first_seq <= $2 ORDER BY first_seq DESC LIMIT 1`,
          [serverKey, seq],
        ))!;
      const firstTx = await txAt(span.first_seq);
      const lastTx = await txAt(span.last_seq);
      const txCount = await q.row<{ n: bigint }>(
        'SELECT COUNT(*) AS n FROM change_transactions WHERE server_key = $1 AND commit_time_us < $2 AND first_seq < $3',
        [serverKey, olderThanUs, bound],
      );
      // Whole months before the cutoff whose changes all lie before the bound are dropped, not deleted from.
      const candidates = await q.rows<{ suffix: string }>(
        'SELECT suffix FROM change_partitions WHERE server_key = $1 AND to_us <= $2 ORDER BY from_us',
        [serverKey, olderThanUs],
      );
      const droppable: string[] = [];
      for (const { suffix } of candidates) {
        const top = await q.row<{ max: bigint | null }>(
          `SELECT MAX(seq) AS max FROM ${partitionName('changes', suffix)}`,
        );
        if (top?.max === null || top === undefined || top.max < bound) droppable.push(suffix);
      }
      if (droppable.length > 0) {
        // In the order commits write the parents, so that waiting here can never deadlock with a commit.
        await q.run(`LOCK TABLE ${PARTITIONED_TABLES.join(', ')} IN ACCESS EXCLUSIVE MODE`);
        for (const suffix of droppable) {
          await q.run(`DROP TABLE ${PARTITIONED_TABLES.map((t) => partitionName(t, suffix)).join(', ')}`);
          await q.run('DELETE FROM change_partitions WHERE suffix = $1', [suffix]);
          dropped.push(suffix);
        }
      }
      await q.run('DELETE FROM change_columns WHERE server_key = $1 AND commit_time_us < $2 AND seq < $3', [
        serverKey,
        olderThanUs,
        bound,
      ]);
      await q.run('DELETE FROM changes WHERE server_key = $1 AND commit_time_us < $2 AND seq < $3', [
        serverKey,
        olderThanUs,
        bound,
      ]);
      await q.run(
        'DELETE FROM change_transactions WHERE server_key = $1 AND commit_time_us < $2 AND first_seq < $3',
        [serverKey, olderThanUs, bound],
      );
      await q.run(
        'UPDATE change_servers SET row_changes = row_changes - $1, transactions = transactions - $2 WHERE server_key = $3',
        [span.n, txCount!.n, serverKey],
      );
      const gapId = await insertGap(
        q,
        serverKey,
        {
          reason: 'pruned',
          detail: `${span.n} row changes committed before ${isoMicros(olderThanUs)} were pruned`,
          from: { file: firstTx.binlog_file, position: Number(firstTx.binlog_position), gtidSet: null },
          to: { file: lastTx.binlog_file, position: Number(lastTx.end_position), gtidSet: null },
          fromTimeUs: span.first_time,
          toTimeUs: olderThanUs,
        },
        last!.last_seq,
        null,
        this.#clock.now(),
      );
      return { deleted: span.n, gapId };
    });
    for (const suffix of dropped) this.#partitions.delete(suffix);
    const gap =
      outcome.gapId === null
        ? null
        : ((await this.#readGaps(serverId)).find((g) => g.gap.id === outcome.gapId)?.gap ?? null);
    return { deleted: outcome.deleted, gap };
  }

  async recordTableSchema(serverId: string, entry: TableSchemaEntry): Promise<void> {
    checkId('server id', serverId);
    checkTableSchema(entry);
    const action = `Cannot record the schema of ${entry.schema}.${entry.table} for server ${serverId}`;
    const serverKey = await this.#ensureServer(serverId, action);
    await this.#conn.write(action, async (q) => {
      const row = await q.row<{ last_seq: bigint }>(
        'SELECT last_seq FROM change_servers WHERE server_key = $1 FOR UPDATE',
        [serverKey],
      );
      await insertTableSchema(
        q,
        serverKey,
        entry,
        entry.validFromSeq ?? row!.last_seq + 1n,
        this.#clock.now(),
      );
    });
  }

  async tableSchemaAt(
    serverId: string,
    schema: string,
    table: string,
    at: { readonly seq?: bigint; readonly coordinates?: BinlogCoordinates },
  ): Promise<TableSchemaEntry | undefined> {
    checkId('server id', serverId);
    if (at.coordinates !== undefined) checkBinlogCoordinates('schema lookup position', at.coordinates);
    return this.#conn.read(`Cannot read the schema history of ${schema}.${table}`, async (q) => {
      const serverKey = await this.#serverKey(q, serverId);
      if (serverKey === undefined) return undefined;
      const base = `SELECT valid_from_file, valid_from_position, valid_from_gtid_set, valid_from_seq, columns,
          primary_key FROM change_table_schemas WHERE server_key = $1 AND schema_name = $2 AND table_name = $3`;
      type Row = {
        valid_from_file: string;
        valid_from_position: bigint;
        valid_from_gtid_set: string | null;
        valid_from_seq: bigint;
        columns: string;
        primary_key: string;
      };
      let row: Row | undefined;
      if (at.coordinates !== undefined) {
        row = await q.row<Row>(
          `${base} AND (valid_from_file_no, valid_from_position) <= ($4, $5)
           ORDER BY valid_from_file_no DESC, valid_from_position DESC, entry_no DESC LIMIT 1`,
          [serverKey, schema, table, binlogFileNumber(at.coordinates.file), at.coordinates.position],
        );
      } else if (at.seq !== undefined) {
        row = await q.row<Row>(
          `${base} AND valid_from_seq <= $4 ORDER BY valid_from_seq DESC, entry_no DESC LIMIT 1`,
          [serverKey, schema, table, at.seq],
        );
      } else {
        row = await q.row<Row>(`${base} ORDER BY valid_from_seq DESC, entry_no DESC LIMIT 1`, [
          serverKey,
          schema,
          table,
        ]);
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
  }

  // ---------------------------------------------------------------------------------------------------------

  async #serverKey(q: PgQuery, serverId: string): Promise<bigint | undefined> {
    const cached = this.#serverKeys.get(serverId);
    if (cached !== undefined) return cached;
    const row = await q.row<{ server_key: bigint }>(
      'SELECT server_key FROM change_servers WHERE server_id = $1',
      [serverId],
    );
    if (row !== undefined) this.#serverKeys.set(serverId, row.server_key);
    return row?.server_key;
  }

  /**
   * The server's key, creating its change_servers row on first use, in a transaction of its own: the row holds
   * only zero counters until a commit fills it, so it may outlive a batch that fails.
   */
  async #ensureServer(serverId: string, action: string): Promise<bigint> {
    const known = this.#serverKeys.get(serverId);
    if (known !== undefined) return known;
    const key = await this.#conn.write(action, async (q) => {
      if ((await q.row('SELECT 1 FROM servers WHERE id = $1', [serverId])) === undefined) {
        throw new NotFoundError(`${action}: no such server (register it first)`, { fields: { serverId } });
      }
      await q.run(
        'INSERT INTO change_servers (server_id, created_at) VALUES ($1, $2) ON CONFLICT (server_id) DO NOTHING',
        [serverId, this.#clock.now()],
      );
      return (await q.row<{ server_key: bigint }>(
        'SELECT server_key FROM change_servers WHERE server_id = $1',
        [serverId],
      ))!.server_key;
    });
    this.#serverKeys.set(serverId, key);
    return key;
  }

  async #tableKey(
    q: PgQuery,
    serverKey: bigint,
    schema: string,
    table: string,
    created: Map<string, bigint>,
  ): Promise<bigint> {
    const id = `${serverKey}\0${schema}\0${table}`;
    const cached = this.#tableKeys.get(id) ?? created.get(id);
    if (cached !== undefined) return cached;
    await q.run(
      'INSERT INTO change_tables (server_key, schema_name, table_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [serverKey, schema, table],
    );
    const row = await q.row<{ table_key: bigint }>(
      'SELECT table_key FROM change_tables WHERE server_key = $1 AND schema_name = $2 AND table_name = $3',
      [serverKey, schema, table],
    );
    created.set(id, row!.table_key);
    return row!.table_key;
  }

  async #appendTransactions(
    q: PgQuery,
    serverKey: bigint,
    transactions: readonly CapturedTransaction[],
    seqBefore: bigint,
    newTables: Map<string, bigint>,
  ): Promise<{
    firstSeq: bigint | null;
    lastSeq: bigint | null;
    rows: number;
    transactions: number;
    ddl: number;
    txSeqs: (bigint | null)[];
  }> {
    // Column arrays for INSERT ... SELECT FROM unnest(...): one statement per table, whatever the batch size.
    const ch = {
      seq: [] as bigint[],
      table: [] as bigint[],
      tx: [] as bigint[],
      type: [] as string[],
      time: [] as bigint[],
    };
    const chText = {
      hash: [] as bigint[],
      pk: [] as string[],
      pkColumns: [] as string[],
      full: [] as boolean[],
      before: [] as (string | null)[],
      after: [] as (string | null)[],
      changed: [] as (string | null)[],
    };
    const cols = { table: [] as bigint[], name: [] as string[], time: [] as bigint[], seq: [] as bigint[] };
    const txs = {
      first: [] as bigint[],
      last: [] as bigint[],
      gtid: [] as (string | null)[],
      file: [] as string[],
      pos: [] as number[],
      end: [] as number[],
      time: [] as bigint[],
      thread: [] as (number | null)[],
    };
    const ddls: unknown[][] = [];
    let seq = seqBefore;
    let firstSeq: bigint | null = null;
    let rows = 0;
    let txCount = 0;
    const txSeqs: (bigint | null)[] = [];
    for (const tx of transactions) {
      let txFirst: bigint | null = null;
      // A DDL precedes the row changes of its transaction (CREATE TABLE ... SELECT logs the DDL first).
      for (const d of tx.ddl) {
        seq += 1n;
        txFirst ??= seq;
        ddls.push([seq, tx.gtid, tx.file, tx.position, tx.commitTimeUs, tx.threadId, d.schema, d.statement]);
      }
      if (tx.changes.length > 0) {
        const txSeq = seq + 1n;
        txFirst ??= txSeq;
        for (const c of tx.changes) {
          seq += 1n;
          const tableKey = await this.#tableKey(q, serverKey, c.schema, c.table, newTables);
          ch.seq.push(seq);
          ch.table.push(tableKey);
          ch.tx.push(txSeq);
          ch.type.push(c.type);
          ch.time.push(tx.commitTimeUs);
          chText.hash.push(pkHash(c.pk));
          chText.pk.push(c.pk);
          chText.pkColumns.push(JSON.stringify(c.pkColumns));
          chText.full.push(c.pkIsFullImage);
          chText.before.push(c.before === null ? null : JSON.stringify(c.before));
          chText.after.push(c.after === null ? null : JSON.stringify(c.after));
          chText.changed.push(c.changedColumns === null ? null : JSON.stringify(c.changedColumns));
          if (c.changedColumns !== null) {
            for (const column of new Set(c.changedColumns)) {
              cols.table.push(tableKey);
              cols.name.push(column);
              cols.time.push(tx.commitTimeUs);
              cols.seq.push(seq);
            }
          }
        }
        txs.first.push(txSeq);
        txs.last.push(seq);
        txs.gtid.push(tx.gtid);
        txs.file.push(tx.file);
        txs.pos.push(tx.position);
        txs.end.push(tx.endPosition);
        txs.time.push(tx.commitTimeUs);
        txs.thread.push(tx.threadId);
        rows += tx.changes.length;
        txCount++;
      }
      txSeqs.push(txFirst);
      firstSeq ??= txFirst;
    }
    // The parents are written in the order of PARTITIONED_TABLES, the order prune locks them in.
    if (ch.seq.length > 0) {
      await q.run(
        `INSERT INTO changes (server_key, seq, table_key, tx_seq, change_type, commit_time_us, pk_hash, pk, pk_columns,
           pk_is_full_image, before_image, after_image, changed_columns)
         SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[],
           $8::text[], $9::text[], $10::boolean[], $11::text[], $12::text[], $13::text[])`,
        [
          serverKey,
          ch.seq,
          ch.table,
          ch.tx,
          ch.type,
          ch.time,
          chText.hash,
          chText.pk,
          chText.pkColumns,
          chText.full,
          chText.before,
          chText.after,
          chText.changed,
        ],
      );
    }
    if (cols.seq.length > 0) {
      await q.run(
        `INSERT INTO change_columns (server_key, table_key, column_name, commit_time_us, seq)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[])`,
        [serverKey, cols.table, cols.name, cols.time, cols.seq],
      );
    }
    if (txs.first.length > 0) {
      await q.run(
        `INSERT INTO change_transactions (server_key, first_seq, last_seq, gtid, binlog_file, binlog_position,
           end_position, commit_time_us, thread_id)
         SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
           $8::bigint[], $9::bigint[])`,
        [serverKey, txs.first, txs.last, txs.gtid, txs.file, txs.pos, txs.end, txs.time, txs.thread],
      );
    }
    for (const d of ddls) {
      await q.run(
        `INSERT INTO change_ddl (server_key, seq, gtid, binlog_file, binlog_position, commit_time_us, thread_id,
           schema_name, statement)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [serverKey, ...d],
      );
    }
    return {
      firstSeq,
      lastSeq: seq === seqBefore ? null : seq,
      rows,
      transactions: txCount,
      ddl: ddls.length,
      txSeqs,
    };
  }

  /** Gaps oldest first, with their time spans resolved for coverage. */
  async #readGaps(serverId: string): Promise<ResolvedGap[]> {
    return this.#conn.read(`Cannot read the gaps of server ${serverId}`, async (q) => {
      const serverKey = await this.#serverKey(q, serverId);
      if (serverKey === undefined) return [];
      const rows = await q.rows<GapRow>(
        `SELECT g.id, g.reason, g.detail, g.from_file, g.from_position, g.from_gtid_set, g.to_file, g.to_position,
           g.to_gtid_set, g.from_time_us, g.to_time_us, g.after_seq, g.checkpoint_time_us, g.recorded_at,
           CASE WHEN g.to_time_us IS NULL THEN LEAST(
             (SELECT x.commit_time_us FROM change_transactions x WHERE x.server_key = g.server_key
                AND x.first_seq > g.after_seq ORDER BY x.first_seq LIMIT 1),
             (SELECT d.commit_time_us FROM change_ddl d WHERE d.server_key = g.server_key AND d.seq > g.after_seq
                ORDER BY d.seq LIMIT 1)) END AS next_time_us
         FROM change_gaps g WHERE g.server_key = $1 ORDER BY g.gap_no`,
        [serverKey],
      );
      return rows.map((r): ResolvedGap => ({
        gap: {
          id: r.id,
          serverId,
          from: { file: r.from_file, position: Number(r.from_position), gtidSet: r.from_gtid_set },
          to: { file: r.to_file, position: Number(r.to_position), gtidSet: r.to_gtid_set },
          fromTimeUs: r.from_time_us,
          toTimeUs: r.to_time_us,
          reason: r.reason,
          detail: r.detail,
          recordedAt: r.recorded_at,
        },
        // Pruning removes the whole history before its cutoff, so its gap reaches back to the beginning.
        fromUs: r.reason === 'pruned' ? null : (r.from_time_us ?? r.checkpoint_time_us),
        toUs: r.to_time_us ?? r.next_time_us,
      }));
    });
  }
}

interface ChangeRow {
  seq: bigint;
  change_type: 'insert' | 'update' | 'delete';
  commit_time_us: bigint;
  pk: string;
  pk_columns: string;
  pk_is_full_image: boolean;
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
  recorded_at: Date;
  next_time_us: bigint | null;
}

/** Returns the new gap's id. */
async function insertGap(
  q: PgQuery,
  serverKey: bigint,
  gap: NewGap,
  afterSeq: bigint,
  checkpointTimeUs: bigint | null,
  now: Date,
): Promise<string> {
  const id = newId();
  await q.run(
    `INSERT INTO change_gaps (id, server_key, reason, detail, from_file, from_position, from_gtid_set, to_file,
       to_position, to_gtid_set, from_time_us, to_time_us, after_seq, checkpoint_time_us, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
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
    ],
  );
  return id;
}

async function insertTableSchema(
  q: PgQuery,
  serverKey: bigint,
  entry: TableSchemaEntry,
  seq: bigint,
  now: Date,
): Promise<void> {
  await q.run(
    `INSERT INTO change_table_schemas (server_key, schema_name, table_name, valid_from_file, valid_from_file_no,
       valid_from_position, valid_from_gtid_set, valid_from_seq, columns, primary_key, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
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
    ],
  );
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
    pkColumns: JSON.parse(r.pk_columns) as string[],
    pkIsFullImage: r.pk_is_full_image,
    before: r.before_image === null ? null : (JSON.parse(r.before_image) as RowImage),
    after: r.after_image === null ? null : (JSON.parse(r.after_image) as RowImage),
    changedColumns: r.changed_columns === null ? null : (JSON.parse(r.changed_columns) as string[]),
  };
}

/** The condition on the server that every query of changes starts with ($1 is the server key). */
const SERVER_CONDITION = 'c.server_key = $1';

/** The columns of changes, in the parent's order (partitions are created LIKE it). */
const CHANGE_COLUMNS = `server_key, seq, table_key, tx_seq, change_type, commit_time_us, pk_hash, pk, pk_columns,
  pk_is_full_image, before_image, after_image, changed_columns`;

/** SQLSTATE undefined_table. */
const UNDEFINED_TABLE = '42P01';

/** The first 8 bytes of SHA-256 of the canonical pk text, as a signed 64-bit integer: the same as SQLite's. */
export function pkHash(pk: string): bigint {
  return BigInt.asIntN(64, BigInt(`0x${hash('sha256', pk, 'hex').slice(0, 16)}`));
}

/** Longest pk text (UTF-8 bytes) indexed by its own text in changes_by_pk_key (migration 5). */
const PK_KEY_MAX_BYTES = 32;

/** The expression changes_by_pk_key indexes, spelled as the planner must see it to use that index. */
const PK_KEY_SQL = `(CASE WHEN octet_length(c.pk) <= ${PK_KEY_MAX_BYTES} THEN c.pk ELSE c.pk_hash::text END) COLLATE "C"`;

function pkKey(pk: string): string {
  return Buffer.byteLength(pk, 'utf8') <= PK_KEY_MAX_BYTES ? pk : pkHash(pk).toString();
}

/** An image column as json, with \u0000 escapes (refused by PostgreSQL's json operators) swapped (see query). */
function jsonOf(column: string): string {
  return `replace(${column}, '\\u0000', '\\ufdd0')::json`;
}

function nulSafe(jsonText: string): string {
  return jsonText.replaceAll('\\u0000', '\\ufdd0');
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

/** The seq a schema entry of a commit batch starts at (see TableSchemaEntry.validFromSeq). */
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
