import { messageOf } from '../lib/errors.js';
import { RecoverApplyError, RecoverInputError } from './errors.js';
import { quoteIdent } from './literal.js';
import type { RecoveryTransaction } from './plan.js';
import type { ConflictPolicy, RecoveryStatement } from './statements.js';
import { serverErrorCode, type RecoveryTarget } from './target.js';

/**
 * Applies planned transactions to a target server, checking the affected-row count of every statement: an
 * INSERT, UPDATE or DELETE must change exactly one row (an upsert one or two). A statement that matches no row
 * meets a row changed since (a conflict): under `skip` it is left out and reported, otherwise everything not yet
 * committed is rolled back and the error names the statement (and, through `explain`, the later change).
 *
 * Two modes: `one` runs everything in one server transaction (recover --apply: all or nothing); `each` commits
 * one source transaction at a time and runs DDL in place (forward replay, restore: resumable, and the error says
 * what was committed last).
 */

export interface AppliedPoint {
  readonly seq: bigint;
  readonly gtid: string | null;
  readonly file: string;
  readonly position: number;
  readonly commitTimeUs: bigint;
}

export interface SkippedStatement {
  readonly statement: RecoveryStatement;
  readonly affected: number | null;
  /** The server's error, for an INSERT refused by a duplicate key. */
  readonly error: string | null;
  /** What `explain` said: the later change that caused the conflict. */
  readonly explanation: string | null;
}

export interface ApplyProgress {
  readonly transactions: number;
  readonly statements: number;
  readonly last: AppliedPoint | null;
}

export interface ApplyOptions {
  readonly mode: 'one' | 'each';
  readonly onConflict: ConflictPolicy;
  readonly signal?: AbortSignal;
  /** Called after each source transaction (mode `each`: after its commit). */
  readonly onProgress?: (progress: ApplyProgress) => void;
  /** Explains a statement that matched no row: typically the later change found in the index. */
  readonly explain?: (statement: RecoveryStatement) => Promise<string | undefined>;
  /** The schema a DDL event's `USE` selects (restore into a renamed schema); its own by default. */
  readonly targetSchema?: (schema: string) => string;
}

export interface ApplyResult {
  /** Source transactions applied (DDL events included). */
  readonly transactions: number;
  readonly statements: number;
  readonly skipped: readonly SkippedStatement[];
  /** The last source transaction applied and committed; null when none. */
  readonly last: AppliedPoint | null;
  /** True when the signal stopped it between transactions (mode `each`). */
  readonly interrupted: boolean;
}

function point(t: RecoveryTransaction): AppliedPoint {
  return {
    seq: t.lastSeq,
    gtid: t.gtid,
    file: t.file,
    position: t.position,
    commitTimeUs: t.commitTimeUs,
  };
}

function describeTransaction(t: RecoveryTransaction): string {
  return t.gtid === null ? `transaction at ${t.file}:${t.position}` : `transaction ${t.gtid}`;
}

function describePoint(p: AppliedPoint | null): string {
  if (p === null) return 'nothing was committed';
  return `committed up to seq ${p.seq}${p.gtid === null ? '' : ` (GTID ${p.gtid})`}, ${p.file}:${p.position}`;
}

function shortSql(sql: string): string {
  return sql.length > 300 ? `${sql.slice(0, 297)}...` : sql;
}

export async function applyTransactions(
  target: RecoveryTarget,
  transactions: Iterable<RecoveryTransaction> | AsyncIterable<RecoveryTransaction>,
  options: ApplyOptions,
): Promise<ApplyResult> {
  const { mode, onConflict } = options;
  const skipped: SkippedStatement[] = [];
  let applied = 0;
  let statements = 0;
  let last: AppliedPoint | null = null;
  let pending: AppliedPoint | null = null;
  let open = false;

  const begin = async () => {
    if (!open) {
      await target.execute('START TRANSACTION');
      open = true;
    }
  };
  const rollback = async () => {
    if (open) {
      open = false;
      await target.execute('ROLLBACK').catch(() => undefined);
    }
  };
  const fail = async (
    t: RecoveryTransaction,
    s: RecoveryStatement | undefined,
    index: number,
    why: string,
    cause?: unknown,
  ): Promise<never> => {
    await rollback();
    const what =
      s === undefined
        ? `DDL of ${describeTransaction(t)} (seq ${t.firstSeq})`
        : `statement ${index + 1} of ${describeTransaction(t)} (undoing or replaying change ${s.seq}, ${s.change} of ${s.schema}.${s.table})`;
    const done =
      mode === 'one'
        ? 'everything was rolled back'
        : `${describePoint(last)}; the failed transaction was rolled back`;
    throw new RecoverApplyError(`Cannot apply ${what} on ${target.description}: ${why}; ${done}`, {
      ...(cause === undefined ? {} : { cause }),
      fields: {
        seq: s === undefined ? String(t.firstSeq) : String(s.seq),
        sql: shortSql(s?.sql ?? t.ddl?.statement ?? ''),
        lastAppliedSeq: last === null ? null : String(last.seq),
        lastAppliedGtid: last?.gtid ?? null,
      },
    });
  };

  /** One source transaction's statements, one round trip each, with the checks, skips and errors above. */
  const applyRows = async (t: RecoveryTransaction): Promise<void> => {
    await begin();
    for (let i = 0; i < t.statements.length; i++) {
      const s = t.statements[i]!;
      let affected: number;
      try {
        affected = await target.execute(s.sql);
      } catch (err) {
        const duplicate = serverErrorCode(err) === 'ER_DUP_ENTRY' && s.verb === 'INSERT';
        const explanation = duplicate ? await options.explain?.(s) : undefined;
        if (duplicate && onConflict === 'skip') {
          skipped.push({
            statement: s,
            affected: null,
            error: messageOf(err),
            explanation: explanation ?? null,
          });
          continue;
        }
        await fail(
          t,
          s,
          i,
          `${duplicate ? 'conflict: the key is taken' : 'the server refused it'}: ${messageOf(err)}${
            explanation === undefined ? '' : `; ${explanation}`
          }`,
          err,
        );
      }
      if (!s.expectRows.includes(affected!)) {
        const explanation = await options.explain?.(s);
        if (affected! === 0 && onConflict === 'skip') {
          skipped.push({ statement: s, affected: 0, error: null, explanation: explanation ?? null });
          continue;
        }
        await fail(
          t,
          s,
          i,
          `it changed ${affected!} rows, expected ${s.expectRows.join(' or ')}${
            affected! === 0
              ? `: conflict, the row is not what the change left behind${explanation === undefined ? '' : ` (${explanation})`}`
              : ''
          }`,
        );
      }
      statements++;
    }
    finished(t, t.statements.length, false);
  };

  /** Books a source transaction as applied (committed, in mode `each`). */
  const finished = (t: RecoveryTransaction, count: number, countStatements: boolean) => {
    if (countStatements) statements += count;
    pending = point(t);
    if (mode === 'each') {
      last = pending;
    }
    applied++;
    options.onProgress?.({ transactions: applied, statements, last: mode === 'each' ? last : null });
  };

  // The fast path: many statements per round trip, each followed by the same affected-row check the scripts use
  // (an error stops the batch there, before any COMMIT after it). On any error the unfinished part is undone and
  // redone one statement at a time, which names the failing statement exactly (or skips it) as above.
  let batch: RecoveryTransaction[] = [];
  let batchStatements = 0;
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    const txs = batch;
    batch = [];
    batchStatements = 0;
    batchBytes = 0;
    if (txs.length === 0) return;
    const executeBatch = target.executeBatch?.bind(target);
    const selectValue = target.selectValue?.bind(target);
    if (executeBatch === undefined || selectValue === undefined || batchOf(txs) < 2) {
      for (const t of txs) {
        await applyRows(t);
        if (mode === 'each') await commit();
      }
      return;
    }
    let sql = 'SET @dbtrail_done = NULL';
    if (mode === 'one') {
      await begin();
      sql += ';SAVEPOINT dbtrail_batch';
    }
    txs.forEach((t, k) => {
      if (mode === 'each') sql += ';START TRANSACTION';
      for (const s of t.statements) {
        sql += `;${s.sql};SET @dbtrail_rows = IF(ROW_COUNT() IN (${s.expectRows.join(', ')}), 0, (SELECT 1 UNION ALL SELECT 2))`;
      }
      if (mode === 'each') sql += `;COMMIT;SET @dbtrail_done = ${k}`;
    });
    try {
      await executeBatch(sql);
    } catch {
      let from = 0;
      if (mode === 'each') {
        await target.execute('ROLLBACK').catch(() => undefined);
        const done = await selectValue('SELECT @dbtrail_done');
        from = done === null ? 0 : Number(done) + 1;
        for (const t of txs.slice(0, from)) finished(t, t.statements.length, true);
      } else {
        await target.execute('ROLLBACK TO SAVEPOINT dbtrail_batch');
      }
      for (const t of txs.slice(from)) {
        await applyRows(t);
        if (mode === 'each') await commit();
      }
      return;
    }
    for (const t of txs) finished(t, t.statements.length, true);
  };
  const commit = async () => {
    if (open) {
      await target.execute('COMMIT');
      open = false;
    }
  };

  for await (const t of transactions) {
    if (options.signal?.aborted === true) {
      if (mode === 'each') {
        await rollback();
        return { transactions: applied, statements, skipped, last, interrupted: true };
      }
      await rollback();
      throw new RecoverApplyError(
        `Cannot finish applying on ${target.description}: interrupted; everything was rolled back`,
      );
    }
    if (t.ddl !== undefined) {
      await flush();
      if (mode === 'one') {
        await rollback();
        throw new RecoverInputError(
          `Cannot apply DDL (seq ${t.firstSeq}: ${t.ddl.statement.slice(0, 120)}) inside one transaction: DDL commits implicitly; replay ranges with DDL one transaction at a time (dbtrail restore)`,
          { fields: { seq: String(t.firstSeq) } },
        );
      }
      try {
        if (t.ddl.schema !== null) {
          await target.execute(`USE ${quoteIdent(options.targetSchema?.(t.ddl.schema) ?? t.ddl.schema)}`);
        }
        await target.execute(t.ddl.statement);
      } catch (err) {
        await fail(t, undefined, 0, `the server refused it: ${messageOf(err)}`, err);
      }
      applied++;
      last = point(t);
      options.onProgress?.({ transactions: applied, statements, last });
      continue;
    }
    if (t.statements.length === 0) continue;
    batch.push(t);
    batchStatements += t.statements.length;
    for (const s of t.statements) batchBytes += s.sql.length;
    if (batchStatements >= BATCH_STATEMENTS || batchBytes >= BATCH_BYTES) await flush();
  }
  await flush();
  if (open) {
    await target.execute('COMMIT');
    open = false;
    last = pending;
  }
  return { transactions: applied, statements, skipped, last, interrupted: false };
}

/** Statements per round trip, and SQL text per round trip (well under the default max_allowed_packet). */
const BATCH_STATEMENTS = 500;
const BATCH_BYTES = 2 << 20;

function batchOf(txs: readonly RecoveryTransaction[]): number {
  let n = 0;
  for (const t of txs) n += t.statements.length;
  return n;
}
