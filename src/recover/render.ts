import { isoMicros } from '../store/change-index.js';
import type { Conflict } from './conflicts.js';
import { quoteIdent } from './literal.js';
import type { RecoveryPlan, RecoveryTransaction } from './plan.js';
import type { RecoveryStatement } from './statements.js';
import { SESSION_SETUP } from './target.js';

/**
 * Output forms of a plan: an SQL script wrapped in one transaction, NDJSON (one object per statement), and the
 * dry-run text. A script checks every statement's affected-row count itself, so piping it into the mariadb/mysql
 * client is as safe as --apply: the first statement that does not change exactly one row stops the script before
 * COMMIT, and the client's disconnect rolls everything back.
 */

export interface RenderOptions {
  readonly serverName: string;
  /** Shown in the header; now by default. */
  readonly generatedAt?: Date;
}

const MAX_LISTED_GTIDS = 20;
const MAX_LISTED_CONFLICTS = 50;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function describeConflict(c: Conflict): string {
  const l = c.later;
  const by =
    l === null
      ? 'a change the index does not hold'
      : `change ${l.seq} (${l.type}${l.gtid === null ? '' : `, GTID ${l.gtid}`}, committed ${isoMicros(l.commitTimeUs)}, ${l.file}:${l.position})`;
  return `change ${c.seq} (${c.type} of ${c.schema}.${c.table}, key ${c.pk}): row changed later by ${by}`;
}

/** Conflicts as lines, for messages and headers. */
export function conflictLines(conflicts: readonly Conflict[], max = MAX_LISTED_CONFLICTS): string[] {
  const lines = conflicts.slice(0, max).map(describeConflict);
  if (conflicts.length > max) lines.push(`... and ${conflicts.length - max} more`);
  return lines;
}

function gtidText(gtids: readonly string[]): string {
  if (gtids.length === 0) return '(none recorded)';
  if (gtids.length <= MAX_LISTED_GTIDS) return gtids.join(', ');
  return `${gtids[0]} .. ${gtids[gtids.length - 1]} (${gtids.length} transactions)`;
}

/** The header's lines (without comment markers). */
export function summaryLines(plan: RecoveryPlan, options: RenderOptions): string[] {
  const s = plan.summary;
  const what = plan.direction === 'undo' ? 'undo' : 'forward replay';
  const lines = [
    `dbtrail recover: ${what} of ${plural(s.changes, 'row change')} in ${plural(s.transactions, 'transaction')} of server "${options.serverName}"`,
    `generated ${(options.generatedAt ?? new Date()).toISOString()}; columns ${plan.columns}; on conflict ${plan.onConflict}; ${plural(s.statements, 'statement')}`,
  ];
  if (s.firstCommitUs !== null && s.lastCommitUs !== null) {
    lines.push(
      `time range (commit times, UTC): ${isoMicros(s.firstCommitUs)} .. ${isoMicros(s.lastCommitUs)}`,
    );
  }
  if (s.firstSeq !== null) lines.push(`seq range: ${s.firstSeq} .. ${s.lastSeq}`);
  lines.push(`GTIDs: ${gtidText(s.gtids)}`);
  if (s.ddl > 0) lines.push(`DDL events replayed in place: ${s.ddl}`);
  lines.push('tables:');
  for (const t of s.tables) {
    lines.push(
      `  ${t.schema}.${t.table}: ${plural(t.insert, 'insert')}, ${plural(t.update, 'update')}, ${plural(t.delete, 'delete')}`,
    );
  }
  if (plan.conflicts.length > 0) {
    const fate =
      plan.onConflict === 'skip'
        ? 'left out'
        : plan.onConflict === 'force'
          ? 'overwritten (keyed on the primary key only)'
          : 'the undo would fail';
    lines.push(`conflicts known to the index (${plan.conflicts.length}, ${fate}):`);
    for (const l of conflictLines(plan.conflicts)) lines.push(`  ${l}`);
  }
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines;
}

function transactionComment(t: RecoveryTransaction): string {
  const id = t.gtid === null ? 'transaction' : `transaction ${t.gtid}`;
  const seqs = t.firstSeq === t.lastSeq ? `seq ${t.firstSeq}` : `seq ${t.firstSeq}..${t.lastSeq}`;
  return `-- ${id} (${seqs}, committed ${isoMicros(t.commitTimeUs)}, ${t.file}:${t.position})`;
}

/**
 * A check that stops the script when the statement before it did not change an accepted number of rows: a scalar
 * subquery returning two rows is an error on every MySQL and MariaDB version (DO would only warn; SET fails), and
 * IF evaluates it only then. The client stops at the error and prints the statement, whose variable name carries
 * the change's seq; the transaction is never committed.
 */
function rowCountCheck(s: RecoveryStatement, force: boolean): string {
  // Scripts run through a client without CLIENT_FOUND_ROWS: an UPDATE that sets identical values counts 0. Only
  // a forced UPDATE (no check of the current values) can do that.
  const accepted = force && s.verb === 'UPDATE' ? [0, 1] : s.expectRows;
  return `SET @dbtrail_check_seq_${s.seq} = IF(ROW_COUNT() IN (${accepted.join(', ')}), 0, (SELECT 1 UNION ALL SELECT 2));`;
}

/** One transaction's statements with their checks, as script lines. */
export function renderTransactionSql(t: RecoveryTransaction, force = false): string {
  if (t.ddl !== undefined) {
    const use = t.ddl.schema === null ? '' : `USE ${quoteIdent(t.ddl.schema)};\n`;
    return `${transactionComment(t)} DDL\n${use}${t.ddl.statement};\n`;
  }
  let out = `${transactionComment(t)}\n`;
  for (const s of t.statements) {
    out += `${s.sql};\n${rowCountCheck(s, force)}\n`;
  }
  return out;
}

/** The script's opening: the header comment, the session setup, and START TRANSACTION unless it has DDL. */
export function sqlHead(plan: RecoveryPlan, options: RenderOptions, hasDdl: boolean): string {
  let head = summaryLines(plan, options)
    .map((l) => `-- ${l}\n`)
    .join('');
  head +=
    '-- Every statement is followed by a check of its affected-row count: a row that is not what it should be\n' +
    '-- (a conflict) stops the script with error 1242 (at a SET @dbtrail_check_seq_<seq>) before COMMIT.\n';
  for (const sql of SESSION_SETUP) head += `${sql};\n`;
  // DDL commits implicitly, so a script with DDL cannot be one transaction: each source transaction is its own.
  head += hasDdl ? '' : 'START TRANSACTION;\n';
  return head;
}

/** One transaction of the script ('' when it has nothing to run). */
export function sqlTransactionChunk(t: RecoveryTransaction, force: boolean, hasDdl: boolean): string {
  if (t.statements.length === 0 && t.ddl === undefined) return '';
  const body = renderTransactionSql(t, force);
  return hasDdl && t.ddl === undefined ? `START TRANSACTION;\n${body}COMMIT;\n` : body;
}

/** The script's end. */
export function sqlTail(hasDdl: boolean): string {
  return hasDdl ? '' : 'COMMIT;\n';
}

/** The script, in chunks (one per transaction), for plans too large for one string. */
export function* sqlChunks(plan: RecoveryPlan, options: RenderOptions): Generator<string> {
  const hasDdl = plan.transactions.some((t) => t.ddl !== undefined);
  yield sqlHead(plan, options, hasDdl);
  for (const t of plan.transactions) {
    const chunk = sqlTransactionChunk(t, plan.onConflict === 'force', hasDdl);
    if (chunk !== '') yield chunk;
  }
  yield sqlTail(hasDdl);
}

export function renderSql(plan: RecoveryPlan, options: RenderOptions): string {
  let out = '';
  for (const chunk of sqlChunks(plan, options)) out += chunk;
  return out;
}

/** The NDJSON `plan` line. */
export function ndjsonHead(plan: RecoveryPlan, options: RenderOptions): string {
  const s = plan.summary;
  return `${JSON.stringify({
    kind: 'plan',
    server: options.serverName,
    direction: plan.direction,
    columns: plan.columns,
    on_conflict: plan.onConflict,
    changes: s.changes,
    statements: s.statements,
    transactions: s.transactions,
    ddl: s.ddl,
    first_seq: s.firstSeq === null ? null : String(s.firstSeq),
    last_seq: s.lastSeq === null ? null : String(s.lastSeq),
    first_commit_time: s.firstCommitUs === null ? null : isoMicros(s.firstCommitUs),
    last_commit_time: s.lastCommitUs === null ? null : isoMicros(s.lastCommitUs),
    gtids: s.gtids,
    tables: s.tables,
    conflicts: plan.conflicts.map(conflictJson),
    session: SESSION_SETUP,
    notes: plan.notes,
  })}\n`;
}

/** One transaction as NDJSON lines. */
export function ndjsonTransaction(t: RecoveryTransaction): string {
  const tx = {
    gtid: t.gtid,
    binlog_file: t.file,
    binlog_position: t.position,
    commit_time: isoMicros(t.commitTimeUs),
  };
  if (t.ddl !== undefined) {
    return `${JSON.stringify({ kind: 'ddl', seq: String(t.firstSeq), ...tx, schema: t.ddl.schema, sql: t.ddl.statement })}\n`;
  }
  let out = '';
  for (const st of t.statements) {
    out += `${JSON.stringify({
      kind: 'statement',
      seq: String(st.seq),
      ...tx,
      schema: st.schema,
      table: st.table,
      change: st.change,
      verb: st.verb,
      pk: st.pk,
      expect_rows: st.expectRows,
      sql: st.sql,
    })}\n`;
  }
  return out;
}

/** NDJSON: a `plan` object, then one `statement` (or `ddl`) object per line, in execution order; snake_case. */
export function* ndjsonChunks(plan: RecoveryPlan, options: RenderOptions): Generator<string> {
  yield ndjsonHead(plan, options);
  for (const t of plan.transactions) yield ndjsonTransaction(t);
}

export function renderNdjson(plan: RecoveryPlan, options: RenderOptions): string {
  let out = '';
  for (const chunk of ndjsonChunks(plan, options)) out += chunk;
  return out;
}

export function conflictJson(c: Conflict): Record<string, unknown> {
  return {
    seq: String(c.seq),
    schema: c.schema,
    table: c.table,
    type: c.type,
    pk: c.pk,
    later:
      c.later === null
        ? null
        : {
            seq: String(c.later.seq),
            type: c.later.type,
            gtid: c.later.gtid,
            binlog_file: c.later.file,
            binlog_position: c.later.position,
            commit_time: isoMicros(c.later.commitTimeUs),
          },
  };
}

/** The dry-run text: the header, without comment markers. */
export function renderPlanText(plan: RecoveryPlan, options: RenderOptions): string {
  return `${summaryLines(plan, options).join('\n')}\n`;
}
